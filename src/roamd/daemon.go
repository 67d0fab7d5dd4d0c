package roamd

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/nfstate"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// Kernel is the node state the daemon changes. The real one (NewKernel)
// uses netlink, ipset and ip6tables; unit tests record the calls.
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

type claim struct {
	mac      net.HardwareAddr
	nonces   map[uint32]bool
	tries    int
	timer    *time.Timer
	done     bool // INFO accepted; kept briefly to re-ACK retransmitted INFOs
	doneAt   time.Time
	ackTo    netip.AddrPort
	ackEcho  uint32
	leaseIP  netip.Addr // DHCP lease seen during the claim
	leaseEnd time.Time
}

type pending struct {
	kind   string // "INFO" or "ROAM"
	mac    string
	to     netip.AddrPort
	from   netip.Addr
	build  func() *roamproto.Message
	nonces map[uint32]bool
	tries  int
	timer  *time.Timer
	stop   bool
	fresh  bool         // ROAM right after the handover: a REFUSE undoes it
	hoKey  netip.Addr   // INFO: the handover it belongs to (CLATD::ip)
	hoTo   netip.Prefix // and its NEWCLAT
}

type steerEntry struct {
	CLAT, NewCLAT netip.Prefix
	IP            netip.Addr
	Expires       time.Time
}

// Daemon is the roaming logic of one node.
type Daemon struct {
	cfg   Config
	k     Kernel
	tx    Transport
	res   Reserver // may be nil
	log   *slog.Logger
	now   func() time.Time
	mu    sync.Mutex
	lim   *limiter[netip.Addr] // per UDP source
	rep   *replay
	cnt   map[string]uint64
	cl    map[string]*Client // by MAC
	clm   map[string]*claim  // by MAC
	pend  map[uint32]*pending
	byMAC map[string]*pending        // outstanding INFO/ROAM per MAC and kind
	st    map[netip.Addr]*steerEntry // at the PLAT: CLATD::ip -> where it went

	ho      map[netip.Addr]*handover // serving node: clients being handed over, by CLATD::ip
	vr      map[verifyKey]*verifyReq // PLAT: handovers waiting for the serving node
	vrNonce map[uint32]*verifyReq
	vrCLAT  map[netip.Prefix]int // pending VERIFYs per NEWCLAT
	stCLAT  map[netip.Prefix]int // steering entries per NEWCLAT
	clatLim *limiter[netip.Prefix]
	glob    *global
	rel     map[netip.Addr]time.Time // release routes (CLATD::ip, node-client-IP) -> when they go
	relHop  map[netip.Addr]hop6      // release routes re-pointed by Follow
	dirty   bool                     // changed since the state file was written
}

// New checks cfg (after Defaults) and returns a daemon; res may be nil.
func New(cfg Config, k Kernel, tx Transport, res Reserver, log *slog.Logger) (*Daemon, error) {
	cfg.Defaults()
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	now := time.Now()
	return &Daemon{cfg: cfg, k: k, tx: tx, res: res, log: log, now: time.Now,
		lim: newLimiter[netip.Addr](cfg.RatePerSec, cfg.RateBurst, maxSources), rep: newReplay(cfg.ReplayWindow, now),
		cnt: map[string]uint64{}, cl: map[string]*Client{}, clm: map[string]*claim{},
		pend: map[uint32]*pending{}, byMAC: map[string]*pending{}, st: map[netip.Addr]*steerEntry{},
		ho: map[netip.Addr]*handover{}, vr: map[verifyKey]*verifyReq{}, vrNonce: map[uint32]*verifyReq{},
		vrCLAT: map[netip.Prefix]int{}, stCLAT: map[netip.Prefix]int{},
		clatLim: newLimiter[netip.Prefix](cfg.HandoverRateCLAT, int(2*cfg.HandoverRateCLAT), maxSources),
		glob:    &global{rate: cfg.HandoverRate, burst: 2 * cfg.HandoverRate},
		rel:     map[netip.Addr]time.Time{}, relHop: map[netip.Addr]hop6{}}, nil
}

