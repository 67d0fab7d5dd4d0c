package roamd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/nfstate"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetKernel is the real Kernel: addresses, routes and neighbours through
// netlink, ipsets and ip6tables through nfstate.
type NetKernel struct {
	cfg Config
	nf  *nfstate.State // nil on a node without CLAT

	mu     sync.Mutex
	hops   map[[12]byte]hop  // next hop towards a CLAT /96 (steering cache)
	routed map[[12]byte]seen // does a node announce this /96 (ROAM check cache)
	fib    *fibLookup        // for routed, opened on first use
	links  map[string]int
}

type seen struct {
	ok      bool
	expires time.Time
}

// maxCache bounds hops and routed: a flood of ROAMs for made-up /96s must
// not grow them.
const maxCache = 4096

// bound makes room in a full cache: expired entries go, then others until
// it is below maxCache.
func bound[K comparable, V any](m map[K]V, expired func(V) bool) {
	if len(m) < maxCache {
		return
	}
	for x, o := range m {
		if expired(o) || len(m) >= maxCache {
			delete(m, x)
		}
	}
}

type hop struct {
	gw      net.IP
	link    int
	expires time.Time
}

// NewKernel prepares the kernel side; with a CLAT it installs the static
// ip6tables rules and base ipsets.
func NewKernel(cfg Config) (*NetKernel, error) {
	cfg.Defaults()
	k := &NetKernel{cfg: cfg, hops: map[[12]byte]hop{}, routed: map[[12]byte]seen{}, links: map[string]int{}}
	if cfg.OwnCLAT.IsValid() {
		nf, err := nfstate.New(nfstate.Config{CLATDevice: cfg.CLATDevice, OwnCLAT: cfg.OwnCLAT})
		if err != nil {
			return nil, err
		}
		if err := nf.Setup(); err != nil {
			return nil, err
		}
		k.nf = nf
	}
	return k, nil
}

// NF is the packet-filter state (nil without CLAT).
func (k *NetKernel) NF() *nfstate.State { return k.nf }

// Teardown removes the packet-filter state.
func (k *NetKernel) Teardown() error {
	if k.nf == nil {
		return nil
	}
	return k.nf.Teardown()
}

func (k *NetKernel) link(name string) (int, error) {
	k.mu.Lock()
	idx, ok := k.links[name]
	k.mu.Unlock()
	if ok {
		return idx, nil
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("device %s: %w", name, err)
	}
	k.mu.Lock()
	k.links[name] = l.Attrs().Index
	k.mu.Unlock()
	return l.Attrs().Index, nil
}

func host(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

func (k *NetKernel) addr(dev string, a netip.Addr, add bool) error {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("device %s: %w", dev, err)
	}
	na := &netlink.Addr{IPNet: host(a), Flags: unix.IFA_F_NODAD}
	if add {
		if err := netlink.AddrReplace(l, na); err != nil {
			return fmt.Errorf("add %s to %s: %w", a, dev, err)
		}
		return nil
	}
	if err := netlink.AddrDel(l, na); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete %s from %s: %w", a, dev, err)
	}
	return nil
}

func (k *NetKernel) AddNodeClientIP(a netip.Addr) error {
	return k.addr(k.cfg.NodeClientDevice, a, true)
}
func (k *NetKernel) DelNodeClientIP(a netip.Addr) error {
	return k.addr(k.cfg.NodeClientDevice, a, false)
}
func (k *NetKernel) AddAddr(a netip.Addr) error { return k.addr("lo", a, true) }

// HasRoute: does a non-default unicast route cover a (l3roamd asks for a
// host route: another node announces the node-client-IP /128 via babel).
// With only the default route the client is new here and is taken at once
// instead of after 15 unanswered CLAIMs.
func (k *NetKernel) HasRoute(a netip.Addr) bool {
	rs, err := netlink.RouteGetWithOptions(net.IP(a.AsSlice()), &netlink.RouteGetOptions{FIBMatch: true})
	if err != nil || len(rs) == 0 {
		return false
	}
	r := rs[0]
	if int(r.Protocol) == k.cfg.ReleaseProto {
		// our own release route: the client was here a moment ago; a
		// CLAIM goes where it went (or nowhere, after its lease ended,
		// and the client is taken as new after the CLAIMs, as before)
		return true
	}
	if r.Type != 0 && r.Type != unix.RTN_UNICAST {
		return false
	}
	if r.Dst == nil {
		return false
	}
	ones, _ := r.Dst.Mask.Size()
	return ones > 0
}

func (k *NetKernel) AddRoamed(r nfstate.Roamed, d time.Duration) error {
	if k.nf == nil {
		return nil
	}
	return k.nf.AddRoamed(r, d)
}

