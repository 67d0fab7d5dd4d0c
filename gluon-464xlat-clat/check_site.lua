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

need(in_domain({'clat_range'}), is_range, true, range_text)
local plat = need(in_domain({'plat_range'}), is_range, true, range_text)
need(in_domain({'clat_range'}), function(v) return range_key(v) ~= range_key(plat) end, true,
	'differ from plat_range (CLAT and PLAT /96s must not share a /48)')

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
