package meshlab

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The full-path benchmark (issue 9, item 1) measures a client's IPv4 to the
// internet host over the seed mesh three ways in one lab, told apart by the
// destination address, so that every run can alternate between them without
// restarting anything:
//
//	PathXlat   203.0.113.10: D's xlat-clat, babel mesh, C's NAT66, xlat-plat's
//	           translator and IPv4 masquerade (the product).
//	PathNative 203.0.113.11: the same hops routing IPv4 natively (static
//	           routes over IPv4 addresses on the mesh links, masquerade on C).
//	PathTayga  203.0.113.12: TAYGA as CLAT on D and as PLAT translator on C,
//	           with the same NAT66 and masquerade (as platd's tayga backend
//	           sets them up). TAYGA refuses prefixes in 64:ff9b::/16 (the
//	           lab's plat_range), so its PLAT prefix is the PLAT node's CLAT
//	           /96, which babel routes to that node over the same hops.
//
// A policy rule on the client's node (priority below the CLAT's) sends the
// native and TAYGA destinations past the CLAT table; more specific routes
// (/128 on the PLAT for the TAYGA target, /128 on D for TAYGA's client
// mapping) take those packets past xlat-clat's and xlat-plat's /96 routes.
type PathVariant string

const (
	PathNative PathVariant = "native"
	PathTayga  PathVariant = "tayga"
	PathXlat   PathVariant = "xlat"
)

// PathVariants in table order.
var PathVariants = []PathVariant{PathNative, PathTayga, PathXlat}

// Target returns the internet host's address the variant's traffic goes to.
func (v PathVariant) Target() netip.Addr {
	switch v {
	case PathNative:
		return netip.MustParseAddr("203.0.113.11")
	case PathTayga:
		return netip.MustParseAddr("203.0.113.12")
	}
	return ServerAddr
}

// Addresses of the TAYGA variant. TAYGA maps the client to an address of D's
// CLAT /96 that xlat-clat's mapping of a 10.80/16 client never uses
// (192.0.0.170 embedded), so that the replies can be routed to TAYGA by a
// /128; on the PLAT its NAT66 address lies outside the /96, as TAYGA wants.
var (
	taygaClientEmbed = netip.MustParseAddr("192.0.0.170")
	taygaCLATv4      = netip.MustParseAddr("192.0.0.5") // TAYGA's own address on D
	taygaPLATv4      = netip.MustParseAddr("192.0.0.6") // TAYGA's own address on C
	taygaPLATMap     = netip.MustParseAddr("192.0.0.9") // NAT66 address's IPv4 on C
	taygaNAT66       = netip.MustParseAddr("fddd:c:1a4c:1a4c:1a4c:1a4c:c000:9")
)

// pathRulePriority sends the native and TAYGA destinations to the main table
// before the CLAT's rule (clatd.RulePriority, 30464) sees them.
const pathRulePriority = 30000

// embed4 returns the address of p (a /96) with v4 in its last 32 bits.
func embed4(p netip.Prefix, v4 netip.Addr) netip.Addr {
	b := p.Masked().Addr().As16()
	a := v4.As4()
	copy(b[12:], a[:])
	return netip.AddrFrom16(b)
}

// PathLab is the seed mesh prepared for the full-path benchmark.
type PathLab struct {
	Mesh   *Mesh
	Client *Client
	Addr4  netip.Addr // the client's IPv4 address
	Hops   []*Node    // client's node ... PLAT node, along babel's IPv6 route
	PLAT   *Node
	// Procs whose CPU time the benchmark reports, per variant: the
	// translators at the two ends.
	Procs map[PathVariant][]*Proc
}

// PathOptions configure StartPathLab.
type PathOptions struct {
	Prefix string // namespace prefix (default "pb")
	BinDir string
	// Unpinned leaves the client node's CLAT free to choose its PLAT (with
	// probes and failover, as on a node). By default it is pinned (UCI
	// plat_prefix) to the nearest platnode, the PLAT the native and TAYGA
	// paths use: under the benchmark's load its probes can time out and
	// move it to a farther PLAT, and the variants would then be measured
	// over different hops.
	Unpinned bool
	Logf     func(format string, args ...any)
}

