//go:build e2e

package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/dataplane/xlatlab"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// helperProc is a helper program (see TestMain) running in a namespace.
type helperProc struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

func helperCmd(ctx context.Context, ns *meshlab.NS, name string, args ...string) *exec.Cmd {
	exe, _ := os.Executable()
	cmd := ns.Command(ctx, append([]string{exe}, args...)...)
	cmd.Env = append(os.Environ(), "X2_HELPER="+name)
	return cmd
}

// startHelper starts a helper that prints "ready" once it listens.
func startHelper(t *testing.T, ctx context.Context, ns *meshlab.NS, name string, args ...string) *helperProc {
	t.Helper()
	h := &helperProc{cmd: helperCmd(ctx, ns, name, args...), done: make(chan error, 1)}
	pipe, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.cmd.Stderr = &h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Kill()
		}
	})
	r := bufio.NewReader(pipe)
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("helper %s in %s did not get ready: %q %v %s", name, ns.Short, line, err, h.out.String())
	}
	go func() {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r)
		err := h.cmd.Wait()
		h.out.Write(b.Bytes())
		h.done <- err
	}()
	return h
}

// wait returns the helper's output lines (it ends by itself: count or timeout).
func (h *helperProc) wait(t *testing.T) []string {
	t.Helper()
	if err := <-h.done; err != nil {
		t.Errorf("helper: %v: %s", err, h.out.String())
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(h.out.String()), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func runHelperNS(t *testing.T, ctx context.Context, ns *meshlab.NS, name string, args ...string) []string {
	t.Helper()
	out, err := helperCmd(ctx, ns, name, args...).CombinedOutput()
	if err != nil {
		t.Errorf("helper %s %q in %s: %v: %s", name, args, ns.Short, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

var pingLine = regexp.MustCompile(`(?m)^(\d+ bytes from [0-9.]+|From [0-9.]+ icmp_seq=\d+ [^\n]*|ping: [^\n]*)`)

// pingObs runs ping in the client namespace and returns the reply/error lines.
func pingObs(ctx context.Context, ns *meshlab.NS, args ...string) []string {
	out, _ := ns.Command(ctx, append([]string{"ping", "-n", "-c1", "-W1"}, args...)...).CombinedOutput()
	m := pingLine.FindAllString(string(out), -1)
	if len(m) == 0 {
		return []string{"no answer"}
	}
	return m
}

// scenario sends one kind of traffic and returns what arrived.
type scenario struct {
	name string
	run  func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string
}

var scenarios = []scenario{
	{"icmp-echo", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		return pingObs(ctx, x.Cli, x.Target())
	}},
	{"tcp-200k-echo", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		return runHelperNS(t, ctx, x.Cli, "tcpcheck", x.Target(), "5001", "200000")
	}},
	{"udp-small", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		sink := startHelper(t, ctx, x.Srv, "udpsink", x.ServerBind(), "5002", "3", "5s")
		runHelperNS(t, ctx, x.Cli, "udpsend", x.Target(), "5002", "100", "3")
		return sink.wait(t)
	}},
	{"udp-ipv4-fragments", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		sink := startHelper(t, ctx, x.Srv, "udpsink", x.ServerBind(), "5003", "2", "5s")
		runHelperNS(t, ctx, x.Cli, "udpsend", x.Target(), "5003", "3000", "2")
		return sink.wait(t)
	}},
	{"udp-ipv6-fragments", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		sink := startHelper(t, ctx, x.Cli, "udpsink", xlatlab.Client4, "5004", "2", "5s")
		runHelperNS(t, ctx, x.Srv, "udpsend", x.ClientSeenAs(), "5004", "3000", "2", x.ServerBind())
		return sink.wait(t)
	}},
	{"icmp-echo-fragmented", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		return pingObs(ctx, x.Cli, "-s", "3000", x.Target())
	}},
	{"udp-port-unreachable", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		c := startHelper(t, ctx, x.Cli, "icmpcap", "1500ms")
		runHelperNS(t, ctx, x.Cli, "udpsend", x.Target(), "5999", "50", "1")
		return c.wait(t)
	}},
	{"ttl-scan", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		var obs []string
		for ttl := 1; ttl <= 5; ttl++ {
			for _, l := range pingObs(ctx, x.Cli, "-t", fmt.Sprint(ttl), x.Target()) {
				obs = append(obs, fmt.Sprintf("ttl %d: %s", ttl, l))
			}
		}
		return obs
	}},
	{"time-exceeded-detail", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		c := startHelper(t, ctx, x.Cli, "icmpcap", "1500ms")
		pingObs(ctx, x.Cli, "-t", "3", x.Target())
		return c.wait(t)
	}},
	{"df-too-big-for-translator", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		c := startHelper(t, ctx, x.Cli, "icmpcap", "1500ms")
		pingObs(ctx, x.Cli, "-M", "do", "-s", "1472", x.Target())
		_, _ = x.Cli.Runf(ctx, "ip route flush cache")
		return c.wait(t)
	}},
	{"df-too-big-for-next-link", func(t *testing.T, ctx context.Context, x *xlatlab.Topo) []string {
		c := startHelper(t, ctx, x.Cli, "icmpcap", "1500ms")
		pingObs(ctx, x.Cli, "-M", "do", "-s", "1400", x.Target())
		_, _ = x.Cli.Runf(ctx, "ip route flush cache")
		return c.wait(t)
	}},
}

