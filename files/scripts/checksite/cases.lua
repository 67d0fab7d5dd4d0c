-- Site configs (as Lua tables, the form Gluon's site.conf is written in) and
-- what each package's check_site.lua must say about them. Run by
-- files/scripts/test.d/check-site.sh through harness.lua.

local function copy(t)
	if type(t) ~= 'table' then return t end
	local c = {}
	for k, v in pairs(t) do c[k] = copy(v) end
	return c
end

-- with(base, {key = value, ['a.b'] = value, ...}): a copy of base with those
-- paths set; the value false deletes.
local function with(base, changes)
	local t = copy(base)
	for path, v in pairs(changes) do
		local node, keys = t, {}
		for k in path:gmatch('[^.]+') do keys[#keys + 1] = k end
		for i = 1, #keys - 1 do
			if type(node[keys[i]]) ~= 'table' then node[keys[i]] = {} end
			node = node[keys[i]]
		end
		if v == false then v = nil end
		node[keys[#keys]] = copy(v)
	end
	return t
end

-- a single-domain site.conf with everything the three packages read
local site = {
	site_code = 'ffxx',
	prefix4 = '10.80.0.0/16',
	prefix6 = 'fdca:ffee:80::/64',
	node_prefix6 = 'fdca:ffee:80:1::/64',
	next_node = { ip4 = '10.80.0.1', ip6 = 'fdca:ffee:80::1' },
	clat_range = 'fdff:ffff:ffff::/48',
	plat_range = 'fdff:ffff:fffe::/48',
}

local tuned = with(site, {
	['xlat464.switch_margin'] = 256,
	['xlat464.probe_interval'] = 2,
	['xlat464.probe_failures'] = 3,
	['xlat464.blocked_ipv4'] = { '100.64.0.0/10', '192.0.2.0/24' },
	['xlat464.roam_port'] = 5524,
	['xlat464.roam_secret'] = 'd0m41n-s3cr3t',
})

-- multi-domain: the domain keys live in domains/<code>.conf
local base_site = with(site, {
	prefix4 = false, next_node = false, clat_range = false, plat_range = false,
	prefix6 = false, node_prefix6 = false, default_domain = 'a',
})
local dom_a = {
	domain_names = { a = 'A' },
	prefix6 = 'fdca:ffee:81::/64',
	node_prefix6 = 'fdca:ffee:81:1::/64',
	prefix4 = '10.81.0.0/16',
	next_node = { ip4 = '10.81.0.1' },
	clat_range = 'fdff:ffff:ffff::/48',
	plat_range = 'fdff:ffff:fffe::/48',
	xlat464 = { roam_port = 5524, roam_secret = 'a-secret', blocked_ipv4 = { '198.18.0.0/15' } },
}
local dom_b = with(dom_a, { domain_names = { b = 'B' }, prefix4 = '10.82.0.0/16',
	['next_node.ip4'] = '10.82.0.1', ['xlat464.roam_secret'] = 'b-secret' })

local RANGE = 'be an IPv6 /48 written as "<x>:<y>:<z>::/48"'
local ALLOWED = 'lie in global unicast (2000::/3) or unique local (fc00::/7) space, or be 64:ff9b:1::/48'
local C, P, R = 'gluon-464xlat-clat/check_site.lua', 'gluon-464xlat-plat/check_site.lua',
	'gluon-l3roamd-xlat/check_site.lua'
local S = 'files/scripts/checksite/selftest_check.lua'

return {
	-- gluon-464xlat-clat
	{ check = C, name = 'minimal site', site = site, ok = true },
	{ check = C, name = 'site with xlat464 tuning', site = tuned, ok = true },
	{ check = C, name = 'two domains', site = base_site, domains = { a = dom_a, b = dom_b }, ok = true },
	{ check = C, name = 'range 64:ff9b:1::/48 (RFC 8215)', site = with(site, { clat_range = '64:ff9b:1::/48' }), ok = true },
	{ check = C, name = 'clat_range unset', site = with(site, { clat_range = false }),
		err = 'site.conf error: expected clat_range to ' .. RANGE .. ' (e.g. "fdff:ffff:ffff::/48"), but it is unset' },
	{ check = C, name = 'clat_range /64', site = with(site, { clat_range = 'fdff:ffff:ffff::/64' }),
		err = 'site.conf error: expected clat_range to ' .. RANGE .. ' (e.g. "fdff:ffff:ffff::/48"), but it is "fdff:ffff:ffff::/64" (a string value)' },
	{ check = C, name = 'clat_range with a zero group compressed', site = with(site, { clat_range = '2001:db8::/48' }),
		err = 'expected clat_range to ' .. RANGE },
	{ check = C, name = 'clat_range five-digit group', site = with(site, { clat_range = 'fdff:fffff:ffff::/48' }),
		err = 'expected clat_range to ' .. RANGE },
	{ check = C, name = 'clat_range a number', site = with(site, { clat_range = 48 }),
		err = 'but it is 48 (a number value)' },
	{ check = C, name = 'plat_range unset', site = with(site, { plat_range = false }),
		err = 'site.conf error: expected plat_range to ' .. RANGE },
	{ check = C, name = 'same /48 for CLAT and PLAT', site = with(site, { plat_range = 'FDFF:FFFF:0FFFF::/48' }),
		err = 'expected plat_range to ' .. RANGE },
	{ check = C, name = 'same /48, other spelling', site = with(site, { clat_range = 'fdff:ffff:ffff::/48', plat_range = 'FDFF:FFFF:FFFF::/48' }),
		err = 'site.conf error: expected clat_range to differ from plat_range (CLAT and PLAT /96s must not share a /48), but it is "fdff:ffff:ffff::/48"' },
	{ check = C, name = 'prefix4 unset', site = with(site, { prefix4 = false }),
		err = 'site.conf error: expected prefix4 to be an IPv4 prefix "a.b.c.d/n" (n <= 30, no host bits set) for the clients of the CLAT, but it is unset' },
	{ check = C, name = 'prefix4 with host bits', site = with(site, { prefix4 = '10.80.0.1/16' }),
		err = 'expected prefix4 to be an IPv4 prefix' },
	{ check = C, name = 'prefix4 octet 256', site = with(site, { prefix4 = '10.256.0.0/16' }),
		err = 'expected prefix4 to be an IPv4 prefix' },
	{ check = C, name = 'next_node.ip4 outside prefix4', site = with(site, { ['next_node.ip4'] = '10.81.0.1' }),
		err = 'site.conf error: expected next_node.ip4 to be an IPv4 address inside prefix4 (the clients\' gateway), but it is "10.81.0.1" (a string value)' },
	{ check = C, name = 'next_node.ip4 leading zero', site = with(site, { ['next_node.ip4'] = '10.80.0.01' }),
		err = 'expected next_node.ip4 to be an IPv4 address inside prefix4' },
	{ check = C, name = 'next_node not a table', site = with(site, { next_node = '10.80.0.1' }),
		err = 'site.conf error: expected next_node to be a table, but it is "10.80.0.1" (a string value)' },
	{ check = C, name = 'xlat464 not a table', site = with(site, { xlat464 = 5 }),
		err = 'site.conf error: expected xlat464 to be a table, but it is 5 (a number value)' },
	{ check = C, name = 'switch_margin negative', site = with(site, { ['xlat464.switch_margin'] = -1 }),
		err = 'expected xlat464.switch_margin to be a whole number in [0, 65535]' },
	{ check = C, name = 'switch_margin fraction', site = with(site, { ['xlat464.switch_margin'] = 2.5 }),
		err = 'but it is 2.5 (a number value)' },
	{ check = C, name = 'probe_interval 0', site = with(site, { ['xlat464.probe_interval'] = 0 }),
		err = 'expected xlat464.probe_interval to be a whole number of seconds in [1, 3600], but it is 0' },
	{ check = C, name = 'probe_failures a string', site = with(site, { ['xlat464.probe_failures'] = '3' }),
		err = 'expected xlat464.probe_failures to be a whole number in [1, 100], but it is "3" (a string value)' },
	{ check = C, name = 'domains: clat_range in site.conf', site = with(base_site, { clat_range = 'fdff:ffff:ffff::/48' }),
		domains = { a = dom_a }, err = 'site.conf error: clat_range is allowed in domain configuration only' },
	{ check = C, name = 'domains: xlat464 tuning in site.conf', site = with(base_site, { ['xlat464.switch_margin'] = 1 }),
		domains = { a = dom_a }, ok = true },
	{ check = C, name = 'domains: bad site value, domain overrides it', site = with(base_site, { ['xlat464.switch_margin'] = -5 }),
		domains = { a = with(dom_a, { ['xlat464.switch_margin'] = 10 }) }, ok = true },
	{ check = C, name = 'domains: bad site value, not overridden', site = with(base_site, { ['xlat464.probe_interval'] = 0 }),
		domains = { a = dom_a }, err = 'site.conf error: expected xlat464.probe_interval to be a whole number of seconds' },
	{ check = C, name = 'domains: prefix4 in site.conf (Gluon: domain key)', site = with(base_site, { prefix4 = '10.80.0.0/16' }),
		domains = { a = dom_a }, err = 'site.conf error: prefix4 is allowed in domain configuration only' },
	{ check = C, name = 'domains: one domain without plat_range', site = base_site,
		domains = { a = dom_a, b = with(dom_b, { plat_range = false }) },
		err = 'site.conf / domains/b.conf error: expected plat_range to ' .. RANGE },
	{ check = C, name = 'domains: bad value named in its domain', site = base_site,
		domains = { a = dom_a, b = with(dom_b, { clat_range = 'fdff::/48' }) },
		err = 'domains/b.conf error: expected clat_range to ' .. RANGE },

	{ check = C, name = 'clat_range multicast', site = with(site, { clat_range = 'ff02:0:0::/48' }),
		err = 'site.conf error: expected clat_range to ' .. ALLOWED .. ', but it is "ff02:0:0::/48"' },
	{ check = C, name = 'clat_range link-local', site = with(site, { clat_range = 'fe80:0:0::/48' }),
		err = 'expected clat_range to ' .. ALLOWED },
	{ check = C, name = 'plat_range unspecified', site = with(site, { plat_range = '0:0:0::/48' }),
		err = 'expected plat_range to ' .. ALLOWED },
	{ check = C, name = 'plat_range 64:ff9b:2::/48', site = with(site, { plat_range = '64:ff9b:2::/48' }),
		err = 'expected plat_range to ' .. ALLOWED },
	{ check = C, name = 'clat_range over prefix6', site = with(site, { clat_range = 'fdca:ffee:80::/48' }),
		err = 'site.conf error: expected clat_range to not overlap prefix6 or node_prefix6' },
	{ check = C, name = 'domains: plat_range over node_prefix6', site = base_site,
		domains = { a = with(dom_a, { plat_range = 'fdca:ffee:81::/48' }) },
		err = 'domains/a.conf error: expected plat_range to not overlap prefix6 or node_prefix6' },

	-- gluon-464xlat-plat
	{ check = P, name = 'minimal site', site = site, ok = true },
	{ check = P, name = 'plat_range 64:ff9b:1::/48 (RFC 8215)', site = with(site, { plat_range = '64:ff9b:1::/48' }), ok = true },
	{ check = P, name = 'unblocked_ipv4 a built-in entry', site = with(site, { ['xlat464.unblocked_ipv4'] = { '198.18.0.0/15' } }), ok = true },
	{ check = P, name = 'unblocked_ipv4 not a built-in entry', site = with(site, { ['xlat464.unblocked_ipv4'] = { '198.18.0.0/16' } }),
		err = 'site.conf error: expected xlat464.unblocked_ipv4.1 to be one of' },
	-- plat_range's address space and overlaps: gluon-464xlat-clat's check (a dependency)
	{ check = C, name = 'plat_range multicast', site = with(site, { plat_range = 'ff02:0:1::/48' }),
		err = 'site.conf error: expected plat_range to ' .. ALLOWED },
	{ check = C, name = 'plat_range over node_prefix6', site = with(site, { plat_range = 'fdca:ffee:80::/48' }),
		err = 'site.conf error: expected plat_range to not overlap prefix6 or node_prefix6' },
	{ check = P, name = 'site with blocked_ipv4', site = tuned, ok = true },
	{ check = P, name = 'two domains', site = base_site, domains = { a = dom_a, b = dom_b }, ok = true },
	{ check = P, name = 'plat_range unset', site = with(site, { plat_range = false }),
		err = 'site.conf error: expected plat_range to ' .. RANGE .. ' (e.g. "fdff:ffff:fffe::/48"), but it is unset' },
	{ check = P, name = 'plat_range is a /96', site = with(site, { plat_range = 'fdff:ffff:fffe::/96' }),
		err = 'but it is "fdff:ffff:fffe::/96" (a string value)' },
	{ check = P, name = 'blocked_ipv4 a string', site = with(site, { ['xlat464.blocked_ipv4'] = '10.0.0.0/8' }),
		err = 'site.conf error: expected xlat464.blocked_ipv4 to be an array, but it is "10.0.0.0/8" (a string value)' },
	{ check = P, name = 'blocked_ipv4 host bits', site = with(site, { ['xlat464.blocked_ipv4'] = { '192.0.2.0/24', '10.0.0.1/8' } }),
		err = 'site.conf error: expected xlat464.blocked_ipv4.2 to be an IPv4 prefix "a.b.c.d/n" with no host bits set, but it is "10.0.0.1/8" (a string value)' },
	{ check = P, name = 'blocked_ipv4 /33', site = with(site, { ['xlat464.blocked_ipv4'] = { '10.0.0.0/33' } }),
		err = 'expected xlat464.blocked_ipv4.1 to be an IPv4 prefix' },
	{ check = P, name = 'blocked_ipv4 without length', site = with(site, { ['xlat464.blocked_ipv4'] = { '10.0.0.0' } }),
		err = 'expected xlat464.blocked_ipv4.1 to be an IPv4 prefix' },
	{ check = P, name = 'blocked_ipv4 octet 300', site = with(site, { ['xlat464.blocked_ipv4'] = { '300.0.0.0/8' } }),
		err = 'expected xlat464.blocked_ipv4.1 to be an IPv4 prefix' },
	{ check = P, name = 'blocked_ipv4 number entry', site = with(site, { ['xlat464.blocked_ipv4'] = { 10 } }),
		err = 'but it is 10 (a number value)' },
	{ check = P, name = 'domains: blocked_ipv4 in site.conf', site = with(base_site, { ['xlat464.blocked_ipv4'] = { '10.0.0.0/8' } }),
		domains = { a = with(dom_a, { ['xlat464.blocked_ipv4'] = false }) }, ok = true },
	{ check = P, name = 'domains: bad entry in a domain', site = base_site,
		domains = { a = with(dom_a, { ['xlat464.blocked_ipv4'] = { '10.0.0.0/8', '1.2.3.4/8' } }) },
		err = 'domains/a.conf error: expected xlat464.blocked_ipv4.2 to be an IPv4 prefix' },

	-- gluon-l3roamd-xlat
	{ check = R, name = 'minimal site', site = site, ok = true },
	{ check = R, name = 'site with port and secret', site = tuned, ok = true },
	{ check = R, name = 'two domains, own secrets', site = base_site, domains = { a = dom_a, b = dom_b }, ok = true },
	{ check = R, name = 'roam_port 0', site = with(site, { ['xlat464.roam_port'] = 0 }),
		err = 'site.conf error: expected xlat464.roam_port to be a whole number in [1, 65535] (UDP port), but it is 0 (a number value)' },
	{ check = R, name = 'roam_port 65536', site = with(site, { ['xlat464.roam_port'] = 65536 }),
		err = 'expected xlat464.roam_port to be a whole number in [1, 65535]' },
	{ check = R, name = 'roam_port a string', site = with(site, { ['xlat464.roam_port'] = '5524' }),
		err = 'but it is "5524" (a string value)' },
	{ check = R, name = 'roam_secret a number', site = with(site, { ['xlat464.roam_secret'] = 1234 }),
		err = 'site.conf error: expected xlat464.roam_secret to be a non-empty string (leave it unset for unsigned messages), but it is 1234 (a number value)' },
	{ check = R, name = 'roam_secret empty', site = with(site, { ['xlat464.roam_secret'] = '' }),
		err = 'site.conf error: expected xlat464.roam_secret to be a non-empty string (leave it unset for unsigned messages), but it is ""' },
	{ check = R, name = 'domains: roam_secret in site.conf, one per domain', site = with(base_site, { ['xlat464.roam_secret'] = 'x' }),
		domains = { a = dom_a, b = dom_b }, ok = true },
	{ check = R, name = 'node_prefix6 unset', site = with(site, { node_prefix6 = false }),
		err = 'site.conf error: expected node_prefix6 to be a string, but it is unset' },
	{ check = R, name = 'node_client_prefix6 a /56', site = with(site, { node_client_prefix6 = 'fd00:1:2:3::/56' }),
		err = 'expected node_client_prefix6 to match pattern' },
	{ check = R, name = 'node_client_prefix6 a /64', site = with(site, { node_client_prefix6 = 'fd00:1:2:3::/64' }), ok = true },
	{ check = R, name = 'domains: node_prefix6 in site.conf', site = with(base_site, { node_prefix6 = 'fdca:ffee:80:1::/64' }),
		domains = { a = dom_a }, err = 'site.conf error: node_prefix6 is allowed in domain configuration only' },
	{ check = R, name = 'domains: bad port named in its domain', site = base_site,
		domains = { a = dom_a, b = with(dom_b, { ['xlat464.roam_port'] = 99999 }) },
		err = 'domains/b.conf error: expected xlat464.roam_port' },

	-- the harness itself: merge and in_site as Gluon does them
	{ check = S, name = 'harness: merge, in_site', site = with(base_site, { only_site = 1, arr = { 1, 2, 3 }, tbl = { x = 1, y = 2 } }),
		domains = { a = { arr = { 9 }, tbl = { y = 5 }, empty = {} } }, ok = true },
	{ check = S, name = 'harness: in_site key set in a domain', site = with(base_site, { arr = { 1 }, tbl = {} }),
		domains = { a = { only_site = 2, arr = { 9 }, tbl = { x = 1, y = 5 } } },
		err = 'domains/a.conf error: only_site is allowed in site configuration only' },
}