// Config returns the daemon's configuration with defaults applied.
func (d *Daemon) Config() Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

func (d *Daemon) count(k string) { d.cnt[k]++ }

// Counters returns a copy of the counters.
func (d *Daemon) Counters() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[string]uint64, len(d.cnt))
	for k, v := range d.cnt {
		m[k] = v
	}
	return m
}

func nonce() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return binary.BigEndian.Uint32(b[:])
}

func (d *Daemon) nodeClientIP(mac net.HardwareAddr) netip.Addr {
	var m addrmap.MAC
	copy(m[:], mac)
	a, _ := addrmap.NodeClientIP(d.cfg.NodeClientPrefix, m)
	return a
}

func (d *Daemon) msg(t uint8) *roamproto.Message {
	return &roamproto.Message{Type: t, TTL: 1, Nonce: nonce(), Sender: d.cfg.NodeAddress, Timestamp: d.now()}
}

func (d *Daemon) send(from netip.Addr, to netip.AddrPort, m *roamproto.Message) {
	b, err := roamproto.Encode(m, d.cfg.Secret)
	if err != nil {
		d.log.Error("encode", "type", roamproto.TypeName(m.Type), "err", err)
		d.count("tx_error")
		return
	}
	if err := d.tx.Send(from, to, b); err != nil {
		d.log.Debug("send", "type", roamproto.TypeName(m.Type), "to", to, "err", err)
		d.count("tx_error")
		return
	}
	d.count("tx_" + roamproto.TypeName(m.Type))
}

// kerr logs a kernel error; the daemon goes on (state is retried on refresh).
func (d *Daemon) kerr(what string, err error) {
	if err != nil {
		d.log.Warn(what, "err", err)
		d.count("kernel_error")
	}
}

// ---- client learning ----------------------------------------------------

// Seen is a client MAC (and, if known, its IPv4 address) seen on the client
// bridge: an unknown MAC starts a CLAIM towards its node-client-IP.
func (d *Daemon) Seen(mac net.HardwareAddr, ip netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := mac.String()
	if c := d.cl[key]; c != nil {
		if ip.Is4() && !c.IP.IsValid() && d.inClientNet(ip) {
			c.IP = ip
		}
		return
	}
	if cl := d.clm[key]; cl != nil && !cl.done {
		return
	}
	// A finished claim (kept to re-ACK a retransmitted INFO) of a client
	// that has roamed away since: it is back (ping-pong), claim it afresh.
	delete(d.clm, key)
	if len(d.clm) >= d.cfg.MaxClaims {
		d.count("drop_claims_full") // the next frame of the client tries again
		return
	}
	d.count("learned")
	nip := d.nodeClientIP(mac)
	d.log.Info("client seen", "mac", key, "ip", ip, "node_client_ip", nip)
	if !d.k.HasRoute(nip) {
		d.takeNew(mac, netip.Addr{}, time.Time{})
		return
	}
	c := &claim{mac: append(net.HardwareAddr(nil), mac...), nonces: map[uint32]bool{}}
	d.clm[key] = c
	d.claimTick(c)
}

func (d *Daemon) claimTick(c *claim) {
	if c.done || d.clm[c.mac.String()] != c {
		return
	}
	if c.tries >= d.cfg.ClaimMax {
		delete(d.clm, c.mac.String())
		d.count("claim_timeout")
		d.takeNew(c.mac, c.leaseIP, c.leaseEnd)
		return
	}
	c.tries++
	d.log.Debug("CLAIM", "mac", c.mac.String(), "try", c.tries)
	m := d.msg(roamproto.TypeClaim)
	m.MAC, m.NewCLAT = c.mac, d.cfg.OwnCLAT // the INFO comes to NEWCLAT::192.0.0.1
	c.nonces[m.Nonce] = true
	d.send(netip.Addr{}, netip.AddrPortFrom(d.nodeClientIP(c.mac), uint16(d.cfg.Port)), m)
	c.timer = time.AfterFunc(d.cfg.ClaimInterval, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.claimTick(c)
	})
}

