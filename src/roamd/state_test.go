package roamd

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/babel"
)

// TestStateRestart: a node that serves a roamed client, a PLAT that steers
// it and a node that holds a release route are each replaced by a fresh
// daemon (a restart) that reads the state file: the same clients, routes
// and set members come back, and the kernel calls are idempotent.
func TestStateRestart(t *testing.T) {
	n := newFakeNet()
	D, A, B, C := n.add(t, "d", false, nil), n.add(t, "a", false, nil), n.add(t, "b", false, nil), n.add(t, "c", true, nil)
	if err := D.lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	A.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "A serves the client", func() bool { return A.has(func(k *recKernel) bool { return k.announce[dIP] }) })
	B.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "C steering to B", func() bool {
		return C.has(func(k *recKernel) bool { return k.steer[dIP] == addrmap.Embed(clatOf("b"), clientIP) })
	})
	n.waitFor(t, "A released", func() bool { return A.has(func(k *recKernel) bool { _, ok := k.retract[dIP]; return ok }) })
	dir := t.TempDir()
	for _, x := range []*node{A, B, C} {
		path := filepath.Join(dir, x.name+".state")
		saveIfChanged(x.m, path, false, x.m.log)
		before := x.m.Owned()
		saved, err := loadState(path)
		if err != nil {
			t.Fatal(err)
		}
		k := newRecKernel(n)
		d2, err := newMachine(x.m.cfg, world{k: k, tx: nodeTx{n: n, self: x}}, n.clk, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d2.Close)
		d2.Restore(saved)
		d2.apply(d2.take())
		after := d2.Owned()
		if len(after.Announce) != len(before.Announce) || len(after.Release) != len(before.Release) ||
			len(after.Steer) != len(before.Steer) || len(after.Roamed) != len(before.Roamed) {
			t.Errorf("%s: restored %+v, had %+v", x.name, after, before)
		}
		if len(d2.clients()) != len(x.m.clients()) {
			t.Errorf("%s: %d clients restored, had %d", x.name, len(d2.clients()), len(x.m.clients()))
		}
		for a := range before.Announce {
			if !k.announce[a] {
				t.Errorf("%s: announce route %s not put back", x.name, a)
			}
		}
		for a := range before.Steer {
			if _, ok := k.steer[a]; !ok {
				t.Errorf("%s: steering route %s not put back", x.name, a)
			}
		}
	}
	if B.m.Owned().Announce[dIP] != true || len(C.m.Owned().Steer) != 1 || !A.m.Owned().Release[dIP] {
		t.Errorf("test set-up: B %+v C %+v A %+v", B.m.Owned(), C.m.Owned(), A.m.Owned())
	}
	// a clean state file: unchanged daemons write nothing
	path := filepath.Join(dir, "b.state")
	st, _ := os.Stat(path)
	saveIfChanged(B.m, path, false, B.m.log)
	if st2, _ := os.Stat(path); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("state file rewritten without a change")
	}
	// a broken file: an error naming it, and an empty state
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := loadState(path); err == nil || len(s.Clients) != 0 {
		t.Errorf("broken state file: %v, %+v", err, s)
	}
}

// TestFollowBabel: a release route follows babel's best route of a node
// that announces the address itself, not the copies of release routes.
func TestFollowBabel(t *testing.T) {
	n := newFakeNet()
	A := n.add(t, "a", false, nil)
	dst := addrmap.Embed(clatOf("d"), clientIP)
	A.m.rel[dst] = time.Now().Add(time.Minute)
	p := netip.PrefixFrom(dst, 128)
	via := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	A.do(func(m *machine) {
		m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{
			{ID: "1", Prefix: p, Metric: 16384 + 96, Via: via("fe80::b"), Interface: "mesh-b"}, // B's release copy
			{ID: "2", Prefix: p, Metric: 288, Via: via("fe80::c"), Interface: "mesh-c"},
			{ID: "3", Prefix: p, Metric: 96, Via: via("fe80::d"), Interface: "mesh-d"}, // D has the client
			{ID: "4", Prefix: netip.MustParsePrefix("fddd::/96"), Metric: 1, Via: via("fe80::e"), Interface: "mesh-e"},
		}})
	})
	if got := A.k.retract[dst]; got != via("fe80::d") {
		t.Errorf("release route via %v, want fe80::d", got)
	}
	if A.m.counters()["release_repointed"] != 1 {
		t.Errorf("counters %v", A.m.counters())
	}
	A.do(func(m *machine) {
		m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{{ID: "3", Prefix: p, Metric: 96, Via: via("fe80::d"), Interface: "mesh-d"}}})
	})
	if A.m.counters()["release_repointed"] != 1 {
		t.Error("re-pointed again to the same next hop")
	}
}

