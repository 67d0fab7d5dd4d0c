package uci

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const networkFile = `
config interface 'loopback'
	option device 'lo'
	option proto 'static'

config interface 'wan'
	option proto 'dhcp'
	list dns '192.0.2.53'

config globals
	option packet_steering '1'
`

func TestParseDeltas(t *testing.T) {
	in := "network.lan=interface\nnetwork.lan.proto='static'\n+network.cfg0a1b2c='route'\n" +
		"-network.wan.dns\n-network.old\n@network.lan=lan2\n^network.lan2='0'\n|network.lan2.dns='it'\\''s'\n" +
		"~network.lan2.dns='x'\nbogus line here\nother.sec.opt='x'\nnetwork.@interface[0].x='y'\nnetwork.sec.o\n" +
		"network.multi.v='l1\nl2'\n"
	got := ParseDeltas("network", in)
	want := []Delta{
		{Op: "", Section: "lan", Value: "interface", HasValue: true},
		{Op: "", Section: "lan", Option: "proto", Value: "static", HasValue: true},
		{Op: "+", Section: "cfg0a1b2c", Value: "route", HasValue: true},
		{Op: "-", Section: "wan", Option: "dns"},
		{Op: "-", Section: "old"},
		{Op: "@", Section: "lan", Value: "lan2", HasValue: true},
		{Op: "^", Section: "lan2", Value: "0", HasValue: true},
		{Op: "|", Section: "lan2", Option: "dns", Value: "it's", HasValue: true},
		{Op: "~", Section: "lan2", Option: "dns", Value: "x", HasValue: true},
		{Op: "", Section: "multi", Option: "v", Value: "l1\nl2", HasValue: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDeltas:\n%+v\nwant\n%+v", got, want)
	}
	for _, d := range want {
		line := d.Line("network")
		back := ParseDeltas("network", line+"\n")
		if len(back) != 1 || !reflect.DeepEqual(back[0], d) {
			t.Errorf("delta %q does not round-trip: %+v", line, back)
		}
	}
	if l := (Delta{Op: "-", Section: "a", Option: "b"}).Line("p"); l != "-p.a.b" {
		t.Errorf("remove line = %q", l)
	}
}

func TestLoadAppliesDeltas(t *testing.T) {
	root := t.TempDir()
	tr := NewTree(root)
	writeFile(t, tr.Path("network"), networkFile, 0o600)
	writeFile(t, filepath.Join(root, "tmp/.uci/network"),
		"network.clat=interface\nnetwork.clat.proto='none'\n|network.wan.dns='192.0.2.54'\n-network.loopback.proto\n"+
			"network.nosuch.opt='ignored'\n^network.clat='0'\nnetwork.@globals[0].x='bad'\n", 0o600)
	p, err := tr.Load("network")
	if err != nil {
		t.Fatal(err)
	}
	if p.Sections[0].Name != "clat" {
		t.Errorf("reorder not applied: first = %s", p.Sections[0].Name)
	}
	if v, _ := p.Get("clat", "proto"); v != "none" {
		t.Errorf("clat.proto = %q", v)
	}
	if l := p.Section("wan").GetList("dns"); !reflect.DeepEqual(l, []string{"192.0.2.53", "192.0.2.54"}) {
		t.Errorf("wan.dns = %v", l)
	}
	if _, ok := p.Get("loopback", "proto"); ok {
		t.Error("loopback.proto not removed")
	}
	if _, err := tr.Load("nosuch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(nosuch) err = %v", err)
	}
	if _, err := tr.Load("../x"); err == nil {
		t.Error("Load(../x) succeeded")
	}
}

