//go:build e2e

package babel_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/babel/babeldtest"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// TestE2EBabelRealDaemon follows real babeld in two namespaces: a /96 that
// the neighbour redistributes appears, its withdrawal is seen, and after
// babeld restarts the client resyncs from a fresh dump.
func TestE2EBabelRealDaemon(t *testing.T) {
	meshlab.Need(t)
	if err := babeldtest.Available(); err != nil {
		t.Skip("babeld not installed (files/scripts/deps.sh installs it):", err)
	}
	lab, err := meshlab.New("b4")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := lab.AddNS("ba")
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.AddNS("bb")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Veth(a, "b4ba", b, "b4bb"); err != nil {
		t.Fatal(err)
	}
	plat := netip.MustParsePrefix("fddd:b4:2:1::/96")
	if _, err := b.Runf(ctx, "ip -6 route add unreachable %s proto static", plat); err != nil {
		t.Fatal(err)
	}
	filters := []string{"redistribute ip fddd:b4::/32 ge 96 allow", "redistribute local deny", "redistribute deny"}
	da, err := babeldtest.Start(ctx, lab, a, "", []string{"b4ba"}, filters...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := babeldtest.Start(ctx, lab, b, "", []string{"b4bb"}, filters...); err != nil {
		t.Fatal(err)
	}

	c := &babel.Client{Address: da.Unix, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	ch := make(chan babel.Snapshot, 1)
	go c.Run(ctx, ch)
	wait := func(what string, cond func(babel.Snapshot) bool) babel.Snapshot {
		t.Helper()
		for {
			select {
			case s := <-ch:
				if cond(s) {
					return s
				}
			case <-ctx.Done():
				t.Fatalf("timeout waiting for %s", what)
			}
		}
	}
	has := func(s babel.Snapshot) bool {
		for _, r := range s.Routes {
			if r.Prefix == plat && r.Metric < babel.Infinity && r.Installed && r.RefMetric == 0 && r.Via.IsLinkLocalUnicast() && r.Interface == "b4ba" {
				return true
			}
		}
		return false
	}
	start := time.Now()
	s := wait("route to "+plat.String(), func(s babel.Snapshot) bool { return s.Connected && has(s) })
	t.Logf("route learned %.1f s after babeld start (version %s, %d neighbours)", time.Since(start).Seconds(), s.Version, len(s.Neighbours))
	if len(s.Neighbours) != 1 || len(s.Interfaces) != 1 || s.Neighbours[0].Cost != 96 {
		t.Errorf("neighbours %+v interfaces %+v", s.Neighbours, s.Interfaces)
	}

	// The neighbour fails (its end of the link goes down): the route is
	// retracted once its Hellos are missed. (Deleting the kernel route at the
	// neighbour instead takes babeld 1.12 up to its ~30 s kernel dump interval
	// to notice.)
	if _, err := b.Runf(ctx, "ip link set b4bb down"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	wait("withdrawal", func(s babel.Snapshot) bool { return s.Connected && !has(s) })
	t.Logf("withdrawal seen %.1f s after the neighbour's link went down", time.Since(start).Seconds())
	if _, err := b.Runf(ctx, "ip link set b4bb up"); err != nil {
		t.Fatal(err)
	}

	// babeld restarts: the client sees the loss and resyncs.
	if err := da.Proc.Stop(); err != nil {
		t.Fatal(err)
	}
	wait("disconnect", func(s babel.Snapshot) bool { return !s.Connected })
	if _, err := babeldtest.Start(ctx, lab, a, "", []string{"b4ba"}, filters...); err != nil {
		t.Fatal(err)
	}
	wait("resync after restart", func(s babel.Snapshot) bool { return s.Connected && has(s) })
	if st := c.Stats(); st.Reconnects < 1 || st.BadLines != 0 {
		t.Errorf("stats %+v", st)
	}
}