// TestFollowRestores: when the neighbour a release route was re-pointed to
// announces the address no more below ReleaseMetric and nobody else does,
// the release route goes back towards the node the client went to.
func TestFollowRestores(t *testing.T) {
	n := newFakeNet()
	A := n.add(t, "a", false, nil)
	dst := addrmap.Embed(clatOf("d"), clientIP)
	towards := addrmap.Embed(clatOf("b"), A.m.cfg.MgmtIPv4)
	A.m.rel[dst], A.m.relTo[dst] = time.Now().Add(time.Minute), towards
	p := netip.PrefixFrom(dst, 128)
	via := netip.MustParseAddr("fe80::10")
	A.do(func(m *machine) {
		m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{{ID: "1", Prefix: p, Metric: 192, Via: via, Interface: "mesh-p"}}})
	})
	if A.k.retract[dst] != via {
		t.Fatalf("not re-pointed: %v", A.k.retract[dst])
	}
	A.do(func(m *machine) {
		m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{{ID: "1", Prefix: p, Metric: 16480, Via: via, Interface: "mesh-p"}}})
	})
	if A.k.retract[dst] != towards || A.m.counters()["release_restored"] != 1 {
		t.Errorf("release route via %v after its neighbour's metric rose, want towards %v (%v)", A.k.retract[dst], towards, A.m.counters())
	}
}

// TestReleaseFallback: at the end of its hold a release route becomes a
// fallback (babel forgets the announcement, packets keep their next hop)
// that goes once babeld installed a route of its own, or after a hold.
func TestReleaseFallback(t *testing.T) {
	n := newFakeNet()
	A := n.add(t, "a", false, nil)
	dst := addrmap.Embed(clatOf("d"), clientIP)
	lost := addrmap.Embed(clatOf("d"), netip.MustParseAddr("10.80.0.6"))
	towards := netip.MustParseAddr("fe80::d")
	now := n.clk.Now()
	A.m.rel[dst], A.m.rel[lost] = now, now
	A.k.Retract(dst, towards)
	A.k.Retract(lost, netip.Addr{}) // unreachable: no successor, nothing to fall back on
	n.clk.Advance(time.Second)
	A.do(func(m *machine) { m.Sweep() })
	_, r1 := A.k.retract[dst]
	_, r2 := A.k.retract[lost]
	_, f2 := A.k.fallback[lost]
	if r1 || r2 || f2 || A.k.fallback[dst] != towards {
		t.Fatalf("after the hold: release %v, fallback %v", A.k.retract, A.k.fallback)
	}
	p := netip.PrefixFrom(dst, 128)
	A.do(func(m *machine) {
		m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{{ID: "1", Prefix: p, Metric: 192, Via: towards, Interface: "mesh-d"}}})
	})
	if len(A.k.fallback) == 0 {
		t.Fatal("fallback gone before babeld installed a route")
	}
	A.do(func(m *machine) {
		m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{{ID: "1", Prefix: p, Metric: 192, Via: towards, Interface: "mesh-d", Installed: true}}})
	})
	if len(A.k.fallback) != 0 {
		t.Fatal("fallback kept after babeld installed its route")
	}
	// without babel: gone after another hold
	A.m.rel[dst] = n.clk.Now()
	A.k.Retract(dst, towards)
	n.clk.Advance(time.Second)
	A.do(func(m *machine) { m.Sweep() })
	n.clk.Advance(A.m.cfg.ReleaseHold + time.Second)
	A.do(func(m *machine) { m.Sweep() })
	if len(A.k.fallback) != 0 {
		t.Fatal("fallback kept after its hold")
	}
}