// takeNew makes a client nobody else served ours.
func (d *Daemon) takeNew(mac net.HardwareAddr, ip netip.Addr, until time.Time) {
	d.dirty = true
	c := &Client{MAC: mac, NodeIP: d.nodeClientIP(mac), Origin: d.cfg.OwnCLAT, PLAT: d.cfg.PLAT}
	if ip.Is4() {
		c.IP, c.Expires = ip, until
	}
	d.cl[mac.String()] = c
	d.addNodeClientIP(c.NodeIP)
	if c.IP.IsValid() {
		d.kerr("set neighbour", d.k.SetNeigh(c.IP, c.MAC))
	}
	d.count("client_new")
}

func (d *Daemon) inClientNet(ip netip.Addr) bool {
	return ip.Is4() && (!d.cfg.ClientIPv4.IsValid() || d.cfg.ClientIPv4.Contains(ip))
}

// LeaseOp is a DHCP lease event.
type LeaseOp string

// Lease operations (dnsmasq --dhcp-script names).
const (
	LeaseAdd LeaseOp = "add"
	LeaseOld LeaseOp = "old"
	LeaseDel LeaseOp = "del"
)

// Lease is a DHCP lease event from this node's DHCP server.
func (d *Daemon) Lease(op LeaseOp, mac net.HardwareAddr, ip netip.Addr, expires time.Time) error {
	if len(mac) != 6 {
		return fmt.Errorf("lease: MAC %v is not 6 bytes", mac)
	}
	if !d.inClientNet(ip) {
		return fmt.Errorf("lease: %v is not an IPv4 address of the client network", ip)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := mac.String()
	d.count("lease_" + string(op))
	d.dirty = true
	if op == LeaseDel {
		if c := d.cl[key]; c != nil && c.IP == ip {
			d.release(c, "lease deleted")
		}
		return nil
	}
	if op != LeaseAdd && op != LeaseOld {
		return fmt.Errorf("lease: unknown operation %q", op)
	}
	if expires.IsZero() {
		expires = d.now().Add(d.cfg.DefaultLease)
	}
	if cl := d.clm[key]; cl != nil && !cl.done {
		cl.leaseIP, cl.leaseEnd = ip, expires // the claim decides
		return nil
	}
	c := d.cl[key]
	if c != nil && c.IP.IsValid() && c.IP != ip {
		d.release(c, "new address")
		c = nil
	}
	if c == nil && op == LeaseOld {
		// dnsmasq repeats every lease it holds as "old" when it starts and
		// on each SIGHUP (the hostsfile changed): that says nothing about
		// where the client is now. Seen by the bridge, it is claimed.
		d.count("lease_old_unknown")
		return nil
	}
	if c == nil {
		d.takeNew(mac, ip, expires)
		return nil
	}
	if !c.IP.IsValid() {
		c.IP = ip
		d.kerr("set neighbour", d.k.SetNeigh(c.IP, c.MAC))
	}
	if expires.After(c.Expires) {
		c.Expires = expires
	}
	if d.needsXlatState(c) {
		d.installRoamed(c, false) // refresh timeouts and tell the PLAT
	}
	return nil
}

// needsXlatState: the client's traffic must be rewritten here.
func (d *Daemon) needsXlatState(c *Client) bool {
	if !d.cfg.OwnCLAT.IsValid() || !c.IP.IsValid() || !c.Origin.IsValid() {
		return false
	}
	return c.Origin != d.cfg.OwnCLAT || (c.PLAT.IsValid() && c.PLAT != d.cfg.PLAT)
}

func (d *Daemon) roamedState(c *Client) nfstate.Roamed {
	r := nfstate.Roamed{CLAT: c.Origin, ClientIP: c.IP}
	if c.PLAT.IsValid() && c.PLAT != d.cfg.PLAT {
		r.PLAT = c.PLAT
	}
	return r
}

func (d *Daemon) remaining(c *Client) time.Duration {
	r := c.Expires.Sub(d.now())
	if r < 0 {
		r = 0
	}
	return r
}

// installRoamed puts a roamed client's state in place at the new node B
// and (re)sends ROAM to its PLAT; fresh: first install, so conntrack
// entries from before the rewrite are dropped (not on a lease refresh,
// whose flows are already rewritten).
func (d *Daemon) installRoamed(c *Client, fresh bool) {
	d.dirty = true
	lease := d.remaining(c)
	if c.Origin != d.cfg.OwnCLAT || (c.PLAT.IsValid() && c.PLAT != d.cfg.PLAT) {
		d.kerr("ipset add", d.k.AddRoamed(d.roamedState(c), lease))
		if fresh {
			d.kerr("conntrack flush", d.k.FlushConntrack(d.roamedState(c)))
		}
	}
	if announces(c) {
		dst := addrmap.Embed(c.Origin, c.IP)
		d.kerr("announce", d.k.Announce(dst))
		delete(d.rel, dst) // Announce replaced it
	}
	if d.res != nil {
		d.kerr("dhcp reserve", d.res.Reserve(c.MAC, c.IP))
	}
	if c.PLAT.IsValid() {
		d.sendRoam(c, lease, fresh)
	}
}

func (d *Daemon) sendRoam(c *Client, lease time.Duration, fresh bool) {
	mac := append(net.HardwareAddr(nil), c.MAC...)
	origin, ip, own, plat := c.Origin, c.IP, d.cfg.OwnCLAT, c.PLAT
	secs := uint32(lease / time.Second)
	p := &pending{kind: "ROAM", mac: mac.String(), fresh: fresh,
		to:   netip.AddrPortFrom(addrmap.Embed(c.PLAT, d.cfg.MgmtIPv4), uint16(d.cfg.Port)),
		from: addrmap.Embed(own, d.cfg.MgmtIPv4),
		build: func() *roamproto.Message {
			m := d.msg(roamproto.TypeRoam)
			m.MAC, m.CLAT, m.ClientIP, m.LeaseTime, m.HasLease, m.NewCLAT = mac, origin, ip, secs, true, own
			m.PLAT = plat // the PLAT it is meant for: no use replaying it to another
			return m
		}}
	d.startPending(p)
}

func (d *Daemon) startPending(p *pending) {
	key := p.kind + p.mac
	if old := d.byMAC[key]; old != nil {
		d.stopPending(old)
	} else if len(d.byMAC) >= d.cfg.MaxPending {
		d.count("drop_pending_full")
		return
	}
	p.nonces = map[uint32]bool{}
	d.byMAC[key] = p
	d.pendingTick(p)
}

func (d *Daemon) stopPending(p *pending) {
	p.stop = true
	if p.timer != nil {
		p.timer.Stop()
	}
	for n := range p.nonces {
		delete(d.pend, n)
	}
	if d.byMAC[p.kind+p.mac] == p {
		delete(d.byMAC, p.kind+p.mac)
	}
}

func (d *Daemon) pendingTick(p *pending) {
	if p.stop {
		return
	}
	if p.tries >= d.cfg.InfoMax {
		d.count(p.kind + "_gave_up")
		d.stopPending(p)
		return
	}
	p.tries++
	m := p.build()
	p.nonces[m.Nonce] = true
	d.pend[m.Nonce] = p
	d.send(p.from, p.to, m)
	p.timer = time.AfterFunc(d.cfg.InfoInterval, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.pendingTick(p)
	})
}

