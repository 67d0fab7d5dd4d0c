//go:build e2e

package meshlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// TestE2EPLATTranslatorDies kills C's translator (TAYGA, a child of
// xlat-plat) while xlat-plat lives on: C must release its /96 at once (the
// release route, announced at metric 16384) so that the client's CLAT on D
// fails over to E, with the first new connection through E within 2 s;
// then C restarts the translator and announces its /96 again.
//
// babeld 1.12.1 retracts a vanished redistributed route only when it was
// the last entry of its xroute table (check_xroutes, files/docs/roaming.md
// "Release routes"); before the death the test therefore adds a route that
// C redistributes after its /96 (as a client's /128 arriving at C does), so
// that the withdrawal of a plain route delete is lost every time, not by
// chance.
func TestE2EPLATTranslatorDies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	m := startMesh(t, ctx, taygaSpec(t, buildBins(t)))
	c, d, e := m.Nodes["c"], m.Nodes["d"], m.Nodes["e"]
	cl := m.Clients["cl"]
	// The client uses C's PLAT (TAYGA) before the failure.
	err := WaitFor(ctx, "a connection through C's TAYGA", 200*time.Millisecond, func() (bool, error) {
		seen, err := TCPHello(ctx, cl.NS, ServerAddr.String(), time.Second)
		return err == nil && HostOf(seen) == c.WANAddr.String(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A route C redistributes after its /96, seen at D.
	a16 := m.Spec.Site.NodeClientPrefix6.Addr().As16()
	a16[15] = 0xcc
	later := netip.PrefixFrom(netip.AddrFrom16(a16), 128)
	if _, err := c.NS.Run(ctx, "ip", "-6", "route", "add", later.String(), "dev", "lo", "proto", "static"); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(ctx, "D learns C's route "+later.String(), 100*time.Millisecond, func() (bool, error) {
		return d.HasRoute(ctx, later), nil
	}); err != nil {
		t.Fatal(err)
	}
	plat := c.Procs["xlat-plat"]
	tayga, err := childNamed(plat.PID(), "tayga")
	if err != nil {
		t.Fatal(err)
	}
	// Watch D's babel route to C's /96 from the kill on: gone or at the
	// release metric is the withdrawal.
	var (
		t0       time.Time
		withdraw = make(chan time.Time, 1)
	)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	kill := func(context.Context) error {
		t0 = time.Now()
		if err := syscall.Kill(tayga, syscall.SIGKILL); err != nil {
			return err
		}
		go func() {
			for wctx.Err() == nil {
				r, err := d.BabelRoutes(wctx)
				if metric, ok := r[c.PLATPrefix]; err == nil && (!ok || metric >= wellknown.ReleaseMetric) {
					withdraw <- time.Now()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		return nil
	}
	// The CLAT's probes bound the failover even when it misses the route
	// loss (probe_interval x probe_failures, + 2 s slack).
	fctx, fcancel := context.WithTimeout(ctx, 20*time.Second)
	defer fcancel()
	fo, err := m.MeasureFailoverAfter(fctx, "cl", c, e, kill)
	if err != nil {
		t.Fatal(err)
	}
	var seen time.Duration
	select {
	case w := <-withdraw:
		seen = w.Sub(t0)
	case <-time.After(3 * time.Second):
		t.Errorf("D still routes C's /96 below the release metric after the failover")
	}
	stopWatch()
	var st CLATState
	out, err := d.NS.Run(ctx, m.Cmd("xlat-clat", "status", "--json", "--root", d.Root)...)
	if err == nil {
		err = json.Unmarshal([]byte(out), &st)
	}
	if err != nil {
		t.Fatalf("xlat-clat status on d: %v: %.200s", err, out)
	}
	if st.LastSwitch == nil || st.LastSwitch.To != e.PLATPrefix.String() || st.LastSwitch.At.Before(t0) {
		t.Fatalf("D's CLAT did not switch to E's PLAT %s after the death: %+v", e.PLATPrefix, st.LastSwitch)
	}
	switched := st.LastSwitch.At.Sub(t0)
	verdict := "goal met"
	if fo.FirstConn > 2*time.Second {
		verdict = "GOAL MISSED"
	}
	line := fmt.Sprintf("PLAT TRANSLATOR DEATH %s -> %s: withdrawal seen at d %v, d's CLAT switched %v (%s), first new connection through %s %v after TAYGA was killed (goal <= 2s: %s)",
		fo.From, fo.To, seen.Round(time.Millisecond), switched.Round(time.Millisecond), st.LastSwitch.Reason,
		fo.To, fo.FirstConn.Round(time.Millisecond), verdict)
	fmt.Println(line)
	t.Log(line)
	if fo.FirstConn > 2*time.Second {
		t.Errorf("first new connection %v after the translator died: goal 2 s", fo.FirstConn)
	}
	if st.LastSwitch.Reason != "route-lost" {
		t.Errorf("D's CLAT left C for %q, want route-lost (a released PLAT is no candidate)", st.LastSwitch.Reason)
	}
	if plat.Exited() {
		t.Fatalf("xlat-plat on C exited with its translator")
	}
	// C restarts TAYGA after its hold-down and announces its /96 again:
	// D has it below the release metric.
	t1 := time.Now()
	rctx, rcancel := context.WithTimeout(ctx, 25*time.Second)
	defer rcancel()
	if err := WaitFor(rctx, "C's TAYGA restarted and its /96 announced again", 100*time.Millisecond, func() (bool, error) {
		if _, err := childNamed(plat.PID(), "tayga"); err != nil {
			return false, nil
		}
		out, err := c.NS.Run(rctx, "ip", "-6", "route", "show", c.PLATPrefix.String())
		if err != nil || !strings.Contains(string(out), "dev plat") {
			return false, nil
		}
		r, err := d.BabelRoutes(rctx)
		metric, ok := r[c.PLATPrefix]
		return err == nil && ok && metric < wellknown.ReleaseMetric, nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("C announced its /96 again %v after the failover (restart hold-down included)", time.Since(t1).Round(time.Millisecond))
}

// taygaSpec is the seed mesh with C's xlat-plat on TAYGA.
func taygaSpec(t *testing.T, bin string) Spec {
	needRoot(t)
	Need(t, "tayga")
	spec := SeedSpec("lab", bin)
	// TAYGA refuses prefixes in 64:ff9b::/16 (the default lab's plat_range)
	// and needs the NAT66 address outside the /96 (the 2018 default).
	spec.Site.PLATRange = netip.MustParsePrefix("fddd:464:1::/48")
	spec.PLATArgs = map[string][]string{"c": {"--backend", "tayga", "--nat66", "fddd:c:1a4c:1a4c:1a4c:1a4c:c000:8"}}
	return spec
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
