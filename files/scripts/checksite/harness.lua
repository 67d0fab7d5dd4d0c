-- Host harness for the packages' check_site.lua files (Debian lua5.1).
--
-- It provides what Gluon's gluon-core/luasrc/lib/gluon/check-site.lua gives a
-- check at image build time, with the same semantics, written for this feed:
--   * the check runs once per domain on merge(site, domain) (the domain wins,
--     arrays and tables merged key by key, an empty domain table keeps the
--     site's), or once on the site alone when there are no domains;
--   * need(path, check, required, msg), need_string, need_string_match,
--     need_number, need_number_range, need_boolean, need_array, need_table,
--     need_value, need_one_of, need_string_array, need_string_array_match,
--     need_array_of, need_alphanumeric_key, obsolete, alternatives, extend,
--     table_keys, this_domain;
--   * in_site(path): error if the key is set in a domain config;
--     in_domain(path): with domains, error if the key is set in site.conf
--     (without domains site.conf is the only domain and may hold it);
--   * errors read "<source> error: expected <path> to <what>, but it is
--     <value> (a <type> value)" / "... but it is unset", where <source> is the
--     file the value came from (site.conf or domains/<code>.conf).
--
-- Usage: lua5.1 harness.lua CASES.lua [REPO_ROOT]
-- CASES.lua returns a list of cases:
--   { name = 'text', check = 'gluon-464xlat-clat/check_site.lua',
--     site = {...}, domains = { code = {...}, ... } (optional),
--     ok = true } or { ..., err = 'expected substring of the error' }
-- Prints one line per case and exits 1 if any case does not behave as stated.

local Harness = {}

local function is_array(t)
	local n = 0
	for _ in pairs(t) do n = n + 1 end
	return n == #t
end

-- merge(a, b): b (the domain) overrides a (the site), recursively.
function Harness.merge(a, b)
	if b == nil then return a end
	if type(a) ~= 'table' or type(b) ~= 'table' then return b end
	if next(b) == nil then return a end
	if is_array(a) ~= is_array(b) then return b end
	local out = {}
	for k, v in pairs(a) do out[k] = v end
	for k, v in pairs(b) do out[k] = Harness.merge(out[k], v) end
	return out
end

local function lookup(tbl, path)
	local v = tbl
	for _, k in ipairs(path) do
		if type(v) ~= 'table' then return nil end
		v = v[k]
	end
	return v
end

local function quote(v)
	if type(v) == 'string' then return string.format('%q', v) end
	return tostring(v)
end

-- new_env returns the environment one check run sees.
-- site, domain: tables; code: domain code or nil (no domains).
function Harness.new_env(site, domain, code)
	local has_domains = code ~= nil
	local conf = has_domains and Harness.merge(site, domain) or site
	local M = setmetatable({}, { __index = _G })

	local function src_site() return 'site.conf' end
	local function src_domain() return 'domains/' .. code .. '.conf' end

	local function set_in(which, path)
		if which == 'domain' then
			return has_domains and lookup(domain, path) ~= nil
		end
		return lookup(site, path) ~= nil
	end

	-- where a value (or its absence) is reported from; skip: a source not to name
	local function source(path, skip)
		if skip ~= 'domain' and set_in('domain', path) then return src_domain() end
		if skip ~= 'site' and set_in('site', path) then return src_site() end
		local names = {}
		if skip ~= 'site' then names[#names + 1] = src_site() end
		if skip ~= 'domain' and has_domains then names[#names + 1] = src_domain() end
		return table.concat(names, ' / ')
	end

	local function fail(src, fmt, ...)
		error(src .. ' error: ' .. string.format(fmt, ...), 0)
	end

	local function var_error(path, val, what)
		local found = 'unset'
		if val ~= nil then
			found = string.format('%s (a %s value)', quote(val), type(val))
		end
		fail(source(path), 'expected %s to %s, but it is %s', table.concat(path, '.'), what, found)
	end

	-- value at path in the merged config; a non-table on the way is an error
	local function load(path)
		local v = conf
		for i, k in ipairs(path) do
			if v == nil then return nil end
			if type(v) ~= 'table' then
				local prefix = {}
				for j = 1, i - 1 do prefix[j] = path[j] end
				var_error(prefix, v, 'be a table')
			end
			v = v[k]
		end
		return v
	end

	function M.in_site(path)
		if set_in('domain', path) then
			fail(source(path, 'site'), '%s is allowed in site configuration only', table.concat(path, '.'))
		end
		return path
	end

	function M.in_domain(path)
		if has_domains and set_in('site', path) then
			fail(source(path, 'domain'), '%s is allowed in domain configuration only', table.concat(path, '.'))
		end
		return path
	end

	function M.this_domain() return code end

	function M.table_keys(t)
		local keys = {}
		for k in pairs(t) do keys[#keys + 1] = k end
		return keys
	end

	function M.extend(path, more)
		if not path then return nil end
		local p = {}
		for i, k in ipairs(path) do p[i] = k end
		for _, k in ipairs(more) do p[#p + 1] = k end
		return p
	end

	function M.need(path, check, required, what)
		local val = load(path)
		if required == false and val == nil then return nil end
		if not check(val) then var_error(path, val, what) end
		return val
	end

	local function need_type(path, t, required, what)
		return M.need(path, function(v) return type(v) == t end, required, what)
	end

	function M.need_string(path, required) return need_type(path, 'string', required, 'be a string') end
	function M.need_number(path, required) return need_type(path, 'number', required, 'be a number') end
	function M.need_boolean(path, required) return need_type(path, 'boolean', required, 'be a boolean') end

	function M.need_string_match(path, pat, required)
		local v = M.need_string(path, required)
		if v == nil then return nil end
		if not v:match(pat) then var_error(path, v, "match pattern '" .. pat .. "'") end
		return v
	end

	function M.need_number_range(path, lo, hi, required)
		local v = need_type(path, 'number', required, 'be a number')
		if v == nil then return nil end
		if v < lo or v > hi then var_error(path, v, 'be in range [' .. lo .. ', ' .. hi .. ']') end
		return v
	end

	function M.need_array(path, sub, required)
		local v = need_type(path, 'table', required, 'be an array')
		if v == nil then return nil end
		if sub then
			for i = 1, #v do sub(M.extend(path, { i })) end
		end
		return v
	end

	function M.need_table(path, sub, required)
		local v = need_type(path, 'table', required, 'be a table')
		if v == nil then return nil end
		if sub then
			for k in pairs(v) do sub(M.extend(path, { k })) end
		end
		return v
	end

	function M.need_value(path, value, required)
		return M.need(path, function(v) return v == value end, required, 'be ' .. tostring(value))
	end

	local function one_of(list)
		return function(v)
			for _, x in ipairs(list) do
				if x == v then return true end
			end
			return false
		end
	end

	function M.need_one_of(path, list, required)
		local shown = {}
		for i, x in ipairs(list) do shown[i] = quote(x) end
		return M.need(path, one_of(list), required,
			'be one of the given array [' .. table.concat(shown, ', ') .. ']')
	end

	function M.need_string_array(path, required)
		return M.need_array(path, M.need_string, required)
	end

	function M.need_string_array_match(path, pat, required)
		return M.need_array(path, function(p) M.need_string_match(p, pat) end, required)
	end

	function M.need_array_of(path, list, required)
		return M.need_array(path, function(p) M.need_one_of(p, list) end, required)
	end

	function M.need_alphanumeric_key(path)
		local k = path[#path]
		if type(k) ~= 'string' or not k:match('^[0-9a-zA-Z_]+$') then
			var_error(path, k, 'have a string key using only alphanumeric characters and underscores')
		end
	end

	function M.obsolete(path, msg)
		if load(path) == nil then return nil end
		fail(source(path), '%s is obsolete. %s', table.concat(path, '.'),
			msg or 'Check the release notes and documentation for details.')
	end

	function M.alternatives(...)
		local errs = { 'All of the following alternatives have failed:' }
		for i, f in ipairs({ ... }) do
			local ok, err = pcall(f)
			if ok then return end
			errs[#errs + 1] = string.format('%i) %s', i, err)
		end
		error(table.concat(errs, '\n        '), 0)
	end

	return M
end

-- run(check_file, site, domains): nil on success, else the error text of the
-- first failing domain (domains in sorted order, for repeatable results).
function Harness.run(check_file, site, domains)
	local chunk, lerr = loadfile(check_file)
	if not chunk then return 'load error: ' .. lerr end
	local runs = {}
	if domains then
		local codes = {}
		for code in pairs(domains) do codes[#codes + 1] = code end
		table.sort(codes)
		if #codes == 0 then return 'site error: no domain configurations found' end
		for _, code in ipairs(codes) do runs[#runs + 1] = { domains[code], code } end
	else
		runs[1] = { nil, nil }
	end
	for _, r in ipairs(runs) do
		local f = loadfile(check_file)
		setfenv(f, Harness.new_env(site, r[1], r[2]))
		local ok, err = pcall(f)
		if not ok then return tostring(err) end
	end
	return nil
end

local function main(cases_file, root)
	root = root or '.'
	local cases = assert(dofile(cases_file))
	local failed = 0
	for i, c in ipairs(cases) do
		local err = Harness.run(root .. '/' .. c.check, c.site, c.domains)
		local good, why
		if c.ok then
			good, why = err == nil, err
		else
			good = err ~= nil and err:find(c.err, 1, true) ~= nil
			why = err and ('got: ' .. err .. '\n      want: ' .. c.err) or ('passed, want error: ' .. c.err)
		end
		local label = string.format('%-28s %s', c.check:match('^[^/]+'), c.name or ('case ' .. i))
		if good then
			print('ok   ' .. label)
		else
			failed = failed + 1
			print('FAIL ' .. label .. '\n      ' .. tostring(why))
		end
	end
	print(string.format('%d cases, %d failed', #cases, failed))
	return failed == 0
end

if arg and arg[0] and arg[0]:match('harness%.lua$') and arg[1] then
	os.exit(main(arg[1], arg[2]) and 0 or 1)
end

return Harness
