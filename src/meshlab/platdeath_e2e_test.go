//go:build e2e

package meshlab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2EPLATTranslatorDies kills C's translator (TAYGA, a child of
// xlat-plat) while xlat-plat lives on: C must withdraw its /96 at once so
// that the client's CLAT fails over to E within 2 s, and announce again once
// it has restarted the translator.
func TestE2EPLATTranslatorDies(t *testing.T) {
	needRoot(t)
	Need(t, "tayga")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	spec := SeedSpec("lab", buildBins(t))
	// TAYGA refuses prefixes in 64:ff9b::/16 (the default lab's plat_range)
	// and needs the NAT66 address outside the /96 (the 2018 default).
	spec.Site.PLATRange = netip.MustParsePrefix("fddd:464:1::/48")
	spec.PLATArgs = map[string][]string{"c": {"--backend", "tayga", "--nat66", "fddd:c:1a4c:1a4c:1a4c:1a4c:c000:8"}}
	m := startMesh(t, ctx, spec)
	c, e := m.Nodes["c"], m.Nodes["e"]
	cl := m.Clients["cl"]
	// The client uses C's PLAT (TAYGA) before the failure.
	err := WaitFor(ctx, "a connection through C's TAYGA", 200*time.Millisecond, func() (bool, error) {
		seen, err := TCPHello(ctx, cl.NS, ServerAddr.String(), time.Second)
		return err == nil && HostOf(seen) == c.WANAddr.String(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	plat := c.Procs["xlat-plat"]
	tayga, err := childNamed(plat.PID(), "tayga")
	if err != nil {
		t.Fatal(err)
	}
	// The CLAT's probes bound the failover even when it misses the route
	// loss (probe_interval x probe_failures, + 2 s slack).
	fctx, fcancel := context.WithTimeout(ctx, 20*time.Second)
	defer fcancel()
	fo, err := m.MeasureFailoverAfter(fctx, "cl", c, e, func(context.Context) error {
		return syscall.Kill(tayga, syscall.SIGKILL)
	})
	if err != nil {
		t.Fatal(err)
	}
	verdict := "goal met"
	if fo.FirstConn > 2*time.Second {
		verdict = "GOAL MISSED"
	}
	fmt.Printf("PLAT TRANSLATOR DEATH %s -> %s: first new connection through %s %v after TAYGA was killed (goal <= 2s: %s)\n",
		fo.From, fo.To, fo.To, fo.FirstConn.Round(time.Millisecond), verdict)
	if bound := 3*2*time.Second + 2*time.Second; fo.FirstConn > bound {
		t.Errorf("first new connection %v after the translator died: more than the probe bound %v", fo.FirstConn, bound)
	}
	if plat.Exited() {
		t.Fatalf("xlat-plat on C exited with its translator")
	}
	// C restarts TAYGA after its hold-down and announces its /96 again.
	t0 := time.Now()
	rctx, rcancel := context.WithTimeout(ctx, 25*time.Second)
	defer rcancel()
	if err := WaitFor(rctx, "C's TAYGA restarted and its /96 routed to it", 100*time.Millisecond, func() (bool, error) {
		if _, err := childNamed(plat.PID(), "tayga"); err != nil {
			return false, nil
		}
		out, err := c.NS.Run(rctx, "ip", "-6", "route", "show", c.PLATPrefix.String())
		return err == nil && strings.Contains(string(out), "dev plat"), nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("C announced its /96 again %v after the failover (restart hold-down included)", time.Since(t0).Round(time.Millisecond))
}

// childNamed returns the PID of pid's child process whose command is name.
func childNamed(pid int, name string) (int, error) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			c, err := strconv.Atoi(s)
			if err != nil {
				continue
			}
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c))
			if err == nil && strings.TrimSpace(string(comm)) == name {
				return c, nil
			}
		}
	}
	return 0, fmt.Errorf("process %d has no child %q", pid, name)
}
