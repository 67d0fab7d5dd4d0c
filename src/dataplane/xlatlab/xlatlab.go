// Package xlatlab builds the three-namespace topology (client — translator —
// server, optionally with a router between translator and server) that the
// translator's differential test and benchmark share, with one of three data
// planes in the middle namespace: plain kernel IPv6 forwarding, TAYGA, or
// `xlat-clat translate`.
package xlatlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// Mode is the data plane in the translator namespace.
type Mode string

const (
	Kernel Mode = "kernel" // IPv6 end to end, plain kernel forwarding (the limit)
	Tayga  Mode = "tayga"  // TAYGA 0.9.2 as CLAT
	Xlat   Mode = "xlat"   // xlat-clat translate
)

// Addresses of the topology. The client is 192.168.0.2 (IPv6 fd00::2 in
// Kernel mode); the server's IPv4 representation is 198.51.100.1 =
// 2001:db8:64::c633:6401 behind the PLAT prefix 2001:db8:64::/96; the client
// maps into fddd:1337::/96 (RFC 6052 /96), so 192.168.0.2 is
// fddd:1337::c0a8:2 for both translators.
const (
	Client4     = "192.168.0.2"
	Client6     = "fd00::2"
	Client6Map  = "fddd:1337::c0a8:2"
	Server4     = "198.51.100.1"
	Server6     = "fd00:1::2"
	Server6Map  = "2001:db8:64::c633:6401"
	PlatPrefix  = "2001:db8:64::/96"
	ClatPrefix  = "fddd:1337::/96"
	TaygaAddr4  = "192.0.0.1"
	TaygaAddr6  = "fddd:1337::c000:1"
	TunName     = "x2tun"
	XlatRule    = "local.style RFC6052 local.v6 fddd:1337::/96 remote.style RFC6052 remote.v6 2001:db8:64::/96"
	RouterAddr6 = "fd00:2::1"
)

// Options select variants of the topology.
type Options struct {
	Mode Mode
	// Router puts a router namespace between translator and server
	// (translator fd00:1::1 — router fd00:1::2 / fd00:2::1 — server fd00:2::2),
	// so that ICMP errors come from a router on the path.
	Router bool
	// ServerMTU is the MTU of the last link (towards the server); 0 = 1500.
	ServerMTU int
	// XlatBin is the gluon-464xlat (or xlat-clat) binary for Mode Xlat.
	XlatBin string
	// XlatArgs are extra arguments for `xlat-clat translate`.
	XlatArgs []string
	// GRO enables GRO on the veths (ethtool -K … gro on).
	GRO bool
}

// Topo is a built topology.
type Topo struct {
	Opts     Options
	Cli, XL  *meshlab.NS
	Rt, Srv  *meshlab.NS
	Xlat     *meshlab.Proc
	Tayga    *meshlab.Proc
	tag      string
	serverV6 string
}

// Target is the address the client sends to.
func (t *Topo) Target() string {
	if t.Opts.Mode == Kernel {
		return t.serverV6
	}
	return Server4
}

// ServerBind is the address the server must bind to (so that its replies
// come from the mapped address, see lab-notes.md).
func (t *Topo) ServerBind() string {
	if t.Opts.Mode == Kernel {
		return t.serverV6
	}
	return Server6Map
}

// ClientSeenAs is the client's source address as the server sees it.
func (t *Topo) ClientSeenAs() string {
	if t.Opts.Mode == Kernel {
		return Client6
	}
	return Client6Map
}

