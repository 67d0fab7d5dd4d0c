//go:build e2e

package meshlab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
)

// TestE2EGluonL3roamdSideBySide: Gluon's l3roamd and l3roamd-xlat on every
// node of the seed mesh do not fight over what they share (node-client /64
// on lo, route protocol 158, the clients' IPv4 routes, ports, sockets). A
// client roams D -> A -> B with a TCP stream and a UDP flow; then
// l3roamd-xlat on B restarts (SIGTERM, start) as procd does on reload.
//
// With L3ROAMD_BIN (a binary built from freifunk-gluon/l3roamd, which the
// test cannot fetch) the real l3roamd runs with Gluon's command line;
// otherwise L3roamdEmulation does l3roamd's kernel actions on the shared
// resources (files/docs/roaming.md, "Beside Gluon's l3roamd").
func TestE2EGluonL3roamdSideBySide(t *testing.T) {
	needRoot(t)
	bin := buildBins(t)
	l3bin := os.Getenv("L3ROAMD_BIN")
	mode := "emulated l3roamd (set L3ROAMD_BIN to run the real one)"
	if l3bin != "" {
		mode = "real l3roamd " + l3bin
	}
	t.Log(mode)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	spec := SeedSpec("lab", bin)
	spec.Roaming = true
	m := startMesh(t, ctx, spec)
	emu := NewL3roamdEmulation(m)
	var err error
	for _, n := range m.NodeList() {
		if l3bin != "" {
			err = m.StartGluonL3roamd(ctx, n, l3bin)
		} else {
			err = emu.Start(ctx, n)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if l3bin == "" {
		m.OnMove = emu.OnMove
	}
	cl := m.Clients["cl"]
	ip, err := cl.WaitLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c, d := m.Nodes["a"], m.Nodes["b"], m.Nodes["c"], m.Nodes["d"]
	if l3bin == "" {
		if err := emu.Learn(ctx, d, cl, ip); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Wait(ctx, "TCP through C before roaming", 200*time.Millisecond, func() (bool, error) {
		seen, err := TCPHello(ctx, cl.NS, ServerAddr.String(), time.Second)
		return err == nil && HostOf(seen) == c.WANAddr.String(), err
	}); err != nil {
		t.Fatal(err)
	}
	if l3bin != "" {
		// l3roamd CLAIMs only if babel already has a route to the client's
		// node-client-IP; a client that moves before babel carried it is
		// taken as new (l3roamd's own behaviour, clientmgr.c has_host_route).
		theirs := m.L3roamdNodeClientIP(cl.MAC)
		if err := m.Wait(ctx, "babel routes to l3roamd's node-client-IP on A and B", 200*time.Millisecond, func() (bool, error) {
			for _, n := range []*Node{a, b} {
				out, err := n.NS.Runf(ctx, "ip -6 route show %s/128", theirs)
				if err != nil || strings.TrimSpace(out) == "" {
					return false, err
				}
			}
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := m.Roam(ctx, "cl", []string{"a", "b"}, 2*time.Second)
	for _, r := range res {
		t.Logf("ROAM %s -> %s beside %s: TCP stall %v, UDP stall %v, new connection seen as %s", r.From, r.To,
			mode, r.TCPStall.Round(time.Millisecond), r.UDPStall.Round(time.Millisecond), r.NewConn)
	}
	if err != nil {
		t.Fatal(err)
	}

	var mac addrmap.MAC
	copy(mac[:], cl.MAC)
	ours, err := addrmap.NodeClientIP(m.Spec.Site.NodeClientPrefix6, mac)
	if err != nil {
		t.Fatal(err)
	}
	theirs := m.L3roamdNodeClientIP(cl.MAC)
	sh := func(n *Node, cmd string) string {
		out, err := n.NS.Runf(ctx, "%s", cmd)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	onLo := func(n *Node, a netip.Addr) bool {
		return strings.Contains(sh(n, "ip -6 addr show dev lo"), " "+a.String()+"/128 ")
	}
	ourRoute := func(n *Node) bool {
		return strings.Contains(sh(n, fmt.Sprintf("ip -4 route show %s/32 proto 158 metric 1024", ip)), "dev br-client")
	}
	// Each node-client-IP on exactly the node that serves the client (B):
	// babel routes CLAIMs for it there.
	want := func(what string, addr netip.Addr) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := m.Wait(wctx, what+" "+addr.String()+" only on B", 100*time.Millisecond, func() (bool, error) {
			return onLo(b, addr) && !onLo(a, addr) && !onLo(d, addr) && !onLo(c, addr), nil
		}); err != nil {
			for _, n := range m.NodeList() {
				t.Logf("%s lo: %s", n.Spec.Name, sh(n, "ip -6 addr show dev lo"))
				if l3bin != "" {
					out, _ := L3roamdCommand(n, "get_clients")
					t.Logf("%s l3roamd: %s", n.Spec.Name, out)
				}
			}
			t.Fatal(err)
		}
	}
	want("l3roamd-xlat's node-client-IP", ours)
	if l3bin == "" {
		want("l3roamd's node-client-IP", theirs)
	}
	if !ourRoute(b) {
		t.Fatalf("B has no /32 to the client at metric 1024: %s", sh(b, "ip -4 route show table 254"))
	}
	// l3roamd's own proto-158 routes are untouched.
	l3routes := func(when string) {
		t.Helper()
		for _, n := range m.NodeList() {
			for _, p := range []string{"-4 route show " + m.Spec.Site.Prefix4.String(), "-6 route show " + m.Spec.Site.Prefix6.String(), "-6 route show fe80::/64"} {
				if out := sh(n, "ip "+p+" proto 158"); !strings.Contains(out, "dev l3roam0") {
					t.Fatalf("%s: %s: l3roamd's route %q is gone: %q", when, n.Spec.Name, p, out)
				}
			}
		}
	}
	l3routes("after the roams")
	ports := sh(b, "ss -Hlun")
	for _, p := range []string{":5524 "} {
		if !strings.Contains(ports, p) {
			t.Errorf("B: no UDP socket on %s: %s", p, ports)
		}
	}
	if l3bin != "" {
		if !strings.Contains(ports, ":5523 ") {
			t.Errorf("B: l3roamd has no UDP socket on 5523: %s", ports)
		}
		// l3roamd's own view (its roaming is not this test's subject).
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.Wait(wctx, "l3roamd lists the client on B only", 200*time.Millisecond, func() (bool, error) {
			for _, n := range m.NodeList() {
				out, err := L3roamdCommand(n, "get_clients")
				if err != nil {
					return false, err
				}
				if strings.Contains(out, cl.MAC.String()) != (n == b) {
					return false, nil
				}
			}
			return true, nil
		})
		cancel()
		for _, n := range m.NodeList() {
			out, _ := L3roamdCommand(n, "get_clients")
			t.Logf("l3roamd on %s: %s; its node-client-IP on lo: %v", n.Spec.Name, out, onLo(n, theirs))
		}
		if err != nil {
			t.Logf("NOTE: %v", err)
		}
		if !onLo(b, theirs) {
			t.Fatalf("B does not hold l3roamd's node-client-IP %s", theirs)
		}
	} else if err := emu.Learn(ctx, b, cl, ip); err != nil { // l3roamd's SEEK found the client on B
		t.Fatal(err)
	}

	// procd's restart of l3roamd-xlat on B keeps its own state for the next
	// start (roamed clients survive a restart) and touches nothing of
	// l3roamd's; a plain stop (the init script's stop file) removes what is
	// its own, again nothing of l3roamd's.
	l3route := func(n *Node) string {
		return sh(n, fmt.Sprintf("ip -4 route show %s/32 proto 158 metric 0", ip))
	}
	theirsKept := func(when, before string) {
		t.Helper()
		if !onLo(b, theirs) {
			t.Errorf("l3roamd-xlat's %s on B removed l3roamd's node-client-IP %s", when, theirs)
		}
		if after := l3route(b); after != before {
			t.Errorf("l3roamd-xlat's %s on B changed l3roamd's /32: %q -> %q", when, before, after)
		}
		l3routes("after l3roamd-xlat's " + when + " on B")
	}
	before := l3route(b)
	if err := b.Procs["l3roamd-xlat"].Stop(); err != nil {
		t.Fatal(err)
	}
	if !onLo(b, ours) || !ourRoute(b) {
		t.Errorf("l3roamd-xlat's restart stop on B dropped its node-client-IP or /32 (kept for the next start)")
	}
	theirsKept("restart stop", before)
	if err := m.startDaemon(b, "l3roamd-xlat"); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx, "l3roamd-xlat's socket on B", 50*time.Millisecond, func() (bool, error) {
		_, err := os.Stat(b.Root + "/var/run/l3roamd-xlat.sock")
		return err == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	theirsKept("restart", before)
	if err := os.WriteFile(b.Root+"/var/run/l3roamd-xlat.stop", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.Procs["l3roamd-xlat"].Stop(); err != nil {
		t.Fatal(err)
	}
	if onLo(b, ours) || ourRoute(b) {
		t.Errorf("B kept l3roamd-xlat's node-client-IP or /32 after its plain stop")
	}
	theirsKept("plain stop", before)
	if l3bin != "" {
		if err := m.CheckDaemon("l3roamd"); err != nil {
			t.Error(err)
		}
	}
}