// addNodeClientIP puts a client's node-client-IP on this node, in place of
// its release route if the client was here a moment ago.
func (d *Daemon) addNodeClientIP(a netip.Addr) {
	d.kerr("add node-client-IP", d.k.AddNodeClientIP(a))
	if _, ok := d.rel[a]; ok {
		d.kerr("delete release route", d.k.Unretract(a))
		delete(d.rel, a)
	}
}

// announces: c's CLATD::ip/128 is announced here. Every node that got c
// through INFO announces it, the lease node too when c comes back: its /96
// alone would lose against the /128s of the nodes c went through.
func announces(c *Client) bool {
	return c.IP.IsValid() && c.Origin.IsValid() && c.Roamed
}

// release drops every piece of state for c (old node A, or lease end).
func (d *Daemon) release(c *Client, why string) { d.releaseTo(c, why, netip.Addr{}) }

// releaseTo is release when c went to the node with address towards: the
// announced /128 becomes a release route towards it for ReleaseHold.
func (d *Daemon) releaseTo(c *Client, why string, towards netip.Addr) {
	d.dirty = true
	key := c.MAC.String()
	// The node-client-IP (an address, which babel redistributes) gets a
	// release route too: it is where CLAIMs for the client go, and an old
	// copy of it would send them to a node that no longer has the client.
	d.kerr("node-client-IP release route", d.k.Retract(c.NodeIP, towards))
	d.rel[c.NodeIP] = d.now().Add(d.cfg.ReleaseHold)
	delete(d.relHop, c.NodeIP)
	d.kerr("del node-client-IP", d.k.DelNodeClientIP(c.NodeIP))
	if c.IP.IsValid() {
		d.kerr("del neighbour", d.k.DelNeigh(c.IP, c.MAC))
		if d.cfg.OwnCLAT.IsValid() && c.Origin.IsValid() {
			if d.needsXlatState(c) {
				d.kerr("ipset del", d.k.RemoveRoamed(d.roamedState(c)))
				defer d.dropUnused(d.roamedState(c)) // once c is gone from d.cl
			}
			if announces(c) {
				dst := addrmap.Embed(c.Origin, c.IP)
				d.kerr("release route", d.k.Retract(dst, towards))
				d.rel[dst] = d.now().Add(d.cfg.ReleaseHold)
				delete(d.relHop, dst)
			}
		}
	}
	if c.Roamed && d.res != nil {
		d.kerr("dhcp release", d.res.Release(c.MAC))
	}
	if p := d.byMAC["ROAM"+key]; p != nil {
		d.stopPending(p)
	}
	delete(d.cl, key)
	d.count("released")
	d.log.Info("client released", "mac", key, "ip", c.IP, "why", why)
}

