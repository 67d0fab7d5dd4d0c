package upgrade

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/site"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// TestE2EHostileSiteValues runs the three upgrade commands (Main, as
// `xlat-clat upgrade` etc. do) on a node root whose domain file carries one
// hostile value each: every step must refuse with exit 1, one message that
// names the file and the key and quotes at most site.MaxQuoted bytes of the
// value, and write nothing.
func TestE2EHostileSiteValues(t *testing.T) {
	const domFile = "lib/gluon/domains/ffx.json"
	huge := strings.Repeat("A", 10<<20)
	cases := []struct {
		name, key string
		value     any
	}{
		{"clat_range multicast", "clat_range", "ff02::/48"},
		{"clat_range link-local", "clat_range", "fe80::/48"},
		{"clat_range unspecified", "clat_range", "::/48"},
		{"plat_range multicast", "plat_range", "ff02::/48"},
		{"plat_range link-local", "plat_range", "fe80::/48"},
		{"plat_range unspecified", "plat_range", "::/48"},
		{"clat_range = plat_range", "clat_range", "fddd:1337:2::/48"},
		{"clat_range over prefix6", "clat_range", "2001:db8:100::/48"},
		{"clat_range over node_prefix6", "clat_range", "fdca:ffee:8::/48"},
		{"plat_range over prefix6", "plat_range", "2001:db8:100::/48"},
		{"plat_range over node_prefix6", "plat_range", "fdca:ffee:8::/48"},
		{"empty roam_secret", "xlat464.roam_secret", ""},
		{"10 MiB clat_range", "clat_range", huge},
		{"10 MiB roam_port", "xlat464.roam_port", json.Number(strings.Repeat("9", 10<<20))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			copyTree(t, filepath.Join("testdata", "full", "root"), root)
			setDomainKey(t, filepath.Join(root, domFile), tc.key, tc.value)
			before := snapshot(t, root)
			for _, s := range []struct {
				prog string
				step Step
			}{{"xlat-plat", PLAT}, {"xlat-clat", CLAT}, {"l3roamd-xlat", Roamd}} {
				var out, errb bytes.Buffer
				if code := Main(s.prog, s.step, []string{"--root", root}, &out, &errb); code != 1 {
					t.Fatalf("%s upgrade: exit %d, want 1: %.300s", s.prog, code, errb.String())
				}
				msg := errb.String()
				want := s.prog + " upgrade: " + filepath.Join(root, domFile) + ": " + tc.key + ": "
				if !strings.HasPrefix(msg, want) || !strings.HasSuffix(msg, s.prog+" upgrade: nothing written\n") {
					t.Errorf("%s upgrade: stderr %.500q\nwant %q ... nothing written", s.prog, msg, want)
				}
				// the message without the root path: at most MaxQuoted
				// bytes of the value plus the text around it
				if n := len(strings.ReplaceAll(msg, root, "")); n > site.MaxQuoted+300 {
					t.Errorf("%s upgrade: %d bytes of error message", s.prog, n)
				}
			}
			if after := snapshot(t, root); !reflect.DeepEqual(before, after) {
				t.Errorf("files changed although every step failed")
			}
		})
	}
}

// setDomainKey sets a dotted key in a domain JSON file.
func setDomainKey(t *testing.T, path, key string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(key, ".")
	cur := m
	for _, p := range parts[:len(parts)-1] {
		next, _ := cur[p].(map[string]any)
		if next == nil {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSecretConfigPrivate: the daemons' UCI config holds the roaming secret,
// so the step leaves it readable by root only (committed file and, with
// --save, the delta file), also when it existed world-readable before.
func TestSecretConfigPrivate(t *testing.T) {
	for _, save := range []bool{false, true} {
		root := t.TempDir()
		copyTree(t, filepath.Join("testdata", "full", "root"), root)
		conf := filepath.Join(root, "etc/config", xlatconf.File)
		if err := os.WriteFile(conf, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := RunWith(root, Roamd, Options{Save: save}); err != nil {
			t.Fatal(err)
		}
		paths := []string{conf}
		if save {
			paths = append(paths, filepath.Join(root, "tmp/.uci", xlatconf.File))
		}
		for _, p := range paths {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("save=%v: %s has mode %o, want 600", save, p, st.Mode().Perm())
			}
			b, _ := os.ReadFile(p)
			if p == paths[len(paths)-1] && !strings.Contains(string(b), "it's a secret") && !strings.Contains(string(b), `it'\''s a secret`) {
				t.Errorf("save=%v: %s lacks the secret: %s", save, p, b)
			}
		}
	}
}

// TestUnblockedIPv4: xlat464.unblocked_ipv4 takes entries out of the PLAT's
// built-in blocked list; anything else is an error naming the key.
func TestUnblockedIPv4(t *testing.T) {
	root := t.TempDir()
	copyTree(t, filepath.Join("testdata", "full", "root"), root)
	dom := filepath.Join(root, "lib/gluon/domains/ffx.json")
	setDomainKey(t, dom, "xlat464.unblocked_ipv4", []any{"198.18.0.0/15", "100.64.0.0/10"})
	if _, err := Run(root, PLAT); err != nil {
		t.Fatal(err)
	}
	cfg, err := xlatconf.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(cfg.PLAT.BlockedIPv4)
	// 198.18.0.0/15 stays: the site's blocked_ipv4 adds it back
	if strings.Contains(got, "100.64.0.0/10") || !strings.Contains(got, "192.0.0.0/24") || !strings.Contains(got, "198.18.0.0/15") {
		t.Errorf("blocked_ipv4 = %s", got)
	}
	setDomainKey(t, dom, "xlat464.unblocked_ipv4", []any{"100.64.0.0/16"})
	_, err = Run(root, PLAT)
	if err == nil || !strings.Contains(err.Error(), dom+": xlat464.unblocked_ipv4[1]: \"100.64.0.0/16\" is not an entry") {
		t.Errorf("err = %v", err)
	}
}
