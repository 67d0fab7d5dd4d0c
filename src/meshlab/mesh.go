package meshlab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// NodeSpec is one mesh node.
type NodeSpec struct {
	Name string // short, lower case ("a"); interface names derive from it
	MAC  string // primary MAC
	PLAT bool   // platnode: runs xlat-plat and has a WAN to the internet
}

// LinkSpec is a wired mesh link between two nodes.
type LinkSpec struct {
	A, B string
	Cost int // babel rxcost on both ends; 0 = babeld's wired default (96)
}

// ClientSpec is a client that first associates with Node.
type ClientSpec struct {
	Name, Node, MAC string
	// Visits are the nodes the client can roam to (its air has a port to
	// each, and to Node); nil means every node. A big mesh gives each
	// client only the nodes of its walk: a port per node and client would
	// be nodes x clients veths.
	Visits []string
}

// Spec describes a lab mesh.
type Spec struct {
	Prefix  string // namespace prefix ("lab" for tests, "demo" for the demo)
	BinDir  string // holds gluon-464xlat (and its links xlat-clat, xlat-plat, l3roamd-xlat)
	Site    Site
	Nodes   []NodeSpec
	Links   []LinkSpec
	Clients []ClientSpec
	// Roaming also starts l3roamd-xlat on every node.
	Roaming bool
	// PLATArgs are extra `xlat-plat run` arguments by node name (e.g. the
	// TAYGA backend on one platnode).
	PLATArgs map[string][]string
	// Hosted runs each node's daemons as roles of one `gluon-464xlat host`
	// process (Procs["host"]), started through its control socket as the
	// init scripts do in hosted mode (files/docs/memory.md).
	Hosted bool
	// Optional names daemons whose exit does not fail Mesh.Wait (the demo
	// checks the roaming helper in its own step).
	Optional map[string]bool
	// DHCPScript, if set, is passed to every node's dnsmasq as --dhcp-script
	// (the roaming helper's lease hook); DHCPHostsFile as --dhcp-hostsfile
	// (a path below each node's root).
	DHCPScript    string
	DHCPHostsFile string
	// BabelTiming, if set, replaces the lab's babel timing line
	// ("default type wired hello-interval 0.5 update-interval 4").
	BabelTiming string
	// Logf reports progress (nil = quiet).
	Logf func(format string, args ...any)
}

// Internet addresses (documentation ranges only).
var (
	// ServerAddr is the internet host that clients talk to.
	ServerAddr = netip.MustParseAddr("203.0.113.10")
	// LANHostAddr is an RFC 1918 host on the platnodes' WAN side (the PLAT
	// owner's LAN) that clients must not reach.
	LANHostAddr = netip.MustParseAddr("192.168.1.10")
	lanNet      = netip.MustParsePrefix("192.168.1.0/24")
	// wanNets are the first two platnodes' WAN networks (documentation
	// ranges); wanNet numbers further ones.
	wanNets = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24")}
)

// wanNet is the WAN network of the i-th platnode (0-based): the two
// documentation ranges, then /24s of 198.18.0.0/15 (RFC 2544, benchmarking),
// for meshes with more PLATs (the scale lab).
func wanNet(i int) (netip.Prefix, error) {
	if i < len(wanNets) {
		return wanNets[i], nil
	}
	if i-len(wanNets) >= 512 {
		return netip.Prefix{}, fmt.Errorf("meshlab: at most %d platnodes", len(wanNets)+512)
	}
	j := i - len(wanNets)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(j/256), byte(j % 256), 0}), 24), nil
}

// SeedSpec is the seed's example: the client associates on D; C is the
// platnode; A and B are where the client roams (D -> A -> B); E is a second
// platnode further away. Ring D-A-B-C-D plus E behind B:
//
//	        E (plat)
//	        |
//	A ----- B
//	|       |
//	D ----- C (plat)
//	|
//	client
//
// From D, C is one hop (metric 96) and E three (288), so D prefers C; when
// C fails, E (via A, B) is the fallback.
func SeedSpec(prefix, binDir string) Spec {
	return Spec{
		Prefix: prefix,
		BinDir: binDir,
		Site:   DefaultSite(),
		Nodes: []NodeSpec{
			{Name: "a", MAC: "02:00:5e:00:53:0a"},
			{Name: "b", MAC: "02:00:5e:00:53:0b"},
			{Name: "c", MAC: "02:00:5e:00:53:0c", PLAT: true},
			{Name: "d", MAC: "02:00:5e:00:53:0d"},
			{Name: "e", MAC: "02:00:5e:00:53:0e", PLAT: true},
		},
		Links: []LinkSpec{
			{A: "d", B: "a"}, {A: "a", B: "b"}, {A: "b", B: "c"}, {A: "c", B: "d"}, {A: "b", B: "e"},
		},
		Clients: []ClientSpec{{Name: "cl", Node: "d", MAC: "02:c1:1e:00:00:01"}},
	}
}

