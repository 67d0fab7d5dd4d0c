package clatd

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestReadClients(t *testing.T) {
	dir := t.TempDir()
	leases := filepath.Join(dir, "dhcp.leases")
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(leases, []byte("1700000000 02:c1:1e:00:00:01 10.80.2.74 cl 01:02:c1:1e:00:00:01\n"+
		"1700000000 02:c1:1e:00:00:09 192.168.1.5 outside *\n"+
		"garbage\n"), 0o644)
	os.WriteFile(hosts, []byte("02:C1:1E:00:00:02,10.80.1.20\n"+"02:c1:1e:00:00:03,nonsense\n"), 0o644)
	got := map[client]bool{}
	net4 := netip.MustParsePrefix("10.80.0.0/16")
	for _, p := range []string{leases, hosts, filepath.Join(dir, "missing")} {
		if err := readClients(p, net4, got); err != nil {
			t.Fatal(err)
		}
	}
	want := map[client]bool{
		{netip.MustParseAddr("10.80.2.74"), "02:c1:1e:00:00:01"}: true,
		{netip.MustParseAddr("10.80.1.20"), "02:c1:1e:00:00:02"}: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestWatchFiles(t *testing.T) {
	dir := t.TempDir()
	leases, hosts := filepath.Join(dir, "dhcp.leases"), filepath.Join(dir, "sub", "hosts")
	if err := os.Mkdir(filepath.Dir(hosts), 0o755); err != nil {
		t.Fatal(err)
	}
	changed, stop, err := watchFiles([]string{leases, hosts})
	if err != nil {
		t.Skip("no inotify:", err)
	}
	defer stop()
	expect := func(what string, want bool) {
		t.Helper()
		select {
		case _, ok := <-changed:
			if !want || !ok {
				t.Errorf("%s: event (open %v), want none", what, ok)
			}
		case <-time.After(300 * time.Millisecond):
			if want {
				t.Errorf("%s: no event", what)
			}
		}
	}
	expect("nothing", false)
	if err := os.WriteFile(filepath.Join(dir, "other"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("another file in the directory", false)
	if err := os.WriteFile(leases, []byte("1 02:00:00:00:00:01 10.0.0.1 x *\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("lease file written", true)
	tmp := hosts + ".tmp"
	if err := os.WriteFile(tmp, []byte("02:00:00:00:00:02,10.0.0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for len(changed) > 0 {
		<-changed
	}
	if err := os.Rename(tmp, hosts); err != nil {
		t.Fatal(err)
	}
	expect("hosts file replaced", true)
	if err := os.RemoveAll(filepath.Dir(hosts)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-changed:
			if !ok {
				return // the watch ended: Run polls
			}
		case <-deadline:
			t.Fatal("watch did not end when its directory went")
		}
	}
}
