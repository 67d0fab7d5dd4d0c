//go:build e2e

package meshlab

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestE2EPLATKillRoam is the xlat-plat case of "kill -9 of each daemon
// then a roam keeps the stream" (TestE2ERoamRestarts has the others): the
// client leases on D with PLAT C (TAYGA backend), roams to A with its TCP
// stream and UDP flow running, then C's xlat-plat gets SIGKILL as procd or
// a crash delivers it (to the daemon alone: TAYGA lives on as an orphan)
// and is started again; the flows must settle, and a roam on to B must
// keep them. The restarted daemon stops the orphan and takes over its
// persistent device, so the /96 route never goes and babel never notices;
// D's CLAT must not have switched.
//
// With the userspace translator (the lab's default) the device goes with
// the process, and so does the /96: files/docs/roaming.md, Limits.
func TestE2EPLATKillRoam(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	bin := buildBins(t)
	if !RoamingImplemented(bin) {
		t.Skip("l3roamd-xlat run is not implemented yet")
	}
	spec := taygaSpec(t, bin)
	spec.Roaming = true
	m := startMesh(t, ctx, spec)
	cl := m.Clients["cl"]
	if _, err := cl.WaitLease(ctx); err != nil {
		t.Fatal(err)
	}
	c, d := m.Nodes["c"], m.Nodes["d"]
	if err := m.Wait(ctx, "TCP through C's TAYGA", 200*time.Millisecond, func() (bool, error) {
		seen, err := TCPHello(ctx, cl.NS, ServerAddr.String(), time.Second)
		return err == nil && HostOf(seen) == c.WANAddr.String(), nil
	}); err != nil {
		t.Fatal(err)
	}
	f, err := cl.StartFlows()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	mustHop(t, ctx, m, cl, f, "a")
	switches := func() int {
		t.Helper()
		var st CLATState
		out, err := d.NS.Run(ctx, m.Cmd("xlat-clat", "status", "--json", "--root", d.Root)...)
		if err == nil {
			err = json.Unmarshal([]byte(out), &st)
		}
		if err != nil {
			t.Fatalf("xlat-clat status on d: %v", err)
		}
		return st.Switches
	}
	before := switches()

	plat := c.Procs["xlat-plat"]
	old := plat.PID()
	// kill -9 ends the daemon, not its TAYGA; whatever the restart leaves
	// of the old process group goes at the end
	t.Cleanup(func() { _ = syscall.Kill(-old, syscall.SIGKILL) })
	mk := f.Mark()
	if err := plat.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(ctx, "xlat-plat on c killed", 10*time.Millisecond, func() (bool, error) { return plat.Exited(), nil }); err != nil {
		t.Fatal(err)
	}
	if err := m.startDaemon(c, "xlat-plat"); err != nil {
		t.Fatal(err)
	}
	g, err := f.Settle(ctx, mk, 2*time.Second, "kill -9 of c's xlat-plat")
	report(t, fmt.Sprintf("RESTART SIGKILL + respawn of c's xlat-plat (TAYGA): TCP stall %v, UDP stall %v (%d lost)",
		g.TCP.Round(time.Millisecond), g.UDP.Round(time.Millisecond), g.UDPLost), err)
	if pids := TaygaPIDs(c.Root); len(pids) != 1 || ParentPID(pids[0]) != c.Procs["xlat-plat"].PID() {
		t.Errorf("TAYGA processes on c %v, want one, the restarted xlat-plat's child", pids)
	}
	if after := switches(); after != before {
		t.Errorf("D's CLAT switched PLAT %d times around the restart", after-before)
	}
	mustHop(t, ctx, m, cl, f, "b")
}

// report prints line (for the figures) and logs it, then fails on err.
func report(t *testing.T, line string, err error) {
	t.Helper()
	fmt.Println(line)
	t.Log(line)
	if err != nil {
		t.Fatal(err)
	}
}
