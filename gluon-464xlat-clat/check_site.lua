-- gluon-464xlat-clat: site/domain keys (files/docs/site.md,
-- files/docs/packages/gluon-464xlat-clat.rst). Run by Gluon at image build
-- time once per domain, on merge(site, domain).

-- '<x>:<y>:<z>::/48' with 1-4 hex digits per group: the node appends its MAC
-- as three more groups to get its /96 (fdff:ffff:ffff::/48 +
-- aa:bb:cc:dd:ee:ff -> fdff:ffff:ffff:aabb:ccdd:eeff::/96).
local range_pattern = '^%x%x?%x?%x?:%x%x?%x?%x?:%x%x?%x?%x?::/48$'
local range_text = 'be an IPv6 /48 written as "<x>:<y>:<z>::/48" (e.g. "fdff:ffff:ffff::/48")'

local function is_range(v)
	return type(v) == 'string' and v:match(range_pattern) ~= nil
end

-- the /48 as 'x:y:z' with leading zeros dropped, to compare two ranges
local function range_key(v)
	local x, y, z = v:match('^(%x+):(%x+):(%x+)::')
	return string.format('%x:%x:%x', tonumber(x, 16), tonumber(y, 16), tonumber(z, 16))
end

-- an IPv4 address as a number, or nil
local function ipv4(s)
	if type(s) ~= 'string' then return nil end
	local a, b, c, d = s:match('^(%d+)%.(%d+)%.(%d+)%.(%d+)$')
	if not a then return nil end
	local n = 0
	for _, o in ipairs({ a, b, c, d }) do
		-- no leading zeros: the daemons (Go net/netip) reject them
		if #o > 1 and o:sub(1, 1) == '0' then return nil end
		o = tonumber(o)
		if o > 255 then return nil end
		n = n * 256 + o
	end
	return n
end

-- an IPv4 prefix "a.b.c.d/n" without host bits: network number and length, or nil
local function ipv4_prefix(s)
	if type(s) ~= 'string' then return nil end
	local addr, len = s:match('^([%d%.]+)/(%d+)$')
	local n = ipv4(addr)
	len = tonumber(len)
	if not n or not len or len > 32 then return nil end
	local size = 2 ^ (32 - len)
	if n % size ~= 0 then return nil end
	return n, len
end


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

need(in_domain({'clat_range'}), is_range, true, range_text)
local plat = need(in_domain({'plat_range'}), is_range, true, range_text)
need(in_domain({'clat_range'}), function(v) return range_key(v) ~= range_key(plat) end, true,
	'differ from plat_range (CLAT and PLAT /96s must not share a /48)')
for _, key in ipairs({'clat_range', 'plat_range'}) do
	need(in_domain({key}), range_allowed, true, range_allowed_text)
	need(in_domain({key}), function(v)
		return not overlaps64(v, prefix6) and not overlaps64(v, node_prefix6)
	end, true, disjoint_text(key))
end

-- the clients' IPv4 network and the node's gateway address in it
local net, len = nil, nil
need(in_domain({'prefix4'}), function(v)
	net, len = ipv4_prefix(v)
	return net ~= nil and len <= 30
end, true, 'be an IPv4 prefix "a.b.c.d/n" (n <= 30, no host bits set) for the clients of the CLAT')
need(in_domain({'next_node', 'ip4'}), function(v)
	local a = ipv4(v)
	return a ~= nil and a - a % 2 ^ (32 - len) == net
end, true, 'be an IPv4 address inside prefix4 (the clients\' gateway)')

-- optional tuning (table xlat464)
-- xlat464 keys may be set in site.conf (all domains) or per domain
need_table({'xlat464'}, nil, false)
local function integer_in(lo, hi)
	return function(v)
		return type(v) == 'number' and v % 1 == 0 and v >= lo and v <= hi
	end
end
need({'xlat464', 'switch_margin'}, integer_in(0, 65535), false,
	'be a whole number in [0, 65535] (babel metric a PLAT must be better by to switch)')
need({'xlat464', 'probe_interval'}, integer_in(1, 3600), false,
	'be a whole number of seconds in [1, 3600]')
need({'xlat464', 'probe_failures'}, integer_in(1, 100), false,
	'be a whole number in [1, 100]')
