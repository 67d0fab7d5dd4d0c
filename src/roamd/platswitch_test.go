package roamd

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// A roam after a PLAT loss (issue 11 items 1+2): the client leased on D
// (PLAT C) is served by A, whose CLAT uses E; C dies. A moves the client to
// E and tells E (a ROAM naming the lost PLAT); E takes babel, as seen
// there, as its witness. Later handovers are verified with the serving
// node by E and steered there.

var platE = netip.MustParsePrefix("fd00:2::e:0:0/96")

// addPLATNode adds a node whose CLAT uses plat and that is the PLAT own
// (invalid: none).
func (n *fakeNet) addPLATNode(t *testing.T, name string, plat, own netip.Prefix, secret []byte) *node {
	cfg := Config{
		NodeAddress:      netip.MustParseAddr(fmt.Sprintf("fd00:9::%x", name[0])),
		NodeClientPrefix: netip.MustParsePrefix("fd00:5::/64"),
		ClientIPv4:       clientNet, OwnCLAT: clatOf(name), CLATRange: clatRange, PLAT: plat, PLATRange: platRange,
		OwnPLAT: own, ClaimInterval: 20 * time.Millisecond, InfoInterval: 20 * time.Millisecond, Secret: secret,
	}
	return n.addNode(t, name, cfg, nil)
}

// bRoute is a babel route to p originated by the node with router-id id.
func bRoute(p netip.Prefix, id string) babel.Route {
	return babel.Route{Prefix: p, Metric: 96, Installed: true, RouterID: id, Via: netip.MustParseAddr("fe80::1"), Interface: "mesh0"}
}

// feed gives x a babel snapshot (one babeld connection, synced at synced).
func (x *node) feed(synced time.Time, rs ...babel.Route) {
	x.do(func(m *machine) {
		m.CheckPLATs(&babel.Snapshot{Connected: true, Synced: synced, RouterID: x.name, Routes: rs})
	})
}

type platLossMesh struct {
	n                *fakeNet
	D, A, B, C, E, M *node
	dIP              netip.Addr
	synced           time.Time
}

// roamedThenCLost: cl leased on D, roamed to A (C steers it to A); every
// node's babel has seen C, A's CLAT /96 and the client's /128 from A.
func roamedThenCLost(t *testing.T, secret []byte) *platLossMesh {
	t.Helper()
	n := newFakeNet()
	p := &platLossMesh{n: n, synced: n.clk.Now()}
	p.D = n.addPLATNode(t, "d", platC, netip.Prefix{}, secret)
	p.A = n.addPLATNode(t, "a", platE, netip.Prefix{}, secret)
	p.B = n.addPLATNode(t, "b", platE, netip.Prefix{}, secret)
	p.C = n.addPLATNode(t, "c", platC, platC, secret)
	p.E = n.addPLATNode(t, "e", platE, platE, secret)
	p.M = n.addPLATNode(t, "m", platE, netip.Prefix{}, secret)
	p.dIP = addrmap.Embed(clatOf("d"), clientIP)
	leaseAtD(t, p.D)
	p.A.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "C steering to A", func() bool {
		return p.C.has(func(k *recKernel) bool { return k.steer[p.dIP] == addrmap.Embed(clatOf("a"), clientIP) })
	})
	for _, x := range []*node{p.A, p.E} {
		x.feed(p.synced, p.routes(true, "a")...)
	}
	return p
}

// routes is a babel table: C's /96 (if alive), E's, the CLAT /96s of a, b,
// d and m, and the client's /128 announced by the node named serving.
func (p *platLossMesh) routes(cAlive bool, serving string) []babel.Route {
	rs := []babel.Route{bRoute(platE, "e"), bRoute(netip.PrefixFrom(p.dIP, 128), serving)}
	for _, name := range []string{"a", "b", "d", "m"} {
		rs = append(rs, bRoute(clatOf(name), name))
	}
	if cAlive {
		rs = append(rs, bRoute(platC, "c"))
	}
	return rs
}

func TestRoamAfterPLATLoss(t *testing.T) {
	p := roamedThenCLost(t, []byte("site key"))
	n, A, B, D, E := p.n, p.A, p.B, p.D, p.E
	// C dies: E's babel and A's lose its /96; A moves the client to E
	E.feed(p.synced, p.routes(false, "a")...)
	A.feed(p.synced, p.routes(false, "a")...)
	if cv := A.m.clients(); len(cv) != 1 || cv[0].PLAT != platE.String() {
		t.Fatalf("A's client after C's loss: %+v", cv)
	}
	n.waitFor(t, "E steering to A", func() bool {
		return E.has(func(k *recKernel) bool { return k.steer[p.dIP] == addrmap.Embed(clatOf("a"), clientIP) })
	})
	n.waitFor(t, "E's ACK at A", func() bool { return A.m.byMAC["ROAM"+clientMAC.String()] == nil })
	if c := E.m.counters(); c["roam_plat_switch"] != 1 || c["verify_sent"] != 0 {
		t.Fatalf("E: %v", c)
	}
	// A -> B: E verifies with A (not the lease node), A confirms to E
	B.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "E steering to B", func() bool {
		return E.has(func(k *recKernel) bool { return k.steer[p.dIP] == addrmap.Embed(clatOf("b"), clientIP) })
	})
	if cv := B.m.clients(); len(cv) != 1 || cv[0].PLAT != platE.String() || cv[0].CLAT != clatOf("d").String() {
		t.Fatalf("B's client: %+v", cv)
	}
	if A.m.counters()["verify_confirmed"] != 1 || D.m.counters()["verify_refused"] != 0 {
		t.Errorf("A: %v, D: %v", A.m.counters(), D.m.counters())
	}
	if B.has(func(k *recKernel) bool { r := k.roamed[clientIP]; return r.PLAT.IsValid() || r.CLAT != clatOf("d") }) {
		t.Errorf("B rewrites the client to a PLAT: %+v", B.k.roamed[clientIP])
	}
	// B -> D (home; D's CLAT moved to E): E stops steering
	if err := D.call(func(m *machine) error { return m.SetPLAT(platE) }); err != nil {
		t.Fatal(err)
	}
	D.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "E unsteered", func() bool { return E.has(func(k *recKernel) bool { return len(k.steer) == 0 }) })
	n.waitFor(t, "B released", func() bool { return len(B.m.clients()) == 0 })
	if cv := D.m.clients(); len(cv) != 1 || cv[0].PLAT != platE.String() {
		t.Errorf("D's client: %+v", cv)
	}
	if c := E.m.counters(); c["roam_refused"] != 0 || c["verify_timeout"] != 0 {
		t.Errorf("E: %v", c)
	}
}