// StartPathLab starts the seed mesh (without roaming), waits for the
// client's lease and its IPv4 through the CLAT, and adds the native and
// TAYGA paths next to it. The caller closes Mesh.
func StartPathLab(ctx context.Context, o PathOptions) (pl *PathLab, err error) {
	if o.Prefix == "" {
		o.Prefix = "pb"
	}
	spec := SeedSpec(o.Prefix, o.BinDir)
	spec.Logf = o.Logf
	m, err := Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if err := m.WaitConverged(ctx); err != nil {
		return nil, err
	}
	pl = &PathLab{Mesh: m, Procs: map[PathVariant][]*Proc{}}
	if err := pl.findHops(ctx, m.Nodes[spec.Clients[0].Node]); err != nil {
		return nil, err
	}
	if !o.Unpinned {
		if err := pinPLAT(pl.Hops[0], pl.PLAT.PLATPrefix); err != nil {
			return nil, err
		}
	}
	if err := m.StartNodes(ctx); err != nil {
		return nil, err
	}
	pl.Client = m.Clients[spec.Clients[0].Name]
	if pl.Addr4, err = pl.Client.WaitLease(ctx); err != nil {
		return nil, err
	}
	c := pl.Client
	if err := m.Wait(ctx, "the client's IPv4 through the CLAT", 200*time.Millisecond, func() (bool, error) {
		_, err := TCPHello(ctx, c.NS, ServerAddr.String(), time.Second)
		return err == nil, err
	}); err != nil {
		return nil, err
	}
	pl.Procs[PathXlat] = []*Proc{pl.Hops[0].Procs["xlat-clat"]}
	for _, p := range m.PLATNodes() {
		pl.Procs[PathXlat] = append(pl.Procs[PathXlat], p.Procs["xlat-plat"])
	}
	for _, a := range []netip.Addr{PathNative.Target(), PathTayga.Target()} {
		if _, err := m.Inet.Run(ctx, "ip", "addr", "add", a.String()+"/32", "dev", "lo"); err != nil {
			return nil, err
		}
	}
	if err := pl.addNative(ctx); err != nil {
		return nil, fmt.Errorf("native path: %w", err)
	}
	if err := pl.addTayga(ctx); err != nil {
		return nil, fmt.Errorf("tayga path: %w", err)
	}
	for _, v := range PathVariants {
		if err := m.Wait(ctx, string(v)+" path to "+v.Target().String(), 200*time.Millisecond, func() (bool, error) {
			_, err := c.NS.Run(ctx, "ping", "-c1", "-W1", v.Target().String())
			return err == nil, err
		}); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// pinPLAT fixes n's CLAT to plat (option plat_prefix in its UCI config).
func pinPLAT(n *Node, plat netip.Prefix) error {
	path := filepath.Join(n.Root, "etc/config/gluon-464xlat")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("meshlab: pin the CLAT of %s: %w", n.Spec.Name, err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "config" && f[1] == "clat" {
			lines = append(lines[:i+1], append([]string{fmt.Sprintf("\toption plat_prefix '%s'", plat)}, lines[i+1:]...)...)
			return os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
		}
	}
	return fmt.Errorf("meshlab: pin the CLAT of %s: no clat section in %s", n.Spec.Name, path)
}

// CLATState is the part of `xlat-clat status --json` the benchmark reports.
type CLATState struct {
	PLAT       string `json:"plat"`
	Fixed      bool   `json:"fixed"`
	Switches   int    `json:"switches"`
	LastSwitch *struct {
		At     time.Time `json:"at"`
		From   string    `json:"from"`
		To     string    `json:"to"`
		Reason string    `json:"reason"`
	} `json:"last_switch"`
	Probe struct {
		Sent      uint64 `json:"sent"`
		Failed    uint64 `json:"failed"`
		LastError string `json:"last_error"`
	} `json:"probe"`
}

// CLATState asks the client node's CLAT for its state.
func (pl *PathLab) CLATState(ctx context.Context) (CLATState, error) {
	return pl.Hops[0].CLATState(ctx)
}

// findHops follows the IPv6 route from the client's node (first) towards the PLAT
// that babel prefers (the nearest platnode) and records the nodes on it.
func (pl *PathLab) findHops(ctx context.Context, first *Node) error {
	m := pl.Mesh
	routes, err := first.BabelRoutes(ctx)
	if err != nil {
		return err
	}
	best := -1
	for _, p := range m.PLATNodes() {
		if metric, ok := routes[p.PLATPrefix]; ok && (best < 0 || metric < best) {
			best, pl.PLAT = metric, p
		}
	}
	if pl.PLAT == nil {
		return fmt.Errorf("meshlab: %s has no route to any PLAT", first.Spec.Name)
	}
	dst := embed4(pl.PLAT.PLATPrefix, ServerAddr)
	pl.Hops = []*Node{first}
	for n := first; n != pl.PLAT; {
		if len(pl.Hops) > len(m.Nodes) {
			return fmt.Errorf("meshlab: route to %s loops: %v", dst, hopNames(pl.Hops))
		}
		out, err := n.NS.Run(ctx, "ip", "-6", "route", "get", dst.String())
		if err != nil {
			return err
		}
		next := nextHopNode(m, n, out)
		if next == nil {
			return fmt.Errorf("meshlab: %s: route to %s leaves by no mesh link: %s", n.Spec.Name, dst, strings.TrimSpace(out))
		}
		pl.Hops = append(pl.Hops, next)
		n = next
	}
	return nil
}

// nextHopNode reads the outgoing device of `ip route get` and returns the
// node at the other end of that mesh link.
func nextHopNode(m *Mesh, n *Node, routeGet string) *Node {
	f := strings.Fields(routeGet)
	for i := 0; i+1 < len(f); i++ {
		if f[i] != "dev" {
			continue
		}
		for _, o := range m.Nodes {
			if o != n && ifName("mesh-", o.Spec.Name) == f[i+1] {
				return o
			}
		}
	}
	return nil
}

func hopNames(hops []*Node) []string {
	var s []string
	for _, h := range hops {
		s = append(s, h.Spec.Name)
	}
	return s
}

// HopNames describes the path: client, nodes, internet host.
func (pl *PathLab) HopNames() string {
	return strings.Join(append(append([]string{pl.Client.Spec.Name}, hopNames(pl.Hops)...), "inet"), " -> ")
}

// linkAddrs are the IPv4 addresses of hop i's link (172.31.i.0/30): the
// upstream node's end and the downstream node's end.
func linkAddrs(i int) (up, down netip.Addr) {
	base := netip.AddrFrom4([4]byte{172, 31, byte(i), 0})
	return base.Next(), base.Next().Next()
}

// addNative gives the path's mesh links IPv4 addresses and routes the native
// target hop by hop, the client's /32 back, and masquerades on the PLAT node
// as it does for the translated traffic.
func (pl *PathLab) addNative(ctx context.Context) error {
	target := PathNative.Target().String() + "/32"
	client := pl.Addr4.String() + "/32"
	for i := 0; i+1 < len(pl.Hops); i++ {
		x, y := pl.Hops[i], pl.Hops[i+1]
		xa, ya := linkAddrs(i + 1)
		steps := []struct {
			n    *Node
			args string
		}{
			{x, fmt.Sprintf("ip addr add %s/30 dev %s", xa, ifName("mesh-", y.Spec.Name))},
			{y, fmt.Sprintf("ip addr add %s/30 dev %s", ya, ifName("mesh-", x.Spec.Name))},
			{x, fmt.Sprintf("ip route add %s via %s", target, ya)},
			// Every node has the client network on its own br-client: the
			// client's /32 is more specific.
			{y, fmt.Sprintf("ip route add %s via %s", client, xa)},
		}
		for _, s := range steps {
			if _, err := s.n.NS.Runf(ctx, "%s", s.args); err != nil {
				return err
			}
		}
	}
	first := pl.Hops[0]
	for _, v := range []PathVariant{PathNative, PathTayga} {
		if _, err := first.NS.Runf(ctx, "ip rule add priority %d to %s/32 lookup main", pathRulePriority, v.Target()); err != nil {
			return err
		}
	}
	_, err := pl.PLAT.NS.Runf(ctx, "iptables -t nat -A POSTROUTING -o br-wan -s %s -j MASQUERADE", client)
	return err
}

// addTayga starts TAYGA on the client's node (CLAT) and on the PLAT node
// (translator between the NAT66 address and its IPv4 address).
func (pl *PathLab) addTayga(ctx context.Context) error {
	first, plat := pl.Hops[0], pl.PLAT
	clientMap := embed4(first.CLATPrefix, taygaClientEmbed)
	prefix := plat.CLATPrefix // see PathTayga
	target6 := embed4(prefix, PathTayga.Target())
	clat, err := pl.startTayga(ctx, first, "tgclat", taygaCLATv4, prefix, pl.Addr4, clientMap)
	if err != nil {
		return err
	}
	platP, err := pl.startTayga(ctx, plat, "tgplat", taygaPLATv4, prefix, taygaPLATMap, taygaNAT66)
	if err != nil {
		return err
	}
	pl.Procs[PathTayga] = []*Proc{clat, platP}
	steps := []struct {
		n    *Node
		args string
	}{
		// CLAT: the IPv4 route with xlat-clat's MTU and MSS (IPv6 MTU
		// 1500 - 20, - 60), the replies to TAYGA's client mapping.
		{first, fmt.Sprintf("ip route add %s/32 dev tgclat mtu 1480 advmss 1440", PathTayga.Target())},
		{first, fmt.Sprintf("ip -6 route add %s/128 dev tgclat", clientMap)},
		// PLAT: the target past xlat-clat's /96 there, NAT66 into the device,
		// the IPv4 replies back into it, masquerade out of the WAN.
		{plat, fmt.Sprintf("ip -6 route add %s/128 dev tgplat", target6)},
		{plat, fmt.Sprintf("ip6tables -t nat -A POSTROUTING -o tgplat -j SNAT --to-source %s", taygaNAT66)},
		{plat, fmt.Sprintf("ip route add %s/32 dev tgplat", taygaPLATMap)},
		{plat, fmt.Sprintf("iptables -t nat -A POSTROUTING -o br-wan -s %s/32 -j MASQUERADE", taygaPLATMap)},
	}
	for _, s := range steps {
		if _, err := s.n.NS.Runf(ctx, "%s", s.args); err != nil {
			return err
		}
	}
	return nil
}

// startTayga writes a TAYGA configuration (prefix, one static map), creates
// its TUN device and starts it in the foreground.
func (pl *PathLab) startTayga(ctx context.Context, n *Node, dev string, own netip.Addr, prefix netip.Prefix, v4 netip.Addr, v6 netip.Addr) (*Proc, error) {
	dir := filepath.Join(pl.Mesh.Lab.Dir(), n.Spec.Name+"-"+dev)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "tayga.conf")
	text := fmt.Sprintf("tun-device %s\nipv4-addr %s\nprefix %s\nmap %s %s\ndata-dir %s\n", dev, own, prefix, v4, v6, dir)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	if _, err := n.NS.Run(ctx, "tayga", "-c", conf, "--mktun"); err != nil {
		return nil, err
	}
	if _, err := n.NS.Runf(ctx, "ip link set %s up", dev); err != nil {
		return nil, err
	}
	if err := n.NS.Sysctl("net.ipv4.conf."+dev+".rp_filter", "0"); err != nil {
		return nil, err
	}
	return n.NS.Start(dev, "tayga", "-c", conf, "-d")
}

// Describe writes what the lab built (for the benchmark's header).
func (pl *PathLab) Describe(w io.Writer) {
	fmt.Fprintf(w, "path: %s (client %s); targets: xlat %s, native %s, tayga %s\n", pl.HopNames(), pl.Addr4,
		PathXlat.Target(), PathNative.Target(), PathTayga.Target())
}
