//go:build e2e

package meshlab

import (
	"context"
	"testing"
	"time"
)

// TestE2ERoamMixedOrigins is issue 11 item 6: two clients leased under
// different CLATs and PLATs — cl on D (PLAT C), cl2 on B (PLAT E;
// splitPLATSpec) — roam, each with a TCP stream and a 10 ms UDP flow, to
// the same node (A), to each other's lease node (cl to B, cl2 to D), both
// onto B (cl2's home, cl still there) and home. Every stream must survive
// with its data intact and every stall stay <= 2 s (printed per client and
// hop); after both leases end no node holds anything of them.
func TestE2ERoamMixedOrigins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	m := startSplitLab(t, ctx, ClientSpec{Name: "cl2", Node: "b", MAC: "02:c1:1e:00:00:02"})
	c, e := m.Nodes["c"], m.Nodes["e"]
	plat := map[string]*Node{"cl": c, "cl2": e}
	flows := startFlowsThrough(t, ctx, m, plat, "cl", "cl2")
	steps := []WalkStep{
		{"cl", "a"}, {"cl2", "a"}, // both on A, whose CLAT uses E
		{"cl", "b"}, {"cl2", "d"}, // each on the other's lease node
		{"cl2", "b"}, // cl2 home, cl still there
		{"cl", "d"},  // cl home
	}
	var res []RoamResult
	var failed error
	for i, s := range steps {
		cl := m.Clients[s.Client]
		other := "cl2" // the other client's flows go on meanwhile
		if s.Client == "cl2" {
			other = "cl"
		}
		omk := flows[other].Mark()
		r, err := m.Hop(ctx, cl, flows[s.Client], s.To, time.Second)
		res = append(res, r)
		now := time.Now()
		printf(t, "MIXED %d %s %s -> %s (%s, PLAT %s): TCP stall %v, UDP stall %v (%d lost), new connection seen as %s; %s meanwhile: TCP gap %v, UDP gap %v",
			i+1, s.Client, r.From, r.To, r.Kind, plat[s.Client].Spec.Name, r.TCPStall.Round(time.Millisecond),
			r.UDPStall.Round(time.Millisecond), r.UDPLost, r.NewConn, other,
			flows[other].TCP.MaxGap(omk.t0, now).Round(time.Millisecond), flows[other].UDP.MaxGap(omk.t0, now).Round(time.Millisecond))
		if err != nil {
			failed = err
			t.Errorf("%s: %v", s.Client, err)
			break
		}
		checkHop(t, r, plat[s.Client])
	}
	printf(t, "MIXED stalls:\n%s", StallTable(res))
	for name, f := range flows {
		if err := f.Stop(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if failed != nil {
		t.FailNow()
	}
	releaseAndCheckLeftovers(t, ctx, m, "MIXED", "cl", "cl2")
}
