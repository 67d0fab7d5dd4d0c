package meshlab

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestParsePingRTTs(t *testing.T) {
	out := `PING 203.0.113.10 (203.0.113.10) 56(84) bytes of data.
64 bytes from 203.0.113.10: icmp_seq=1 ttl=62 time=0.214 ms
64 bytes from 203.0.113.10: icmp_seq=2 ttl=62 time=1.05 ms
From 10.80.0.1 icmp_seq=3 Destination Host Unreachable

--- 203.0.113.10 ping statistics ---
3 packets transmitted, 2 received, 33% packet loss, time 4ms
rtt min/avg/max/mdev = 0.214/0.632/1.050/0.418 ms
`
	got := ParsePingRTTs(out)
	if len(got) != 2 || got[0] != 0.214 || got[1] != 1.05 {
		t.Fatalf("ParsePingRTTs = %v, want [0.214 1.05]", got)
	}
}

func TestQuantileMedian(t *testing.T) {
	var hundred []float64
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, float64(i))
	}
	for _, c := range []struct {
		v    []float64
		q    float64
		want float64
	}{
		{nil, 0.5, 0},
		{[]float64{3}, 0.99, 3},
		{[]float64{3, 1, 2}, 0.5, 2},
		{hundred, 0.5, 50},
		{hundred, 0.99, 99},
		{hundred, 1, 100},
	} {
		if got := Quantile(c.v, c.q); got != c.want {
			t.Errorf("Quantile(%v, %v) = %v, want %v", c.v, c.q, got, c.want)
		}
	}
	if got := Median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("Median = %v, want 2.5", got)
	}
	if hundred[0] != 100 {
		t.Error("Quantile sorted its argument in place")
	}
}

func TestPathAddresses(t *testing.T) {
	p := netip.MustParsePrefix("fddd:1337:1337:200:5e00:530c::/96")
	if got, want := embed4(p, PathTayga.Target()), netip.MustParseAddr("fddd:1337:1337:200:5e00:530c:cb00:710c"); got != want {
		t.Errorf("embed4 = %s, want %s", got, want)
	}
	up, down := linkAddrs(3)
	if up.String() != "172.31.3.1" || down.String() != "172.31.3.2" {
		t.Errorf("linkAddrs(3) = %s, %s", up, down)
	}
	seen := map[netip.Addr]PathVariant{}
	for _, v := range PathVariants {
		if o, dup := seen[v.Target()]; dup {
			t.Errorf("%s and %s share target %s", v, o, v.Target())
		}
		seen[v.Target()] = v
	}
}

func TestNextHopNode(t *testing.T) {
	m := &Mesh{Nodes: map[string]*Node{}}
	for _, name := range []string{"c", "d"} {
		m.Nodes[name] = &Node{Spec: NodeSpec{Name: name}}
	}
	out := "64:ff9b:1:200:5e00:530c:cb00:710a from :: via fe80::1 dev mesh-c proto babel src fdca:ffee:80:1::1 metric 0 pref medium\n"
	if n := nextHopNode(m, m.Nodes["d"], out); n != m.Nodes["c"] {
		t.Errorf("nextHopNode = %v, want c", n)
	}
	if n := nextHopNode(m, m.Nodes["d"], "unreachable 64:ff9b::1 dev lo"); n != nil {
		t.Errorf("nextHopNode of a route without a mesh device = %v, want nil", n.Spec.Name)
	}
}

func TestParseStatCPU(t *testing.T) {
	line := "4242 (xlat plat) S 1 4242 4242 0 -1 4194560 1 0 0 0 150 50 30 70 20 0 9 0 100 0 0"
	pgrp, cpu, ok := parseStatCPU(line)
	if !ok || pgrp != 4242 || cpu != 3 {
		t.Errorf("parseStatCPU = %d, %v, %v; want 4242, 3, true", pgrp, cpu, ok)
	}
	if _, _, ok := parseStatCPU("1 (x) S 1"); ok {
		t.Error("short stat line parsed")
	}
}

func TestPinPLAT(t *testing.T) {
	n := &Node{Spec: NodeSpec{Name: "d"}, Root: t.TempDir()}
	path := filepath.Join(n.Root, "etc/config/gluon-464xlat")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	in := "\nconfig clat 'clat'\n\toption device 'clat'\n\nconfig plat 'plat'\n"
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	plat := netip.MustParsePrefix("64:ff9b:1:200:5e00:530c::/96")
	if err := pinPLAT(n, plat); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "\nconfig clat 'clat'\n\toption plat_prefix '64:ff9b:1:200:5e00:530c::/96'\n\toption device 'clat'\n\nconfig plat 'plat'\n"
	if string(b) != want {
		t.Errorf("pinned config:\n%s\nwant:\n%s", b, want)
	}
	if err := os.WriteFile(path, []byte("config plat 'plat'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pinPLAT(n, plat); err == nil {
		t.Error("pinPLAT without a clat section: no error")
	}
}
