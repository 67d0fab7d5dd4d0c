//go:build e2e

package meshlab

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// splitPLATSpec is the seed mesh with roaming where the nodes split
// between the two PLATs: the link B-E costs 64, so D uses C (96; E is
// 256 away), while A (E 160, C 192) and B (E 64, C 96) use E. A client
// leased on D that roams to A or B keeps its flows going to C through the
// per-PLAT rewrite of the node it is on (files/docs/roaming.md).
func splitPLATSpec(bin string) Spec {
	spec := SeedSpec("lab", bin)
	spec.Roaming = true
	for i, l := range spec.Links {
		if l.A == "b" && l.B == "e" {
			spec.Links[i].Cost = 64
		}
	}
	return spec
}

// clatPLAT is the PLAT node n's CLAT uses now.
func clatPLAT(ctx context.Context, m *Mesh, n *Node) (string, error) {
	out, err := n.NS.Run(ctx, m.Cmd("xlat-clat", "status", "--json", "--root", n.Root)...)
	if err != nil {
		return "", err
	}
	var st struct {
		PLAT string `json:"plat"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return "", fmt.Errorf("xlat-clat status on %s: %w", n.Spec.Name, err)
	}
	return st.PLAT, nil
}

// waitCLATPLATs waits until each named node's CLAT uses the given PLAT.
func waitCLATPLATs(t *testing.T, ctx context.Context, m *Mesh, want map[string]*Node) {
	t.Helper()
	for name, plat := range want {
		n := m.Nodes[name]
		var got string
		err := m.Wait(ctx, "CLAT of "+name+" on PLAT "+plat.Spec.Name, 100*time.Millisecond, func() (bool, error) {
			var err error
			got, err = clatPLAT(ctx, m, n)
			return err == nil && got == plat.PLATPrefix.String(), nil
		})
		if err != nil {
			t.Fatalf("%v (uses %q)", err, got)
		}
	}
}

// printf prints a result line to the test's output and log.
func printf(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	fmt.Println(line)
	t.Log(line)
}

// startSplitLab starts the splitPLATSpec lab with extra clients and waits
// until D's CLAT uses C and A's and B's use E.
func startSplitLab(t *testing.T, ctx context.Context, extra ...ClientSpec) *Mesh {
	t.Helper()
	needRoot(t)
	bin := buildBins(t)
	if !RoamingImplemented(bin) {
		t.Skip("l3roamd-xlat run is not implemented yet")
	}
	spec := splitPLATSpec(bin)
	spec.Clients = append(spec.Clients, extra...)
	m := startMesh(t, ctx, spec)
	c, e := m.Nodes["c"], m.Nodes["e"]
	waitCLATPLATs(t, ctx, m, map[string]*Node{"d": c, "a": e, "b": e})
	return m
}

// waitTCPThrough waits until a new connection of client cl goes out
// through platnode plat (the host sees its WAN address).
func waitTCPThrough(t *testing.T, ctx context.Context, m *Mesh, cl *Client, plat *Node) {
	t.Helper()
	want := plat.WANAddr.String()
	if err := m.Wait(ctx, "TCP from "+cl.Spec.Name+" through "+plat.Spec.Name, 200*time.Millisecond, func() (bool, error) {
		seen, err := TCPHello(ctx, cl.NS, ServerAddr.String(), time.Second)
		return err == nil && HostOf(seen) == want, err
	}); err != nil {
		t.Fatal(err)
	}
}

// checkHop fails the test if the hop's stall exceeded 2 s or a new
// connection after it did not go out through the client's PLAT plat.
func checkHop(t *testing.T, r RoamResult, plat *Node) {
	t.Helper()
	if want := plat.WANAddr.String(); HostOf(r.NewConn) != want {
		t.Errorf("%s at %s: a new connection went out as %s, not through its PLAT %s (%s)", r.Client, r.To, r.NewConn, plat.Spec.Name, want)
	}
	if r.TCPStall > 2*time.Second || r.UDPStall > 2*time.Second {
		t.Errorf("%s %s -> %s: stall TCP %v / UDP %v, want <= 2 s", r.Client, r.From, r.To, r.TCPStall, r.UDPStall)
	}
}

// releaseAndCheckLeftovers gives the clients' leases back and waits until
// no node holds roaming state of them (counts printed per node as
// "<tag> LEFTOVERS").
func releaseAndCheckLeftovers(t *testing.T, ctx context.Context, m *Mesh, tag string, clients ...string) {
	t.Helper()
	for _, name := range clients {
		if err := m.Clients[name].Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := m.WaitNoLeftovers(ctx)
	for _, n := range m.NodeList() {
		if !n.Down { // a powered-off node holds nothing that counts
			printf(t, "%s LEFTOVERS %s after the leases ended: %v", tag, n.Spec.Name, counts[n.Spec.Name])
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// startFlowsThrough waits until each client has its lease and a new
// connection of it goes out through its PLAT (plat), then starts its
// flows (stopped when the test ends).
func startFlowsThrough(t *testing.T, ctx context.Context, m *Mesh, plat map[string]*Node, clients ...string) map[string]*Flows {
	t.Helper()
	flows := map[string]*Flows{}
	for _, name := range clients {
		cl := m.Clients[name]
		if _, err := cl.WaitLease(ctx); err != nil {
			t.Fatal(err)
		}
		waitTCPThrough(t, ctx, m, cl, plat[name])
		f, err := cl.StartFlows()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Stop() })
		flows[name] = f
	}
	return flows
}
