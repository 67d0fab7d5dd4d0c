package roamd

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
)

func TestPLATWatch(t *testing.T) {
	rng := netip.MustParsePrefix("64:ff9b:1::/48")
	c := netip.MustParsePrefix("64:ff9b:1:200:5e00:530c::/96")
	e := netip.MustParsePrefix("64:ff9b:1:200:5e00:530e::/96")
	t0 := time.Unix(1000, 0)
	route := func(p netip.Prefix, metric int, installed bool) babel.Route {
		return babel.Route{Prefix: p, Metric: metric, Installed: installed, Via: netip.MustParseAddr("fe80::1"), Interface: "mesh-a"}
	}
	snap := func(synced time.Time, rs ...babel.Route) *babel.Snapshot {
		return &babel.Snapshot{Connected: true, Synced: synced, Routes: rs}
	}
	type step struct {
		s    *babel.Snapshot // nil: the tick
		at   time.Duration
		lost []netip.Prefix
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"routed, then withdrawn", []step{
			{snap(t0, route(c, 96, true), route(e, 256, true)), time.Second, nil},
			{snap(t0, route(c, babel.Infinity, true), route(e, 256, true)), 2 * time.Second, []netip.Prefix{c}},
		}},
		{"an uninstalled route does not keep it", []step{
			{snap(t0, route(c, 96, true)), time.Second, nil},
			{snap(t0, route(c, 288, false)), 2 * time.Second, []netip.Prefix{c}},
		}},
		{"never routed: lost only once the table has settled", []step{
			{snap(t0, route(e, 96, true)), time.Second, nil},
			{nil, platLossGrace - time.Second, nil},
			{nil, platLossGrace, []netip.Prefix{c}},
		}},
		{"babeld gone: nothing is lost", []step{
			{snap(t0, route(c, 96, true)), time.Second, nil},
			{&babel.Snapshot{}, 2 * time.Second, nil},
			{nil, time.Hour, nil},
		}},
		{"babeld restarted: its empty table is not a loss", []step{
			{snap(t0, route(c, 96, true)), time.Second, nil},
			{&babel.Snapshot{}, 2 * time.Second, nil},
			{snap(t0.Add(3 * time.Second)), 3 * time.Second, nil},
			{snap(t0.Add(3*time.Second), route(c, 96, true)), 5 * time.Second, nil},
			{snap(t0.Add(3 * time.Second)), 6 * time.Second, []netip.Prefix{c}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newPLATWatch(rng, platLossGrace)
			for i, s := range tc.steps {
				got := w.update(s.s, []netip.Prefix{c}, t0.Add(s.at))
				if len(got) != len(s.lost) || (len(got) == 1 && got[0] != s.lost[0]) {
					t.Errorf("step %d: lost %v, want %v", i, got, s.lost)
				}
			}
		})
	}
}

// A client whose flows are rewritten to PLAT C (the node's CLAT moved on
// to another PLAT) falls back to the node's PLAT once babel loses C.
func TestCheckPLATsForgetsLostPLAT(t *testing.T) {
	B, newP := onOldPLAT(t)
	if got := B.m.roamedPLATs(); len(got) != 1 || got[0] != platC {
		t.Fatalf("roamedPLATs %v, want [%v]", got, platC)
	}
	synced := B.m.clk.Now()
	route := func(p netip.Prefix) babel.Route {
		return babel.Route{Prefix: p, Metric: 96, Installed: true, Via: netip.MustParseAddr("fe80::1"), Interface: "mesh-a"}
	}
	B.do(func(m *machine) {
		m.CheckPLATs(&babel.Snapshot{Connected: true, Synced: synced, Routes: []babel.Route{route(platC), route(newP)}})
	})
	if r := B.k.roamed[clientIP]; r.PLAT != platC {
		t.Fatalf("client no longer rewritten to C while C is routed: %+v", r)
	}
	B.do(func(m *machine) {
		m.CheckPLATs(&babel.Snapshot{Connected: true, Synced: synced, Routes: []babel.Route{route(newP)}})
	})
	if _, ok := B.k.roamed[clientIP]; ok || len(B.k.dropped) != 1 {
		t.Fatalf("state for the lost PLAT left: %+v %v", B.k.roamed, B.k.dropped)
	}
	if cv := B.m.clients(); cv[0].PLAT != newP.String() {
		t.Errorf("client PLAT %s, want %s", cv[0].PLAT, newP)
	}
	if c := B.m.counters()["plat_lost"]; c != 1 {
		t.Errorf("plat_lost %d, want 1", c)
	}
}

// onOldPLAT is node b with a client leased under PLAT C, after its CLAT
// moved on to another PLAT (returned): the client's flows still go to C.
func onOldPLAT(t *testing.T) (*node, netip.Prefix) {
	t.Helper()
	n := newFakeNet()
	B := n.add(t, "b", false, nil)
	if err := B.lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	newP := netip.MustParsePrefix("fd00:2::e:0:0/96")
	if err := B.call(func(m *machine) error { return m.SetPLAT(newP) }); err != nil {
		t.Fatal(err)
	}
	return B, newP
}
