//go:build e2e

package meshlab

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestE2ERoamWave: clients roam at the same moment (issue 9 item 5: 50 of
// 200 roaming in a 50-node mesh; issue 11: any sequence of roams). Three
// clients with a TCP stream and a 10 ms UDP flow each, under different
// origins and PLATs (splitPLATSpec: D uses C, A and B use E): cl leased on
// D (PLAT C), cl2 on B and cl3 on A (PLAT E). Each round moves all three
// at once, and the last brings everybody home:
//
//  1. cl D -> A and cl2 B -> A (one node takes two clients of other
//     origins, one with a PLAT rewrite), cl3 A -> D the other way;
//  2. cl A -> B and cl2 A -> D (one node hands two clients over at once,
//     each to the other's lease node), cl3 D -> B (B takes two at once);
//  3. cl B -> D, cl2 D -> B, cl3 B -> A: home (B hands two over at once
//     and takes its own client back).
//
// Every stream must survive with its data intact, every stall stay
// <= 2 s and a new connection go out through the client's own PLAT; after
// the leases end no node holds anything of them (a client gives its lease
// back to its lease node: a DHCPRELEASE elsewhere is an unknown lease to
// that node's dnsmasq, and the roamed state stays until the lease's end).
func TestE2ERoamWave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	m := startSplitLab(t, ctx,
		ClientSpec{Name: "cl2", Node: "b", MAC: "02:c1:1e:00:00:02"},
		ClientSpec{Name: "cl3", Node: "a", MAC: "02:c1:1e:00:00:03"})
	c, e := m.Nodes["c"], m.Nodes["e"]
	plat := map[string]*Node{"cl": c, "cl2": e, "cl3": e}
	names := []string{"cl", "cl2", "cl3"}
	flows := startFlowsThrough(t, ctx, m, plat, names...)
	rounds := [][]WalkStep{
		{{"cl", "a"}, {"cl2", "a"}, {"cl3", "d"}},
		{{"cl", "b"}, {"cl2", "d"}, {"cl3", "b"}},
		{{"cl", "d"}, {"cl2", "b"}, {"cl3", "a"}},
	}
	var res []RoamResult
	failed := false
	for i, round := range rounds {
		got := make([]RoamResult, len(round))
		errs := make([]error, len(round))
		var wg sync.WaitGroup
		for j, s := range round {
			wg.Add(1)
			go func(j int, s WalkStep) {
				defer wg.Done()
				got[j], errs[j] = m.Hop(ctx, m.Clients[s.Client], flows[s.Client], s.To, time.Second)
			}(j, s)
		}
		wg.Wait()
		for j, r := range got {
			res = append(res, r)
			printf(t, "WAVE %d %s %s -> %s (%s, PLAT %s): TCP stall %v, UDP stall %v (%d lost), new connection seen as %s",
				i+1, r.Client, r.From, r.To, r.Kind, plat[r.Client].Spec.Name, r.TCPStall.Round(time.Millisecond),
				r.UDPStall.Round(time.Millisecond), r.UDPLost, r.NewConn)
			if errs[j] != nil {
				failed = true
				t.Errorf("round %d, %s: %v", i+1, r.Client, errs[j])
				continue
			}
			checkHop(t, r, plat[r.Client])
		}
		if failed {
			break
		}
	}
	printf(t, "WAVE stalls:\n%s", StallTable(res))
	for _, name := range names {
		if err := flows[name].Stop(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if failed {
		t.FailNow()
	}
	releaseAndCheckLeftovers(t, ctx, m, "WAVE", names...)
}
