package roamd

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/nfstate"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// The roaming state machine of one node, in three roles: the new node B
// that claims a client that appeared on its bridge (newnode.go), the old
// node A that hands it over and keeps a release route (oldnode.go,
// follow.go), and the PLAT C that steers the client's replies after it
// verified the handover (plat.go). One goroutine owns a machine (loop.go):
// no locks; the machine changes the world only through effects
// (effect.go) and keeps time only through its Clock and timer heap
// (timers.go).

// Kernel is the node state the daemon changes. The real one (NewKernel)
// uses netlink, ipset and ip6tables; unit tests record the calls. The
// machine itself only asks the read-only queries (HasRoute, Routed,
// DeviceChanged); every change is an effect, and Present, which blocks, a
// background probe.
type Kernel interface {
	AddNodeClientIP(netip.Addr) error
	DelNodeClientIP(netip.Addr) error
	HasRoute(netip.Addr) bool
	AddAddr(netip.Addr) error // management address on loopback
	AddRoamed(nfstate.Roamed, time.Duration) error
	RemoveRoamed(nfstate.Roamed) error
	FlushConntrack(nfstate.Roamed) error // entries that predate a new rewrite
	DropPLAT(netip.Prefix) error
	DropOrigin(netip.Prefix) error // rule and set of an origin CLAT no client uses
	DeviceChanged() bool           // the CLAT device was created anew (its routes are gone)
	SetNeigh(ip netip.Addr, mac net.HardwareAddr) error
	DelNeigh(ip netip.Addr, mac net.HardwareAddr) error
	Announce(dst netip.Addr) error                 // B: /128 to the CLAT device, for babel
	Unannounce(dst netip.Addr) error               //
	Retract(dst, towards netip.Addr) error         // A: announce route -> release route (babel: high metric)
	Unretract(dst netip.Addr) error                //
	Repoint(dst, via netip.Addr, dev string) error // release route via a babel neighbour
	Steer(dst, towards netip.Addr) error           // C: /128 via the next hop towards
	Unsteer(dst netip.Addr) error                  //
	Fallback(dst netip.Addr) error                 // A: release route -> unannounced copy, after the hold
	Unfallback(dst netip.Addr) error               //
	Detour(dst, towards netip.Addr) error          // lease node: fallback route towards the client's new node
	Routed(a netip.Addr) bool                      // C: a /96 (or longer) route covers a (a node announces it)
	// Present probes whether the client still answers on the client
	// bridge (the old node, before it hands the client over); blocks.
	Present(ip netip.Addr, mac net.HardwareAddr) bool
}

// Transport sends one datagram from a local address (zero = any).
type Transport interface {
	Send(from netip.Addr, to netip.AddrPort, b []byte) error
}

// Reserver keeps DHCP reservations for roamed clients (dnsmasq hostsfile).
type Reserver interface {
	Reserve(mac net.HardwareAddr, ip netip.Addr) error
	Release(mac net.HardwareAddr) error
}

// Client is one client this node serves.
type Client struct {
	MAC     net.HardwareAddr
	IP      netip.Addr   // IPv4; invalid until known
	Origin  netip.Prefix // CLAT /96 the client leased its address under (CLATD)
	PLAT    netip.Prefix // PLAT /96 in use at lease time (PLATC)
	Expires time.Time
	NodeIP  netip.Addr
	Roamed  bool // came through INFO (served here under another node's lease)
}

// machine is the roaming state of one node. Not safe for concurrent use:
// its owner (the event loop, or a test) makes every call.
type machine struct {
	cfg   Config
	w     world
	log   *slog.Logger
	clk   Clock
	fx    []effect            // listed by the current transition
	spawn func(func() func()) // runs a background probe; its result is a transition

	timers   timerHeap
	timerSeq uint64

	lim   *limiter[netip.Addr] // per UDP source
	rep   *replay
	cnt   map[string]uint64
	cl    map[string]*Client // by MAC
	clm   map[string]*claim  // new node: claims out, by MAC
	pend  map[uint32]*pending
	byMAC map[string]*pending        // outstanding INFO/ROAM per MAC and kind
	st    map[netip.Addr]*steerEntry // at the PLAT: CLATD::ip -> where it went

	ho      map[netip.Addr]*handover // old node: clients being handed over, by CLATD::ip
	vr      map[verifyKey]*verifyReq // PLAT: handovers waiting for the serving node
	vrNonce map[uint32]*verifyReq
	vrCLAT  map[netip.Prefix]int // pending VERIFYs per NEWCLAT
	stCLAT  map[netip.Prefix]int // steering entries per NEWCLAT
	clatLim *limiter[netip.Prefix]
	glob    *global
	rel     map[netip.Addr]time.Time  // release routes (CLATD::ip, node-client-IP) -> when they go
	relHop  map[netip.Addr]hop6       // release routes re-pointed by Follow
	relTo   map[netip.Addr]netip.Addr // release routes: the node the client went to (NEWCLAT::192.0.0.1)
	fb      map[netip.Addr]time.Time  // fallbacks of expired release routes -> when they go at the latest
	idle    map[ruleKey]time.Time     // per-prefix rules no client uses -> since when (dropUnused)
	plats   *platWatch                // roamed clients' PLATs lost to babel (platloss.go); nil: off
	dirty   bool                      // changed since the state file was written

	followSeen map[netip.Addr]string // debug: babel entries last logged per release route
}