// FlushConntrack drops conntrack entries of r that predate its rewrite.
func (k *NetKernel) FlushConntrack(r nfstate.Roamed) error {
	if k.nf == nil {
		return nil
	}
	_, err := k.nf.FlushConntrack(r)
	return err
}

func (k *NetKernel) RemoveRoamed(r nfstate.Roamed) error {
	if k.nf == nil {
		return nil
	}
	return k.nf.RemoveRoamed(r)
}

func (k *NetKernel) DropPLAT(p netip.Prefix) error {
	if k.nf == nil {
		return nil
	}
	return k.nf.DropPLAT(p)
}

func (k *NetKernel) DropOrigin(p netip.Prefix) error {
	if k.nf == nil {
		return nil
	}
	return k.nf.DropOrigin(p)
}

func (k *NetKernel) SetNeigh(ip netip.Addr, mac net.HardwareAddr) error {
	if k.cfg.ClientBridge == "" {
		return nil
	}
	idx, err := k.link(k.cfg.ClientBridge)
	if err != nil {
		return err
	}
	if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, State: netlink.NUD_REACHABLE,
		IP: net.IP(ip.AsSlice()), HardwareAddr: mac}); err != nil {
		return err
	}
	if err := netlink.RouteReplace(k.clientRoute(idx, ip)); err != nil {
		return fmt.Errorf("route %s dev %s: %w", ip, k.cfg.ClientBridge, err)
	}
	return nil
}

// clientRoute is the IPv4 /32 to a client the node serves. Gluon's l3roamd
// (-p <prefix4>) replaces the clients' connected route with a route to its
// TUN l3roam0 (routemgr.c routemgr_init, NLM_F_REPLACE at metric 0) and
// covers only the clients it has learnt with /32s at metric 0: without this
// route a client that just roamed in would be unreachable from the CLAT
// until l3roamd learns it, and every client once l3roamd exits (its TUN and
// the prefix route go). The metric keeps l3roamd's REPLACE and its
// unqualified RTM_DELROUTE (which takes the metric-0 route first) off ours.
func (k *NetKernel) clientRoute(bridge int, ip netip.Addr) *netlink.Route {
	return &netlink.Route{Dst: host(ip), LinkIndex: bridge, Scope: netlink.SCOPE_LINK,
		Protocol: netlink.RouteProtocol(k.cfg.AnnounceProto), Priority: k.cfg.ClientRouteMetric}
}

func (k *NetKernel) DelNeigh(ip netip.Addr, mac net.HardwareAddr) error {
	if k.cfg.ClientBridge == "" {
		return nil
	}
	idx, err := k.link(k.cfg.ClientBridge)
	if err != nil {
		return err
	}
	err = netlink.NeighDel(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, IP: net.IP(ip.AsSlice()), HardwareAddr: mac})
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	if err := netlink.RouteDel(k.clientRoute(idx, ip)); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete route %s dev %s: %w", ip, k.cfg.ClientBridge, err)
	}
	return k.forgetFDB(idx, mac)
}

// forgetFDB deletes the bridge's learnt FDB entries of mac. A client that
// comes back while its old entry still exists (ageing: 300 s) only refreshes
// it, and the kernel reports no event; the daemon learns clients from FDB
// events, so a returning client would go unnoticed (seen in the lab: a
// client roaming D -> A -> B -> D was never claimed back by D).
func (k *NetKernel) forgetFDB(bridge int, mac net.HardwareAddr) error {
	fdb, err := netlink.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("bridge fdb list: %w", err)
	}
	var errs []error
	for _, n := range fdb {
		if n.MasterIndex != bridge || n.HardwareAddr.String() != mac.String() ||
			n.State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) != 0 || n.Flags&netlink.NTF_SELF != 0 {
			continue
		}
		d := netlink.Neigh{LinkIndex: n.LinkIndex, Family: unix.AF_BRIDGE, HardwareAddr: n.HardwareAddr,
			Flags: netlink.NTF_MASTER, MasterIndex: bridge, Vlan: n.Vlan}
		if err := netlink.NeighDel(&d); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("bridge fdb del %s: %w", mac, err))
		}
	}
	return errors.Join(errs...)
}

// Announce routes dst/128 to the CLAT device with l3roamd's protocol, for
// babel to redistribute (the PREROUTING NETMAP rewrites it before routing).
func (k *NetKernel) Announce(dst netip.Addr) error {
	idx, err := k.link(k.cfg.CLATDevice)
	if err != nil {
		return err
	}
	return netlink.RouteReplace(&netlink.Route{Dst: host(dst), LinkIndex: idx,
		Protocol: netlink.RouteProtocol(k.cfg.AnnounceProto)})
}

