package babel

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Event
		err  bool
	}{
		{
			name: "neighbour captured 1.12.1",
			line: "add neighbour 564a8f9dee40 address fe80::3487:e1ff:fe05:d22f if va reach f800 ureach 0000 rxcost 96 txcost 96 cost 96",
			want: Event{Kind: Add, Neighbour: &Neighbour{ID: "564a8f9dee40", Address: netip.MustParseAddr("fe80::3487:e1ff:fe05:d22f"),
				Interface: "va", Reach: 0xf800, RxCost: 96, TxCost: 96, Cost: 96}},
		},
		{
			name: "neighbour with rtt, no ureach (old babeld)",
			line: "change neighbour 1 address fe80::1 if mesh0 reach ffff rxcost 256 txcost 300 rtt 12.345 rttcost 10 cost 310",
			want: Event{Kind: Change, Neighbour: &Neighbour{ID: "1", Address: netip.MustParseAddr("fe80::1"),
				Interface: "mesh0", Reach: 0xffff, RxCost: 256, TxCost: 300, Cost: 310}},
		},
		{
			name: "route captured 1.12.1",
			line: "add route 564a8f9df0e0 prefix fddd:1:2:3:4:5::/96 from ::/0 installed yes id 9c:f3:0b:f3:ff:a9:da:67 metric 96 refmetric 0 via fe80::3487:e1ff:fe05:d22f if va",
			want: Event{Kind: Add, Route: &Route{ID: "564a8f9df0e0", Prefix: netip.MustParsePrefix("fddd:1:2:3:4:5::/96"),
				From: netip.MustParsePrefix("::/0"), Installed: true, RouterID: "9c:f3:0b:f3:ff:a9:da:67", Metric: 96,
				Via: netip.MustParseAddr("fe80::3487:e1ff:fe05:d22f"), Interface: "va"}},
		},
		{
			name: "route retracted, not installed, unknown extra field",
			line: "change route 5f1c30 prefix ::/0 from 2001:db8:1::/64 installed no id 02:11:22:ff:fe:33:44:55 metric 65535 refmetric 256 via fe80::1 if mesh0 newfield 7",
			want: Event{Kind: Change, Route: &Route{ID: "5f1c30", Prefix: netip.MustParsePrefix("::/0"),
				From: netip.MustParsePrefix("2001:db8:1::/64"), RouterID: "02:11:22:ff:fe:33:44:55", Metric: Infinity, RefMetric: 256,
				Via: netip.MustParseAddr("fe80::1"), Interface: "mesh0"}},
		},
		{
			name: "xroute v4-mapped printed as IPv4",
			line: "add xroute 10.16.255.8/32-0.0.0.0/0 prefix 10.16.255.8/32 from 0.0.0.0/0 metric 0",
			want: Event{Kind: Add, XRoute: &XRoute{Prefix: netip.MustParsePrefix("10.16.255.8/32"), From: netip.MustParsePrefix("0.0.0.0/0")}},
		},
		{
			name: "interface up",
			line: "add interface va up true ipv6 fe80::1 ipv4 192.0.2.1",
			want: Event{Kind: Add, Interface: &Interface{Name: "va", Up: true, IPv6: netip.MustParseAddr("fe80::1"), IPv4: netip.MustParseAddr("192.0.2.1")}},
		},
		{
			name: "interface down",
			line: "change interface va up false",
			want: Event{Kind: Change, Interface: &Interface{Name: "va"}},
		},
		{name: "bad metric", line: "add route 1 prefix ::/0 from ::/0 installed yes id x metric abc refmetric 0 via fe80::1 if a", err: true},
		{name: "missing prefix", line: "add route 1 from ::/0 metric 5", err: true},
		{name: "odd fields", line: "add route 1 prefix", err: true},
		{name: "bad prefix", line: "add route 1 prefix fddd::zz/96 metric 5", err: true},
		{name: "unknown object", line: "add gizmo 1 a b", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLine(tc.line)
			if tc.err {
				if err == nil || errors.Is(err, ErrNotState) {
					t.Fatalf("want parse error, got %+v, %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", deref(got), deref(tc.want))
			}
		})
	}
}

func deref(e Event) any {
	switch {
	case e.Route != nil:
		return *e.Route
	case e.Neighbour != nil:
		return *e.Neighbour
	case e.XRoute != nil:
		return *e.XRoute
	case e.Interface != nil:
		return *e.Interface
	}
	return e
}

