package upgrade

import (
	"bytes"
	"flag"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/site"
	"github.com/gluon-464xlat/gluon-464xlat/uci"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/*/golden")

// copyTree copies the fixture root src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

type fileState struct {
	data  string
	mtime time.Time
}

// snapshot returns every regular file under root (relative path -> content, mtime).
func snapshot(t *testing.T, root string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out[filepath.ToSlash(rel)] = fileState{string(b), st.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string]fileState) []string {
	var k []string
	for p := range m {
		k = append(k, p)
	}
	sort.Strings(k)
	return k
}

var goldenCases = []struct {
	name  string // testdata/<name>/golden
	input string // testdata/<input>/root
	steps []Step
}{
	// multi-domain platnode that is also a clatnode, with roaming
	{"full", "full", []Step{PLAT, CLAT, Roamd}},
	// the same node with only the PLAT package (no CLAT zone: no cross forwardings)
	{"full-plat", "full", []Step{PLAT}},
	// single-domain clatnode; earlier upgrade scripts left pending deltas
	{"single", "single", []Step{CLAT}},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			copyTree(t, filepath.Join("testdata", tc.input, "root"), root)
			for _, s := range tc.steps {
				if _, err := Run(root, s); err != nil {
					t.Fatalf("step %s: %v", s, err)
				}
			}
			got := snapshot(t, root)
			input := snapshot(t, filepath.Join("testdata", tc.input, "root"))
			// the golden tree holds exactly the files the steps created or changed
			changed := map[string]fileState{}
			for p, g := range got {
				if in, ok := input[p]; !ok || in.data != g.data {
					changed[p] = g
				}
			}
			for p := range input {
				if _, ok := got[p]; !ok {
					t.Errorf("%s was removed", p)
				}
			}
			golden := filepath.Join("testdata", tc.name, "golden")
			if *update {
				os.RemoveAll(golden)
				for p, g := range changed {
					full := filepath.Join(golden, p)
					if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(full, []byte(g.data), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := snapshot(t, golden)
			if !reflect.DeepEqual(keys(changed), keys(want)) {
				t.Errorf("changed files:\n%v\nwant (golden)\n%v", keys(changed), keys(want))
			}
			for p, w := range want {
				if g, ok := changed[p]; ok && g.data != w.data {
					t.Errorf("%s differs from %s:\n%s", p, filepath.Join(golden, p), diff(w.data, g.data))
				}
			}

			// idempotence: a second run writes nothing, byte for byte and mtime
			time.Sleep(10 * time.Millisecond) // mtime granularity: a rewrite would show
			for _, s := range tc.steps {
				res, err := Run(root, s)
				if err != nil {
					t.Fatalf("second run, step %s: %v", s, err)
				}
				if len(res.Written) != 0 {
					t.Errorf("second run of %s wrote %v", s, res.Written)
				}
			}
			if again := snapshot(t, root); !reflect.DeepEqual(again, got) {
				t.Error("second run changed files")
			}

			// what was written is what the daemons read
			if _, err := xlatconf.Load(root); err != nil {
				t.Errorf("xlatconf.Load: %v", err)
			}
			for _, pkg := range []string{"network", "firewall", "dhcp", xlatconf.File} {
				if _, err := uci.NewTree(root).Load(pkg); err != nil {
					t.Errorf("uci load %s: %v", pkg, err)
				}
			}
		})
	}
}

// diff is a small line diff for failure messages.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n-" + wl + "\n+" + gl + "\n")
		}
	}
	return b.String()
}

func TestBadSiteWritesNothing(t *testing.T) {
	dom := "/lib/gluon/domains/ffx.json"
	tests := []struct {
		name  string
		file  string // root-relative file to replace ("" = remove `remove`)
		data  string
		step  Step
		want  string
		input string
	}{
		{"clat_range /64", "lib/gluon/domains/ffx.json", `{"clat_range": "fddd::/64", "plat_range": "fddd:1337:2::/48"}`, CLAT,
			dom + `: clat_range: "fddd::/64" is not a /48`, "full"},
		{"plat_range missing", "lib/gluon/domains/ffx.json", `{"clat_range": "fddd:1337:1337::/48"}`, PLAT,
			dom + `: plat_range: missing (required by gluon-464xlat-plat)`, "full"},
		{"plat_range missing for clat", "lib/gluon/domains/ffx.json", `{"clat_range": "fddd:1337:1337::/48"}`, CLAT,
			dom + `: plat_range: missing (required by gluon-464xlat-clat)`, "full"},
		{"prefix4 missing", "lib/gluon/site.json", `{"node_prefix6": "fdca:ffee:8::/64", "next_node": {"ip4": "10.80.0.1"}}`, CLAT,
			dom + `: prefix4: missing (required by gluon-464xlat-clat)`, "full"},
		{"no node-client prefix", "lib/gluon/domains/ffx.json", `{"clat_range": "fddd:1337:1337::/48", "plat_range": "fddd:1337:2::/48"}`, Roamd,
			dom + `: node_client_prefix6: missing (required by gluon-l3roamd-xlat; or set domain_seed)`, "full"},
		{"bad port", "lib/gluon/domains/ffx.json", `{"domain_seed": "b9b4a1e0ed0e0e1e0f6b9d6e3c3e5a1f0e2d4c6b8a0f1e3d5c7b9a1f2e4d6c8b", "xlat464": {"roam_port": 0}}`, Roamd,
			dom + `: xlat464.roam_port: 0 is not a whole number in [1, 65535]`, "full"},
		{"bad blocked", "lib/gluon/site.json", `{"plat_range": "fddd:1337:2::/48", "xlat464": {"blocked_ipv4": ["10.0.0.1/8"]}}`, PLAT,
			`/lib/gluon/site.json: xlat464.blocked_ipv4[1]: "10.0.0.1/8" has host bits set (want 10.0.0.0/8)`, "single"},
		{"bad mac", "lib/gluon/core/sysconfig/primary_mac", "nope\n", PLAT,
			`/lib/gluon/core/sysconfig/primary_mac: invalid MAC address "nope\n"`, "full"},
		{"unknown domain", "etc/config/gluon", "config core 'core'\n\toption domain 'nosuch'\n", CLAT,
			`/lib/gluon/domains/nosuch.json: missing`, "full"},
		{"broken firewall", "etc/config/firewall", "config zone 'x'\n\toption name 'it\n", PLAT,
			`/etc/config/firewall:2: EOF with unterminated '`, "full"},
		{"no babeld config", "etc/gluon-babeld.conf", "", CLAT,
			`/etc/gluon-babeld.conf: missing: gluon-464xlat-clat needs gluon-mesh-babel's config`, "full"},
		{"bad existing xlat config", "etc/config/gluon-464xlat", "config clat 'clat'\n\toption a b c\n", CLAT,
			`/etc/config/gluon-464xlat:2: too many arguments`, "full"},
		{"bad pinned PLAT", "etc/config/gluon-464xlat", "config clat 'clat'\n\toption plat_prefix 'fddd::/64'\n", CLAT,
			`/etc/config/gluon-464xlat: section clat: option plat_prefix: "fddd::/64" is not an IPv6 /96`, "full"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			copyTree(t, filepath.Join("testdata", tc.input, "root"), root)
			full := filepath.Join(root, tc.file)
			if tc.data == "" {
				os.Remove(full)
			} else if err := os.WriteFile(full, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, root)
			_, err := Run(root, tc.step)
			if err == nil {
				t.Fatal("Run succeeded")
			}
			if msg := strings.ReplaceAll(err.Error(), root, ""); !strings.HasPrefix(msg, tc.want) {
				t.Errorf("err = %s\nwant prefix %s", msg, tc.want)
			}
			if after := snapshot(t, root); !reflect.DeepEqual(after, before) {
				t.Error("a failed run changed files")
			}
		})
	}
}

func TestBabelConfig(t *testing.T) {
	lines := []string{"redistribute ip fddd:1::/48 eq 96 allow", "redistribute ip fddd:2::/48 eq 96 allow"}
	block := babelMarker + "\n" + lines[0] + "\n" + lines[1] + "\n" + babelEnd + "\n"
	tests := []struct{ in, want string }{
		{"ipv6-subtrees true\nredistribute local deny\n", "ipv6-subtrees true\n" + block + "redistribute local deny\n"},
		{"ipv6-subtrees true\n", "ipv6-subtrees true\n" + block},
		{"", block},
		// an old block (other ranges, no end marker: the first version)
		// is replaced in place, stray copies removed
		{"a\n" + babelMarker + "\nredistribute ip fd00:9::/48 eq 96 allow\nredistribute  ip fddd:2::/48 eq 96 allow\nb\nredistribute ip fddd:1::/48 eq 96 allow\n",
			"a\n" + block + "b\n"},
		// a block after others' filters moves before them
		{"redistribute local deny\n" + block, block + "redistribute local deny\n"},
		// a block with end marker is replaced as a whole
		{"x\n" + babelMarker + "\nredistribute ip fd00:9::/48 eq 96 allow\n# note\n" + babelEnd + "\nredistribute local deny\n",
			"x\n" + block + "redistribute local deny\n"},
	}
	for _, tc := range tests {
		got := BabelConfig(tc.in, lines)
		if got != tc.want {
			t.Errorf("BabelConfig(%q) =\n%s\nwant\n%s", tc.in, got, tc.want)
		}
		if again := BabelConfig(got, lines); again != got {
			t.Errorf("not idempotent:\n%s", again)
		}
	}
}

func TestRoamdBabelConfig(t *testing.T) {
	cfg := &site.Config{
		CLATRange:         netip.MustParsePrefix("2001:db8:c::/48"),
		PLATRange:         netip.MustParsePrefix("fddd:2::/48"),
		NodeClientPrefix6: netip.MustParsePrefix("fd10::/64"),
	}
	gluon := "ipv6-subtrees true\nredistribute ip fd00::1/128 deny\nredistribute ip fd10::/64 eq 128  allow\nredistribute ip 2000::/3 allow\n"
	xlat := babelMarker + "\nredistribute proto 160 ip fddd:2::/48 eq 96 metric 16384\nredistribute ip 2001:db8:c::/48 eq 96 allow\nredistribute ip fddd:2::/48 eq 96 allow\n" + babelEnd + "\n"
	roam := roamdBabelMark + "\ndefault split-horizon false\nredistribute proto 159 deny\nredistribute proto 160 ip 2001:db8:c::/48 eq 128 metric 16384\nredistribute proto 158 ip 2001:db8:c::/48 eq 128 allow\nredistribute proto 160 ip fd10::/64 eq 128 metric 16384\n" + roamdBabelEnd + "\n"
	roamNC := roamdBabelMark + "\ndefault split-horizon false\nredistribute proto 159 deny\nredistribute proto 160 ip 2001:db8:c::/48 eq 128 metric 16384\nredistribute proto 158 ip 2001:db8:c::/48 eq 128 allow\nredistribute proto 160 ip fd10::/64 eq 128 metric 16384\nredistribute ip fd10::/64 eq 128 allow\n" + roamdBabelEnd + "\n"
	rest := "redistribute ip fd00::1/128 deny\nredistribute ip fd10::/64 eq 128  allow\nredistribute ip 2000::/3 allow\n"
	// the steps in Gluon's order (PLAT, CLAT, roaming): both blocks before
	// Gluon's filters (the steering deny before 2000::/3 allow), Gluon's
	// node-client line kept and not repeated
	xl := babelLines(cfg)
	got := RoamdBabelConfig(BabelConfig(BabelConfig(gluon, xl), xl), cfg)
	if want := "ipv6-subtrees true\n" + xlat + roam + rest; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	// running the steps again, in any order, changes nothing
	for _, f := range []func(string) string{
		func(c string) string { return BabelConfig(c, xl) },
		func(c string) string { return RoamdBabelConfig(c, cfg) },
	} {
		if again := f(got); again != got {
			t.Errorf("second run changed the file:\n%s", again)
		}
	}
	// without Gluon's node-client line the block carries it
	noNC := strings.Replace(gluon, "redistribute ip fd10::/64 eq 128  allow\n", "", 1)
	got = RoamdBabelConfig(noNC, cfg)
	if want := "ipv6-subtrees true\n" + roamNC + "redistribute ip fd00::1/128 deny\nredistribute ip 2000::/3 allow\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if again := RoamdBabelConfig(got, cfg); again != got {
		t.Errorf("not idempotent:\n%s", again)
	}
}

func TestDHCPRange(t *testing.T) {
	tests := []struct {
		p, gw        string
		start, limit int
	}{
		{"10.80.0.0/16", "10.80.0.1", 2, 65533},
		{"10.80.0.0/20", "10.80.15.254", 1, 4094},
		{"10.0.0.0/30", "10.0.0.1", 2, 1},
	}
	for _, tc := range tests {
		s, l := dhcpRange(mustPrefix(tc.p), mustAddr(tc.gw))
		if s != tc.start || l != tc.limit {
			t.Errorf("dhcpRange(%s, %s) = %d, %d", tc.p, tc.gw, s, l)
		}
	}
}

// The generated NAT66 include must pass shellcheck (when installed).
func TestNAT66ScriptShellcheck(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "full", "golden", NAT66Include))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not installed")
	}
	cmd := exec.Command("shellcheck", "-s", "sh", "-")
	cmd.Stdin = bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// Save mode: the deltas, once committed, give exactly the golden files, and
// a second run appends no delta.
func TestSaveMode(t *testing.T) {
	root := t.TempDir()
	copyTree(t, filepath.Join("testdata", "full", "root"), root)
	for _, s := range []Step{PLAT, CLAT, Roamd} {
		if _, err := RunWith(root, s, Options{Save: true}); err != nil {
			t.Fatal(err)
		}
	}
	golden := filepath.Join("testdata", "full", "golden")
	for _, pkg := range []string{"network", "firewall", "dhcp"} {
		in, _ := os.ReadFile(filepath.Join("testdata", "full", "root", "etc", "config", pkg))
		if got, _ := os.ReadFile(filepath.Join(root, "etc", "config", pkg)); !bytes.Equal(got, in) {
			t.Errorf("save mode changed /etc/config/%s", pkg)
		}
	}
	before := snapshot(t, root)
	for _, s := range []Step{PLAT, CLAT, Roamd} {
		res, err := RunWith(root, s, Options{Save: true})
		if err != nil || len(res.Written) != 0 {
			t.Errorf("second save run of %s: %v, %v", s, res, err)
		}
	}
	if !reflect.DeepEqual(snapshot(t, root), before) {
		t.Error("second save run changed files")
	}
	tree := uci.NewTree(root)
	for _, pkg := range []string{"network", "firewall", "dhcp", xlatconf.File} {
		if _, err := tree.Update(pkg, func(*uci.Package) error { return nil }); err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join(golden, "etc", "config", pkg))
		got, _ := os.ReadFile(filepath.Join(root, "etc", "config", pkg))
		if !bytes.Equal(got, want) {
			t.Errorf("committed deltas of %s differ from the golden file:\n%s", pkg, diff(string(want), string(got)))
		}
	}
}
