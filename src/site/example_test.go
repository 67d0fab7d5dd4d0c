package site

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// exampleDir is files/site-example of the repository.
var exampleDir = filepath.Join("..", "..", "files", "site-example")

// The example site config (JSON form, as Gluon installs it) loads and gives
// the documented values.
func TestSiteExample(t *testing.T) {
	siteJSON, err := os.ReadFile(filepath.Join(exampleDir, "site.json"))
	if err != nil {
		t.Fatal(err)
	}
	domJSON, err := os.ReadFile(filepath.Join(exampleDir, "domains", "ffx.json"))
	if err != nil {
		t.Fatal(err)
	}
	root := makeRoot(t, map[string]string{
		SiteFile:                 string(siteJSON),
		DomainsDir + "/ffx.json": string(domJSON),
		"etc/config/gluon":       gluonUCI,
		PrimaryMACFile:           "12:34:56:78:9a:bc\n",
	})
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.CLATPrefix()
	q, _ := c.PLATPrefix()
	if p.String() != "fddd:1337:1337:1234:5678:9abc::/96" || q.String() != "fddd:1337:2:1234:5678:9abc::/96" {
		t.Errorf("prefixes %s %s", p, q)
	}
	if c.XLAT.RoamSecret != "change me" || c.XLAT.SwitchMargin != 256 || len(c.XLAT.BlockedIPv4) != 1 {
		t.Errorf("xlat464 = %+v", c.XLAT)
	}
}

// luaToJSON prints a Lua table file as JSON (object keys sorted by encoding/json
// on the Go side; arrays for 1..n tables).
const luaToJSON = `
local function enc(v)
  local t = type(v)
  if t == 'string' then return string.format('%q', v):gsub('\\\n', '\\n') end
  if t == 'number' or t == 'boolean' then return tostring(v) end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  if n > 0 and #v == n then
    local out = {}
    for i = 1, n do out[i] = enc(v[i]) end
    return '[' .. table.concat(out, ',') .. ']'
  end
  local out = {}
  for k, x in pairs(v) do out[#out + 1] = string.format('%q', k) .. ':' .. enc(x) end
  return '{' .. table.concat(out, ',') .. '}'
end
local f = assert(io.open(arg[1]))
local t = assert(loadstring('return ' .. f:read('*a')))()
io.write(enc(t))
`

func canonical(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// The Lua-table .conf files (what a community writes) and the JSON files
// (what tests and the node read) say the same.
func TestSiteExampleConfMatchesJSON(t *testing.T) {
	lua := ""
	for _, name := range []string{"lua5.1", "lua"} {
		if p, err := exec.LookPath(name); err == nil {
			lua = p
			break
		}
	}
	if lua == "" {
		t.Skip("lua not installed: cannot evaluate site.conf")
	}
	script := filepath.Join(t.TempDir(), "tojson.lua")
	if err := os.WriteFile(script, []byte(luaToJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	for conf, js := range map[string]string{"site.conf": "site.json", "domains/ffx.conf": "domains/ffx.json"} {
		cmd := exec.Command(lua, script, filepath.Join(exampleDir, conf))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", conf, err, stderr.String())
		}
		want, err := os.ReadFile(filepath.Join(exampleDir, js))
		if err != nil {
			t.Fatal(err)
		}
		if a, b := canonical(t, out), canonical(t, want); a != b {
			t.Errorf("%s and %s differ:\n%s\n%s", conf, js, a, b)
		}
	}
}

// exampleCases is a cases file for files/scripts/checksite/harness.lua:
// every package's check_site.lua must accept the example.
const exampleCases = `
local function load(p)
  local f = assert(io.open(p)); local t = assert(loadstring('return ' .. f:read('*a')))(); f:close(); return t
end
local site = load(EXAMPLE .. '/site.conf')
local dom = load(EXAMPLE .. '/domains/ffx.conf')
local out = {}
for _, c in ipairs({'gluon-464xlat-clat/check_site.lua', 'gluon-464xlat-plat/check_site.lua', 'gluon-l3roamd-xlat/check_site.lua'}) do
  out[#out + 1] = { check = c, name = 'files/site-example', site = site, domains = { ffx = dom }, ok = true }
end
return out
`

// The example passes the packages' check_site.lua (Gluon's image-build
// check), run through the packages' Lua harness with Gluon's helpers.
func TestSiteExamplePassesCheckSite(t *testing.T) {
	lua, err := exec.LookPath("lua5.1")
	if err != nil {
		t.Skip("lua5.1 not installed")
	}
	top, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	harness := filepath.Join(top, "files", "scripts", "checksite", "harness.lua")
	if _, err := os.Stat(harness); err != nil {
		t.Skip("no check_site harness in this tree")
	}
	cases := filepath.Join(t.TempDir(), "cases.lua")
	src := "local EXAMPLE = " + strconv.Quote(filepath.Join(top, "files", "site-example")) + "\n" + exampleCases
	if err := os.WriteFile(cases, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(lua, harness, cases, top).CombinedOutput()
	if err != nil {
		t.Errorf("check_site rejects files/site-example: %v\n%s", err, out)
	}
}