func TestParseLineNotState(t *testing.T) {
	for _, l := range []string{"", "ok", "no", "bad", "BABEL 1.0", "version babeld-1.12.1", "my-id 00:11:22:33:44:55:66:77", "no such interface"} {
		if _, err := ParseLine(l); !errors.Is(err, ErrNotState) {
			t.Errorf("%q: want ErrNotState, got %v", l, err)
		}
	}
}

func TestTableApply(t *testing.T) {
	tb := NewTable()
	lines := []string{
		"add route a1 prefix fddd:2:0:1::/96 from ::/0 installed yes id r1 metric 96 refmetric 0 via fe80::1 if a",
		"add route a2 prefix fddd:2:0:2::/96 from ::/0 installed yes id r2 metric 192 refmetric 96 via fe80::1 if a",
		"add xroute fddd:2:0:9::/96-::/0 prefix fddd:2:0:9::/96 from ::/0 metric 0",
		"change route a1 prefix fddd:2:0:1::/96 from ::/0 installed yes id r1 metric 400 refmetric 0 via fe80::1 if a",
		"flush route a2 prefix fddd:2:0:2::/96 from ::/0 installed no id r2 metric 65535 refmetric 96 via fe80::1 if a",
		"change route a3 prefix fddd:2:0:3::/96 from ::/0 installed no id r3 metric 500 refmetric 0 via fe80::2 if b",
	}
	for _, l := range lines {
		ev, err := ParseLine(l)
		if err != nil {
			t.Fatal(err)
		}
		tb.Apply(ev)
	}
	s := tb.Snapshot()
	if len(s.Routes) != 2 || s.Routes[0].ID != "a1" || s.Routes[0].Metric != 400 || s.Routes[1].ID != "a3" {
		t.Errorf("routes: %+v", s.Routes)
	}
	if len(s.XRoutes) != 1 {
		t.Errorf("xroutes: %+v", s.XRoutes)
	}
	// A line that changes nothing is no change, and the next snapshot
	// shares the lists that did not change.
	same, _ := ParseLine(lines[3])
	if tb.Apply(same) {
		t.Error("unchanged route line reported as a change")
	}
	if s2 := tb.Snapshot(); &s2.Routes[0] != &s.Routes[0] {
		t.Error("unchanged routes copied again")
	}
	ev, _ := ParseLine("flush xroute fddd:2:0:9::/96-::/0 prefix fddd:2:0:9::/96 from ::/0 metric 0")
	if !tb.Apply(ev) {
		t.Error("flush reported as no change")
	}
	s2 := tb.Snapshot()
	if n := len(s2.XRoutes); n != 0 {
		t.Errorf("xroute not flushed: %d left", n)
	}
	if &s2.Routes[0] != &s.Routes[0] || len(s.XRoutes) != 1 {
		t.Error("a snapshot changed after the fact, or unchanged routes copied")
	}
	if tb.Apply(ev) {
		t.Error("flush of an absent xroute reported as a change")
	}
}

func TestTableRepeats(t *testing.T) {
	tb := NewTable()
	r := "route a1 prefix fddd:2:0:1::/96 from ::/0 installed yes id r1 metric 96 refmetric 0 via fe80::1 if a"
	if tb.Repeats([]byte("add " + r)) {
		t.Error("repeat of nothing")
	}
	if _, changed, err := tb.ApplyLine("add " + r); err != nil || !changed {
		t.Fatalf("ApplyLine: %v, %v", changed, err)
	}
	for _, l := range []string{"add " + r, "change " + r} {
		if !tb.Repeats([]byte(l)) {
			t.Errorf("%q: not a repeat", l)
		}
	}
	line := []byte("change " + r)
	if n := testing.AllocsPerRun(100, func() { tb.Repeats(line) }); n != 0 {
		t.Errorf("Repeats allocates %v times", n)
	}
	if tb.Repeats([]byte("change " + strings.Replace(r, "metric 96", "metric 97", 1))) {
		t.Error("a changed metric is a repeat")
	}
	if tb.Repeats([]byte("flush " + r)) {
		t.Error("a flush is a repeat")
	}
	if _, changed, _ := tb.ApplyLine("flush " + r); !changed {
		t.Error("flush changed nothing")
	}
	if tb.Repeats([]byte("add " + r)) {
		t.Error("after the flush, the route's line is a repeat")
	}
	if _, _, err := tb.ApplyLine("add xroute x prefix"); err == nil || tb.Repeats([]byte("add xroute x prefix")) {
		t.Error("bad line")
	}
}
