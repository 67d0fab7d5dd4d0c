-- gluon-464xlat-plat: site/domain keys (files/docs/site.md,
-- files/docs/packages/gluon-464xlat-plat.rst). Run by Gluon at image build
-- time once per domain, on merge(site, domain).

-- '<x>:<y>:<z>::/48' with 1-4 hex digits per group: the node appends its MAC
-- as three more groups to get its PLAT /96.
need(in_domain({'plat_range'}), function(v)
	return type(v) == 'string' and v:match('^%x%x?%x?%x?:%x%x?%x?%x?:%x%x?%x?%x?::/48$') ~= nil
end, true, 'be an IPv6 /48 written as "<x>:<y>:<z>::/48" (e.g. "fdff:ffff:fffe::/48")')

-- the eight groups of an IPv6 address as numbers, or nil
local function ipv6_groups(s)
	if type(s) ~= 'string' then return nil end
	local function split(str, out)
		if str == '' then return true end
		for g in (str .. ':'):gmatch('([^:]*):') do
			if not g:match('^%x%x?%x?%x?$') then return false end
			out[#out + 1] = tonumber(g, 16)
		end
		return true
	end
	local head, tail = s:match('^([%x:]*)::([%x:]*)$')
	local g = {}
	if not head then
		return split(s, g) and #g == 8 and g or nil
	end
	local h, t = {}, {}
	if not split(head, h) or not split(tail, t) or #h + #t > 7 then return nil end
	for _, v in ipairs(h) do g[#g + 1] = v end
	for _ = 1, 8 - #h - #t do g[#g + 1] = 0 end
	for _, v in ipairs(t) do g[#g + 1] = v end
	return g
end

-- a /48 range may lie in global unicast (2000::/3) or unique local
-- (fc00::/7) space, or be the RFC 8215 prefix 64:ff9b:1::/48
local function range_allowed(v)
	local g = ipv6_groups(v:match('^(.*)/48$'))
	return g ~= nil and ((g[1] >= 0x2000 and g[1] <= 0x3fff) or (g[1] >= 0xfc00 and g[1] <= 0xfdff)
		or (g[1] == 0x64 and g[2] == 0xff9b and g[3] == 1))
end
local range_allowed_text = 'lie in global unicast (2000::/3) or unique local (fc00::/7) space, or be 64:ff9b:1::/48'

-- a /48 range and a /64 ("<addr>/64") overlap when their first three groups agree
local function overlaps64(range, p64)
	local r = ipv6_groups(range:match('^(.*)/48$'))
	local p = type(p64) == 'string' and ipv6_groups(p64:match('^(.*)/64$')) or nil
	return r ~= nil and p ~= nil and r[1] == p[1] and r[2] == p[2] and r[3] == p[3]
end
-- prefix6 and node_prefix6 are Gluon's own keys (gluon-core and gluon-mesh-babel check them)
local prefix6 = need_string(in_domain({'prefix6'}), false)
local node_prefix6 = need_string(in_domain({'node_prefix6'}), false)
local function disjoint_text(key)
	return 'not overlap prefix6 or node_prefix6 (the ' .. key .. ' /96s would capture their addresses)'
end
need(in_domain({'plat_range'}), range_allowed, true, range_allowed_text)
need(in_domain({'plat_range'}), function(v)
	return not overlaps64(v, prefix6) and not overlaps64(v, node_prefix6)
end, true, disjoint_text('plat_range'))

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
