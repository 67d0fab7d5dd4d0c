package roamd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// The attacks of a node that holds the site secret (issue 8), over the
// in-memory mesh: M is such a node with its own CLAT prefix.

func leaseAtD(t *testing.T, D *node) {
	t.Helper()
	if err := D.lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestKeyHolderForgedRoam(t *testing.T) {
	key := []byte("site key")
	n := newFakeNet()
	D, M, C := n.add(t, "d", false, key), n.add(t, "m", false, key), n.add(t, "c", true, key)
	leaseAtD(t, D)
	roam := &roamproto.Message{Type: roamproto.TypeRoam, Nonce: nonce(), Sender: M.m.cfg.NodeAddress, MAC: clientMAC,
		CLAT: clatOf("d"), ClientIP: clientIP, LeaseTime: 86400, HasLease: true, NewCLAT: clatOf("m"), PLAT: platC,
		Timestamp: time.Now()}
	C.packet(netip.AddrPortFrom(M.m.mgmtAddr(), 5524), enc(t, roam, key))
	n.waitFor(t, "the PLAT's refusal", func() bool { return C.m.counters()["roam_refused"] == 1 })
	if len(C.m.st) != 0 || C.has(func(k *recKernel) bool { return len(k.steer) != 0 }) {
		t.Fatal("forged ROAM steered the client")
	}
	if D.m.counters()["verify_refused"] != 1 || len(D.m.clients()) != 1 {
		t.Errorf("D: %v", D.m.counters())
	}
}

func TestKeyHolderClaimAckWhileClientHere(t *testing.T) {
	key := []byte("site key")
	n := newFakeNet()
	D, A, M, C := n.add(t, "d", false, key), n.add(t, "a", false, key), n.add(t, "m", false, key), n.add(t, "c", true, key)
	leaseAtD(t, D)
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	A.seen(clientMAC, netip.Addr{}) // genuine roam D -> A
	n.waitFor(t, "C steering to A", func() bool {
		return C.has(func(k *recKernel) bool { return k.steer[dIP] == addrmap.Embed(clatOf("a"), clientIP) })
	})
	A.k.mu.Lock()
	A.k.present[clientIP] = true // the client is at A and answers there
	A.k.mu.Unlock()
	// M claims the client (its daemon CLAIMs, ACKs the INFO and ROAMs)
	M.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "A's refusal", func() bool { return A.m.counters()["handover_refused_present"] == 1 })
	n.waitFor(t, "M undoes its state", func() bool { return len(M.m.clients()) == 0 })
	if cv := A.m.clients(); len(cv) != 1 || cv[0].IP != clientIP.String() {
		t.Fatalf("A released the client: %+v", cv)
	}
	if !C.has(func(k *recKernel) bool { return k.steer[dIP] == addrmap.Embed(clatOf("a"), clientIP) }) {
		t.Fatal("the steering moved away from A")
	}
	if M.has(func(k *recKernel) bool { return len(k.announce) != 0 || len(k.roamed) != 0 }) {
		t.Error("M kept the roamed state after the refusal")
	}
}

func TestKeyHolderForgedInfo(t *testing.T) {
	key := []byte("site key")
	n := newFakeNet()
	D, B, M, C := n.add(t, "d", false, key), n.add(t, "b", false, key), n.add(t, "m", false, key), n.add(t, "c", true, key)
	leaseAtD(t, D)
	accomplice := net.HardwareAddr{0x02, 0xac, 0, 0, 0, 1}
	// M owns the accomplice's node-client-IP (it served it before)
	M.k.AddNodeClientIP(M.m.nodeClientIP(accomplice))
	M.m.w.tx = dropTx{} // M's own daemon stays silent; the test answers for it
	B.seen(accomplice, netip.Addr{})
	echo := claimNonce(t, B, accomplice)
	info := &roamproto.Message{Type: roamproto.TypeInfo, Nonce: nonce(), Sender: M.m.cfg.NodeAddress, MAC: accomplice,
		CLAT: clatOf("d"), ClientIP: clientIP, LeaseTime: 86400, HasLease: true, PLAT: platC, Echo: echo, HasEcho: true,
		Timestamp: time.Now()}
	B.packet(netip.AddrPortFrom(M.m.cfg.NodeAddress, 5524), enc(t, info, key))
	n.waitFor(t, "B drops the binding", func() bool { return B.m.counters()["roam_refused_by_plat"] == 1 })
	if C.has(func(k *recKernel) bool { return len(k.steer) != 0 }) {
		t.Fatal("the forged INFO steered the victim's replies")
	}
	if B.has(func(k *recKernel) bool { return len(k.neigh) != 0 || len(k.announce) != 0 }) {
		t.Error("B kept the victim's address bound to the accomplice")
	}
	// B itself leases the address: an INFO for it is dropped at once
	if err := B.lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	delete(B.m.clm, accomplice.String()) // the finished claim (kept 10 s for retransmitted INFOs)
	B.seen(accomplice, netip.Addr{})
	echo = claimNonce(t, B, accomplice)
	info.Nonce, info.Echo, info.Timestamp = nonce(), echo, time.Now()
	B.packet(netip.AddrPortFrom(M.m.cfg.NodeAddress, 5524), enc(t, info, key))
	if B.m.counters()["drop_info_ip_in_use"] != 1 {
		t.Errorf("INFO for B's own lease: %v", B.m.counters())
	}
}

// claimNonce waits for x's CLAIM for mac and returns one of its nonces
// (what the claimed node's INFO must echo).
func claimNonce(t *testing.T, x *node, mac net.HardwareAddr) uint32 {
	t.Helper()
	var echo uint32
	x.net.waitFor(t, "the CLAIM", func() bool {
		if c := x.m.clm[mac.String()]; c != nil && !c.done {
			for n := range c.nonces {
				echo = n
				return true
			}
		}
		return false
	})
	return echo
}

type dropTx struct{}

func (dropTx) Send(netip.Addr, netip.AddrPort, []byte) error { return nil }

// A ROAM for another PLAT, or from before the PLAT (re)started, is dropped.
func TestRoamReplayOtherPLATAndRestart(t *testing.T) {
	d, k := newPLAT(t, nil)
	m := roamMsg(3600)
	m.Timestamp = time.Now().Add(-2 * time.Second) // sent before this daemon started
	d.packet(fromB, enc(t, m, nil))
	if d.m.counters()["drop_before_start"] != 1 || len(k.steer) != 0 {
		t.Errorf("ROAM from before the start: %v", d.m.counters())
	}
}

func TestLimiterEvictsLRU(t *testing.T) {
	l := newLimiter[int](1, 2, 3)
	now := time.Now()
	for i := 0; i < 3; i++ {
		l.allow(0, now) // key 0 drains its bucket
	}
	if l.allow(0, now) {
		t.Fatal("drained bucket allowed")
	}
	for k := 1; k <= 2; k++ {
		l.allow(k, now)
	}
	l.allow(0, now) // 0 is the most recently used
	l.allow(3, now) // evicts 1, not 0
	if l.len() != 3 {
		t.Fatalf("len %d", l.len())
	}
	if l.allow(0, now) {
		t.Error("a new key reset the busy key's bucket")
	}
}