func (k *NetKernel) Unannounce(dst netip.Addr) error {
	err := netlink.RouteDel(&netlink.Route{Dst: host(dst), Protocol: netlink.RouteProtocol(k.cfg.AnnounceProto)})
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete route %s: %w", dst, err)
	}
	return nil
}

// Retract replaces the announce route of dst/128 by its release route
// (ReleaseProto, which babel redistributes with a high metric): via the next
// hop towards `towards` (the node the client went to), so that packets this
// node still forwards for the client reach it, or unreachable if towards is
// invalid or has no route (the lease ended). For a node-client-IP the
// caller deletes the address afterwards.
func (k *NetKernel) Retract(dst, towards netip.Addr) error {
	r := &netlink.Route{Dst: host(dst), Protocol: netlink.RouteProtocol(k.cfg.ReleaseProto), Type: unix.RTN_UNREACHABLE}
	if towards.IsValid() {
		if rs, err := netlink.RouteGet(net.IP(towards.AsSlice())); err == nil && len(rs) > 0 && rs[0].LinkIndex > 0 {
			r.Type, r.Gw, r.LinkIndex = unix.RTN_UNICAST, rs[0].Gw, rs[0].LinkIndex
			// As babel's routes (install pref-src): this node's own
			// packets, CLAIMs to a node-client-IP above all, must leave
			// from the node address, which the receiver checks against
			// the header's sender. The kernel's choice would be another
			// node-client-IP on lo (longest match).
			r.Src = net.IP(k.cfg.NodeAddress.AsSlice())
		}
	}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("release route %s: %w", dst, err)
	}
	return k.Unannounce(dst) // replaced already, unless its metric differed
}

// Repoint sends the release route of dst via babel neighbour via on dev.
func (k *NetKernel) Repoint(dst, via netip.Addr, dev string) error {
	idx, err := k.link(dev)
	if err != nil {
		return err
	}
	r := &netlink.Route{Dst: host(dst), Gw: net.IP(via.AsSlice()), LinkIndex: idx,
		Protocol: netlink.RouteProtocol(k.cfg.ReleaseProto), Src: net.IP(k.cfg.NodeAddress.AsSlice())}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("release route %s via %s dev %s: %w", dst, via, dev, err)
	}
	return nil
}

// Unretract deletes the release route of dst.
func (k *NetKernel) Unretract(dst netip.Addr) error {
	err := netlink.RouteDel(&netlink.Route{Dst: host(dst), Protocol: netlink.RouteProtocol(k.cfg.ReleaseProto)})
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete release route %s: %w", dst, err)
	}
	return nil
}

// Steer routes dst/128 via the next hop towards `towards` (the new node's
// CLAT address of the client), at a metric that babel's own /128 beats.
func (k *NetKernel) Steer(dst, towards netip.Addr) error {
	var key [12]byte
	a := towards.As16()
	copy(key[:], a[:12])
	now := time.Now()
	k.mu.Lock()
	h, ok := k.hops[key]
	k.mu.Unlock()
	if !ok || now.After(h.expires) {
		rs, err := netlink.RouteGet(net.IP(towards.AsSlice()))
		if err != nil || len(rs) == 0 {
			return fmt.Errorf("no route towards %s: %v", towards, err)
		}
		h = hop{gw: rs[0].Gw, link: rs[0].LinkIndex, expires: now.Add(2 * time.Second)}
		k.mu.Lock()
		bound(k.hops, func(o hop) bool { return now.After(o.expires) })
		k.hops[key] = h
		k.mu.Unlock()
	}
	return netlink.RouteReplace(&netlink.Route{Dst: host(dst), Gw: h.gw, LinkIndex: h.link,
		Protocol: netlink.RouteProtocol(k.cfg.SteerProto), Priority: k.cfg.SteerMetric})
}

// Routed: a route of prefix length 96 or more covers a, i.e. some node
// announces the /96 a lies in (babel redistributes every CLAT /96). A ROAM
// whose NEWCLAT nobody announces comes from a spoofed source.
func (k *NetKernel) Routed(a netip.Addr) bool {
	var key [12]byte
	b := a.As16()
	copy(key[:], b[:12])
	now := time.Now()
	k.mu.Lock()
	s, ok := k.routed[key]
	k.mu.Unlock()
	if ok && now.Before(s.expires) {
		return s.ok
	}
	s = seen{expires: now.Add(2 * time.Second)}
	k.mu.Lock()
	if k.fib == nil {
		k.fib, _ = newFIBLookup()
	}
	var (
		ones int
		t    uint8
		err  = fmt.Errorf("no route netlink socket")
	)
	if k.fib != nil {
		ones, t, err = k.fib.lookup(a)
	}
	k.mu.Unlock()
	// unicast: another node's /96; local: our own CLAT's management address
	s.ok = err == nil && ones >= 96 && (t == unix.RTN_UNICAST || t == unix.RTN_LOCAL)
	k.mu.Lock()
	bound(k.routed, func(o seen) bool { return now.After(o.expires) })
	k.routed[key] = s
	k.mu.Unlock()
	return s.ok
}