func TestE2EDifferentialTayga(t *testing.T) {
	for _, tool := range []string{"tayga", "ping", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (files/scripts/deps.sh installs it)", tool)
		}
	}
	ctx, bin, lab := startLab(t, "x2d", 3*time.Minute)
	obs := map[xlatlab.Mode]map[string][]string{}
	for i, m := range []xlatlab.Mode{xlatlab.Tayga, xlatlab.Xlat} {
		x, err := xlatlab.Build(ctx, lab, fmt.Sprintf("%c", "tx"[i]), xlatlab.Options{
			Mode: m, Router: true, ServerMTU: 1400, XlatBin: bin})
		if err != nil {
			t.Fatal(err)
		}
		startHelper(t, ctx, x.Srv, "tcpecho", x.ServerBind(), "5001")
		if err := meshlab.WaitFor(ctx, string(m)+" path up", 50*time.Millisecond, func() (bool, error) {
			_, err := x.Cli.Runf(ctx, "ping -c1 -W1 %s", x.Target())
			return err == nil, err
		}); err != nil {
			t.Fatal(err)
		}
		obs[m] = map[string][]string{}
		for _, s := range scenarios {
			// forget path MTUs learnt by earlier scenarios
			if _, err := x.Cli.Runf(ctx, "ip route flush cache"); err != nil {
				t.Fatal(err)
			}
			obs[m][s.name] = s.run(t, ctx, x)
		}
		if x.Xlat != nil {
			_ = x.Xlat.Stop()
			t.Logf("xlat-clat log:\n%s", x.Xlat.Log())
		}
	}
	for _, s := range scenarios {
		ta, xl := obs[xlatlab.Tayga][s.name], obs[xlatlab.Xlat][s.name]
		t.Logf("%s\n  tayga: %s\n  xlat:  %s", s.name, strings.Join(ta, "\n         "), strings.Join(xl, "\n         "))
		cmp := compareExact
		if c, ok := deviations[s.name]; ok {
			cmp = c
		}
		if mustWork[s.name] && failed(xl) {
			t.Errorf("%s: traffic did not get through xlat-clat: %q", s.name, xl)
		}
		if err := cmp(ta, xl); err != nil {
			t.Errorf("%s: xlat differs from TAYGA beyond the documented deviations: %v\n  tayga: %q\n  xlat:  %q", s.name, err, ta, xl)
		}
	}
}

var ttlField = regexp.MustCompile(`ttl=\d+`)

// mask removes what differs by documented deviation D1 (files/docs/dataplane.md):
// TAYGA decrements TTL / Hop Limit, we copy it like nat46.
func mask(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = ttlField.ReplaceAllString(l, "ttl=*")
	}
	return out
}

