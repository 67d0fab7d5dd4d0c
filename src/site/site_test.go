package site

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testSeed = "b9b4a1e0ed0e0e1e0f6b9d6e3c3e5a1f0e2d4c6b8a0f1e3d5c7b9a1f2e4d6c8b"

const siteJSON = `{
  "site_code": "ffx",
  "prefix6": "2001:db8:100::/64",
  "node_prefix6": "fdca:ffee:8:0::/64",
  "prefix4": "10.80.0.0/16",
  "next_node": {"ip4": "10.80.0.1", "ip6": "fdca:ffee:8::1"},
  "domain_seed": "` + testSeed + `",
  "xlat464": {"switch_margin": 128, "blocked_ipv4": ["198.18.0.0/15"]}
}`

const domainJSON = `{
  "domain_names": {"ffx": "Domain X"},
  "clat_range": "fddd:1337:1337::/48",
  "plat_range": "64:ff9b:1::/48",
  "next_node": {"mac": "16:41:95:40:f7:dc"},
  "xlat464": {"probe_interval": 5, "roam_secret": "s3cret"}
}`

const gluonUCI = "\nconfig core 'core'\n\toption domain 'ffx'\n\n"

// makeRoot writes files (path relative to root -> content) into a new root.
func makeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func baseFiles() map[string]string {
	return map[string]string{
		SiteFile:                   siteJSON,
		DomainsDir + "/ffx.json":   domainJSON,
		"etc/config/gluon":         gluonUCI,
		PrimaryMACFile:             "12:34:56:78:9a:bc\n",
		DomainsDir + "/other.json": `{"clat_range": "fd00:1::/48"}`,
	}
}