// Node is a running mesh node.
type Node struct {
	Spec       NodeSpec
	Index      int // 1-based, position in Spec.Nodes
	NS         *NS
	Root       string
	MAC        net.HardwareAddr
	Address    netip.Addr   // node address (/128 on lo)
	CLATPrefix netip.Prefix // expected own CLAT /96
	PLATPrefix netip.Prefix // expected own PLAT /96 (platnodes)
	WANAddr    netip.Addr   // platnodes: IPv4 address on br-wan
	MeshIfs    []string
	Procs      map[string]*Proc
	mesh       *Mesh
	flagConfig bool // upgrade step missing: daemons configured by flags
	Down       bool // powered off (its processes are expected to be gone)
}

// derive sets the node's address and /96s from its MAC, the way Gluon and
// the upgrade steps derive them on a node.
func (n *Node) derive(s Site) error {
	mac := addrmap.MAC(n.MAC)
	var err error
	if n.Address, err = addrmap.NodeAddress(s.NodePrefix6, mac); err != nil {
		return err
	}
	if n.CLATPrefix, err = addrmap.NodePrefix96(s.CLATRange, mac); err != nil {
		return err
	}
	if n.Spec.PLAT {
		n.PLATPrefix, err = addrmap.NodePrefix96(s.PLATRange, mac)
	}
	return err
}

// Client is a client namespace behind a node's client bridge.
type Client struct {
	Spec ClientSpec
	NS   *NS
	Air  *NS // the client's "air": a bridge to one node's client bridge at a time
	MAC  net.HardwareAddr
	Node string // node it is associated with now
	prev string // node it was associated with before ("" if none)
	dhcp *Proc
	m    *Mesh
}

// Mesh is a running lab mesh.
type Mesh struct {
	Spec    Spec
	Lab     *Lab
	Inet    *NS
	Nodes   map[string]*Node
	Clients map[string]*Client
	Servers *Servers
	Notes   []string // what the lab had to do differently (see logf)
	// BabelStarted and BabelAllStarted are when Start started the first and
	// the last node's babeld (convergence times count from them).
	BabelStarted, BabelAllStarted time.Time
	// OnMove, if set, runs after MoveClient has moved a client (a test's
	// stand-in for other daemons that react to the client's arrival).
	OnMove func(ctx context.Context, client, from, to string) error
	bin    string // multi-call binary
}

func (m *Mesh) logf(format string, args ...any) {
	m.Notes = append(m.Notes, fmt.Sprintf(format, args...))
	if m.Spec.Logf != nil {
		m.Spec.Logf(format, args...)
	}
}

