package roamd

import (
	"net/netip"
	"testing"

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
