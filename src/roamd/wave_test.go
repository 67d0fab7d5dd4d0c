package roamd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// Clients that roam at the same moment (files/docs/roaming.md, "Several
// clients at once"), over the in-memory mesh on the fake clock.

// ackWatch passes datagrams on and calls onAck, before sending, for each
// ACK of an INFO the node sends.
type ackWatch struct {
	inner Transport
	onAck func(m *roamproto.Message)
}

func (w ackWatch) Send(from netip.Addr, to netip.AddrPort, b []byte) error {
	if m, err := roamproto.Parse(b, nil); err == nil && m.Type == roamproto.TypeAck {
		w.onAck(m)
	}
	return w.inner.Send(from, to, b)
}

// The new node ACKs the INFO only once its rewrite is in place: on the
// ACK the old node releases the client (its /128 becomes a release route
// here) and confirms the handover to the PLAT, so the replies come here
// at once. ACKed before the rewrite, a reply could come first and
// leave a conntrack entry the client's flow cannot use.
func TestAckAfterRewrite(t *testing.T) {
	n := newFakeNet()
	D, A, C := n.add(t, "d", false, nil), n.add(t, "a", false, nil), n.add(t, "c", true, nil)
	leaseAtD(t, D)
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	acks := 0
	A.m.w.tx = ackWatch{inner: A.m.w.tx, onAck: func(m *roamproto.Message) {
		acks++
		if !A.has(func(k *recKernel) bool { return k.roamed[clientIP].CLAT == clatOf("d") && k.announce[dIP] }) {
			t.Errorf("A ACKed the INFO before its rewrite and announce route were in place: %+v", A.k)
		}
	}}
	A.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "C steering to A", func() bool {
		return C.has(func(k *recKernel) bool { return k.steer[dIP] == addrmap.Embed(clatOf("a"), clientIP) })
	})
	if acks == 0 {
		t.Fatal("A sent no ACK")
	}
}

var (
	mac2 = net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x66}
	ip2  = netip.MustParseAddr("10.80.0.6")
)

// Two clients leased on D roam to A at the same moment, then leave A at
// the same moment for B and E; then one comes back to A and stays. Every
// handover completes and C steers each client to its node; A's rule of
// origin D stays while a client of D is at A or might come back within
// ReleaseHold, and goes once after that.
func TestWaveSameNodes(t *testing.T) {
	n := newFakeNet()
	D, A, B, E, C := n.add(t, "d", false, nil), n.add(t, "a", false, nil), n.add(t, "b", false, nil),
		n.add(t, "e", false, nil), n.add(t, "c", true, nil)
	leaseAtD(t, D)
	if err := D.lease(LeaseAdd, mac2, ip2, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	key1, key2 := addrmap.Embed(clatOf("d"), clientIP), addrmap.Embed(clatOf("d"), ip2)
	steered := func(key netip.Addr, to string, ip netip.Addr) func() bool {
		return func() bool {
			return C.has(func(k *recKernel) bool { return k.steer[key] == addrmap.Embed(clatOf(to), ip) })
		}
	}
	// both appear on A before either CLAIM is answered
	A.seen(clientMAC, netip.Addr{})
	A.seen(mac2, netip.Addr{})
	n.waitFor(t, "C steering client 1 to A", steered(key1, "a", clientIP))
	n.waitFor(t, "C steering client 2 to A", steered(key2, "a", ip2))
	n.waitFor(t, "D released both", func() bool { return len(D.m.clients()) == 0 })
	if !A.has(func(k *recKernel) bool { return len(k.roamed) == 2 && k.announce[key1] && k.announce[key2] }) {
		t.Fatalf("A's state for the two clients: %+v", A.k)
	}
	// both leave A at the same moment: one to B, one to E
	B.seen(clientMAC, netip.Addr{})
	E.seen(mac2, netip.Addr{})
	n.waitFor(t, "C steering client 1 to B", steered(key1, "b", clientIP))
	n.waitFor(t, "C steering client 2 to E", steered(key2, "e", ip2))
	n.waitFor(t, "A released both", func() bool { return len(A.m.clients()) == 0 })
	if got := A.m.counters()["handover_done"]; got != 2 {
		t.Errorf("A: %d handovers done, want 2", got)
	}
	if !A.has(func(k *recKernel) bool {
		return len(k.roamed) == 0 && k.retract[key1] == mgmtOf("b") && k.retract[key2] == mgmtOf("e")
	}) {
		t.Errorf("A after both left: members %v, release routes %v", A.k.roamed, A.k.retract)
	}
	if len(A.k.droppedOrigins) != 0 {
		t.Errorf("A dropped origin D's rule at once: %v", A.k.droppedOrigins)
	}
	// client 1 comes back to A within the hold: the rule is still there
	// and is kept, however long it stays
	A.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "C steering client 1 to A again", steered(key1, "a", clientIP))
	n.advance(t, A.m.cfg.ReleaseHold+2*time.Second)
	A.do(func(m *machine) { m.Sweep() })
	if len(A.k.droppedOrigins) != 0 {
		t.Fatalf("A dropped origin D's rule with a client of D served here: %v", A.k.droppedOrigins)
	}
	// it leaves for B: the rule goes ReleaseHold later, once
	B.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "C steering client 1 to B again", steered(key1, "b", clientIP))
	n.waitFor(t, "A released client 1 again", func() bool { return len(A.m.clients()) == 0 })
	n.advance(t, A.m.cfg.ReleaseHold/2)
	A.do(func(m *machine) { m.Sweep() })
	if len(A.k.droppedOrigins) != 0 {
		t.Fatalf("A dropped origin D's rule within the hold: %v", A.k.droppedOrigins)
	}
	n.advance(t, A.m.cfg.ReleaseHold/2+time.Second)
	A.do(func(m *machine) { m.Sweep() })
	A.do(func(m *machine) { m.Sweep() })
	if got := A.k.droppedOrigins; len(got) != 1 || got[0] != clatOf("d") {
		t.Fatalf("A's origin rules dropped after the hold: %v, want D's once", got)
	}
}

// A node hands a client over while another client of the same origin
// stays: the rule is never dropped; at shutdown every idle rule goes.
func TestIdleRulesAtShutdown(t *testing.T) {
	n := newFakeNet()
	D, A, B, _ := n.add(t, "d", false, nil), n.add(t, "a", false, nil), n.add(t, "b", false, nil), n.add(t, "c", true, nil)
	leaseAtD(t, D)
	if err := D.lease(LeaseAdd, mac2, ip2, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	A.seen(clientMAC, netip.Addr{})
	A.seen(mac2, netip.Addr{})
	n.waitFor(t, "A serves both", func() bool { return len(A.m.clients()) == 2 })
	B.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "A released client 1", func() bool { return len(A.m.clients()) == 1 })
	n.advance(t, A.m.cfg.ReleaseHold+2*time.Second)
	A.do(func(m *machine) { m.Sweep() })
	if len(A.k.droppedOrigins) != 0 {
		t.Fatalf("A dropped origin D's rule while client 2 uses it: %v", A.k.droppedOrigins)
	}
	A.do(func(m *machine) { m.ReleaseAll() })
	if got := A.k.droppedOrigins; len(got) != 1 || got[0] != clatOf("d") {
		t.Fatalf("A's origin rules dropped at shutdown: %v, want D's once", got)
	}
}
