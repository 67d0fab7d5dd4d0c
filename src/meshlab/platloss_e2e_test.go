//go:build e2e

package meshlab

import (
	"context"
	"testing"
	"time"
)

// TestE2ERoamPLATLoss is issue 11 item 2: a client leased on D (PLAT C)
// roams to A, whose CLAT uses E, with a TCP stream and a UDP flow through
// C; then C loses power. The client must keep its IPv4 address, a new
// connection must go out through E within 2 s of babel's withdrawal of C's
// /96 at A (printed), the UDP flow must come back through E, and no node
// that is up may keep anything of C in its roaming state (per-PLAT set,
// members, rules, routes, daemon clients; printed per node). The TCP
// stream through C ends with C (its NAT state died there).
func TestE2ERoamPLATLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	roamThenLosePLAT(t, ctx)
}

// TestE2ERoamAfterPLATLoss is issue 11 items 1+2 together: after
// TestE2ERoamPLATLoss (the client at A, its flows now through E), the
// client opens a new TCP stream and UDP flow through E and roams on, A ->
// B and B -> D (home). The new stream must survive both hops (stall <= 2 s
// each, printed), a new connection must go out through E after each hop,
// the client must keep its address, and after the lease ends no node may
// hold anything of it.
func TestE2ERoamAfterPLATLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	m, old := roamThenLosePLAT(t, ctx)
	old.Stop() // its TCP stream ended with C
	e, cl := m.Nodes["e"], m.Clients["cl"]
	ip0 := cl.IPv4(ctx)
	// A moved the client to E and told E (a ROAM naming C as lost), which
	// took babel as its witness.
	var ec map[string]uint64
	if err := m.Wait(ctx, "E to take the client of the lost C over", 100*time.Millisecond, func() (bool, error) {
		var err error
		ec, err = e.RoamCounters(ctx)
		return err == nil && ec["roam_plat_switch"] == 1, err
	}); err != nil {
		t.Fatalf("%v (E's counters: %v)", err, ec)
	}
	printf(t, "AFTER PLAT LOSS E took the client over: roam_plat_switch %d, dropped while E's babel still had C %d, unwitnessed %d",
		ec["roam_plat_switch"], ec["drop_switch_plat_alive"], ec["drop_switch_unwitnessed"])
	waitTCPThrough(t, ctx, m, cl, e)
	f, err := cl.StartFlows()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	var res []RoamResult
	for i, to := range []string{"b", "d"} {
		r, err := m.Hop(ctx, cl, f, to, time.Second)
		res = append(res, r)
		printf(t, "AFTER PLAT LOSS %d %s -> %s (%s): TCP stall %v, UDP stall %v (%d lost), new connection seen as %s",
			i+1, r.From, r.To, r.Kind, r.TCPStall.Round(time.Millisecond), r.UDPStall.Round(time.Millisecond), r.UDPLost, r.NewConn)
		if err != nil {
			t.Fatal(err)
		}
		if want := e.WANAddr.String(); HostOf(r.NewConn) != want {
			t.Errorf("at %s a new connection went out as %s, not through E (%s)", to, r.NewConn, want)
		}
		if r.TCPStall > 2*time.Second || r.UDPStall > 2*time.Second {
			t.Errorf("%s -> %s: stall TCP %v / UDP %v, want <= 2 s", r.From, r.To, r.TCPStall, r.UDPStall)
		}
		if ip := cl.IPv4(ctx); ip != ip0 {
			t.Errorf("client address %v at %s, was %v", ip, to, ip0)
		}
	}
	printf(t, "AFTER PLAT LOSS stalls:\n%s", StallTable(res))
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	releaseAndCheckLeftovers(t, ctx, m, "AFTER PLAT LOSS", cl.Spec.Name)
}

// roamThenLosePLAT is TestE2ERoamPLATLoss's lab and checks: the client cl
// leased on D roams to A, then C powers off. It returns the lab and the
// client's flows (the UDP flow still running, through E).
func roamThenLosePLAT(t *testing.T, ctx context.Context) (*Mesh, *Flows) {
	t.Helper()
	m := startSplitLab(t, ctx)
	c, e := m.Nodes["c"], m.Nodes["e"]
	cl := m.Clients["cl"]
	ip0, err := cl.WaitLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitTCPThrough(t, ctx, m, cl, c)
	f, err := cl.StartFlows()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Stop() })
	r, err := m.Hop(ctx, cl, f, "a", time.Second)
	logHops(t, []RoamResult{r})
	if err != nil {
		t.Fatal(err)
	}
	if HostOf(r.NewConn) != c.WANAddr.String() {
		t.Fatalf("after the roam to A a new connection went out as %s, not through C (%s)", r.NewConn, c.WANAddr)
	}
	// The CLAT's probes bound the failover of an unroamed client (3 x 2 s
	// + 2 s); a roamed client must not take longer.
	fctx, fcancel := context.WithTimeout(ctx, 20*time.Second)
	defer fcancel()
	mk := f.Mark()
	fo, err := m.MeasureFailover(fctx, "cl", c, e)
	if err != nil {
		printf(t, "PLAT LOSS roamed client (leased on D, at A): %v", err)
		t.Fatal(err)
	}
	verdict := "goal met"
	if fo.AfterWithdraw > 2*time.Second {
		verdict = "GOAL MISSED"
		t.Errorf("first new connection %v after the withdrawal, want <= 2 s", fo.AfterWithdraw)
	}
	printf(t, "PLAT LOSS roamed client (leased on D, at A): C's /96 withdrawn at A %v after the power-off; first new connection through E %v after it, %v after the withdrawal (%d attempts; goal <= 2s: %s)",
		fo.Withdrawn.Round(time.Millisecond), fo.FirstConn.Round(time.Millisecond), fo.AfterWithdraw.Round(time.Millisecond), fo.Attempts, verdict)
	if ip := cl.IPv4(ctx); ip != ip0 {
		t.Errorf("client address %v after the PLAT loss, was %v", ip, ip0)
	}
	// The UDP flow (the same socket all along) must come back, now through E.
	uctx, ucancel := context.WithTimeout(ctx, 10*time.Second)
	defer ucancel()
	uerr := WaitFor(uctx, "the UDP flow back through E", 20*time.Millisecond, func() (bool, error) {
		return time.Since(f.UDP.LastReply()) < 100*time.Millisecond, nil
	})
	_, _, tcpErr := f.TCP.Stats()
	printf(t, "PLAT LOSS UDP flow: longest gap %v since the power-off (back: %v); TCP stream through C: %v",
		f.UDP.MaxGap(mk.t0, time.Now()).Round(time.Millisecond), uerr == nil, tcpErr)
	if uerr != nil {
		t.Error(uerr)
	}
	// Nothing of C may stay in any roaming state.
	counts := map[string]PLATState{}
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	defer lcancel()
	lerr := m.Wait(lctx, "no state of C's PLAT left on any node", 250*time.Millisecond, func() (bool, error) {
		zero := true
		for _, n := range m.NodeList() {
			if n.Down {
				continue
			}
			s, err := n.PLATState(lctx, c.PLATPrefix)
			if err != nil {
				return false, err
			}
			counts[n.Spec.Name] = s
			zero = zero && s.Zero()
		}
		return zero, nil
	})
	for _, n := range m.NodeList() {
		if n.Down {
			printf(t, "PLAT LOSS leftovers of C on %s: powered off", n.Spec.Name)
			continue
		}
		printf(t, "PLAT LOSS leftovers of C on %s: %v", n.Spec.Name, counts[n.Spec.Name])
	}
	if lerr != nil {
		t.Error(lerr)
	}
	return m, f
}