// The ROAM can come before E's own babel has lost C: E drops it without
// an answer, and A's retransmission, once E's babel agrees, is taken.
func TestPLATSwitchWaitsForLocalBabel(t *testing.T) {
	p := roamedThenCLost(t, nil)
	p.A.feed(p.synced, p.routes(false, "a")...)
	p.n.settle(t)
	if c := p.E.m.counters(); c["drop_switch_plat_alive"] == 0 || len(p.E.m.st) != 0 {
		t.Fatalf("E took the client over while C is routed there: %v", c)
	}
	// a lease renewal at A meanwhile: its ROAM is still the switch (a plain
	// one would be verified with D, which refuses it)
	if err := p.A.lease(LeaseOld, clientMAC, clientIP, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	p.n.settle(t)
	p.E.feed(p.synced, p.routes(false, "a")...)
	p.n.waitFor(t, "E steering to A", func() bool {
		return p.E.has(func(k *recKernel) bool { return k.steer[p.dIP] == addrmap.Embed(clatOf("a"), clientIP) })
	})
}

// A key holder cannot use the switch: a ROAM naming a live PLAT as lost,
// or naming itself (or a node babel does not see announce the client) as
// the serving node, steers nothing and gets no answer.
func TestPLATSwitchKeyHolder(t *testing.T) {
	key := []byte("site key")
	p := roamedThenCLost(t, key)
	E, M := p.E, p.M
	forged := func(old netip.Prefix) {
		m := &roamproto.Message{Type: roamproto.TypeRoam, Nonce: nonce(), Sender: M.m.cfg.NodeAddress, MAC: clientMAC,
			CLAT: clatOf("d"), ClientIP: clientIP, LeaseTime: 86400, HasLease: true, NewCLAT: clatOf("m"),
			PLAT: platE, OldPLAT: old, Timestamp: time.Now()}
		E.packet(netip.AddrPortFrom(M.m.mgmtAddr(), 5524), enc(t, m, key))
		p.n.settle(t)
	}
	forged(platC) // C is alive in E's babel
	if E.m.counters()["drop_switch_plat_alive"] != 1 {
		t.Errorf("E: %v", E.m.counters())
	}
	E.feed(p.synced, p.routes(false, "a")...) // C lost; A announces the client
	forged(platC)
	if E.m.counters()["drop_switch_unwitnessed"] != 1 {
		t.Errorf("E: %v", E.m.counters())
	}
	forged(platE) // E itself
	if E.m.counters()["drop_roam_bad_prefix"] != 1 {
		t.Errorf("E: %v", E.m.counters())
	}
	if len(E.m.st) != 0 || E.has(func(k *recKernel) bool { return len(k.steer) != 0 }) {
		t.Fatal("a forged switch steered the client")
	}
	if c := M.m.counters(); c["drop_ack_unknown"] != 0 || c["drop_refuse_unknown"] != 0 {
		t.Errorf("E answered a forged switch: M %v", c)
	}
}

// A client back at its lease node is let through as roamed (l3x-roam
// only), unless that node is a PLAT itself (zone 158 would hide the PLAT's
// NAT66 entries of its flows).
func TestReturnedClientLetThrough(t *testing.T) {
	for _, own := range []bool{false, true} {
		t.Run(fmt.Sprintf("plat=%t", own), func(t *testing.T) {
			n := newFakeNet()
			var ownPLAT netip.Prefix
			if own {
				ownPLAT = platC
			}
			D, A := n.addPLATNode(t, "d", platC, ownPLAT, nil), n.addPLATNode(t, "a", platC, netip.Prefix{}, nil)
			if !own {
				n.addPLATNode(t, "c", platC, platC, nil)
			}
			leaseAtD(t, D)
			A.seen(clientMAC, netip.Addr{})
			n.waitFor(t, "A serves", func() bool { return len(A.m.clients()) == 1 && len(D.m.clients()) == 0 })
			D.seen(clientMAC, netip.Addr{})
			n.waitFor(t, "D serves again", func() bool { return len(D.m.clients()) == 1 && len(A.m.clients()) == 0 })
			r, in := D.k.roamed[clientIP]
			if in == own || (in && (r.CLAT != clatOf("d") || r.PLAT.IsValid())) {
				t.Errorf("D's returned client in l3x-roam: %t %+v", in, r)
			}
		})
	}
}
