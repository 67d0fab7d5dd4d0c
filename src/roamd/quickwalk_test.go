package roamd

import (
	"net/netip"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// A quick walk (files/docs/roaming.md, "A quick walk"): the client leaves
// its lease node D for A, then B, and comes home to D before the PLAT has
// taken B's ROAM. The PLAT still steers to A and asks A about the
// home-coming; A handed the client to B and names B in its REFUSE, the
// PLAT asks B, B confirms, and D keeps its client.

// holdType passes datagrams on, except messages of one type, which it
// keeps until the test lets them go (release).
type holdType struct {
	inner Transport
	t     uint8
	held  []func()
}

func (h *holdType) Send(from netip.Addr, to netip.AddrPort, b []byte) error {
	if m, err := roamproto.Parse(b, nil); err == nil && m.Type == h.t {
		b = append([]byte(nil), b...)
		h.held = append(h.held, func() { _ = h.inner.Send(from, to, b) })
		return nil
	}
	return h.inner.Send(from, to, b)
}

func (h *holdType) release() {
	for _, f := range h.held {
		f()
	}
	h.held = nil
}

// walkHome walks the client D -> A -> B -> D on the mesh n, with B's and
// D's ROAMs held. It returns them once D has taken the client back.
func walkHome(t *testing.T, n *fakeNet, D, A, B, C *node) (fromB, fromD *holdType) {
	t.Helper()
	leaseAtD(t, D)
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	A.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "C steering to A", func() bool {
		return C.has(func(k *recKernel) bool { return k.steer[dIP] == addrmap.Embed(clatOf("a"), clientIP) })
	})
	fromB = &holdType{inner: B.m.w.tx, t: roamproto.TypeRoam}
	fromD = &holdType{inner: D.m.w.tx, t: roamproto.TypeRoam}
	B.m.w.tx, D.m.w.tx = fromB, fromD
	B.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "A hands the client to B", func() bool { return len(A.m.clients()) == 0 && len(B.m.clients()) == 1 })
	D.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "B hands the client home to D", func() bool { return len(B.m.clients()) == 0 && len(D.m.clients()) == 1 })
	if len(fromB.held) == 0 || len(fromD.held) == 0 {
		t.Fatalf("ROAMs held: from B %d, from D %d", len(fromB.held), len(fromD.held))
	}
	return fromB, fromD
}

// afterLate lets a late message go (release), gives the PLAT time to ask
// about it, and checks that the client is still at home: no steering at
// the PLAT C, and D serves it.
func afterLate(t *testing.T, n *fakeNet, C, D *node, release func(), what string) {
	t.Helper()
	release()
	n.advance(t, 2*C.m.cfg.VerifyInterval)
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	if C.has(func(k *recKernel) bool { return k.steer[dIP].IsValid() }) || len(C.m.st) != 0 {
		t.Fatalf("%s steered the client away from home: %v", what, C.m.st)
	}
	if cv := D.m.clients(); len(cv) != 1 || cv[0].IP != clientIP.String() {
		t.Fatalf("D lost its client: %+v (counters %v)", cv, D.m.counters())
	}
}

func TestQuickWalkHomeBeforeRoam(t *testing.T) {
	n := newFakeNet()
	D, A, B, C := n.add(t, "d", false, nil), n.add(t, "a", false, nil), n.add(t, "b", false, nil), n.add(t, "c", true, nil)
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	hold, fromD := walkHome(t, n, D, A, B, C)
	fromD.release()
	n.waitFor(t, "the PLAT takes D's home-coming", func() bool {
		return C.m.counters()["roam_accepted"] == 2 && !C.has(func(k *recKernel) bool { return k.steer[dIP].IsValid() })
	})
	if c := C.m.counters(); c["verify_redirected"] != 1 || c["roam_refused"] != 0 {
		t.Errorf("PLAT counters: %v", c)
	}
	// B's ROAM arrives late: the PLAT asks D, which serves the client and
	// refuses; nothing moves.
	afterLate(t, n, C, D, hold.release, "the late ROAM")
	if c := C.m.counters(); c["roam_refused"] != 1 {
		t.Errorf("the late ROAM was not refused: %v", c)
	}
}