// NodeList returns the nodes in spec order.
func (m *Mesh) NodeList() []*Node {
	out := make([]*Node, 0, len(m.Nodes))
	for _, n := range m.Nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// PLATNodes returns the platnodes in spec order.
func (m *Mesh) PLATNodes() []*Node {
	var out []*Node
	for _, n := range m.NodeList() {
		if n.Spec.PLAT {
			out = append(out, n)
		}
	}
	return out
}

// Start builds the mesh: namespaces, links, the internet, roots prepared by
// the packages' upgrade steps, babeld, dnsmasq and the PLATs. Then
// WaitConverged waits for babel, and StartNodes starts the other daemons
// (xlat-clat, l3roamd-xlat) and the clients; Up does both. The CLATs start
// after convergence so that their first choice of PLAT is the one babel
// settles on (the switch margin would otherwise keep a PLAT chosen from a
// half-converged table). On error everything is torn down again.
func Start(ctx context.Context, spec Spec) (m *Mesh, err error) {
	// The daemons run in other directories (dnsmasq's lease hook among
	// them): a relative --bin made every hook fail with "not found", the
	// lease nodes never learned a lease's end and every ROAM carried a
	// lease below the PLAT's minimum.
	if abs, err := filepath.Abs(spec.BinDir); err == nil {
		spec.BinDir = abs
	}
	bin := filepath.Join(spec.BinDir, "gluon-464xlat")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("meshlab: %w (run make build)", err)
	}
	for _, tool := range []string{"babeld", "dnsmasq", "busybox", "iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("meshlab: %s missing (files/scripts/deps.sh installs it): %w", tool, err)
		}
	}
	lab, err := New(spec.Prefix)
	if err != nil {
		return nil, err
	}
	m = &Mesh{Spec: spec, Lab: lab, Nodes: map[string]*Node{}, Clients: map[string]*Client{}, bin: bin}
	defer func() {
		if err != nil {
			m.Close()
			m = nil
		}
	}()
	if err := m.buildNetwork(ctx); err != nil {
		return nil, err
	}
	for _, n := range m.NodeList() {
		if err := m.prepareRoot(ctx, n); err != nil {
			return nil, err
		}
	}
	for i, n := range m.NodeList() {
		if err := m.startBabel(n); err != nil {
			return nil, err
		}
		if i == 0 {
			m.BabelStarted = time.Now()
		}
		m.BabelAllStarted = time.Now()
		if err := m.startDnsmasq(n); err != nil {
			return nil, err
		}
	}
	for _, n := range m.PLATNodes() {
		if err := m.startDaemon(n, "xlat-plat"); err != nil {
			return nil, err
		}
	}
	if m.Servers, err = StartServers(m.Inet, ServerAddr.String()); err != nil {
		return nil, err
	}
	return m, nil
}

// Close stops everything and removes every namespace.
func (m *Mesh) Close() error {
	if m.Servers != nil {
		m.Servers.Close()
	}
	return m.Lab.Close()
}

func ifName(prefix, name string) string {
	s := prefix + name
	if len(s) > 15 {
		s = s[:15]
	}
	return s
}

func (m *Mesh) buildNetwork(ctx context.Context) error {
	var err error
	if m.Inet, err = m.Lab.AddNS("inet"); err != nil {
		return err
	}
	if err := m.Inet.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
		return err
	}
	for _, a := range []netip.Addr{ServerAddr, LANHostAddr} {
		if _, err := m.Inet.Run(ctx, "ip", "addr", "add", a.String()+"/32", "dev", "lo"); err != nil {
			return err
		}
	}
	platIdx := 0
	for i, ns := range m.Spec.Nodes {
		mac, err := net.ParseMAC(ns.MAC)
		if err != nil || len(mac) != 6 {
			return fmt.Errorf("meshlab: node %s: bad MAC %q", ns.Name, ns.MAC)
		}
		n := &Node{Spec: ns, Index: i + 1, MAC: mac, Procs: map[string]*Proc{}, mesh: m,
			Root: filepath.Join(m.Lab.Dir(), "root-"+ns.Name)}
		if err := n.derive(m.Spec.Site); err != nil {
			return fmt.Errorf("meshlab: node %s: %w", ns.Name, err)
		}
		if n.NS, err = m.Lab.AddNS(ns.Name); err != nil {
			return err
		}
		m.Nodes[ns.Name] = n
		for _, kv := range [][2]string{
			{"net.ipv6.conf.all.forwarding", "1"}, {"net.ipv4.ip_forward", "1"},
			{"net.ipv6.conf.default.accept_dad", "0"}, {"net.ipv6.conf.all.accept_dad", "0"},
			{"net.ipv6.conf.default.accept_ra", "0"},
		} {
			if err := n.NS.Sysctl(kv[0], kv[1]); err != nil {
				return err
			}
		}
		cmds := [][]string{
			{"ip", "addr", "add", n.Address.String() + "/128", "dev", "lo"},
			{"ip", "link", "add", "br-client", "type", "bridge"},
			// Gluon answers for next_node.ip4 with next_node.mac on every
			// node (its local-node device), so that a roaming client's ARP
			// entry for the gateway stays right; the lab puts both on
			// br-client itself (no L2 between nodes' client bridges here).
			{"ip", "link", "set", "br-client", "address", m.Spec.Site.NextNodeMAC, "up"},
			{"ip", "addr", "add", netip.PrefixFrom(m.Spec.Site.NextNodeIP4, m.Spec.Site.Prefix4.Bits()).String(), "dev", "br-client"},
		}
		if ns.PLAT {
			wn, err := wanNet(platIdx)
			if err != nil {
				return err
			}
			platIdx++
			gw := wn.Addr().Next()
			n.WANAddr = gw.Next()
			inetIf := ifName("wan-", ns.Name)
			if err := m.Lab.Veth(n.NS, "wan0", m.Inet, inetIf); err != nil {
				return err
			}
			if _, err := m.Inet.Run(ctx, "ip", "addr", "add", netip.PrefixFrom(gw, wn.Bits()).String(), "dev", inetIf); err != nil {
				return err
			}
			cmds = append(cmds,
				[]string{"ip", "link", "add", "br-wan", "type", "bridge"},
				[]string{"ip", "link", "set", "br-wan", "up"},
				[]string{"ip", "link", "set", "wan0", "master", "br-wan"},
				[]string{"ip", "addr", "add", netip.PrefixFrom(n.WANAddr, wn.Bits()).String(), "dev", "br-wan"},
				[]string{"ip", "route", "add", "default", "via", gw.String()},
				[]string{"ip", "route", "add", lanNet.String(), "via", gw.String()},
			)
		}
		for _, c := range cmds {
			if _, err := n.NS.Run(ctx, c...); err != nil {
				return err
			}
		}
	}
	for _, l := range m.Spec.Links {
		a, b := m.Nodes[l.A], m.Nodes[l.B]
		if a == nil || b == nil {
			return fmt.Errorf("meshlab: link %s-%s: unknown node", l.A, l.B)
		}
		aIf, bIf := ifName("mesh-", l.B), ifName("mesh-", l.A)
		if err := m.Lab.Veth(a.NS, aIf, b.NS, bIf); err != nil {
			return err
		}
		a.MeshIfs = append(a.MeshIfs, aIf)
		b.MeshIfs = append(b.MeshIfs, bIf)
	}
	return nil
}

