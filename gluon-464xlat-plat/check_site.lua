-- gluon-464xlat-plat: site/domain keys (files/docs/site.md,
-- files/docs/packages/gluon-464xlat-plat.rst). Run by Gluon at image build
-- time once per domain, on merge(site, domain).

-- '<x>:<y>:<z>::/48' with 1-4 hex digits per group: the node appends its MAC
-- as three more groups to get its PLAT /96.
need(in_domain({'plat_range'}), function(v)
	return type(v) == 'string' and v:match('^%x%x?%x?%x?:%x%x?%x?%x?:%x%x?%x?%x?::/48$') ~= nil
end, true, 'be an IPv6 /48 written as "<x>:<y>:<z>::/48" (e.g. "fdff:ffff:fffe::/48")')

-- Where plat_range may lie (global unicast, ULA or 64:ff9b:1::/48) and that it
-- overlaps neither clat_range nor prefix6/node_prefix6 is checked once, in
-- gluon-464xlat-clat's check_site.lua: this package depends on it (the PLAT
-- translates only sources in clat_range, and a PLAT node's own clients use
-- its CLAT), so Gluon runs that check wherever this one runs.

-- "a.b.c.d/n", no leading zeros (Go net/netip rejects them), no host bits
local function is_ipv4_prefix(s)
	if type(s) ~= 'string' then return false end
	local a, b, c, d, len = s:match('^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$')
	if not a or (#len > 1 and len:sub(1, 1) == '0') or tonumber(len) > 32 then return false end
	local n = 0
	for _, o in ipairs({ a, b, c, d }) do
		if (#o > 1 and o:sub(1, 1) == '0') or tonumber(o) > 255 then return false end
		n = n * 256 + tonumber(o)
	end
	return n % 2 ^ (32 - tonumber(len)) == 0
end

-- optional: IPv4 destinations the PLAT drops besides the private ranges
-- xlat464 keys may be set in site.conf (all domains) or per domain
need_table({'xlat464'}, nil, false)
need_array({'xlat464', 'blocked_ipv4'}, function(path)
	need(path, is_ipv4_prefix, true, 'be an IPv4 prefix "a.b.c.d/n" with no host bits set')
end, false)
-- optional: entries of the PLAT's built-in list (src/xlatconf) it shall not drop
need_array({'xlat464', 'unblocked_ipv4'}, function(path)
	need_one_of(path, { '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16',
		'172.16.0.0/12', '192.0.0.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15',
		'224.0.0.0/4', '240.0.0.0/4' }, true)
end, false)