// D -> A -> D with A's ROAM held until the client is home: the late ROAM
// must not steer the client to A. D serves the client again, so its
// record of the handover to A confirms nothing: it refuses (before, it
// confirmed).
func TestLateRoamAfterHomeComing(t *testing.T) {
	n := newFakeNet()
	D, A, C := n.add(t, "d", false, nil), n.add(t, "a", false, nil), n.add(t, "c", true, nil)
	leaseAtD(t, D)
	hold := &holdType{inner: A.m.w.tx, t: roamproto.TypeRoam}
	A.m.w.tx = hold
	A.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "D hands the client to A", func() bool { return len(D.m.clients()) == 0 && len(A.m.clients()) == 1 })
	D.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "A hands the client home to D", func() bool { return len(A.m.clients()) == 0 && len(D.m.clients()) == 1 })
	afterLate(t, n, C, D, hold.release, "the late ROAM")
	if c := C.m.counters(); c["roam_refused"] == 0 {
		t.Errorf("the late ROAM was not refused: %v", c)
	}
}

// Both B's ROAM and D's home-coming reach the PLAT, and A's CONFIRM of
// the handover to B is late: D's VERIFY goes A -> B and is confirmed
// first. That supersedes the VERIFY about B, so A's late CONFIRM cannot
// steer the client to B, which it has left.
func TestSuccessorChainSupersedes(t *testing.T) {
	n := newFakeNet()
	D, A, B, C := n.add(t, "d", false, nil), n.add(t, "a", false, nil), n.add(t, "b", false, nil), n.add(t, "c", true, nil)
	fromB, fromD := walkHome(t, n, D, A, B, C)
	confirms := &holdType{inner: A.m.w.tx, t: roamproto.TypeConfirm}
	A.m.w.tx = confirms
	fromB.release()
	fromD.release()
	n.waitFor(t, "the PLAT takes D's home-coming", func() bool {
		return C.m.counters()["verify_redirected"] == 1 && C.m.counters()["roam_accepted"] == 2
	})
	if len(confirms.held) == 0 {
		t.Fatal("A sent no CONFIRM to hold")
	}
	afterLate(t, n, C, D, confirms.release, "A's late CONFIRM")
	if c := C.m.counters(); c["verify_superseded"] != 1 || c["drop_confirm_unknown"] == 0 {
		t.Errorf("PLAT counters: %v", c)
	}
}

// D -> A -> B while D's handover to A is still open (its presence probe
// has not answered): the PLAT asks D about B, D defers the answer, and
// once its handover to A is done it names A, which confirms B.
func TestSuccessorOfAnOpenHandover(t *testing.T) {
	n := newFakeNet()
	// A before D: once both hold the client's node-client-IP, B's CLAIM
	// goes to A, the node that serves the client
	A, B, D, C := n.add(t, "a", false, nil), n.add(t, "b", false, nil), n.add(t, "d", false, nil), n.add(t, "c", true, nil)
	leaseAtD(t, D)
	var probes []func() func()
	D.m.spawn = func(job func() func()) { probes = append(probes, job) }
	A.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "A takes the client, D's probe held", func() bool { return len(A.m.clients()) == 1 && len(probes) == 1 })
	B.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "A hands the client to B", func() bool { return len(A.m.clients()) == 0 && len(B.m.clients()) == 1 })
	n.waitFor(t, "the PLAT asks D about A and B", func() bool { return C.m.counters()["verify_sent"] == 2 })
	for _, job := range probes {
		res := job()
		D.do(func(*machine) { res() })
	}
	bIP := addrmap.Embed(clatOf("b"), clientIP)
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	n.waitFor(t, "C steering to B", func() bool { return C.has(func(k *recKernel) bool { return k.steer[dIP] == bIP }) })
	if c := D.m.counters(); c["verify_refused_successor"] != 1 || c["verify_confirmed"] != 1 {
		t.Errorf("D counters: %v", c)
	}
	if cv := B.m.clients(); len(cv) != 1 || C.m.counters()["roam_refused"] != 0 {
		t.Fatalf("B: %+v, PLAT counters %v", cv, C.m.counters())
	}
}