func TestUpdateCommitsAtomically(t *testing.T) {
	root := t.TempDir()
	tr := NewTree(root)
	writeFile(t, tr.Path("network"), networkFile, 0o600)
	deltaPath := filepath.Join(root, "tmp/.uci/network")
	writeFile(t, deltaPath, "network.wan.proto='static'\n", 0o600)

	set := func(p *Package) error {
		s, err := p.SetSection("clat", "interface")
		if err != nil {
			return err
		}
		s.Set("proto", "none")
		s.Set("device", "clat")
		return nil
	}
	changed, err := tr.Update("network", set)
	if err != nil || !changed {
		t.Fatalf("Update = %v, %v", changed, err)
	}
	got := readFile(t, tr.Path("network"))
	if !strings.Contains(got, "config interface 'clat'\n\toption proto 'none'\n\toption device 'clat'\n") ||
		!strings.Contains(got, "config interface 'wan'\n\toption proto 'static'\n") {
		t.Errorf("committed file:\n%s", got)
	}
	if d := readFile(t, deltaPath); d != "" {
		t.Errorf("delta file not truncated: %q", d)
	}
	st, _ := os.Stat(tr.Path("network"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600 (the original's)", st.Mode().Perm())
	}
	// second run: nothing written
	before, _ := os.Stat(tr.Path("network"))
	changed, err = tr.Update("network", set)
	if err != nil || changed {
		t.Fatalf("second Update = %v, %v", changed, err)
	}
	after, _ := os.Stat(tr.Path("network"))
	if !after.ModTime().Equal(before.ModTime()) || readFile(t, tr.Path("network")) != got {
		t.Error("second Update rewrote the file")
	}
	// no temporary files left behind
	ents, _ := os.ReadDir(tr.ConfDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
	// a failing fn writes nothing
	_, err = tr.Update("network", func(p *Package) error { p.DeleteSection("wan"); return errors.New("boom") })
	if err == nil || readFile(t, tr.Path("network")) != got {
		t.Errorf("failed Update changed the file (err %v)", err)
	}
	// a new package is created with mode 0644; a failing fn leaves none behind
	if _, err := tr.Update("newpkg", func(p *Package) error { return errors.New("no") }); err == nil {
		t.Error("expected error")
	}
	if _, err := os.Stat(tr.Path("newpkg")); !os.IsNotExist(err) {
		t.Errorf("failed Update left newpkg: %v", err)
	}
	if _, err := tr.Update("newpkg", func(p *Package) error { _, err := p.SetSection("a", "b"); return err }); err != nil {
		t.Fatal(err)
	}
	st, _ = os.Stat(tr.Path("newpkg"))
	if st.Mode().Perm() != 0o644 || readFile(t, tr.Path("newpkg")) != "\nconfig b 'a'\n\n" {
		t.Errorf("newpkg mode %v content %q", st.Mode().Perm(), readFile(t, tr.Path("newpkg")))
	}
	// a broken file is an error naming file and line; nothing written
	writeFile(t, tr.Path("broken"), "config t x\noption a 'b\n", 0o644)
	if _, err := tr.Update("broken", set); err == nil || !strings.Contains(err.Error(), "broken:2") {
		t.Errorf("broken file err = %v", err)
	}
}

func TestSaveWritesReplayableDeltas(t *testing.T) {
	root := t.TempDir()
	tr := NewTree(root)
	writeFile(t, tr.Path("network"), networkFile, 0o644)
	p, err := tr.Load("network")
	if err != nil {
		t.Fatal(err)
	}
	p.DeleteSection("loopback")
	p.Section("wan").SetList("dns", []string{"192.0.2.1", "it's"})
	p.Section("wan").Set("proto", "static")
	s, _ := p.SetSection("clat", "interface")
	s.Set("proto", "none")
	s.SetList("l", []string{""})
	a, _ := p.AddSection("route")
	a.Set("target", "10.0.0.0/8")
	p.Reorder("clat", 0)
	want := string(p.Marshal())

	deltas, err := tr.Save(p)
	if err != nil || len(deltas) == 0 {
		t.Fatalf("Save = %v, %v", deltas, err)
	}
	if readFile(t, tr.Path("network")) != networkFile {
		t.Error("Save changed the config file")
	}
	q, err := tr.Load("network")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(q.Marshal()); got != want {
		t.Errorf("replayed deltas:\n%s\nwant\n%s\ndeltas:\n%s", got, want, readFile(t, filepath.Join(root, "tmp/.uci/network")))
	}
	// saving the same state again adds nothing
	if d, err := tr.Save(q); err != nil || len(d) != 0 {
		t.Errorf("second Save = %v, %v", d, err)
	}
	// committing folds the deltas in
	if _, err := tr.Commit(q); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, tr.Path("network")); got != want {
		t.Errorf("after commit:\n%s", got)
	}
}

func TestDiffOptionOrder(t *testing.T) {
	a, _ := Parse("p", "p", "config t x\noption a 1\noption b 2\n")
	b, _ := Parse("p", "p", "config t x\noption b 2\noption a 1\noption c 3\n")
	r := a.Clone()
	for _, d := range Diff(a, b) {
		r.Apply(d)
	}
	if string(r.Marshal()) != string(b.Marshal()) {
		t.Errorf("diff replay:\n%s", r.Marshal())
	}
}

// Concurrent commits under the lock lose no update, although every commit
// replaces the file (waiters must re-lock the new file).
func TestConcurrentUpdates(t *testing.T) {
	root := t.TempDir()
	tr := NewTree(root)
	writeFile(t, tr.Path("counter"), "config c 'c'\n\toption n '0'\n", 0o644)
	const workers, each = 4, 25
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				_, err := tr.Update("counter", func(p *Package) error {
					v, _ := p.Get("c", "n")
					n, err := strconv.Atoi(v)
					if err != nil {
						return err
					}
					p.Section("c").Set("n", strconv.Itoa(n+1))
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	p, err := tr.Load("counter")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get("c", "n"); v != strconv.Itoa(workers*each) {
		t.Errorf("n = %s, want %d", v, workers*each)
	}
}

func TestDeltaEmptyValueDeletes(t *testing.T) {
	p, _ := Parse("p", "p", "config t x\n\toption a 'b'\nconfig t y\n")
	for _, d := range ParseDeltas("p", "p.x.a=''\np.y=''\n") {
		p.Apply(d)
	}
	if got := string(p.Marshal()); got != "\nconfig t 'x'\n\n" {
		t.Errorf("got %q", got)
	}
}

func TestSaveCreatesMissingConfig(t *testing.T) {
	tr := NewTree(t.TempDir())
	p := NewPackage("newpkg")
	s, _ := p.SetSection("a", "b")
	s.Set("c", "d")
	if _, err := tr.Save(p); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, tr.Path("newpkg")); got != "\n" {
		t.Errorf("config file = %q", got)
	}
	q, err := tr.Load("newpkg")
	if err != nil || string(q.Marshal()) != string(p.Marshal()) {
		t.Errorf("Load = %q, %v", q.Marshal(), err)
	}
}