// dropUnused removes the per-origin and per-PLAT rules and sets of r once
// no client served here uses them: no rule outlives the last lease.
func (d *Daemon) dropUnused(r nfstate.Roamed) {
	origin, plat := r.CLAT != d.cfg.OwnCLAT, r.PLAT.IsValid()
	for _, o := range d.cl {
		if !origin && !plat {
			return
		}
		if !d.needsXlatState(o) {
			continue
		}
		or := d.roamedState(o)
		origin = origin && or.CLAT != r.CLAT
		plat = plat && or.PLAT != r.PLAT
	}
	if origin {
		d.kerr("drop origin rule", d.k.DropOrigin(r.CLAT))
	}
	if plat {
		d.kerr("drop PLAT rule", d.k.DropPLAT(r.PLAT))
	}
}

// ---- packets ------------------------------------------------------------

// HandlePacket processes one datagram from src.
func (d *Daemon) HandlePacket(src netip.AddrPort, b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	from := src.Addr().Unmap()
	if !d.lim.allow(from, now) {
		d.count("drop_rate")
		return
	}
	m, err := roamproto.Parse(b, d.cfg.Secret)
	if err != nil {
		d.count("drop_" + parseReason(err))
		d.log.Debug("drop", "from", src, "err", err)
		return
	}
	if ok, why := d.rep.check(replayKey{m.Sender, m.Type, m.Nonce}, m.Timestamp, now); !ok {
		d.count("drop_" + why)
		return
	}
	d.count("rx_" + roamproto.TypeName(m.Type))
	switch m.Type {
	case roamproto.TypeClaim:
		d.onClaim(m, netip.AddrPortFrom(from, src.Port()))
	case roamproto.TypeInfo:
		d.onInfo(m, netip.AddrPortFrom(from, src.Port()))
	case roamproto.TypeAck:
		d.onAck(m, from)
	case roamproto.TypeRoam:
		d.onRoam(m, netip.AddrPortFrom(from, src.Port()))
	case roamproto.TypeVerify:
		d.onVerify(m, netip.AddrPortFrom(from, src.Port()))
	case roamproto.TypeConfirm:
		d.onConfirm(m, netip.AddrPortFrom(from, src.Port()))
	case roamproto.TypeRefuse:
		d.onRefuse(m, netip.AddrPortFrom(from, src.Port()))
	}
}

