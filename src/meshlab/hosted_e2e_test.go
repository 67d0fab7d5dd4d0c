//go:build e2e

package meshlab

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

// TestE2EHostedRoles runs the seed mesh with every node's roles hosted by
// one `gluon-464xlat host` process (files/docs/memory.md): the client
// reaches the internet host through D's CLAT and a PLAT; restarting one role
// (reload) or a role that keeps failing leaves the other roles of that
// process running and untouched (restarts=0). The host's memory is logged;
// the goal is measured on the release build by `make bench` (xlat-lab rss).
func TestE2EHostedRoles(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	spec := SeedSpec("hst", buildBins(t))
	spec.Roaming, spec.Hosted = true, true
	m := startMesh(t, ctx, spec)
	cl := m.Clients["cl"]
	if _, err := cl.WaitLease(ctx); err != nil {
		t.Fatal(err)
	}
	hello := func(what string) {
		t.Helper()
		if err := m.Wait(ctx, what, 200*time.Millisecond, func() (bool, error) {
			_, err := TCPHello(ctx, cl.NS, ServerAddr.String(), 2*time.Second)
			return err == nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	hello("TCP from the client through hosted CLAT and PLAT")

	c := m.Nodes["c"]
	sock := filepath.Join(c.Root, hostSocket)
	call := func(line string) string {
		t.Helper()
		out, err := ctlsock.Call(ctx, sock, line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return string(out)
	}
	st := call("status")
	for _, role := range []string{"xlat-clat", "xlat-plat", "l3roamd-xlat"} {
		if !strings.Contains(st, role+" running restarts=0") {
			t.Fatalf("c's host status misses %s running:\n%s", role, st)
		}
	}
	mem, err := ReadMem(c.Procs[HostProc].PID())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("c's host with three roles (test build): RSS %.1f MiB, PSS %.1f MiB, anon %.1f MiB", float64(mem.RSS)/1024, float64(mem.PSS)/1024, float64(mem.Anon)/1024)

	// reload of one role: the others keep running, never restarted
	call("restart xlat-plat")
	hello("TCP after c's xlat-plat restarted")
	// a role that keeps failing (bad argument) on node a: restarted and
	// counted, the node's other roles untouched
	a := filepath.Join(m.Nodes["a"].Root, hostSocket)
	if _, err := ctlsock.Call(ctx, a, "start xlat-plat run --no-such-flag"); err != nil {
		t.Fatal(err)
	}
	failing := regexp.MustCompile(`xlat-plat \w+ restarts=[1-9]`)
	if err := m.Wait(ctx, "a's failing role restarted", 100*time.Millisecond, func() (bool, error) {
		out, err := ctlsock.Call(ctx, a, "status")
		return err == nil && failing.Match(out), err
	}); err != nil {
		t.Fatal(err)
	}
	out, err := ctlsock.Call(ctx, a, "status")
	if err != nil || !strings.Contains(string(out), "xlat-clat running restarts=0") ||
		!strings.Contains(string(out), "l3roamd-xlat running restarts=0") {
		t.Fatalf("a's other roles after a failing role: %v\n%s", err, out)
	}
	if _, err := ctlsock.Call(ctx, a, "stop xlat-plat"); err != nil {
		t.Fatal(err)
	}
	st = call("status")
	for _, role := range []string{"xlat-clat", "l3roamd-xlat"} {
		if !strings.Contains(st, role+" running restarts=0") {
			t.Errorf("c's %s touched by the xlat-plat restart:\n%s", role, st)
		}
	}
	hello("TCP at the end")
}
