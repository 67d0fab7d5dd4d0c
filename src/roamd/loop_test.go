package roamd

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// The state machine's timers on the fake clock: retransmissions stop after
// their tries, at the mesh time the configuration says, with no sleep.

// countTx counts what a node sends, by message type, and delivers nothing.
type countTx struct{ sent map[uint8]int }

func (c *countTx) Send(_ netip.Addr, _ netip.AddrPort, b []byte) error {
	m, err := roamproto.Parse(b, nil)
	if err != nil {
		return err
	}
	c.sent[m.Type]++
	return nil
}

func silentNode(t *testing.T, n *fakeNet, name string, plat bool) (*node, *countTx) {
	cfg := Config{
		NodeAddress:      netip.MustParseAddr("fd00:9::" + name),
		NodeClientPrefix: netip.MustParsePrefix("fd00:5::/64"),
		ClientIPv4:       clientNet, OwnCLAT: clatOf(name), CLATRange: clatRange, PLAT: platC, PLATRange: platRange,
	}
	if plat {
		cfg.OwnPLAT = platC
	}
	tx := &countTx{sent: map[uint8]int{}}
	return n.addNode(t, name, cfg, tx), tx
}

func TestTimersOnFakeClock(t *testing.T) {
	t.Run("CLAIM unanswered: new client after ClaimMax tries", func(t *testing.T) {
		n := newFakeNet()
		B, tx := silentNode(t, n, "b", false)
		B.k.nodeIPs[B.m.nodeClientIP(clientMAC)] = true // someone has it: B CLAIMs
		B.seen(clientMAC, netip.Addr{})
		n.advance(t, 14*300*time.Millisecond)
		if tx.sent[roamproto.TypeClaim] != 15 || len(B.m.clients()) != 0 {
			t.Fatalf("after 4.2 s: %d CLAIMs, clients %+v", tx.sent[roamproto.TypeClaim], B.m.clients())
		}
		n.advance(t, 300*time.Millisecond)
		if cv := B.m.clients(); len(cv) != 1 || cv[0].Roamed || B.m.counters()["claim_timeout"] != 1 {
			t.Fatalf("after 4.5 s: clients %+v, counters %v", cv, B.m.counters())
		}
		if at, left := B.m.nextDeadline(); left {
			t.Errorf("a timer is left, due %v", at)
		}
	})
	t.Run("ROAM unanswered: given up after InfoMax tries", func(t *testing.T) {
		n := newFakeNet()
		B, tx := silentNode(t, n, "b", false)
		B.m.clm[clientMAC.String()] = &claim{mac: clientMAC, nonces: map[uint32]bool{7: true}}
		from := netip.AddrPortFrom(netip.MustParseAddr("fd00:9::a"), 5524)
		info := &roamproto.Message{Type: roamproto.TypeInfo, Nonce: nonce(), Sender: from.Addr(), MAC: clientMAC,
			CLAT: clatOf("d"), ClientIP: clientIP, LeaseTime: 3600, HasLease: true, PLAT: platC, Echo: 7, HasEcho: true,
			Timestamp: n.clk.Now()}
		B.packet(from, enc(t, info, nil))
		if tx.sent[roamproto.TypeRoam] != 1 || tx.sent[roamproto.TypeAck] != 1 {
			t.Fatalf("sent %v", tx.sent)
		}
		n.advance(t, time.Minute)
		if tx.sent[roamproto.TypeRoam] != 15 || B.m.counters()["ROAM_gave_up"] != 1 || len(B.m.byMAC) != 0 {
			t.Fatalf("sent %v, counters %v", tx.sent, B.m.counters())
		}
		if len(B.m.clients()) != 1 {
			t.Error("the client was dropped with the ROAM")
		}
	})
	t.Run("VERIFY unanswered: no steering after VerifyMax tries", func(t *testing.T) {
		n := newFakeNet()
		C, tx := silentNode(t, n, "c", true)
		C.packet(fromB, enc(t, roamMsg(3600), nil))
		n.advance(t, 5*200*time.Millisecond)
		if tx.sent[roamproto.TypeVerify] != 5 || C.m.counters()["verify_timeout"] != 1 || len(C.m.vr) != 0 {
			t.Fatalf("sent %v, counters %v", tx.sent, C.m.counters())
		}
		if len(C.m.st) != 0 || len(C.k.steer) != 0 || tx.sent[roamproto.TypeAck] != 0 {
			t.Error("steered without a CONFIRM")
		}
	})
}

