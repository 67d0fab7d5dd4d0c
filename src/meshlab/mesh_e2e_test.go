//go:build e2e

package meshlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// buildBins builds the multi-call binary with its command links once per
// test binary.
func buildBins(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "meshlab-bin-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		if binErr = BuildBinary(filepath.Join(dir, "gluon-464xlat")); binErr != nil {
			return
		}
		for _, l := range []string{"xlat-clat", "xlat-plat", "l3roamd-xlat"} {
			if err := os.Symlink("gluon-464xlat", filepath.Join(dir, l)); err != nil {
				binErr = err
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

func needRoot(t *testing.T) {
	t.Helper()
	Need(t, "babeld", "dnsmasq", "busybox", "iptables", "ip6tables")
}

// startSeedMesh starts the seed topology and waits for babel and the
// client's lease.
func startSeedMesh(t *testing.T, ctx context.Context) *Mesh {
	t.Helper()
	return startMesh(t, ctx, SeedSpec("lab", buildBins(t)))
}

// startMesh starts the lab of spec, removes it at the end of the test (logs
// kept on failure) and waits for babel.
func startMesh(t *testing.T, ctx context.Context, spec Spec) *Mesh {
	t.Helper()
	spec.Logf = t.Logf
	t0 := time.Now()
	m, err := Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			m.Lab.KeepDir()
			t.Logf("lab logs kept in %s", m.Lab.Dir())
		}
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := m.Up(ctx); err != nil {
		t.Fatal(err, m.CheckRunning())
	}
	t.Logf("babel converged after %v", time.Since(t0).Round(time.Millisecond))
	return m
}

// TestE2EMesh runs the end-to-end checks on one seed mesh, in an
// order where the destructive failover comes last.
func TestE2EMesh(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	m := startSeedMesh(t, ctx)
	c, d, e := m.Nodes["c"], m.Nodes["d"], m.Nodes["e"]
	cl := m.Clients["cl"]
	server := ServerAddr.String()

	// A node's own IPv6 traffic through the PLAT (an open relay) and the
	// PLAT's private and special-purpose destinations: TestE2EExposure.

	var addr4 netip.Addr
	t.Run("ClientLease", func(t *testing.T) {
		var err error
		if addr4, err = cl.WaitLease(ctx); err != nil {
			t.Fatal(err)
		}
		lo, hi := m.dhcpRange(d)
		if addr4.Less(lo) || hi.Less(addr4) {
			t.Fatalf("lease %s outside D's range %s-%s", addr4, lo, hi)
		}
		t.Logf("client leased %s from D", addr4)
	})
	t.Run("ClientPing", func(t *testing.T) {
		err := m.Wait(ctx, "client ping through CLAT and PLAT", 200*time.Millisecond, func() (bool, error) {
			_, err := cl.NS.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", server)
			return err == nil, err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ClientTCP", func(t *testing.T) {
		var seen string
		err := m.Wait(ctx, "client TCP", 200*time.Millisecond, func() (bool, error) {
			var err error
			seen, err = TCPHello(ctx, cl.NS, server, time.Second)
			return err == nil, err
		})
		if err != nil {
			t.Fatal(err)
		}
		if HostOf(seen) != c.WANAddr.String() {
			t.Fatalf("server saw %s, want C's WAN address %s", seen, c.WANAddr)
		}
		// A stream with verified data.
		f, err := StartTCPFlow(cl.NS, server, 5*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if err := WaitFor(ctx, "100 echoed TCP records", 20*time.Millisecond, func() (bool, error) {
			_, n, err := f.Stats()
			return n >= 100, err
		}); err != nil {
			t.Fatal(err)
		}
		if err := f.Stop(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ClientUDP", func(t *testing.T) {
		seen, err := UDPWhoami(ctx, cl.NS, server, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if HostOf(seen) != c.WANAddr.String() {
			t.Fatalf("server saw %s, want C's WAN address %s", seen, c.WANAddr)
		}
	})
	t.Run("ClientHTTP", func(t *testing.T) {
		out, err := cl.NS.Run(ctx, "curl", "-sS", "--max-time", "5", "http://"+server+"/")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "you are "+c.WANAddr.String()+":") {
			t.Fatalf("HTTP answer %q does not show C's WAN address", out)
		}
	})
	t.Run("ClientCannotReachPLATOwnersLAN", func(t *testing.T) {
		before := platBlockedDrops(ctx, t, m, c)
		if seen, err := TCPHello(ctx, cl.NS, LANHostAddr.String(), 2*time.Second); err == nil {
			t.Fatalf("client reached %s on C's WAN side (server saw %s)", LANHostAddr, seen)
		}
		if _, err := cl.NS.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", LANHostAddr.String()); err == nil {
			t.Fatalf("client pinged %s on C's WAN side", LANHostAddr)
		}
		if after := platBlockedDrops(ctx, t, m, c); after <= before {
			t.Errorf("xlat-plat status: blocked_drops %d -> %d, want it counted", before, after)
		}
	})
	t.Run("Failover", func(t *testing.T) {
		if t.Failed() {
			return
		}
		fo, err := m.MeasureFailover(ctx, "cl", c, e)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("failover: %s", fo)
		fmt.Printf("FAILOVER %s -> %s: withdrawal %v after failure; first new connection %v after failure, %v after withdrawal (goal <= 2s)\n",
			fo.From, fo.To, fo.Withdrawn.Round(time.Millisecond), fo.FirstConn.Round(time.Millisecond), fo.AfterWithdraw.Round(time.Millisecond))
		// The goal (<= 2 s after the withdrawal) is reported; the test fails
		// only beyond what the CLAT's probes guarantee even when it misses
		// the route loss (probe_interval x probe_failures, + 2 s slack).
		verdict := "goal met"
		if fo.AfterWithdraw > 2*time.Second {
			verdict = "GOAL MISSED"
		}
		t.Logf("failover goal (<= 2s after withdrawal): %s", verdict)
		if bound := 3*2*time.Second + 2*time.Second; fo.FirstConn > bound {
			t.Errorf("first new connection %v after the failure: more than the probe bound %v", fo.FirstConn, bound)
		}
	})
}

// platBlockedDrops asks xlat-plat on n for its blocked-destination drops.
func platBlockedDrops(ctx context.Context, t *testing.T, m *Mesh, n *Node) uint64 {
	t.Helper()
	out, err := n.NS.Run(ctx, m.Cmd("xlat-plat", "status", "--root", n.Root, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		BlockedDrops uint64 `json:"blocked_drops"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("xlat-plat status --json: %v: %s", err, out)
	}
	return st.BlockedDrops
}
