package nat46

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/translator"
)

func pair(t *testing.T, cfg string) translator.Pair {
	t.Helper()
	p, err := translator.ParsePair(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	clatCfg = "local.style NONE local.v4 192.0.0.1/32 local.v6 fddd:1337::c000:1/128 remote.style RFC6052 remote.v6 2001:db8:64::/96"
	meCfg   = "local.style NONE local.v4 10.0.0.1/32 local.v6 fddd:1337::a/128 remote.style RFC6052 remote.v6 2001:db8:64::/96"
	plat    = "local.style RFC6052 local.v6 2001:db8:64::/96 remote.style NONE remote.v4 192.0.0.8/32 remote.v6 fddd::8/128"
)

func TestParseReadback(t *testing.T) {
	in := `add clat
insert clat local.v4 10.0.0.1/32 local.v6 fddd:1337::a/128 local.style NONE local.ea-len 0 local.psid-offset 0 remote.v4 0.0.0.0/0 remote.v6 2001:db8:64::/96 remote.style RFC6052 remote.ea-len 0 remote.psid-offset 0 debug 0
config clat local.v4 192.0.0.1/32 local.v6 fddd:1337::c000:1/128 local.style NONE local.ea-len 0 local.psid-offset 0 remote.v4 0.0.0.0/0 remote.v6 2001:db8:64::/96 remote.style RFC6052 remote.ea-len 0 remote.psid-offset 0 debug 0
add plat
config plat local.v4 0.0.0.0/0 local.v6 :: local.style NONE local.ea-len 0 local.psid-offset 0 remote.v4 0.0.0.0/0 remote.v6 ::/0 remote.style NONE remote.ea-len 0 remote.psid-offset 0 debug 0
`
	devs, err := ParseReadback([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || devs[0].Name != "clat" || len(devs[0].Pairs) != 2 || devs[1].Name != "plat" || len(devs[1].Pairs) != 1 {
		t.Fatalf("got %+v", devs)
	}
	if !strings.HasPrefix(devs[0].Pairs[1], "local.v4 192.0.0.1/32") {
		t.Errorf("pair order: %q", devs[0].Pairs)
	}
	for _, bad := range []string{"config x a b\n", "add x\nadd x\n", "frob x\n", "add\n", "add x\nconfig x\n"} {
		if _, err := ParseReadback([]byte(bad)); err == nil {
			t.Errorf("ParseReadback(%q): no error", bad)
		}
	}
}

func TestApplyReconciles(t *testing.T) {
	f := &Fake{}
	c := New(f)
	steps := []struct {
		name        string
		pairs       []string
		wantCreated bool
		wantCmds    []string // command verbs
	}{
		{"create single", []string{clatCfg}, true, []string{"add", "config"}},
		{"same again", []string{clatCfg}, false, nil},
		{"prepend one", []string{meCfg, clatCfg}, false, []string{"insert"}},
		{"same two again", []string{meCfg, clatCfg}, false, nil},
		{"change last", []string{meCfg, plat}, false, []string{"config"}},
		{"drop head", []string{plat}, false, []string{"remove"}},
		{"reorder", []string{plat, meCfg}, false, []string{"insert", "config"}},
		{"three", []string{clatCfg, plat, meCfg}, false, []string{"insert"}},
		{"three again", []string{clatCfg, plat, meCfg}, false, nil},
	}
	for _, s := range steps {
		var ps []translator.Pair
		var want []string
		for _, cfg := range s.pairs {
			p := pair(t, cfg)
			ps = append(ps, p)
			want = append(want, p.String())
		}
		before := f.Writes
		created, cmds, err := c.Apply("clat", ps)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if created != s.wantCreated {
			t.Errorf("%s: created = %v", s.name, created)
		}
		var verbs []string
		for _, cmd := range cmds {
			verbs = append(verbs, strings.Fields(cmd)[0])
		}
		if !reflect.DeepEqual(verbs, s.wantCmds) {
			t.Errorf("%s: commands %q, want verbs %q", s.name, cmds, s.wantCmds)
		}
		if len(s.wantCmds) == 0 && f.Writes != before {
			t.Errorf("%s: %d writes for an unchanged config", s.name, f.Writes-before)
		}
		d, ok, err := c.Lookup("clat")
		if err != nil || !ok {
			t.Fatalf("%s: lookup: %v %v", s.name, ok, err)
		}
		if !reflect.DeepEqual(d.Pairs, want) {
			t.Errorf("%s: device pairs\n%q\nwant\n%q", s.name, d.Pairs, want)
		}
	}
	if err := c.Delete("clat"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Lookup("clat"); ok {
		t.Error("device left after Delete")
	}
	n := f.Writes
	if err := c.Delete("clat"); err != nil || f.Writes != n {
		t.Errorf("Delete of a missing device: err %v, %d writes", err, f.Writes-n)
	}
}

func TestApplyKeepsOtherDevices(t *testing.T) {
	f := &Fake{}
	c := New(f)
	if _, _, err := c.Apply("plat", []translator.Pair{pair(t, plat)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Apply("clat", []translator.Pair{pair(t, clatCfg)}); err != nil {
		t.Fatal(err)
	}
	devs, _ := c.Devices()
	if len(devs) != 2 {
		t.Fatalf("devices %+v", devs)
	}
	if _, _, err := c.Apply("bad name", []translator.Pair{pair(t, plat)}); err == nil {
		t.Error("bad device name accepted")
	}
	if _, _, err := c.Apply("x", nil); err == nil {
		t.Error("empty pair list accepted")
	}
}

func TestFakeReadbackReplays(t *testing.T) {
	// The read-back script replayed into a fresh module gives the same state.
	f := &Fake{}
	c := New(f)
	if _, _, err := c.Apply("clat", []translator.Pair{pair(t, meCfg), pair(t, clatCfg)}); err != nil {
		t.Fatal(err)
	}
	script, _ := f.Read()
	g := &Fake{}
	for _, line := range strings.Split(strings.TrimSpace(string(script)), "\n") {
		if strings.HasPrefix(line, "insert") {
			continue // insert prepends: replay inserts in reverse, handled below
		}
		if err := g.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(script)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "insert") {
			if err := g.Write(lines[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	again, _ := g.Read()
	if string(again) != string(script) {
		t.Errorf("replayed state differs:\n%s\nvs\n%s", again, script)
	}
}

func TestPlanFromScratch(t *testing.T) {
	got := Plan("d", nil, false, []string{"A", "B", "C"})
	want := []string{"add d", "insert d B", "insert d A", "config d C"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