// Build creates the namespaces (named <tag>cli, <tag>xl, <tag>rt, <tag>srv)
// in lab and starts the data plane. Everything is removed by lab.Close.
func Build(ctx context.Context, lab *meshlab.Lab, tag string, o Options) (*Topo, error) {
	t := &Topo{Opts: o, tag: tag, serverV6: Server6}
	var err error
	add := func(name string) *meshlab.NS {
		if err != nil {
			return nil
		}
		var n *meshlab.NS
		n, err = lab.AddNS(tag + name)
		return n
	}
	t.Cli, t.XL, t.Srv = add("cli"), add("xl"), add("srv")
	if o.Router {
		t.Rt = add("rt")
	}
	if err != nil {
		return nil, err
	}
	run := func(n *meshlab.NS, format string, a ...any) {
		if err == nil {
			_, err = n.Runf(ctx, format, a...)
		}
	}
	if err = lab.Veth(t.Cli, "x2c", t.XL, "x2xc"); err != nil {
		return nil, err
	}
	if o.Router {
		if err = lab.Veth(t.XL, "x2xs", t.Rt, "x2rx"); err != nil {
			return nil, err
		}
		if err = lab.Veth(t.Rt, "x2rs", t.Srv, "x2s"); err != nil {
			return nil, err
		}
		t.serverV6 = "fd00:2::2"
	} else if err = lab.Veth(t.XL, "x2xs", t.Srv, "x2s"); err != nil {
		return nil, err
	}
	for _, n := range []*meshlab.NS{t.Cli, t.XL, t.Rt, t.Srv} {
		if n == nil {
			continue
		}
		for _, kv := range [][2]string{{"net.ipv4.ip_forward", "1"}, {"net.ipv6.conf.all.forwarding", "1"},
			{"net.ipv6.conf.all.accept_dad", "0"}, {"net.ipv6.conf.default.accept_dad", "0"}} {
			if err == nil {
				err = n.Sysctl(kv[0], kv[1])
			}
		}
	}
	// Client side: IPv4 (translated modes) or IPv6 (kernel mode).
	run(t.Cli, "ip addr add %s/24 dev x2c", Client4)
	run(t.Cli, "ip route add default via 192.168.0.1")
	run(t.XL, "ip addr add 192.168.0.1/24 dev x2xc")
	run(t.Cli, "ip -6 addr add %s/64 dev x2c nodad", Client6)
	run(t.Cli, "ip -6 route add default via fd00::1")
	run(t.XL, "ip -6 addr add fd00::1/64 dev x2xc nodad")
	// Server side.
	run(t.XL, "ip -6 addr add fd00:1::1/64 dev x2xs nodad")
	next := "fd00:1::2"
	if o.Router {
		run(t.Rt, "ip -6 addr add fd00:1::2/64 dev x2rx nodad")
		run(t.Rt, "ip -6 addr add %s/64 dev x2rs nodad", RouterAddr6)
		run(t.Srv, "ip -6 addr add fd00:2::2/64 dev x2s nodad")
		run(t.Srv, "ip -6 route add default via %s", RouterAddr6)
		run(t.Rt, "ip -6 route add default via fd00:1::1")
		run(t.Rt, "ip -6 route add %s via fd00:2::2", PlatPrefix)
		if o.ServerMTU > 0 {
			run(t.Rt, "ip link set x2rs mtu %d", o.ServerMTU)
			run(t.Srv, "ip link set x2s mtu %d", o.ServerMTU)
		}
	} else {
		run(t.Srv, "ip -6 addr add fd00:1::2/64 dev x2s nodad")
		run(t.Srv, "ip -6 route add default via fd00:1::1")
		if o.ServerMTU > 0 {
			run(t.XL, "ip link set x2xs mtu %d", o.ServerMTU)
			run(t.Srv, "ip link set x2s mtu %d", o.ServerMTU)
		}
	}
	run(t.Srv, "ip -6 addr add %s/128 dev lo", Server6Map)
	run(t.XL, "ip -6 route add %s via %s", PlatPrefix, next)
	if o.GRO {
		for _, x := range []struct {
			n   *meshlab.NS
			if_ string
		}{{t.Cli, "x2c"}, {t.XL, "x2xc"}, {t.XL, "x2xs"}, {t.Srv, "x2s"}, {t.Rt, "x2rx"}, {t.Rt, "x2rs"}} {
			if x.n != nil {
				run(x.n, "ethtool -K %s gro on rx-udp-gro-forwarding on", x.if_)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	switch o.Mode {
	case Kernel:
	case Tayga:
		err = t.startTayga(ctx, lab)
	case Xlat:
		err = t.startXlat(ctx)
	default:
		err = fmt.Errorf("xlatlab: unknown mode %q", o.Mode)
	}
	if err != nil {
		return nil, err
	}
	if o.Mode != Kernel {
		run(t.XL, "ip route add 198.51.100.0/24 dev %s", TunName)
		run(t.XL, "ip -6 route add %s dev %s", ClatPrefix, TunName)
	}
	return t, err
}

func (t *Topo) startTayga(ctx context.Context, lab *meshlab.Lab) error {
	dir := filepath.Join(lab.Dir(), t.tag+"tayga")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	conf := filepath.Join(dir, "tayga.conf")
	text := fmt.Sprintf("tun-device %s\nipv4-addr %s\nipv6-addr %s\nprefix %s\nmap %s %s\ndata-dir %s\n",
		TunName, TaygaAddr4, TaygaAddr6, PlatPrefix, Client4, Client6Map, dir)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return err
	}
	if _, err := t.XL.Run(ctx, "tayga", "-c", conf, "--mktun"); err != nil {
		return err
	}
	if _, err := t.XL.Runf(ctx, "ip link set %s up", TunName); err != nil {
		return err
	}
	p, err := t.XL.Start("tayga", "tayga", "-c", conf, "-d")
	if err != nil {
		return err
	}
	t.Tayga = p
	return nil
}

func (t *Topo) startXlat(ctx context.Context) error {
	if t.Opts.XlatBin == "" {
		return fmt.Errorf("xlatlab: mode xlat needs XlatBin")
	}
	args := []string{t.Opts.XlatBin}
	if filepath.Base(t.Opts.XlatBin) != "xlat-clat" {
		// the multi-call binary dispatches on argv[0]; run it through a
		// symlink named xlat-clat
		link := filepath.Join(filepath.Dir(t.Opts.XlatBin), "xlat-clat")
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Base(t.Opts.XlatBin), link); err != nil {
				return err
			}
		}
		args = []string{link}
	}
	args = append(args, "translate", "--tun", TunName, "--rule", XlatRule, "--rfc6791", TaygaAddr4)
	args = append(args, t.Opts.XlatArgs...)
	p, err := t.XL.Start("xlat", args...)
	if err != nil {
		return err
	}
	t.Xlat = p
	return meshlab.WaitFor(ctx, "xlat-clat translate to bring up "+TunName, 20*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("xlat-clat exited: %s", p.Log())
		}
		out, err := t.XL.Runf(ctx, "ip -o link show %s up", TunName)
		return err == nil && strings.Contains(out, TunName), err
	})
}

// BuildBinary builds the multi-call binary into dir (for tests and the
// benchmark) and returns its path, named xlat-clat.
func BuildBinary(ctx context.Context, srcDir, dir string) (string, error) {
	out := filepath.Join(dir, "xlat-clat")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/gluon-464xlat")
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, b)
	}
	return out, nil
}