// newMachine checks cfg (after Defaults) and returns a machine; w.res may
// be nil, clk nil is the wall clock. spawn must be set before the first
// event.
func newMachine(cfg Config, w world, clk Clock, log *slog.Logger) (*machine, error) {
	cfg.Defaults()
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	if clk == nil {
		clk = wallClock{}
	}
	now := clk.Now()
	// A CLAT node rewrites clients to other PLATs and must notice their
	// loss; a PLAT takes over the clients of a lost one (platSwitch).
	var plats *platWatch
	if cfg.OwnCLAT.IsValid() && cfg.PLATRange.IsValid() {
		plats = newPLATWatch(cfg.PLATRange, platLossGrace)
	} else if cfg.OwnPLAT.IsValid() {
		plats = newPLATWatch(netip.MustParsePrefix("::/0"), platLossGrace) // any /96 may be a PLAT
	}
	return &machine{cfg: cfg, w: w, log: log, clk: clk, plats: plats,
		lim: newLimiter[netip.Addr](cfg.RatePerSec, cfg.RateBurst, maxSources), rep: newReplay(cfg.ReplayWindow, now),
		cnt: map[string]uint64{}, cl: map[string]*Client{}, clm: map[string]*claim{},
		pend: map[uint32]*pending{}, byMAC: map[string]*pending{}, st: map[netip.Addr]*steerEntry{},
		ho: map[netip.Addr]*handover{}, vr: map[verifyKey]*verifyReq{}, vrNonce: map[uint32]*verifyReq{},
		vrCLAT: map[netip.Prefix]int{}, stCLAT: map[netip.Prefix]int{},
		clatLim: newLimiter[netip.Prefix](cfg.HandoverRateCLAT, int(2*cfg.HandoverRateCLAT), maxSources),
		glob:    &global{rate: cfg.HandoverRate, burst: 2 * cfg.HandoverRate},
		rel:     map[netip.Addr]time.Time{}, relHop: map[netip.Addr]hop6{},
		relTo: map[netip.Addr]netip.Addr{}, fb: map[netip.Addr]time.Time{}, idle: map[ruleKey]time.Time{}}, nil
}

func (d *machine) count(k string) { d.cnt[k]++ }

func (d *machine) now() time.Time { return d.clk.Now() }

func nonce() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return binary.BigEndian.Uint32(b[:])
}

func (d *machine) nodeClientIP(mac net.HardwareAddr) netip.Addr {
	var m addrmap.MAC
	copy(m[:], mac)
	a, _ := addrmap.NodeClientIP(d.cfg.NodeClientPrefix, m)
	return a
}

func (d *machine) msg(t uint8) *roamproto.Message {
	return &roamproto.Message{Type: t, TTL: 1, Nonce: nonce(), Sender: d.cfg.NodeAddress, Timestamp: d.now()}
}

// kerr logs a kernel error; the daemon goes on (state is retried on refresh).
func (d *machine) kerr(what string, err error) {
	if err != nil {
		d.log.Warn(what, "err", err)
		d.count("kernel_error")
	}
}

func (d *machine) inClientNet(ip netip.Addr) bool {
	return ip.Is4() && (!d.cfg.ClientIPv4.IsValid() || d.cfg.ClientIPv4.Contains(ip))
}

func (d *machine) inRange(r, p netip.Prefix) bool {
	return is96(p) && (!r.IsValid() || r.Contains(p.Addr()))
}

func (d *machine) clampLease(secs uint32) time.Duration {
	l := time.Duration(secs) * time.Second
	if l < d.cfg.LeaseMin {
		d.count("lease_clamped")
		return d.cfg.LeaseMin
	}
	if l > d.cfg.LeaseMax {
		d.count("lease_clamped")
		return d.cfg.LeaseMax
	}
	return l
}