func parseReason(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{{roamproto.ErrHMAC, "hmac"}, {roamproto.ErrVersion, "version"}, {roamproto.ErrType, "type"},
		{roamproto.ErrMissing, "missing"}, {roamproto.ErrShort, "malformed"}, {roamproto.ErrTooLong, "malformed"},
		{roamproto.ErrSegment, "malformed"}, {roamproto.ErrDuplicate, "malformed"}} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return "malformed"
}

// onClaim: old node A. Answer with INFO (to NEWCLAT::192.0.0.1) until
// ACKed; hand over and release once ACKed and the client is gone from here
// (handover.go).
func (d *Daemon) onClaim(m *roamproto.Message, from netip.AddrPort) {
	if from.Addr() != m.Sender {
		d.count("drop_bad_source")
		return
	}
	if m.Sender == d.cfg.NodeAddress {
		d.count("drop_own_claim")
		return
	}
	c := d.cl[m.MAC.String()]
	if c == nil || !c.IP.IsValid() || !c.Origin.IsValid() {
		d.count("claim_unknown")
		return
	}
	if !m.NewCLAT.IsValid() || !d.inRange(d.cfg.CLATRange, m.NewCLAT) || m.NewCLAT == d.cfg.OwnCLAT {
		d.count("drop_claim_bad_newclat")
		return
	}
	echo := m.Nonce
	mac := append(net.HardwareAddr(nil), c.MAC...)
	key := addrmap.Embed(c.Origin, c.IP)
	p := &pending{kind: "INFO", mac: mac.String(), hoKey: key, hoTo: m.NewCLAT,
		to:   netip.AddrPortFrom(addrmap.Embed(m.NewCLAT, d.cfg.MgmtIPv4), from.Port()),
		from: d.cfg.NodeAddress,
		build: func() *roamproto.Message {
			r := d.msg(roamproto.TypeInfo)
			secs := uint32(d.remaining(c) / time.Second)
			r.MAC, r.CLAT, r.ClientIP, r.LeaseTime, r.HasLease, r.PLAT = mac, c.Origin, c.IP, secs, true, c.PLAT
			if !r.PLAT.IsValid() {
				r.PLAT = d.cfg.PLAT
			}
			r.Echo, r.HasEcho = echo, true
			return r
		}}
	if !p.build().PLAT.IsValid() {
		d.count("claim_no_plat")
		return
	}
	d.startHandover(c, m.NewCLAT)
	d.startPending(p)
}

func (d *Daemon) inRange(r, p netip.Prefix) bool {
	return is96(p) && (!r.IsValid() || r.Contains(p.Addr()))
}

