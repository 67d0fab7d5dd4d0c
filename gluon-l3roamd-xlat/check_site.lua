-- gluon-l3roamd-xlat: site/domain keys (files/docs/site.md,
-- files/docs/packages/gluon-l3roamd-xlat.rst). Run by Gluon at image build
-- time once per domain, on merge(site, domain). clat_range and plat_range
-- are checked by gluon-464xlat-clat, which this package depends on.

-- xlat464 keys may be set in site.conf (all domains) or per domain
need_table({'xlat464'}, nil, false)
-- UDP port of the CLAIM/INFO/ROAM messages between nodes
need({'xlat464', 'roam_port'}, function(v)
	return type(v) == 'number' and v % 1 == 0 and v >= 1 and v <= 65535
end, false, 'be a whole number in [1, 65535] (UDP port)')
-- per-domain HMAC key of those messages; unset: messages are not signed;
-- empty is an error (it would silently turn signing off)
need({'xlat464', 'roam_secret'}, function(v) return type(v) == 'string' and v ~= '' end, false,
	'be a non-empty string (leave it unset for unsigned messages)')

-- the node's own mesh address is made from node_prefix6 (required by
-- gluon-mesh-babel too); the clients' node-client /64 is node_client_prefix6
-- if set, else derived from domain_seed (which gluon-core requires)
need_string_match(in_domain({'node_prefix6'}), '^[%x:]+/64$')
need_string_match(in_domain({'node_client_prefix6'}), '^[%x:]+/64$', false)