func (k *NetKernel) Unsteer(dst netip.Addr) error {
	return k.delSteerRoute(dst, k.cfg.SteerMetric, "steering")
}

// delSteerRoute deletes the /128 to dst of the steering protocol with
// metric (a steering or a fallback route); absent is fine.
func (k *NetKernel) delSteerRoute(dst netip.Addr, metric int, what string) error {
	err := netlink.RouteDel(&netlink.Route{Dst: host(dst), Protocol: netlink.RouteProtocol(k.cfg.SteerProto),
		Priority: metric})
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete %s route %s: %w", what, dst, err)
	}
	return nil
}

// fallbackMetric is the kernel metric of a release route's fallback (and
// of the lease node's detour): ReleaseMetric, above any live babel route's
// (reflect-kernel-metric: kernel metric = babel metric), so babel's own
// route wins as soon as babeld installs one, and below every copy of a
// release route (16384 plus its path), which must not win. At 65535 a
// copy did: in the 8-node walk B's fallback (towards C, where the client
// was) lost to A's release copy at 16480, and A's release route went back
// via B, a B <-> A loop of a second (cl2 c -> d, TCP 1.9 s).
const fallbackMetric = 16384

// Fallback replaces the release route of dst by a copy with the steering
// protocol (never redistributed) and fallbackMetric, so that babel forgets
// this node's announcement while packets keep going where the release
// route sent them. An unreachable release route (no successor) is just
// deleted.
func (k *NetKernel) Fallback(dst netip.Addr) error {
	rs, err := netlink.RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{Dst: host(dst),
		Protocol: netlink.RouteProtocol(k.cfg.ReleaseProto)}, netlink.RT_FILTER_DST|netlink.RT_FILTER_PROTOCOL)
	if err == nil {
		for _, r := range rs {
			if r.Type != unix.RTN_UNICAST || r.LinkIndex <= 0 {
				continue
			}
			f := &netlink.Route{Dst: host(dst), Gw: r.Gw, LinkIndex: r.LinkIndex, Src: r.Src,
				Protocol: netlink.RouteProtocol(k.cfg.SteerProto), Priority: fallbackMetric}
			if err := netlink.RouteReplace(f); err != nil {
				return fmt.Errorf("fallback route %s: %w", dst, err)
			}
			break
		}
	}
	return k.Unretract(dst)
}

// Detour routes dst/128 via the next hop towards `towards` as a fallback
// route (steering protocol, fallbackMetric: never redistributed, any babel
// route wins): the lease node's way to a client that left it before babel
// carries the new node's /128 here.
func (k *NetKernel) Detour(dst, towards netip.Addr) error {
	rs, err := netlink.RouteGet(net.IP(towards.AsSlice()))
	if err != nil || len(rs) == 0 || rs[0].LinkIndex <= 0 {
		return fmt.Errorf("no route towards %s: %v", towards, err)
	}
	return netlink.RouteReplace(&netlink.Route{Dst: host(dst), Gw: rs[0].Gw, LinkIndex: rs[0].LinkIndex,
		Src: net.IP(k.cfg.NodeAddress.AsSlice()), Protocol: netlink.RouteProtocol(k.cfg.SteerProto),
		Priority: fallbackMetric})
}

// Unfallback deletes dst's fallback route (absent is fine).
func (k *NetKernel) Unfallback(dst netip.Addr) error {
	return k.delSteerRoute(dst, fallbackMetric, "fallback")
}

// FlushSteering deletes every route of the steering protocol (159): the
// PLAT's /128s are only valid while the daemon that tracks them runs, so
// they go at start (left by a crash) and at stop. It reports how many.
func (k *NetKernel) FlushSteering() (int, error) {
	rs, err := netlink.RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{Protocol: netlink.RouteProtocol(k.cfg.SteerProto)},
		netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return 0, fmt.Errorf("list proto %d routes: %w", k.cfg.SteerProto, err)
	}
	byMetric := map[int][]netip.Addr{}
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		if ones, bits := r.Dst.Mask.Size(); ones != 128 || bits != 128 {
			continue // not one of ours
		}
		a, _ := netip.AddrFromSlice(r.Dst.IP)
		byMetric[r.Priority] = append(byMetric[r.Priority], a)
	}
	var errs []error
	n := 0
	for metric, dsts := range byMetric {
		k, err := delRoutes(dsts, k.cfg.SteerProto, metric)
		n += k
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}
