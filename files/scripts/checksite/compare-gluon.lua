-- Optional cross-check of harness.lua against Gluon itself: runs every case
-- of cases.lua through Gluon's own lib/gluon/check-site.lua (from a Gluon
-- checkout, not part of this repository) and through harness.lua, and
-- requires the same result and the same error text.
--
-- Usage: lua5.1 compare-gluon.lua REPO_ROOT GLUON_CHECK_SITE_LUA
-- (GLUON/package/gluon-core/luasrc/lib/gluon/check-site.lua; for newer Gluon
-- its usr/lib/lua/gluon/validator.lua is found beside it)
-- Gluon's script reads site.json/domains/*.json with the jsonc module; a
-- stand-in (jsonc-shim/jsonc.lua) loads those files as Lua tables instead.
local root, gluon = arg[1], arg[2]
-- newer Gluon keeps the helpers in gluon/validator.lua beside it
local libdir = gluon:gsub('lib/gluon/check%-site%.lua$', 'usr/lib/lua')
local here = root .. '/files/scripts/checksite'
local Harness = dofile(here .. '/harness.lua')
local cases = dofile(here .. '/cases.lua')

local function ser(v)
	if type(v) == 'table' then
		local parts = {}
		for k, x in pairs(v) do
			local key = type(k) == 'number' and ('[' .. k .. ']') or string.format('[%q]', k)
			parts[#parts + 1] = key .. '=' .. ser(x)
		end
		return '{' .. table.concat(parts, ',') .. '}'
	elseif type(v) == 'string' then
		return string.format('%q', v)
	end
	return tostring(v)
end

local function write(path, t)
	local f = assert(io.open(path, 'w'))
	f:write('return ' .. ser(t))
	f:close()
end

local function sh(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local failed = 0
for i, c in ipairs(cases) do
	local dir = os.tmpname()
	os.remove(dir)
	os.execute('mkdir -p ' .. sh(dir .. '/lib/gluon/domains'))
	write(dir .. '/lib/gluon/site.json', c.site)
	if c.domains then
		for code, d in pairs(c.domains) do write(dir .. '/lib/gluon/domains/' .. code .. '.json', d) end
	else
		os.execute('rmdir ' .. sh(dir .. '/lib/gluon/domains'))
	end
	local p = io.popen('IPKG_INSTROOT=' .. sh(dir) .. ' LUA_PATH=' .. sh(here .. '/jsonc-shim/?.lua;' .. libdir .. '/?.lua;;') ..
		' lua5.1 ' .. sh(gluon) .. ' < ' .. sh(root .. '/' .. c.check) .. ' 2>&1 >/dev/null; echo "rc=$?"')
	local out = p:read('*a')
	p:close()
	os.execute('rm -rf ' .. sh(dir))
	local theirs = nil
	if not out:match('rc=0\n?$') then theirs = out:match('^%*%*%* (.-)\nrc=%d+') or out end
	local mine = Harness.run(root .. '/' .. c.check, c.site, c.domains)
	local label = c.check:match('^[^/]+') .. ' ' .. (c.name or ('case ' .. i))
	if theirs == mine then
		print('same ' .. label)
	else
		failed = failed + 1
		print('DIFF ' .. label .. '\n     gluon:   ' .. tostring(theirs) .. '\n     harness: ' .. tostring(mine))
	end
end
print(string.format('%d cases compared with Gluon, %d differ', #cases, failed))
os.exit(failed == 0 and 0 or 1)
