//go:build e2e

package platd_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// TestE2EPLATUpAndClean starts xlat-plat in a namespace twice in a row
// (idempotent set-up over leftovers of a killed run) and checks that SIGTERM
// removes its chains, jumps, routes, management address and device. The
// first run is killed as procd or a crash does it: SIGKILL to xlat-plat
// alone, so that a TAYGA child lives on; before the second run the test
// adds leftovers an older run with another configuration would leave (a
// route on the device, another /96's release route, a jump from an old
// device name). The second run must remove them, run exactly one TAYGA
// (its own child) and leave none after SIGTERM.
func TestE2EPLATUpAndClean(t *testing.T) {
	meshlab.Need(t)
	bin := filepath.Join(t.TempDir(), "gluon-464xlat")
	if err := meshlab.BuildBinary(bin); err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"auto", "tayga"} {
		t.Run(backend, func(t *testing.T) {
			if _, err := exec.LookPath("tayga"); backend == "tayga" && err != nil {
				t.Skip("tayga not installed")
			}
			// TAYGA refuses a map address inside its prefix: use the 2018
			// package's NAT66 default, outside the /96.
			nat66 := "fddd:1337:2:200:5e00:530c:c000:8"
			if backend == "tayga" {
				nat66 = "fddd:c:1a4c:1a4c:1a4c:1a4c:c000:8"
			}
			upAndClean(t, bin, backend, nat66)
		})
	}
}

func upAndClean(t *testing.T, bin, backend, nat66 string) {
	lab, err := meshlab.New("platd")
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	ns, err := lab.AddNS("p")
	if err != nil {
		t.Fatal(err)
	}
	wan, err := lab.AddNS("w")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Veth(ns, "br-wan", wan, "up0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := t.TempDir()
	// A TAYGA orphaned by the kill -9 below is nobody's child: if the test
	// fails before the second start takes it over, stop it here.
	t.Cleanup(func() {
		for _, pid := range meshlab.TaygaPIDs(root) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	args := []string{bin, "xlat-plat", "run", "--root", root, "--prefix", "fddd:1337:2:200:5e00:530c::/96", "--clat-range", "fddd:1337:1337::/48", "--wan", "br-wan", "--backend", backend, "--nat66", nat66}
	state := func() string {
		var b strings.Builder
		for _, c := range [][]string{
			{"iptables-save"}, {"ip6tables-save"}, {"ip", "-6", "route"}, {"ip", "route"},
			{"ip", "-6", "addr", "show", "dev", "lo"}, {"ip", "link", "show"},
		} {
			out, _ := ns.Run(ctx, c...)
			b.WriteString(out)
		}
		return b.String()
	}
	running := []string{"XLAT-PLAT-NAT66", "XLAT-PLAT-MASQ", "XLAT-PLAT-FWD", "XLAT-PLAT-IN",
		"-A POSTROUTING -o plat -j XLAT-PLAT-NAT66", "SNAT --to-source " + nat66,
		"-A XLAT-PLAT-FWD -d 192.168.0.0/16 -i plat -j DROP", "-A XLAT-PLAT-MASQ -s 192.0.0.8/32 -j MASQUERADE",
		"fddd:1337:2:200:5e00:530c::/96 dev plat proto static", "192.0.0.8 dev plat proto static",
		"fddd:1337:2:200:5e00:530c:c000:1/128"}
	leftovers := [][]string{
		{"ip", "-6", "route", "add", "fd00:dead::/96", "dev", "plat", "proto", "static"},
		{"ip", "-6", "route", "add", "unreachable", "fddd:1337:2:200:5e00:dead::/96", "proto", "160"},
		{"ip6tables", "-t", "nat", "-I", "POSTROUTING", "-o", "oldplat", "-j", "XLAT-PLAT-NAT66"},
	}
	for round := 1; round <= 2; round++ {
		p, err := ns.Start("xlat-plat", args...)
		if err != nil {
			t.Fatal(err)
		}
		if err := meshlab.WaitFor(ctx, "xlat-plat up", 100*time.Millisecond, func() (bool, error) {
			if p.Exited() {
				t.Fatalf("xlat-plat exited: %s", p.Log())
			}
			out, err := ns.Run(ctx, bin, "xlat-plat", "status", "--root", root, "--prefix", "fddd:1337:2:200:5e00:530c::/96")
			return err == nil && strings.Contains(out, "running"), err
		}); err != nil {
			t.Fatal(err)
		}
		s := state()
		for _, want := range running {
			if !strings.Contains(s, want) {
				t.Errorf("round %d: %q missing while running", round, want)
			}
		}
		if n := strings.Count(s, "-A POSTROUTING -o plat -j XLAT-PLAT-NAT66"); n != 1 {
			t.Errorf("round %d: NAT66 jump %d times, want once", round, n)
		}
		if round == 1 {
			// Killed without cleanup: the second start must cope with the leftovers.
			if err := p.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if err := meshlab.WaitFor(ctx, "xlat-plat killed", 10*time.Millisecond, func() (bool, error) { return p.Exited(), nil }); err != nil {
				t.Fatal(err)
			}
			if backend == "tayga" && len(meshlab.TaygaPIDs(root)) != 1 {
				t.Fatalf("after kill -9 of xlat-plat: %d TAYGA processes, want its orphan", len(meshlab.TaygaPIDs(root)))
			}
			for _, c := range leftovers {
				if c[len(c)-3] == "plat" && backend != "tayga" {
					continue // the userspace device went with the process
				}
				if _, err := ns.Run(ctx, c...); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		for _, gone := range []string{"fd00:dead::/96", "fddd:1337:2:200:5e00:dead::/96", "-o oldplat -j XLAT-PLAT-NAT66"} {
			if strings.Contains(s, gone) {
				t.Errorf("leftover %q still there after the second start", gone)
			}
		}
		if backend == "tayga" {
			pids := meshlab.TaygaPIDs(root)
			if len(pids) != 1 || meshlab.ParentPID(pids[0]) != p.PID() {
				t.Errorf("TAYGA processes %v, want one, a child of xlat-plat %d", pids, p.PID())
			}
		}
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
		s = state()
		for _, gone := range running {
			if strings.Contains(s, gone) {
				t.Errorf("%q left after SIGTERM", gone)
			}
		}
		if strings.Contains(s, ": plat:") {
			t.Errorf("device plat left after SIGTERM")
		}
		if pids := meshlab.TaygaPIDs(root); len(pids) != 0 {
			t.Errorf("TAYGA processes %v left after SIGTERM", pids)
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}