func TestLoadMultiDomain(t *testing.T) {
	root := makeRoot(t, baseFiles())
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if c.Domain != "ffx" || c.PrimaryMAC.String() != "12:34:56:78:9a:bc" {
		t.Errorf("domain %q mac %s", c.Domain, c.PrimaryMAC)
	}
	checks := []struct{ got, want string }{
		{c.CLATRange.String(), "fddd:1337:1337::/48"},
		{c.PLATRange.String(), "64:ff9b:1::/48"},
		{c.Prefix4.String(), "10.80.0.0/16"},
		{c.NextNodeIP4.String(), "10.80.0.1"},
		{c.NodePrefix6.String(), "fdca:ffee:8::/64"},
		// independently computed (Python hashlib) from Gluon's algorithm
		{c.NodeClientPrefix6.String(), "fd10:9f:ea06:7dc0::/64"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("got %s, want %s", ch.got, ch.want)
		}
	}
	want := XLAT464{SwitchMargin: 128, ProbeInterval: 5 * time.Second, ProbeFailures: 3,
		BlockedIPv4: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15")}, RoamPort: 5524, RoamSecret: "s3cret"}
	if !reflect.DeepEqual(c.XLAT, want) {
		t.Errorf("xlat464 = %+v, want %+v", c.XLAT, want)
	}
	p, err := c.CLATPrefix()
	if err != nil || p.String() != "fddd:1337:1337:1234:5678:9abc::/96" {
		t.Errorf("CLATPrefix = %s, %v", p, err)
	}
	p, err = c.PLATPrefix()
	if err != nil || p.String() != "64:ff9b:1:1234:5678:9abc::/96" {
		t.Errorf("PLATPrefix = %s, %v", p, err)
	}
	a, err := c.NodeAddress()
	if err != nil || a.String() != "fdca:ffee:8:0:1034:56ff:fe78:9abc" {
		t.Errorf("NodeAddress = %s, %v", a, err)
	}
	if f := c.FileOf("clat_range"); f != filepath.Join(root, DomainsDir, "ffx.json") {
		t.Errorf("FileOf(clat_range) = %s", f)
	}
	if f := c.FileOf("prefix4"); f != filepath.Join(root, SiteFile) {
		t.Errorf("FileOf(prefix4) = %s", f)
	}
}

func TestLoadSingleDomainAndDefaults(t *testing.T) {
	root := makeRoot(t, map[string]string{
		SiteFile:       `{"clat_range": "fddd:1::/48", "plat_range": "fddd:2::/48", "node_client_prefix6": "fd00:aaaa::/64", "domain_seed": "` + testSeed + `", "xlat464": []}`,
		PrimaryMACFile: "02:00:00:00:00:01",
	})
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if c.Domain != "" || c.NodeClientPrefix6.String() != "fd00:aaaa::/64" {
		t.Errorf("domain %q ncp %s", c.Domain, c.NodeClientPrefix6)
	}
	want := XLAT464{SwitchMargin: 256, ProbeInterval: 2 * time.Second, ProbeFailures: 3, RoamPort: 5524}
	if !reflect.DeepEqual(c.XLAT, want) {
		t.Errorf("defaults = %+v", c.XLAT)
	}
	if err := c.Require("gluon-464xlat-clat", "clat_range", "prefix4"); err == nil ||
		err.Error() != filepath.Join(root, SiteFile)+": prefix4: missing (required by gluon-464xlat-clat)" {
		t.Errorf("Require err = %v", err)
	}
}

func TestDomainFromPendingDelta(t *testing.T) {
	files := baseFiles()
	files["etc/config/gluon"] = "\nconfig core 'core'\n\toption domain 'other'\n"
	files["tmp/.uci/gluon"] = "gluon.core.domain='ffx'\n"
	c, err := Load(makeRoot(t, files))
	if err != nil || c.Domain != "ffx" {
		t.Fatalf("Load = %+v, %v", c, err)
	}
}

func TestMergeJSON(t *testing.T) {
	a := map[string]any{"x": map[string]any{"a": 1, "b": 2}, "l": []any{1, 2}, "s": "site"}
	b := map[string]any{"x": map[string]any{"b": 3, "c": 4}, "l": []any{3}, "d": true}
	got := mergeJSON(a, b)
	want := map[string]any{"x": map[string]any{"a": 1, "b": 3, "c": 4}, "l": []any{3}, "s": "site", "d": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merge = %v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	dom := "/" + DomainsDir + "/ffx.json"
	site := "/" + SiteFile
	tests := []struct {
		name   string
		change func(f map[string]string)
		want   string
	}{
		{"clat /64", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "fddd:1337:1337::/48", "fddd::/64", 1)
		}, dom + `: clat_range: "fddd::/64" is not a /48`},
		{"plat host bits", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "64:ff9b:1::/48", "64:ff9b:1:1::/48", 1)
		}, dom + `: plat_range: "64:ff9b:1:1::/48" has host bits set (want 64:ff9b:1::/48)`},
		{"plat ipv4", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "64:ff9b:1::/48", "10.0.0.0/8", 1)
		}, dom + `: plat_range: "10.0.0.0/8" is not an IPv6 prefix`},
		{"clat garbage", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "fddd:1337:1337::/48", "nonsense", 1)
		}, dom + `: clat_range: "nonsense" is not a prefix`},
		{"clat number", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, `"fddd:1337:1337::/48"`, `48`, 1)
		}, dom + `: clat_range: 48 is not a string`},
		{"same ranges", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "64:ff9b:1::/48", "fddd:1337:1337::/48", 1)
		}, dom + `: clat_range: "fddd:1337:1337::/48" overlaps plat_range fddd:1337:1337::/48`},
		{"clat multicast", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "fddd:1337:1337::/48", "ff02::/48", 1)
		}, dom + `: clat_range: "ff02::/48" is neither global unicast (2000::/3) nor unique local (fc00::/7) nor 64:ff9b:1::/48`},
		{"clat link-local", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "fddd:1337:1337::/48", "fe80::/48", 1)
		}, dom + `: clat_range: "fe80::/48" is neither global unicast`},
		{"plat unspecified", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "64:ff9b:1::/48", "::/48", 1)
		}, dom + `: plat_range: "::/48" is neither global unicast`},
		{"plat other 64:ff9b", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "64:ff9b:1::/48", "64:ff9b:2::/48", 1)
		}, dom + `: plat_range: "64:ff9b:2::/48" is neither global unicast`},
		{"clat overlaps prefix6", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "fddd:1337:1337::/48", "2001:db8:100::/48", 1)
		}, dom + `: clat_range: "2001:db8:100::/48" overlaps prefix6 2001:db8:100::/64`},
		{"plat overlaps node_prefix6", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "64:ff9b:1::/48", "fdca:ffee:8::/48", 1)
		}, dom + `: plat_range: "fdca:ffee:8::/48" overlaps node_prefix6 fdca:ffee:8::/64`},
		{"empty secret", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, `"roam_secret": "s3cret"`, `"roam_secret": ""`, 1)
		}, dom + `: xlat464.roam_secret: is empty (remove the key to send unsigned roaming messages)`},
		{"huge value", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, "fddd:1337:1337::/48", strings.Repeat("x", 10<<20), 1)
		}, dom + `: clat_range: "` + strings.Repeat("x", MaxQuoted) + `"... (10485760 bytes) is not a prefix`},
		{"huge number", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, `"probe_interval": 5`, `"probe_interval": `+strings.Repeat("9", 1<<20), 1)
		}, dom + `: xlat464.probe_interval: ` + strings.Repeat("9", MaxQuoted) + `... (1048576 bytes) is not a whole number`},
		{"prefix4 host bits", func(f map[string]string) {
			f[SiteFile] = strings.Replace(siteJSON, "10.80.0.0/16", "10.80.0.1/16", 1)
		}, site + `: prefix4: "10.80.0.1/16" has host bits set (want 10.80.0.0/16)`},
		{"next_node outside", func(f map[string]string) {
			f[SiteFile] = strings.Replace(siteJSON, `"ip4": "10.80.0.1"`, `"ip4": "10.81.0.1"`, 1)
		}, site + `: next_node.ip4: "10.81.0.1" is not inside prefix4 10.80.0.0/16`},
		{"node_prefix6 /56", func(f map[string]string) {
			f[SiteFile] = strings.Replace(siteJSON, "fdca:ffee:8:0::/64", "fdca:ffee:8::/56", 1)
		}, site + `: node_prefix6: "fdca:ffee:8::/56" is not a /64`},
		{"seed short", func(f map[string]string) {
			f[SiteFile] = strings.Replace(siteJSON, testSeed, "abcd", 1)
		}, site + `: domain_seed: "abcd" is not 64 hex digits`},
		{"probe fraction", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = strings.Replace(domainJSON, `"probe_interval": 5`, `"probe_interval": 0.5`, 1)
		}, dom + `: xlat464.probe_interval: 0.5 is not a whole number in [1, 3600]`},
		{"margin string", func(f map[string]string) {
			f[SiteFile] = strings.Replace(siteJSON, `"switch_margin": 128`, `"switch_margin": "128"`, 1)
		}, site + `: xlat464.switch_margin: "128" is not a number`},
		{"blocked entry", func(f map[string]string) {
			f[SiteFile] = strings.Replace(siteJSON, `"198.18.0.0/15"`, `"198.18.0.0/15", "fd00::/8"`, 1)
		}, site + `: xlat464.blocked_ipv4[2]: "fd00::/8" is not an IPv4 prefix`},
		{"blocked not list", func(f map[string]string) {
			f[SiteFile] = strings.Replace(siteJSON, `["198.18.0.0/15"]`, `"198.18.0.0/15"`, 1)
		}, site + `: xlat464.blocked_ipv4: "198.18.0.0/15" is not a list`},
		{"invalid json", func(f map[string]string) {
			f[DomainsDir+"/ffx.json"] = `{"clat_range": `
		}, dom + `: invalid JSON`},
		{"missing domain file", func(f map[string]string) {
			f["etc/config/gluon"] = "config core 'core'\n\toption domain 'nosuch'\n"
		}, "/" + DomainsDir + "/nosuch.json: missing"},
		{"domain unset", func(f map[string]string) {
			f["etc/config/gluon"] = "config core 'core'\n"
		}, "/etc/config/gluon: core.domain: not set"},
		{"domain traversal", func(f map[string]string) {
			f["etc/config/gluon"] = "config core 'core'\n\toption domain '../x'\n"
		}, `/etc/config/gluon: core.domain: "../x" is not a domain code`},
		{"gluon uci broken", func(f map[string]string) {
			f["etc/config/gluon"] = "config core 'core'\n\toption domain 'ffx\n"
		}, `/etc/config/gluon:2: EOF with unterminated '`},
		{"bad mac", func(f map[string]string) {
			f[PrimaryMACFile] = "12:34:56\n"
		}, "/" + PrimaryMACFile + `: invalid MAC address`},
		{"no site", func(f map[string]string) { delete(f, SiteFile) }, site + ": missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := baseFiles()
			tc.change(files)
			root := makeRoot(t, files)
			_, err := Load(root)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			msg := strings.ReplaceAll(err.Error(), root, "")
			if !strings.HasPrefix(msg, tc.want) {
				t.Errorf("err = %.600s\nwant prefix %.600s", msg, tc.want)
			}
			if len(msg) > 2*MaxQuoted+200 {
				t.Errorf("error message of %d bytes", len(msg))
			}
		})
	}
	var se *Error
	files := baseFiles()
	files[SiteFile] = strings.Replace(siteJSON, "10.80.0.0/16", "x", 1)
	if _, err := Load(makeRoot(t, files)); !errors.As(err, &se) || se.Key != "prefix4" {
		t.Errorf("not a *site.Error: %v", err)
	}
}

func TestDomainSeedBytes(t *testing.T) {
	// md5("gluon-l3roamd.node_client_prefix6" + seed + "1") etc., computed with Python's hashlib
	if got := DomainSeedBytes(strings.ToUpper(testSeed), "gluon-l3roamd.node_client_prefix6", 7); got != "10009fea067dc0" {
		t.Errorf("DomainSeedBytes = %s", got)
	}
	if got := len(DomainSeedBytes(testSeed, "k", 20)); got != 40 {
		t.Errorf("len = %d", got)
	}
}