// refuseSteer is a kernel that refuses steering routes.
type refuseSteer struct{ *recKernel }

func (refuseSteer) Steer(netip.Addr, netip.Addr) error { return errors.New("no route to the next hop") }

// A steering route the kernel refused is no steering: no entry, no ACK
// (B retries), the error counted. The outcome reaches the machine through
// the effect's continuation.
func TestSteerRefusedByKernel(t *testing.T) {
	d, _ := newPLAT(t, nil)
	d.m.w.k = refuseSteer{d.k}
	d.packet(fromB, enc(t, roamMsg(3600), nil))
	answerVerify(t, d, true, 3600, nil)
	if len(d.m.st) != 0 || d.m.counters()["roam_accepted"] != 0 || d.m.counters()["kernel_error"] != 1 {
		t.Fatalf("steering %v, counters %v", d.m.st, d.m.counters())
	}
	if ack, _ := d.m.w.tx.(*capture).last(roamproto.TypeAck); ack != nil {
		t.Error("B was ACKed")
	}
}

// A transition changes nothing outside the machine: the kernel and the
// network see its effects only when they are applied.
func TestTransitionsOnlyListEffects(t *testing.T) {
	n := newFakeNet()
	D, A := n.add(t, "d", false, nil), n.add(t, "a", false, nil)
	D.m.Lease(LeaseAdd, clientMAC, clientIP, n.clk.Now().Add(time.Hour))
	if len(D.k.nodeIPs) != 0 || len(D.k.neigh) != 0 {
		t.Fatal("Lease changed the kernel itself")
	}
	fx := D.m.take()
	if len(fx) == 0 {
		t.Fatal("Lease listed no effects")
	}
	D.m.apply(fx)
	if !D.k.nodeIPs[D.m.nodeClientIP(clientMAC)] {
		t.Fatal("effects not carried out")
	}
	A.m.Seen(clientMAC, netip.Addr{})
	if len(n.queue) != 0 {
		t.Fatal("Seen sent its CLAIM itself")
	}
	A.m.apply(A.m.take())
	if len(n.queue) != 1 {
		t.Fatalf("%d datagrams queued, want the CLAIM", len(n.queue))
	}
}

// blockPresent is a kernel whose presence probe blocks until released.
type blockPresent struct {
	*recKernel
	started chan struct{}
	release chan struct{}
}

func (k blockPresent) Present(netip.Addr, net.HardwareAddr) bool {
	close(k.started)
	<-k.release
	return false
}

// The event loop: a background probe still running when the loop's context
// ends is waited for (Run returns only after it), and a call made after the
// end returns errStopped instead of hanging.
func TestLoopWaitsForProbes(t *testing.T) {
	n := newFakeNet()
	A := n.add(t, "a", false, nil)
	if err := A.lease(LeaseAdd, clientMAC, clientIP, n.clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	k := blockPresent{recKernel: A.k, started: make(chan struct{}), release: make(chan struct{})}
	A.m.w.k = k
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	d := newDaemon(ctx, A.m, &wg)
	loopDone := make(chan error, 1)
	go func() { loopDone <- d.loop(ctx, nil, nil, nil) }()
	claimer := netip.MustParseAddr("fd00:9::b")
	cl := &roamproto.Message{Type: roamproto.TypeClaim, Nonce: nonce(), Sender: claimer, MAC: clientMAC,
		NewCLAT: clatOf("b"), Timestamp: n.clk.Now()}
	d.HandlePacket(netip.AddrPortFrom(claimer, 5524), enc(t, cl, nil))
	<-k.started // the handover's presence probe runs off the loop
	cancel()
	if err := <-loopDone; err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("the probe was not waited for")
	default:
	}
	close(k.release)
	<-waited
	if _, err := d.view(); !errors.Is(err, errStopped) {
		t.Errorf("call after the end: %v", err)
	}
}