func compareExact(ta, xl []string) error {
	a, b := mask(ta), mask(xl)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		return fmt.Errorf("observations differ")
	}
	return nil
}

// mustWork are the scenarios whose traffic has to get through (so that two
// equal failures do not count as agreement).
var mustWork = map[string]bool{"icmp-echo": true, "tcp-200k-echo": true, "udp-small": true,
	"udp-ipv4-fragments": true, "udp-ipv6-fragments": true, "udp-port-unreachable": true,
	"df-too-big-for-next-link": true, "df-too-big-for-translator": true}

func failed(lines []string) bool {
	if len(lines) == 0 {
		return true
	}
	for _, l := range lines {
		if l == "no answer" || l == "timeout" || strings.Contains(l, "intact=false") {
			return true
		}
	}
	return false
}

var (
	reTE    = regexp.MustCompile(`^ttl (\d+): From ([0-9.]+) icmp_seq=1 Time to live exceeded`)
	reReply = regexp.MustCompile(`^ttl (\d+): 64 bytes from 198\.51\.100\.1$`)
)

// deviations compare scenarios whose results differ by documented deviations
// (files/docs/dataplane.md, "Differential test against TAYGA").
var deviations = map[string]func(ta, xl []string) error{
	// D1: TAYGA spends one hop of TTL, so the server answers from one TTL
	// later. D2: TAYGA drops ICMPv6 errors from IPv6 routers whose address
	// it cannot map (gaps), we translate them with the RFC 6791 address.
	"ttl-scan": func(ta, xl []string) error {
		first := func(lines []string) (int, error) {
			for _, l := range lines {
				if m := reReply.FindStringSubmatch(l); m != nil {
					var n int
					fmt.Sscan(m[1], &n)
					return n, nil
				}
			}
			return 0, fmt.Errorf("server never answered")
		}
		ft, err := first(ta)
		if err != nil {
			return fmt.Errorf("tayga: %w", err)
		}
		fx, err := first(xl)
		if err != nil {
			return fmt.Errorf("xlat: %w", err)
		}
		if fx != ft-1 {
			return fmt.Errorf("server reached at ttl %d through xlat, %d through TAYGA (want one less: D1)", fx, ft)
		}
		for _, l := range xl[:fx-1] {
			if reTE.FindStringSubmatch(l) == nil {
				return fmt.Errorf("xlat: %q is not a Time Exceeded (every hop must answer)", l)
			}
		}
		if xl[0] != ta[0] {
			return fmt.Errorf("first hop differs")
		}
		return nil
	},
	// D2: TAYGA drops the ICMPv6 Time Exceeded of the router behind it.
	"time-exceeded-detail": func(ta, xl []string) error {
		if len(ta) != 0 && compareExact(ta, xl) == nil {
			return nil
		}
		want := "icmp src=192.0.0.1 type=11 code=0 inner=192.168.0.2>198.51.100.1 proto=1 ttl=* len=84"
		if len(xl) != 1 || mask(xl)[0] != want {
			return fmt.Errorf("want exactly %q", want)
		}
		return nil
	},
	// D3: our device MTU is the IPv6 MTU - 20, so the kernel in the translator
	// namespace answers Frag Needed itself (source 192.168.0.1); TAYGA's device
	// has MTU 1500 and it translates the kernel's ICMPv6 Packet Too Big
	// (source: its own address). Same MTU, same inner packet.
	"df-too-big-for-translator": func(ta, xl []string) error {
		src := regexp.MustCompile(`src=[0-9.]+ `)
		a := src.ReplaceAllString(strings.Join(mask(ta), "\n"), "src=* ")
		b := src.ReplaceAllString(strings.Join(mask(xl), "\n"), "src=* ")
		if a != b || len(xl) != 1 || !strings.Contains(xl[0], "mtu=1480") {
			return fmt.Errorf("want the same Frag Needed (mtu=1480) up to its source")
		}
		return nil
	},
}