// TestFollowSkipsReleasedOriginator: a copy of an announcement whose
// originator another neighbour reports at ReleaseMetric is stale and not
// followed (a neighbour's reflection of this node's own earlier route).
func TestFollowSkipsReleasedOriginator(t *testing.T) {
	n := newFakeNet()
	A := n.add(t, "a", false, nil)
	dst := addrmap.Embed(clatOf("d"), clientIP)
	towards := addrmap.Embed(clatOf("c"), A.m.cfg.MgmtIPv4)
	A.m.rel[dst], A.m.relTo[dst] = time.Now().Add(time.Minute), towards
	p := netip.PrefixFrom(dst, 128)
	via := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	A.do(func(m *machine) {
		m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{
			{ID: "1", Prefix: p, RouterID: "b", RefMetric: 16384, Metric: 16480, Via: via("fe80::b"), Interface: "mesh-b"},
			{ID: "2", Prefix: p, RouterID: "b", RefMetric: 192, Metric: 288, Via: via("fe80::10"), Interface: "mesh-p"}, // stale
			{ID: "3", Prefix: p, RouterID: "e", RefMetric: 96, Metric: 384, Via: via("fe80::e"), Interface: "mesh-e"},
		}})
	})
	if got := A.k.retract[dst]; got != via("fe80::e") {
		t.Errorf("release route via %v, want fe80::e (the stale copy via P skipped)", got)
	}
}

// TestFollowDirectSuccessor: a release route whose successor (the node the
// client went to from here) is a babel neighbour is not re-pointed by
// Follow, and one that was is put back towards the successor: a
// neighbour's entry in babel's table can be stale (it switched to this
// node's own release announcement, whose updates carry this node's
// router-id, which babeld ignores).
func TestFollowDirectSuccessor(t *testing.T) {
	n := newFakeNet()
	A := n.add(t, "a", false, nil)
	dst := addrmap.Embed(clatOf("d"), clientIP)
	towards := mgmtOf("b")
	A.m.rel[dst], A.m.relTo[dst] = time.Now().Add(time.Minute), towards
	p := netip.PrefixFrom(dst, 128)
	via := netip.MustParseAddr("fe80::10")
	entry := babel.Route{ID: "1", Prefix: p, RouterID: "e", RefMetric: 96, Metric: 192, Via: via, Interface: "mesh-f"}
	bNode := babel.Route{ID: "2", Prefix: clatOf("b"), RouterID: "b", Installed: true, Metric: 96,
		Via: netip.MustParseAddr("fe80::b"), Interface: "mesh-b"}
	far := bNode
	far.RefMetric = 96 // B two hops away: Follow as before
	A.do(func(m *machine) { m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{entry, far}}) })
	if A.k.retract[dst] != via {
		t.Fatalf("successor two hops away: release route via %v, want %v", A.k.retract[dst], via)
	}
	A.do(func(m *machine) { m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{entry, bNode}}) })
	if A.k.retract[dst] != towards || A.m.counters()["release_restored"] != 1 {
		t.Errorf("successor a neighbour: release route via %v, want towards %v (%v)", A.k.retract[dst], towards, A.m.counters())
	}
	// an entry that comes the way babel routes to its originator's node
	// is followed
	eNode := babel.Route{ID: "4", Prefix: clatOf("e"), RouterID: "e", Installed: true, RefMetric: 96, Metric: 192,
		Via: via, Interface: "mesh-f"}
	A.do(func(m *machine) {
		m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{entry, bNode, eNode}})
	})
	if A.k.retract[dst] != via {
		t.Errorf("an entry the short way: release route via %v, want %v", A.k.retract[dst], via)
	}
	// a neighbour that announces the address itself (it serves the
	// client now) is followed
	own := babel.Route{ID: "3", Prefix: p, RouterID: "g", Metric: 96, Via: netip.MustParseAddr("fe80::9"), Interface: "mesh-g"}
	A.do(func(m *machine) { m.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{entry, bNode, own}}) })
	if A.k.retract[dst] != own.Via {
		t.Errorf("a neighbour serving the client: release route via %v, want %v", A.k.retract[dst], own.Via)
	}
}
