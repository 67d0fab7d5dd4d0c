-- gluon-464xlat-plat: site/domain keys (files/docs/site.md,
-- files/docs/packages/gluon-464xlat-plat.rst). Run by Gluon at image build
-- time once per domain, on merge(site, domain).

-- '<x>:<y>:<z>::/48' with 1-4 hex digits per group: the node appends its MAC
-- as three more groups to get its PLAT /96.
need(in_domain({'plat_range'}), function(v)
	return type(v) == 'string' and v:match('^%x%x?%x?%x?:%x%x?%x?%x?:%x%x?%x?%x?::/48$') ~= nil
end, true, 'be an IPv6 /48 written as "<x>:<y>:<z>::/48" (e.g. "fdff:ffff:fffe::/48")')

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
