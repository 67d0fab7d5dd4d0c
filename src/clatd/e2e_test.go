//go:build e2e

package clatd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/app/clat"
	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/babel/babeldtest"
	"github.com/gluon-464xlat/gluon-464xlat/clatd"
	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// The test binary doubles as xlat-clat: with this variable set it runs
// clat.Main instead of the tests, so the daemon runs exactly as procd would
// start it, inside the clatnode's namespace.
const asDaemon = "B4_RUN_XLAT_CLAT"

func TestMain(m *testing.M) {
	if os.Getenv(asDaemon) == "1" {
		os.Exit(clat.Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

const uciCLAT = `config clat 'clat'
	option prefix 'fddd:b4:1:c::/96'
	option plat_range 'fddd:b4:2::/48'
	option device 'b4clat'
	option client_ipv4 '10.44.0.0/16'
	option gateway_ipv4 '10.44.0.1'
	option client_bridge 'b4br'
	option table '4464'
	option mtu '1280'
	option switch_margin '128'
	option probe_interval '500ms'
	option probe_failures '3'
	option babel_socket '/var/run/babeld.sock'
	option socket '/var/run/xlat-clat.sock'
	option source_filter '0'
`

// (The client below has a static address, no DHCP lease: the source filter,
// tested in meshlab's TestE2EExposure, is off.)

var (
	clatPrefix = netip.MustParsePrefix("fddd:b4:1:c::/96")
	plat1      = netip.MustParsePrefix("fddd:b4:2:1::/96")
	plat2      = netip.MustParsePrefix("fddd:b4:2:2::/96")
)

// TestE2EPlatSelection runs xlat-clat on a clatnode c with real babeld:
//
//	c ==A(cost 160)== p1      PLAT fddd:b4:2:1::/96
//	c ==B(cost  40)== p1
//	c --- r --- p2            PLAT fddd:b4:2:2::/96 (metric 192)
//
// c's babeld starts on the link to r only; links A and B are added over its
// local socket (as Gluon's init script adds mesh interfaces). Margin 128.
// Expected: P2 first; A (P1 160, better by 32) keeps P2; B (P1 40, better by
// 152) switches to P1; P1's management address stops answering -> P2
// (probes); babel at c withdraws P2 -> P1 (route lost); P1's node fails ->
// no PLAT, clients' IPv4 unreachable. On SIGTERM everything the daemon added
// is gone.
func TestE2EPlatSelection(t *testing.T) {
	meshlab.Need(t)
	if err := babeldtest.Available(); err != nil {
		t.Skip("babeld not installed (files/scripts/deps.sh installs it):", err)
	}
	lab, err := meshlab.New("b4")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			lab.KeepDir()
			t.Logf("logs kept in %s", lab.Dir())
		}
		lab.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ns := map[string]*meshlab.NS{}
	for _, n := range []string{"c", "r", "p1", "p2"} {
		x, err := lab.AddNS(n)
		if err != nil {
			t.Fatal(err)
		}
		ns[n] = x
	}
	c, r, p1, p2 := ns["c"], ns["r"], ns["p1"], ns["p2"]
	for _, l := range [][4]string{{"c", "b4cr", "r", "b4rc"}, {"r", "b4rp2", "p2", "b4p2r"},
		{"c", "b4cpa", "p1", "b4pac"}, {"c", "b4cpb", "p1", "b4pbc"}} {
		if err := lab.Veth(ns[l[0]], l[1], ns[l[2]], l[3]); err != nil {
			t.Fatal(err)
		}
	}
	must(r.Runf(ctx, "sysctl -qw net.ipv6.conf.all.forwarding=1"))
	must(c.Runf(ctx, "ip -6 addr add fddd:b4:9::c/128 dev lo"))
	must(c.Runf(ctx, "ip link add b4br type bridge"))
	must(c.Runf(ctx, "ip link set b4br up"))
	must(c.Runf(ctx, "ip addr add 10.44.0.1/16 dev b4br"))
	for _, x := range []struct {
		ns   *meshlab.NS
		plat netip.Prefix
	}{{p1, plat1}, {p2, plat2}} {
		must(x.ns.Runf(ctx, "ip -6 route add unreachable %s proto static", x.plat))
		must(x.ns.Runf(ctx, "ip -6 addr add %s/128 dev lo", wellknown.ManagementAddress(x.plat)))
	}
	// The clatnode's root: UCI config, sockets (babeld's local socket too).
	root := filepath.Join(lab.Dir(), "c-root")
	must("", os.MkdirAll(filepath.Join(root, "etc/config"), 0o755))
	must("", os.MkdirAll(filepath.Join(root, "var/run"), 0o755))
	must("", os.WriteFile(filepath.Join(root, "etc/config/gluon-464xlat"), []byte(uciCLAT), 0o644))
	filters := []string{"redistribute ip fddd:b4::/32 ge 96 allow", "redistribute local ip fddd:b4:9::/48 allow",
		"redistribute local deny", "redistribute deny"}
	var cb *babeldtest.Daemon
	for _, b := range []struct {
		ns     *meshlab.NS
		ifs    []string
		extras []string
	}{
		// Shorter smoothing than babeld's default 4 s, so that babeld
		// installs the better route over B within seconds.
		{c, []string{"b4cr"}, []string{"smoothing-half-life 1"}},
		{r, []string{"b4rc", "b4rp2"}, nil},
		{p1, []string{"b4pac", "b4pbc"}, []string{"interface b4pac rxcost 160", "interface b4pbc rxcost 40"}},
		{p2, []string{"b4p2r"}, nil},
	} {
		sock := ""
		if b.ns == c {
			sock = filepath.Join(root, "var/run/babeld.sock")
		}
		d, err := babeldtest.Start(ctx, lab, b.ns, sock, b.ifs, append(b.extras, filters...)...)
		if err != nil {
			t.Fatal(err)
		}
		if b.ns == c {
			cb = d
		}
	}

	// The test's own view of c's babel, to time withdrawals.
	var wmu sync.Mutex
	withdrawn := map[netip.Prefix]time.Time{}
	var lastSnap babel.Snapshot
	firstSeen := map[string]time.Time{} // "<prefix> <if> <installed>" -> first time
	go func() {
		bc := &babel.Client{Address: cb.Unix}
		ch := make(chan babel.Snapshot, 1)
		go bc.Run(ctx, ch)
		seen := map[netip.Prefix]bool{}
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-ch:
				if !s.Connected {
					continue
				}
				now := time.Now()
				cur := map[netip.Prefix]bool{}
				for _, rt := range s.Routes {
					if rt.Metric < babel.Infinity && rt.Installed {
						cur[rt.Prefix] = true
					}
				}
				wmu.Lock()
				lastSnap = s
				for p := range seen {
					if !cur[p] {
						if _, ok := withdrawn[p]; !ok {
							withdrawn[p] = now
						}
					}
				}
				for p := range cur {
					seen[p] = true
				}
				for _, rt := range s.Routes {
					k := fmt.Sprintf("%s via %s installed=%v metric=%d", rt.Prefix, rt.Interface, rt.Installed, rt.Metric)
					if _, ok := firstSeen[k]; !ok && rt.Prefix.Bits() == 96 {
						firstSeen[k] = now
					}
				}
				wmu.Unlock()
			}
		}
	}()

	// A stand-in l3roamd socket, and the daemon.
	var rmu sync.Mutex
	var roam []string
	rsrv, err := ctlsock.Listen(filepath.Join(root, "var/run/l3roamd-xlat.sock"), map[string]ctlsock.Handler{
		"set_platprefix": func(_ context.Context, a []string) ([]byte, error) {
			rmu.Lock()
			defer rmu.Unlock()
			roam = append(roam, "set "+strings.Join(a, " "))
			return []byte("ok\n"), nil
		},
		"del_platprefix": func(_ context.Context, a []string) ([]byte, error) {
			rmu.Lock()
			defer rmu.Unlock()
			roam = append(roam, "del "+strings.Join(a, " "))
			return []byte("ok\n"), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	go rsrv.Serve(ctx)
	daemon, err := c.StartEnv("xlat-clat", []string{asDaemon + "=1"}, os.Args[0], "run", "--root", root, "--debug")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(root, "var/run/xlat-clat.sock")
	status := func() (clatd.Status, error) {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		defer ccancel()
		b, err := ctlsock.Call(cctx, sock, "status")
		if err != nil {
			return clatd.Status{}, err
		}
		var st clatd.Status
		return st, json.Unmarshal(b, &st)
	}
	waitStatus := func(what string, d time.Duration, cond func(clatd.Status) bool) clatd.Status {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, d)
		defer wcancel()
		var st clatd.Status
		err := meshlab.WaitFor(wctx, what, 50*time.Millisecond, func() (bool, error) {
			if daemon.Exited() {
				return false, fmt.Errorf("xlat-clat exited:\n%s", daemon.Log())
			}
			var err error
			st, err = status()
			return err == nil && cond(st), err
		})
		if err != nil {
			wmu.Lock()
			var routes strings.Builder
			for _, r := range lastSnap.Routes {
				fmt.Fprintf(&routes, "  %+v\n", r)
			}
			for _, n := range lastSnap.Neighbours {
				fmt.Fprintf(&routes, "  %+v\n", n)
			}
			wmu.Unlock()
			t.Fatalf("%v\nlast status: %+v\nbabel at c:\n%s\ndaemon log:\n%s", err, st, routes.String(), daemon.Log())
		}
		return st
	}
	metric := func(st clatd.Status, p netip.Prefix) int {
		for _, c := range st.Candidates {
			if c.Prefix == p.String() {
				return c.Metric
			}
		}
		return -1
	}
	type row struct{ step, plat, reason, took string }
	var table []row
	record := func(step string, st clatd.Status, from time.Time) {
		took := "-"
		if !from.IsZero() && st.LastSwitch != nil {
			took = fmt.Sprintf("%.2f s", st.LastSwitch.At.Sub(from).Seconds())
		}
		reason := "-"
		if st.LastSwitch != nil {
			reason = st.LastSwitch.Reason
		}
		table = append(table, row{step, st.PLAT, reason, took})
	}

	// 0: only P2 is reachable.
	t0 := time.Now()
	st := waitStatus("initial PLAT P2", 30*time.Second, func(s clatd.Status) bool { return s.PLAT == plat2.String() })
	record("start: only P2 (192)", st, t0)
	if st.LastSwitch.Reason != "initial" || metric(st, plat2) != 192 {
		t.Errorf("initial: %+v", st)
	}
	out, _ := c.Runf(ctx, "ip rule show")
	if !strings.Contains(out, fmt.Sprintf("%d:", clatd.RulePriority)) || !strings.Contains(out, "iif b4br lookup 4464") {
		t.Errorf("policy rule missing:\n%s", out)
	}
	out, _ = c.Runf(ctx, "ip route show table 4464")
	if !strings.Contains(out, "default dev b4clat") || !strings.Contains(out, "mtu 1260") || !strings.Contains(out, "advmss 1220") {
		t.Errorf("table 4464:\n%s", out)
	}
	// babel redistributes the CLAT /96 (proto static) to the platnode.
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	err = meshlab.WaitFor(wctx, "CLAT /96 at p2", 100*time.Millisecond, func() (bool, error) {
		out, err := p2.Runf(ctx, "ip -6 route show %s", clatPrefix)
		return strings.Contains(out, "proto babel"), err
	})
	wcancel()
	if err != nil {
		t.Error(err)
	}
	waitStatus("a successful probe of P2", 10*time.Second, func(s clatd.Status) bool { return !s.Probe.LastOK.IsZero() })

	babelc := func(line string) {
		t.Helper()
		if _, err := babeldtest.Send(ctx, cb.Unix, line); err != nil {
			t.Fatal(err)
		}
	}

	// 1: link A: P1 at 160 is better by 32 < margin 128: no switch.
	babelc("interface b4cpa")
	st = waitStatus("P1 at metric 160", 30*time.Second, func(s clatd.Status) bool { return metric(s, plat1) == 160 })
	record("A up: P1 160 vs P2 192", st, time.Time{})
	if st.PLAT != plat2.String() || st.Switches != 1 {
		t.Errorf("switched below the margin: %+v", st)
	}

	// 2: link B: P1 at 40 is better by 152 >= 128: switch.
	babelc("interface b4cpb")
	t2 := time.Now()
	st = waitStatus("switch to P1", 30*time.Second, func(s clatd.Status) bool { return s.PLAT == plat1.String() })
	record("B up: P1 40 vs P2 192", st, t2)
	t.Logf("B added at +%.2f s", t2.Sub(t0).Seconds())
	if st.LastSwitch.Reason != "metric" || metric(st, plat1) != 40 {
		t.Errorf("after B up: %+v", st)
	}

	// Data path: a client behind c's bridge pings an IPv4 host; the CLAT
	// sends it as <clat /96>+10.44.0.2 -> <P1 /96>+198.51.100.1 to p1 (whose
	// /96 is only an unreachable route here, so nothing answers but ICMP).
	var cl *meshlab.NS
	if _, err := exec.LookPath("ip6tables"); err == nil {
		cl, err = lab.AddNS("cl")
		if err != nil {
			t.Fatal(err)
		}
		if err := lab.Veth(cl, "b4clc", c, "b4clb"); err != nil {
			t.Fatal(err)
		}
		must(c.Runf(ctx, "ip link set b4clb master b4br"))
		must(cl.Runf(ctx, "ip addr add 10.44.0.2/16 dev b4clc"))
		must(cl.Runf(ctx, "ip route add default via 10.44.0.1"))
		src, dst := "fddd:b4:1:c::a2c:2", "fddd:b4:2:1::c633:6401"
		must(p1.Runf(ctx, "ip6tables -t raw -I PREROUTING -s %s -d %s", src, dst))
		out, _ := cl.Runf(ctx, "ping -c 3 -i 0.2 -W 1 198.51.100.1")
		t.Logf("client ping through the CLAT (p1 has no PLAT, so unreachable is expected):\n%s", out)
		rules, err := p1.Runf(ctx, "ip6tables -t raw -L PREROUTING -v -x -n")
		if err != nil {
			t.Fatal(err)
		}
		var pkts int
		for _, l := range strings.Split(rules, "\n") {
			if strings.Contains(l, src) {
				fmt.Sscan(l, &pkts)
			}
		}
		if pkts < 1 {
			t.Errorf("no translated packet %s -> %s reached p1:\n%s", src, dst, rules)
		}
		// p1's ICMPv6 error (from its management address) came back translated.
		if !strings.Contains(out, "From 192.0.0.1") {
			t.Errorf("no translated ICMP error from P1's management address 192.0.0.1")
		}
		if st, _ := status(); st.Translator == nil || st.Translator.TxPackets < 1 {
			t.Errorf("translator counters: %+v", st.Translator)
		}
	} else {
		t.Log("ip6tables missing: data path check skipped")
	}

	// 3: P1's management address stops answering: 3 failed probes -> P2.
	must(p1.Runf(ctx, "ip -6 addr del %s/128 dev lo", wellknown.ManagementAddress(plat1)))
	t3 := time.Now()
	st = waitStatus("probe failover to P2", 10*time.Second, func(s clatd.Status) bool { return s.PLAT == plat2.String() })
	record("P1 probes fail", st, t3)
	if st.LastSwitch.Reason != "probes" || st.Probe.Failed < 3 {
		t.Errorf("after probe failures: %+v", st)
	}

	// 4: babel at c withdraws P2 (c stops babel on the link to r) -> P1,
	// although P1 is still avoided after its probe failures: it is the only
	// PLAT left, and its management address answers again.
	must(p1.Runf(ctx, "ip -6 addr add %s/128 dev lo", wellknown.ManagementAddress(plat1)))
	t4 := time.Now()
	babelc("flush interface b4cr")
	st = waitStatus("route-loss failover to P1", 10*time.Second, func(s clatd.Status) bool { return s.PLAT == plat1.String() })
	record("babel withdraws P2", st, t4)
	if st.LastSwitch.Reason != "route-lost" {
		t.Errorf("after P2 withdrawal: %+v", st)
	}
	wmu.Lock()
	seenAt, ok := withdrawn[plat2]
	wmu.Unlock()
	if ok {
		table = append(table, row{"  P2 withdrawal seen at c -> switch", st.PLAT, st.LastSwitch.Reason,
			fmt.Sprintf("%.3f s", st.LastSwitch.At.Sub(seenAt).Seconds())})
	}
	waitStatus("a successful probe of P1", 10*time.Second, func(s clatd.Status) bool {
		return s.Probe.Target == wellknown.ManagementAddress(plat1).String() && s.Probe.Consecutive == 0 && s.Probe.LastOK.After(st.LastSwitch.At)
	})

	// 5: P1's node fails (both its links go down): no PLAT is left; the
	// clients' IPv4 gets an unreachable route instead of leaking elsewhere.
	must(p1.Runf(ctx, "ip link set b4pac down"))
	must(p1.Runf(ctx, "ip link set b4pbc down"))
	t5 := time.Now()
	st = waitStatus("no PLAT", 20*time.Second, func(s clatd.Status) bool { return s.PLAT == "" })
	record("P1 node down (none left)", st, t5)
	if out, _ := c.Runf(ctx, "ip route show table 4464"); !strings.Contains(out, "unreachable default") {
		t.Errorf("table 4464 without PLAT:\n%s", out)
	}
	if cl != nil {
		// The client's IPv4 now ends at its node, not anywhere else.
		out, _ := cl.Runf(ctx, "ping -c 1 -W 1 198.51.100.1")
		if !strings.Contains(out, "From 10.44.0.1") || !strings.Contains(out, "Unreachable") {
			t.Errorf("client ping without PLAT:\n%s", out)
		}
	}

	// status as the command prints it
	cmd := exec.CommandContext(ctx, os.Args[0], "status", "--root", root)
	cmd.Env = append(os.Environ(), asDaemon+"=1")
	text, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(text), "none (clients' IPv4 unreachable)") || !strings.Contains(string(text), "CANDIDATE") {
		t.Errorf("xlat-clat status: %v\n%s", err, text)
	}
	t.Logf("xlat-clat status:\n%s", text)

	// SIGTERM: everything the daemon added is removed.
	if err := daemon.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, _ := c.Runf(ctx, "ip rule show"); strings.Contains(out, "lookup 4464") {
		t.Errorf("rule left after stop:\n%s", out)
	}
	if out, _ := c.Runf(ctx, "ip route show table 4464"); strings.TrimSpace(out) != "" {
		t.Errorf("table 4464 left after stop:\n%s", out)
	}
	if out, _ := c.Runf(ctx, "ip link show"); strings.Contains(out, "b4clat") {
		t.Errorf("device left after stop:\n%s", out)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("control socket left after stop")
	}
	rmu.Lock()
	got := strings.Join(roam, "|")
	rmu.Unlock()
	want := strings.Join([]string{"set " + plat2.String(), "set " + plat1.String(), "set " + plat2.String(),
		"del " + plat1.String(), "set " + plat1.String(), "del " + plat2.String(), "del " + plat1.String()}, "|")
	if got != want {
		t.Errorf("l3roamd got %q\nwant %q", got, want)
	}

	wmu.Lock()
	for k, at := range firstSeen {
		t.Logf("babel at c: +%6.2f s %s", at.Sub(t0).Seconds(), k)
	}
	wmu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-36s %-20s %-11s %s\n", "step", "PLAT", "reason", "event -> switch")
	for _, r := range table {
		fmt.Fprintf(&b, "%-36s %-20s %-11s %s\n", r.step, r.plat, r.reason, r.took)
	}
	t.Log(b.String())
}