// needsXlatState: the client's traffic must be rewritten here, or let
// through as a roamed client's: a client back at its lease node after
// roaming needs no rewrite, but its flows opened elsewhere are new to this
// node's conntrack, and the mid-stream drop (nfstate, for clients not in
// l3x-roam) held its TCP segments until a server's retransmission came
// first (lab, home hop after a PLAT loss: TCP stall 1.2-1.7 s for a UDP
// stall of 0.5-0.65 s). Such a client is in l3x-roam only. Not on a node
// that is a PLAT itself: l3x-roam moves the client's flows into conntrack
// zone 158, where the PLAT's own NAT66 entries for them (zone 0) are not.
func (d *machine) needsXlatState(c *Client) bool {
	if !d.cfg.OwnCLAT.IsValid() || !c.IP.IsValid() || !c.Origin.IsValid() {
		return false
	}
	return c.Origin != d.cfg.OwnCLAT || (c.PLAT.IsValid() && c.PLAT != d.cfg.PLAT) ||
		(c.Roamed && !d.cfg.OwnPLAT.IsValid())
}

func (d *machine) roamedState(c *Client) nfstate.Roamed {
	r := nfstate.Roamed{CLAT: c.Origin, ClientIP: c.IP}
	if c.PLAT.IsValid() && c.PLAT != d.cfg.PLAT {
		r.PLAT, r.Via = c.PLAT, d.cfg.PLAT // Via: replies that come first (nfstate)
	}
	return r
}

func (d *machine) remaining(c *Client) time.Duration {
	r := c.Expires.Sub(d.now())
	if r < 0 {
		r = 0
	}
	return r
}

// announces: c's CLATD::ip/128 is announced here. Every node that got c
// through INFO announces it, the lease node too when c comes back: its /96
// alone would lose against the /128s of the nodes c went through.
func announces(c *Client) bool {
	return c.IP.IsValid() && c.Origin.IsValid() && c.Roamed
}

// The kernel changes the roles share, each with its arguments fixed now.

func (d *machine) addRoamed(r nfstate.Roamed, lease time.Duration) {
	delete(d.idle, ruleKey{ruleOrigin, r.CLAT}) // in use again (dropUnused)
	delete(d.idle, ruleKey{rulePLAT, r.PLAT})
	d.kernel("ipset add", func(k Kernel) error { return k.AddRoamed(r, lease) })
}

func (d *machine) removeRoamed(r nfstate.Roamed) {
	d.kernel("ipset del", func(k Kernel) error { return k.RemoveRoamed(r) })
}

func (d *machine) setNeigh(ip netip.Addr, mac net.HardwareAddr) {
	d.kernel("set neighbour", func(k Kernel) error { return k.SetNeigh(ip, mac) })
}

func (d *machine) announce(dst netip.Addr) {
	d.kernel("announce", func(k Kernel) error { return k.Announce(dst) })
}

func (d *machine) unretract(dst netip.Addr) {
	d.kernel("delete release route", func(k Kernel) error { return k.Unretract(dst) })
}

// ---- timers, PLAT changes, views ---------------------------------------

// Sweep expires clients, steering entries and finished claims.
func (d *machine) Sweep() {
	now := d.now()
	for _, c := range d.cl {
		if !c.Expires.IsZero() && now.After(c.Expires) {
			d.release(c, "lease expired")
		}
	}
	for k, s := range d.st {
		if now.After(s.Expires) {
			d.delSteer(k)
			d.count("steer_expired")
			d.dirty = true
		}
	}
	d.sweepHandovers(now)
	for dst, until := range d.rel {
		if now.After(until) {
			d.expireRelease(dst, now)
			d.dirty = true
		}
	}
	for dst, until := range d.fb {
		if now.After(until) {
			d.dropFallback(dst)
		}
	}
	d.dropIdle(now, false)
	if d.cfg.OwnCLAT.IsValid() && d.w.k.DeviceChanged() {
		// xlat-clat restarted: its new device has none of our routes
		d.count("clat_device_changed")
		for _, c := range d.cl {
			if announces(c) {
				d.announce(addrmap.Embed(c.Origin, c.IP))
			}
		}
	}
	for k, c := range d.clm {
		if c.done && now.Sub(c.doneAt) > 10*time.Second {
			delete(d.clm, k)
		}
	}
}