func (d *Daemon) clampLease(secs uint32) time.Duration {
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

// onInfo: new node B. Accept only the answer to our own CLAIM.
func (d *Daemon) onInfo(m *roamproto.Message, from netip.AddrPort) {
	key := m.MAC.String()
	c := d.clm[key]
	if c == nil {
		d.count("drop_info_unsolicited")
		return
	}
	if !m.HasEcho || !c.nonces[m.Echo] || from.Addr() != m.Sender {
		d.count("drop_info_bad_echo")
		return
	}
	if c.done {
		d.ackInfo(from, m.Nonce, m.MAC) // our ACK was lost
		return
	}
	if !d.inRange(d.cfg.CLATRange, m.CLAT) || !d.inRange(d.cfg.PLATRange, m.PLAT) || !d.inClientNet(m.ClientIP) {
		d.count("drop_info_bad_prefix")
		return
	}
	for _, o := range d.cl { // a lease or client of ours: the INFO binds it to another MAC
		if o.IP == m.ClientIP && o.MAC.String() != key {
			d.count("drop_info_ip_in_use")
			return
		}
	}
	c.done, c.doneAt = true, d.now()
	if c.timer != nil {
		c.timer.Stop()
	}
	d.ackInfo(from, m.Nonce, m.MAC)
	exp := d.now().Add(d.clampLease(m.LeaseTime))
	if c.leaseIP == m.ClientIP && c.leaseEnd.After(exp) {
		exp = c.leaseEnd
	}
	cl := &Client{MAC: c.mac, IP: m.ClientIP, Origin: m.CLAT, PLAT: m.PLAT, Expires: exp,
		NodeIP: d.nodeClientIP(c.mac), Roamed: true}
	if old := d.cl[key]; old != nil {
		d.release(old, "roamed in again")
	}
	d.cl[key] = cl
	d.count("client_roamed_in")
	d.log.Info("client roamed in", "mac", key, "ip", cl.IP, "clat", cl.Origin, "plat", cl.PLAT, "from", from.Addr())
	d.kerr("set neighbour", d.k.SetNeigh(cl.IP, cl.MAC))
	if d.cfg.OwnCLAT.IsValid() {
		d.installRoamed(cl, true)
	}
	d.addNodeClientIP(cl.NodeIP)
}

func (d *Daemon) ackInfo(to netip.AddrPort, echo uint32, mac net.HardwareAddr) {
	a := d.msg(roamproto.TypeAck)
	a.MAC, a.Echo, a.HasEcho = mac, echo, true
	d.send(d.mgmtAddr(), to, a) // from where the INFO came to: NEWCLAT::192.0.0.1
}

// onAck: A gets the ACK of its INFO (then releases), B the ACK of its ROAM.
func (d *Daemon) onAck(m *roamproto.Message, from netip.Addr) {
	p := d.pend[m.Echo]
	if !m.HasEcho || p == nil || p.to.Addr() != from || p.mac != m.MAC.String() {
		d.count("drop_ack_unknown")
		return
	}
	d.stopPending(p)
	if p.kind == "INFO" {
		d.handoverAcked(p.hoKey, p.hoTo)
	}
}

// ---- timers, PLAT changes, views ---------------------------------------

// Sweep expires clients, steering entries and finished claims.
func (d *Daemon) Sweep() {
	d.mu.Lock()
	defer d.mu.Unlock()
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
			d.kerr("delete release route", d.k.Unretract(dst))
			delete(d.rel, dst)
			delete(d.relHop, dst)
			d.dirty = true
		}
	}
	if d.k.DeviceChanged() && d.cfg.OwnCLAT.IsValid() {
		// xlat-clat restarted: its new device has none of our routes
		d.count("clat_device_changed")
		for _, c := range d.cl {
			if announces(c) {
				d.kerr("announce", d.k.Announce(addrmap.Embed(c.Origin, c.IP)))
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
// reaching it as if they had roamed to it.
func (d *Daemon) SetPLAT(p netip.Prefix) error {
	if !is96(p) {
		return fmt.Errorf("set_platprefix: %v is not an IPv6 /96", p)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p == d.cfg.PLAT {
		return nil
	}
	var errs []error
	d.dirty = true
	old := d.cfg.PLAT
	for _, c := range d.cl {
		if d.needsXlatState(c) { // drop members that refer to the old choice
			errs = append(errs, d.k.RemoveRoamed(d.roamedState(c)))
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
			errs = append(errs, d.k.AddRoamed(d.roamedState(c), d.remaining(c)), d.k.FlushConntrack(d.roamedState(c)))
		}
	}
	d.count("set_platprefix")
	return errors.Join(errs...)
}

// DelPLAT is del_platprefix: the PLAT is gone; drop all state that uses it.
func (d *Daemon) DelPLAT(p netip.Prefix) error {
	if !is96(p) {
		return fmt.Errorf("del_platprefix: %v is not an IPv6 /96", p)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	d.dirty = true
	for _, c := range d.cl {
		if c.PLAT == p {
			if d.needsXlatState(c) {
				errs = append(errs, d.k.RemoveRoamed(d.roamedState(c)))
			}
			c.PLAT = netip.Prefix{}
			if d.cfg.PLAT != p {
				c.PLAT = d.cfg.PLAT
			}
			if d.needsXlatState(c) {
				errs = append(errs, d.k.AddRoamed(d.roamedState(c), d.remaining(c)))
			}
		}
		if p := d.byMAC["ROAM"+c.MAC.String()]; p != nil && p.to.Addr() == addrmap.Embed(c.PLAT, d.cfg.MgmtIPv4) {
			d.stopPending(p)
		}
	}
	if d.cfg.PLAT == p {
		d.cfg.PLAT = netip.Prefix{}
	}
	if d.cfg.OwnCLAT.IsValid() {
		errs = append(errs, d.k.DropPLAT(p))
	}
	d.count("del_platprefix")
	return errors.Join(errs...)
}

// ClientView is a client as status shows it.
type ClientView struct {
	MAC      string `json:"mac"`
	IP       string `json:"ip,omitempty"`
	CLAT     string `json:"clat,omitempty"`
	PLAT     string `json:"plat,omitempty"`
	Roamed   bool   `json:"roamed"`
	LeaseSec int64  `json:"lease_remaining,omitempty"`
	NodeIP   string `json:"node_client_ip"`
}

// Clients lists the served clients sorted by MAC.
func (d *Daemon) Clients() []ClientView {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]ClientView, 0, len(d.cl))
	for _, c := range d.cl {
		v := ClientView{MAC: c.MAC.String(), Roamed: c.Roamed, NodeIP: c.NodeIP.String()}
		if c.IP.IsValid() {
			v.IP = c.IP.String()
		}
		if c.Origin.IsValid() {
			v.CLAT = c.Origin.String()
		}
		if c.PLAT.IsValid() {
			v.PLAT = c.PLAT.String()
		}
		if !c.Expires.IsZero() {
			v.LeaseSec = int64(d.remaining(c) / time.Second)
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC < out[j].MAC })
	return out
}

// SteerCount is the number of roamed clients steered at this PLAT.
func (d *Daemon) SteerCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.st)
}

// Forget drops a client without the release steps that need the kernel
// (del_address); it reports whether the MAC was known.
func (d *Daemon) Forget(mac net.HardwareAddr, ip netip.Addr) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
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
func (d *Daemon) ReleaseAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.cl {
		d.release(c, "shutdown")
	}
	for dst := range d.rel {
		d.kerr("delete release route", d.k.Unretract(dst))
		delete(d.rel, dst)
	}
	for k := range d.st {
		d.delSteer(k)
	}
}

// Close stops every timer.
func (d *Daemon) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.clm {
		c.done = true
		if c.timer != nil {
			c.timer.Stop()
		}
	}
	for _, p := range d.byMAC {
		d.stopPending(p)
	}
	for _, v := range d.vr {
		d.endVerify(v)
	}
}
