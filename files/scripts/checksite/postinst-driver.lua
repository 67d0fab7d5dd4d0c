-- Stands in for Gluon's /lib/gluon/check-site.lua when the test runs a staged
-- package's CONTROL/postinst: reads the check from stdin (as GluonCheckSite
-- pipes it) and runs it through harness.lua on the site in $XLAT_SITE (a file
-- holding a Gluon site.conf, i.e. a Lua table expression) and, if
-- $XLAT_DOMAINS names a directory, its *.conf domains.
local dir = os.getenv('XLAT_HARNESS_DIR')
local Harness = dofile(dir .. '/harness.lua')

local function load_conf(file)
	local f = assert(io.open(file))
	local text = f:read('*a')
	f:close()
	local chunk = assert(loadstring('return ' .. text, '@' .. file))
	setfenv(chunk, {})
	return chunk()
end

local check = os.tmpname()
local out = assert(io.open(check, 'w'))
out:write(io.read('*a'))
out:close()

local site = load_conf(assert(os.getenv('XLAT_SITE'), 'XLAT_SITE unset'))
local domains
local ddir = os.getenv('XLAT_DOMAINS')
if ddir and ddir ~= '' then
	domains = {}
	local p = io.popen('ls "' .. ddir .. '"/*.conf 2>/dev/null')
	for file in p:lines() do
		domains[file:match('([^/]+)%.conf$')] = load_conf(file)
	end
	p:close()
end

local err = Harness.run(check, site, domains)
os.remove(check)
if err then
	io.stderr:write('*** ', err, '\n')
	os.exit(1)
end