// Cmd returns the command line of one of the package commands (xlat-clat,
// xlat-plat, l3roamd-xlat) with args.
func (m *Mesh) Cmd(name string, args ...string) []string {
	if link := filepath.Join(m.Spec.BinDir, name); fileExists(link) {
		return append([]string{link}, args...)
	}
	return append([]string{m.bin, name}, args...)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// packages returns the package commands installed on n, in upgrade order
// (440 PLAT, 450 CLAT, then roaming).
func (m *Mesh) packages(n *Node) []string {
	var p []string
	if n.Spec.PLAT {
		p = append(p, "xlat-plat")
	}
	p = append(p, "xlat-clat")
	if m.Spec.Roaming {
		p = append(p, "l3roamd-xlat")
	}
	return p
}

func (m *Mesh) prepareRoot(ctx context.Context, n *Node) error {
	if err := writeRoot(n.Root, m.Spec.Site, n.MAC); err != nil {
		return fmt.Errorf("meshlab: root of %s: %w", n.Spec.Name, err)
	}
	// 300-gluon-mesh-babel-mkconfig comes before the packages' steps.
	if err := os.WriteFile(filepath.Join(n.Root, "etc/gluon-babeld.conf"),
		[]byte(babelConf(m.Spec.Site, n.Address)), 0o644); err != nil {
		return err
	}
	var lab strings.Builder
	lab.WriteString("# lab only: fast hellos, so that the mesh converges in seconds;\n")
	lab.WriteString("# no metric smoothing: a route learnt while its link still had infinite\n")
	lab.WriteString("# cost would otherwise need ~30 s (half-life 4 s) to win over a longer one\n")
	lab.WriteString("smoothing-half-life 0\n")
	timing := "default type wired hello-interval 0.5 update-interval 4"
	if m.Spec.BabelTiming != "" {
		timing = m.Spec.BabelTiming
	}
	lab.WriteString(timing + "\n")
	for _, l := range m.Spec.Links {
		if l.Cost == 0 {
			continue
		}
		for _, pair := range [][2]string{{l.A, l.B}, {l.B, l.A}} {
			if pair[0] == n.Spec.Name {
				fmt.Fprintf(&lab, "interface %s rxcost %d\n", ifName("mesh-", pair[1]), l.Cost)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(n.Root, "etc/lab-babeld.conf"), []byte(lab.String()), 0o644); err != nil {
		return err
	}
	for _, pkg := range m.packages(n) {
		args := m.Cmd(pkg, "upgrade", "--root", n.Root)
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		if err != nil && strings.Contains(string(out), "not implemented yet") {
			// Transitional, while the upgrade steps are being written: the
			// lab passes the daemon its configuration on the command line.
			m.logf("note: %s upgrade is not implemented yet; configuring %s on %s by flags", pkg, pkg, n.Spec.Name)
			n.flagConfig = true
			continue
		}
		if err != nil {
			return fmt.Errorf("meshlab: node %s: %s upgrade --root %s: %v: %s", n.Spec.Name, pkg, n.Root, err, bytesTrim(out))
		}
	}
	return m.checkRedistribution(n)
}

// checkRedistribution makes sure the upgrade steps wrote babeld's
// redistribution (the seed's `redistribute ip <range> eq 96 allow`, and
// with roaming the /128s l3roamd-xlat announces with proto 158 and the
// deny of the PLATs' steering routes, proto 159) into the root's
// /etc/gluon-babeld.conf, which the lab's babeld reads; the lab adds no
// filter lines of its own (etc/lab-babeld.conf only holds its timing).
func (m *Mesh) checkRedistribution(n *Node) error {
	conf := filepath.Join(n.Root, "etc/gluon-babeld.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		have[strings.Join(strings.Fields(l), " ")] = true
	}
	var want []string
	for _, r := range []netip.Prefix{m.Spec.Site.CLATRange, m.Spec.Site.PLATRange} {
		want = append(want, fmt.Sprintf("redistribute ip %s eq 96 allow", r))
	}
	if m.Spec.Roaming {
		want = append(want, "default split-horizon false", "redistribute proto 159 deny",
			fmt.Sprintf("redistribute proto 160 ip %s eq 128 metric 16384", m.Spec.Site.CLATRange),
			fmt.Sprintf("redistribute proto 158 ip %s eq 128 allow", m.Spec.Site.CLATRange),
			fmt.Sprintf("redistribute proto 160 ip %s eq 128 metric 16384", m.Spec.Site.NodeClientPrefix6))
	}
	var missing []string
	for _, l := range want {
		if !have[l] {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("meshlab: node %s: the upgrade steps wrote no %q to %s", n.Spec.Name, missing, conf)
	}
	return nil
}

func (m *Mesh) startBabel(n *Node) error {
	args := []string{"babeld",
		"-I", filepath.Join(n.Root, "var/run/gluon-babeld.pid"),
		"-S", filepath.Join(n.Root, "var/lib/babel-state"),
		"-G", "33123",
		"-c", filepath.Join(n.Root, "etc/gluon-babeld.conf"),
		"-c", filepath.Join(n.Root, "etc/lab-babeld.conf")}
	if b, err := os.ReadFile(filepath.Join(n.Root, "tmp/addn-babelopts")); err == nil {
		args = append(args, strings.Fields(string(b))...)
	}
	args = append(args, n.MeshIfs...)
	p, err := n.NS.Start("babeld", args...)
	if err != nil {
		return err
	}
	n.Procs["babeld"] = p
	return nil
}

// dhcpRange is the part of the client network a node's dnsmasq hands out
// (distinct per node, so that a roamed client's address stays unique).
func (m *Mesh) dhcpRange(n *Node) (netip.Addr, netip.Addr) {
	b := m.Spec.Site.Prefix4.Masked().Addr().As4()
	b[2], b[3] = byte(n.Index), 10
	lo := netip.AddrFrom4(b)
	b[3] = 99
	return lo, netip.AddrFrom4(b)
}

func (m *Mesh) startDnsmasq(n *Node) error {
	lo, hi := m.dhcpRange(n)
	mask := net.IP(net.CIDRMask(m.Spec.Site.Prefix4.Bits(), 32)).String()
	args := []string{"dnsmasq", "--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null",
		"--port=0", "--user=root", "--group=root", "--bind-interfaces", "--interface=br-client",
		"--except-interface=lo", "--dhcp-authoritative",
		fmt.Sprintf("--dhcp-range=%s,%s,%s,1h", lo, hi, mask),
		"--dhcp-option=option:router," + m.Spec.Site.NextNodeIP4.String(),
		"--dhcp-leasefile=" + filepath.Join(n.Root, "tmp/dhcp.leases"),
		"--pid-file=" + filepath.Join(n.Root, "var/run/dnsmasq.pid"),
		"--log-dhcp",
	}
	switch {
	case m.Spec.DHCPScript != "":
		args = append(args, "--dhcp-script="+m.Spec.DHCPScript)
	case m.Spec.Roaming:
		// The roaming helper learns leases from dnsmasq's lease hook; the
		// wrapper passes the node's root, as the package's hook script does.
		hook := filepath.Join(n.Root, "usr/lib/l3roamd-xlat/dhcp-script")
		cmd := strings.Join(m.Cmd("l3roamd-xlat", "lease", "--root", n.Root), " ")
		if err := os.MkdirAll(filepath.Dir(hook), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(hook, []byte("#!/bin/sh\nexec "+cmd+" \"$@\"\n"), 0o755); err != nil {
			return err
		}
		args = append(args, "--dhcp-script="+hook)
	}
	hosts := m.Spec.DHCPHostsFile
	if hosts == "" && m.Spec.Roaming {
		hosts = xlatconf.DefaultRoamdHostsFile
	}
	if hosts != "" {
		// The roaming helper keeps roamed clients' addresses here and
		// SIGHUPs dnsmasq (address continuity).
		p := filepath.Join(n.Root, hosts)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
		args = append(args, "--dhcp-hostsfile="+p)
	}
	p, err := n.NS.Start("dnsmasq", args...)
	if err != nil {
		return err
	}
	n.Procs["dnsmasq"] = p
	return nil
}

// Trace reports whether MESHLAB_TRACE=1 asks for a roaming lab's traces:
// l3roamd-xlat with --debug, a route monitor per node, and the lab's log
// directory kept after the test.
func Trace() bool { return os.Getenv("MESHLAB_TRACE") == "1" }

// labReleaseHold is l3roamd-xlat's --release-hold in the lab.
const labReleaseHold = 10 * time.Second

// startDaemon starts one package daemon on n as its init script does.
func (m *Mesh) startDaemon(n *Node, pkg string) error {
	args := []string{"run", "--root", n.Root}
	if n.flagConfig && pkg == "xlat-plat" {
		args = append(args, "--prefix", n.PLATPrefix.String(), "--clat-range", m.Spec.Site.CLATRange.String(), "--wan", "br-wan")
	}
	if pkg == "xlat-plat" {
		args = append(args, m.Spec.PLATArgs[n.Spec.Name]...)
	}
	if pkg == "l3roamd-xlat" {
		// dnsmasq re-reads the hosts file on SIGHUP. The lab's babel sends
		// full updates every 4 s, so release routes need not stay the
		// default 60 s (tests wait for them to go).
		args = append(args, "--dnsmasq-pidfile", "/var/run/dnsmasq.pid", "--release-hold", labReleaseHold.String())
		if Trace() {
			args = append(args, "--debug")
		}
	}
	if m.Spec.Hosted {
		return m.startRole(n, pkg, args)
	}
	p, err := n.NS.Start(pkg, m.Cmd(pkg, args...)...)
	if err != nil {
		return err
	}
	n.Procs[pkg] = p
	return nil
}

// StartNodes starts xlat-clat (and l3roamd-xlat) on every node, then the
// clients.
//
// The roaming helper starts first, and the CLAT only once the helper's
// control socket exists: the CLAT tells it the chosen PLAT (set_platprefix)
// once, when it chooses, and a notification sent before the socket exists is
// lost.
func (m *Mesh) StartNodes(ctx context.Context) error {
	if m.Spec.Roaming && Trace() {
		// every route change of every node, with timestamps, for reading
		// a hop's timeline against the daemons' debug logs
		m.Lab.KeepDir()
		for _, n := range m.NodeList() {
			if _, err := n.NS.Start("routes", "ip", "-ts", "-6", "monitor", "route"); err != nil {
				return err
			}
		}
	}
	if m.Spec.Roaming {
		for _, n := range m.NodeList() {
			if err := m.startDaemon(n, "l3roamd-xlat"); err != nil {
				return err
			}
		}
		for _, n := range m.NodeList() {
			sock := filepath.Join(n.Root, xlatconf.DefaultRoamdSocket)
			if err := m.Wait(ctx, "l3roamd-xlat's socket on "+n.Spec.Name, 50*time.Millisecond, func() (bool, error) {
				_, err := os.Stat(sock)
				return err == nil, err
			}); err != nil {
				return err
			}
		}
	}
	for _, n := range m.NodeList() {
		if err := m.startDaemon(n, "xlat-clat"); err != nil {
			return err
		}
	}
	for _, cs := range m.Spec.Clients {
		if err := m.addClient(ctx, cs); err != nil {
			return err
		}
	}
	return nil
}

// Up waits for babel to converge and starts the nodes' daemons and clients.
func (m *Mesh) Up(ctx context.Context) error {
	if err := m.WaitConverged(ctx); err != nil {
		return err
	}
	return m.StartNodes(ctx)
}

const udhcpcScript = `#!/bin/sh
# udhcpc event script of the lab's clients
case "$1" in
deconfig) ip -4 addr flush dev "$interface" ;;
bound|renew)
	ip -4 addr replace "$ip/$mask" dev "$interface"
	for r in $router; do ip -4 route replace default via "$r" dev "$interface"; break; done ;;
esac
exit 0
`

// AddClient adds a client after the start (it associates with cs.Node).
func (m *Mesh) AddClient(ctx context.Context, cs ClientSpec) (*Client, error) {
	if m.Clients[cs.Name] != nil {
		return nil, fmt.Errorf("meshlab: client %s exists", cs.Name)
	}
	if err := m.addClient(ctx, cs); err != nil {
		return nil, err
	}
	return m.Clients[cs.Name], nil
}

func (m *Mesh) addClient(ctx context.Context, cs ClientSpec) error {
	n := m.Nodes[cs.Node]
	if n == nil {
		return fmt.Errorf("meshlab: client %s: unknown node %q", cs.Name, cs.Node)
	}
	mac, err := net.ParseMAC(cs.MAC)
	if err != nil {
		return fmt.Errorf("meshlab: client %s: bad MAC %q", cs.Name, cs.MAC)
	}
	ns, err := m.Lab.AddNS(cs.Name)
	if err != nil {
		return err
	}
	// The "air": the client's eth0 goes to a bridge in its own namespace;
	// every node has a port towards it (in its client bridge), and roaming
	// changes which node's port is on the air bridge. The client's link
	// stays up, as a phone's Wi-Fi does when it roams between access points
	// of the same SSID.
	air, err := m.Lab.AddNS("air-" + cs.Name)
	if err != nil {
		return err
	}
	c := &Client{Spec: cs, NS: ns, Air: air, MAC: mac, m: m}
	m.Clients[cs.Name] = c
	if err := m.clientLinks(c); err != nil {
		return err
	}
	if err := c.attach(ctx, n); err != nil {
		return err
	}
	// Written once: rewriting it while another client's udhcpc execs it
	// fails with "text file busy".
	script := filepath.Join(m.Lab.Dir(), "udhcpc.script")
	if !fileExists(script) {
		if err := os.WriteFile(script, []byte(udhcpcScript), 0o755); err != nil {
			return err
		}
	}
	p, err := ns.Start("udhcpc", "busybox", "udhcpc", "-f", "-i", "eth0", "-s", script, "-t", "20", "-T", "1", "-A", "1")
	if err != nil {
		return err
	}
	c.dhcp = p
	return nil
}

// clientLinks makes the client's links over netlink: eth0 (with the
// client's MAC) to its air bridge, and one port per node it can visit into
// that node's client bridge (not yet on the air bridge: attach does that).
func (m *Mesh) clientLinks(c *Client) error {
	cl, err := openNL(c.NS)
	if err != nil {
		return err
	}
	defer cl.Close()
	air, err := openNL(c.Air)
	if err != nil {
		return err
	}
	defer air.Close()
	// The air's own ports must stay silent: with IPv6 they would send
	// router solicitations and MLD from their own MACs, and every node would
	// see them as clients. The bridge device also sent IGMPv3 reports from
	// 0.0.0.0 when it came up (a phantom client per real one: 150 more
	// node-client-IPs in the 50-node lab).
	for k, v := range map[string]string{"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1",
		"net.ipv4.igmp_link_local_mcast_reports": "0"} {
		if err := air.sysctl(k, v); err != nil {
			return err
		}
	}
	if err := air.bridge("air"); err != nil {
		return err
	}
	if err := vethNL(cl, "eth0", c.MAC, air, "client"); err != nil {
		return err
	}
	if err := air.master("client", "air"); err != nil {
		return err
	}
	if err := air.up("air", "client"); err != nil {
		return err
	}
	if err := cl.up("eth0"); err != nil {
		return err
	}
	for _, node := range m.clientNodes(c.Spec) {
		nl, err := openNL(node.NS)
		if err != nil {
			return err
		}
		nodeIf, airIf := ifName("c-", c.Spec.Name), ifName("n-", node.Spec.Name)
		err = vethNL(nl, nodeIf, nil, air, airIf)
		if err == nil {
			// A bridge port needs no addresses of its own (the node would
			// see the port's own link-local traffic as a client).
			err = nl.sysctl("net.ipv6.conf."+nodeIf+".disable_ipv6", "1")
		}
		if err == nil {
			err = nl.master(nodeIf, "br-client")
		}
		if err == nil {
			err = nl.up(nodeIf)
		}
		nl.Close()
		if err == nil {
			err = air.up(airIf)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// clientNodes are the nodes client cs's air has a port to: cs.Visits and
// cs.Node, or every node.
func (m *Mesh) clientNodes(cs ClientSpec) []*Node {
	if cs.Visits == nil {
		return m.NodeList()
	}
	want := map[string]bool{cs.Node: true}
	for _, v := range cs.Visits {
		want[v] = true
	}
	var out []*Node
	for _, n := range m.NodeList() {
		if want[n.Spec.Name] {
			out = append(out, n)
		}
	}
	return out
}

// attach puts node n's port on the client's air bridge (and takes the
// previous node's port off).
//
// Both port changes go over one netlink handle, microseconds apart: with
// one `ip link` process each, the client was on no node for the second
// process's start (20 to 150 ms on a loaded box), and that gap counted in
// every measured roaming stall.
func (c *Client) attach(ctx context.Context, n *Node) error {
	nl, err := openNL(c.Air)
	if err != nil {
		return err
	}
	defer nl.Close()
	air, err := nl.h.LinkByName("air")
	if err != nil {
		return fmt.Errorf("meshlab: %s: air bridge: %w", c.Spec.Name, err)
	}
	to, err := nl.h.LinkByName(ifName("n-", n.Spec.Name))
	if err != nil {
		return fmt.Errorf("meshlab: %s: port towards %s: %w", c.Spec.Name, n.Spec.Name, err)
	}
	if c.Node != "" {
		from, err := nl.h.LinkByName(ifName("n-", c.Node))
		if err == nil {
			err = nl.h.LinkSetNoMaster(from)
		}
		if err != nil {
			return fmt.Errorf("meshlab: %s: leave %s: %w", c.Spec.Name, c.Node, err)
		}
	}
	if err := nl.h.LinkSetMaster(to, air); err != nil {
		return fmt.Errorf("meshlab: %s: join %s: %w", c.Spec.Name, n.Spec.Name, err)
	}
	c.prev, c.Node = c.Node, n.Spec.Name
	return nil
}

// IPv4 returns the client's current IPv4 address on eth0 (invalid if none).
func (c *Client) IPv4(ctx context.Context) netip.Addr {
	out, err := c.NS.Run(ctx, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		return netip.Addr{}
	}
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "inet" {
			if p, err := netip.ParsePrefix(f[i+1]); err == nil {
				return p.Addr()
			}
		}
	}
	return netip.Addr{}
}

// WaitLease waits until the client has an IPv4 address.
func (c *Client) WaitLease(ctx context.Context) (netip.Addr, error) {
	var a netip.Addr
	err := WaitFor(ctx, "DHCPv4 lease of client "+c.Spec.Name, 100*time.Millisecond, func() (bool, error) {
		a = c.IPv4(ctx)
		return a.IsValid(), nil
	})
	return a, err
}

// MoveClient roams the client to node: its "air" connects it to the new
// node's client bridge instead of the old one's. The client keeps its link,
// its address and its DHCP client (which renews at the new node in due
// time). This is the roaming sequence's hook.
func (m *Mesh) MoveClient(ctx context.Context, name, node string) error {
	c, n := m.Clients[name], m.Nodes[node]
	if c == nil || n == nil {
		return fmt.Errorf("meshlab: move %s to %s: unknown client or node", name, node)
	}
	from := c.Node
	if !slices.ContainsFunc(m.clientNodes(c.Spec), func(v *Node) bool { return v == n }) {
		return fmt.Errorf("meshlab: move %s to %s: not among the nodes it can visit", name, node)
	}
	if err := c.attach(ctx, n); err != nil {
		return err
	}
	if m.OnMove != nil {
		return m.OnMove(ctx, name, from, node)
	}
	return nil
}

// PowerOff simulates node n losing power: every process of the node is
// killed (no goodbye from babeld, no cleanup by the daemons) and all its
// links go down.
func (n *Node) PowerOff(ctx context.Context) error {
	var errs []error
	n.Down = true
	for _, p := range n.Procs {
		// The whole process group: the daemons' own children too.
		if err := p.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	ifs := append([]string{"wan0"}, n.MeshIfs...)
	for _, ifc := range ifs {
		if ifc == "wan0" && !n.Spec.PLAT {
			continue
		}
		if _, err := n.NS.Run(ctx, "ip", "link", "set", ifc, "down"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