// SetPLAT is set_platprefix: new leases use p; clients of the old PLAT keep
// reaching it as if they had roamed to it. Kernel errors come back through
// the effects (ret).
func (d *machine) SetPLAT(p netip.Prefix) error {
	if !is96(p) {
		return fmt.Errorf("set_platprefix: %v is not an IPv6 /96", p)
	}
	if p == d.cfg.PLAT {
		return nil
	}
	d.dirty = true
	old := d.cfg.PLAT
	for _, c := range d.cl {
		if d.needsXlatState(c) { // drop members that refer to the old choice
			r := d.roamedState(c)
			d.kernelRet("ipset del", func(k Kernel) error { return k.RemoveRoamed(r) })
		}
	}
	d.cfg.PLAT = p
	for _, c := range d.cl {
		if !c.PLAT.IsValid() && c.IP.IsValid() {
			c.PLAT = old
		}
		if d.needsXlatState(c) {
			// existing flows were not rewritten: drop their entries so
			// that the next packet is mapped to the old PLAT
			r, lease := d.roamedState(c), d.remaining(c)
			d.kernelRet("ipset add", func(k Kernel) error { return k.AddRoamed(r, lease) })
			d.kernelRet("conntrack flush", func(k Kernel) error { return k.FlushConntrack(r) })
		}
	}
	d.count("set_platprefix")
	return nil
}

// DelPLAT is del_platprefix: the PLAT is gone; drop all state that uses it.
func (d *machine) DelPLAT(p netip.Prefix) error {
	if !is96(p) {
		return fmt.Errorf("del_platprefix: %v is not an IPv6 /96", p)
	}
	d.dirty = true
	for _, c := range d.cl {
		if c.PLAT != p {
			continue
		}
		if r := d.byMAC["ROAM"+c.MAC.String()]; r != nil && r.to.Addr() == addrmap.Embed(p, d.cfg.MgmtIPv4) {
			d.stopPending(r) // no use retrying a dead PLAT
		}
		if d.needsXlatState(c) {
			r := d.roamedState(c)
			d.kernelRet("ipset del", func(k Kernel) error { return k.RemoveRoamed(r) })
		}
		c.PLAT = netip.Prefix{}
		if d.cfg.PLAT != p {
			c.PLAT = d.cfg.PLAT
		}
		if d.needsXlatState(c) {
			r, lease := d.roamedState(c), d.remaining(c)
			d.kernelRet("ipset add", func(k Kernel) error { return k.AddRoamed(r, lease) })
		}
		if d.cfg.OwnCLAT.IsValid() && c.IP.IsValid() && c.Origin.IsValid() {
			// its flows' entries still map to the dead PLAT (a UDP flow
			// would never recover): the next packet is mapped afresh
			r := d.roamedState(c)
			d.kernelRet("conntrack flush", func(k Kernel) error { return k.FlushConntrack(r) })
			if announces(c) && c.PLAT.IsValid() {
				// the new PLAT must know who serves the client: the next
				// handover is verified with this node and steered there
				d.count("plat_switch_sent")
				d.sendRoam(c, d.remaining(c), false, p)
			}
		}
	}
	if d.cfg.PLAT != p && d.cfg.PLAT.IsValid() {
		for _, h := range d.ho { // handovers under way: the new PLAT asks
			if h.plat == p {
				h.plat = d.cfg.PLAT
			}
		}
	}
	if d.cfg.PLAT == p {
		d.cfg.PLAT = netip.Prefix{}
	}
	if d.cfg.OwnCLAT.IsValid() {
		d.kernelRet("drop PLAT rule", func(k Kernel) error { return k.DropPLAT(p) })
	}
	delete(d.idle, ruleKey{rulePLAT, p})
	d.count("del_platprefix")
	return nil
}

// Forget drops a client without the release steps that need the kernel
// (del_address); it reports whether the MAC was known.
func (d *machine) Forget(mac net.HardwareAddr, ip netip.Addr) bool {
	c := d.cl[mac.String()]
	if c == nil {
		return false
	}
	if !ip.IsValid() || c.IP == ip {
		d.release(c, "del_address")
	}
	return true
}

// ReleaseAll drops every client's and every steering entry's kernel state
// (daemon shutdown: nothing is left behind for a state nobody tracks).
func (d *machine) ReleaseAll() {
	for _, c := range d.cl {
		d.release(c, "shutdown")
	}
	d.dropIdle(d.now(), true)
	for dst := range d.rel {
		d.unretract(dst)
		delete(d.rel, dst)
		delete(d.relTo, dst)
	}
	for dst := range d.fb {
		d.dropFallback(dst)
	}
	for k := range d.st {
		d.delSteer(k)
	}
}

// Close ends every claim, retransmission and verification (shutdown).
func (d *machine) Close() {
	for _, c := range d.clm {
		c.done = true
		c.timer.stop()
	}
	for _, p := range d.byMAC {
		d.stopPending(p)
	}
	for _, v := range d.vr {
		d.endVerify(v)
	}
	d.stopTimers()
}
