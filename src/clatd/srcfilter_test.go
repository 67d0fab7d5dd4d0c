package clatd

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
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
