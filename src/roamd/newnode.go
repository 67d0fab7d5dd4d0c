package roamd

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// The new node B: a client MAC appears on the client bridge; B CLAIMs it
// at its node-client-IP, takes the old node's INFO (the answer to its own
// CLAIM only), installs the roamed client's state and sends ROAM to the
// client's PLAT until ACKed. A MAC nobody answers for is a new client.

type claim struct {
	mac      net.HardwareAddr
	nonces   map[uint32]bool
	tries    int
	timer    *timer
	done     bool // INFO accepted; kept briefly to re-ACK retransmitted INFOs
	doneAt   time.Time
	leaseIP  netip.Addr // DHCP lease seen during the claim
	leaseEnd time.Time
}

// pending is a message sent until ACKed: an INFO (old node) or a ROAM
// (new node).
type pending struct {
	kind    string // "INFO" or "ROAM"
	mac     string
	to      netip.AddrPort
	from    netip.Addr
	build   func() *roamproto.Message
	nonces  map[uint32]bool
	tries   int
	timer   *timer
	stop    bool
	fresh   bool         // ROAM right after the handover: a REFUSE undoes it
	oldPLAT netip.Prefix // ROAM after a PLAT loss: the lost PLAT (until ACKed)
	hoKey   netip.Addr   // INFO: the handover it belongs to (CLATD::ip)
	hoTo    netip.Prefix // and its NEWCLAT
}

// Seen is a client MAC (and, if known, its IPv4 address) seen on the client
// bridge: an unknown MAC starts a CLAIM towards its node-client-IP.
func (d *machine) Seen(mac net.HardwareAddr, ip netip.Addr) {
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
	if !d.w.k.HasRoute(nip) {
		d.takeNew(mac, netip.Addr{}, time.Time{})
		return
	}
	c := &claim{mac: append(net.HardwareAddr(nil), mac...), nonces: map[uint32]bool{}}
	d.clm[key] = c
	d.claimTick(c)
}

func (d *machine) claimTick(c *claim) {
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
	c.timer = d.after(d.cfg.ClaimInterval, func() { d.claimTick(c) })
}

// takeNew makes a client nobody else served ours.
func (d *machine) takeNew(mac net.HardwareAddr, ip netip.Addr, until time.Time) {
	d.dirty = true
	c := &Client{MAC: mac, NodeIP: d.nodeClientIP(mac), Origin: d.cfg.OwnCLAT, PLAT: d.cfg.PLAT}
	if ip.Is4() {
		c.IP, c.Expires = ip, until
	}
	d.cl[mac.String()] = c
	d.addNodeClientIP(c.NodeIP)
	if c.IP.IsValid() {
		d.setNeigh(c.IP, c.MAC)
		d.dropDetour(c)
	}
	d.count("client_new")
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
func (d *machine) Lease(op LeaseOp, mac net.HardwareAddr, ip netip.Addr, expires time.Time) error {
	if len(mac) != 6 {
		return fmt.Errorf("lease: MAC %v is not 6 bytes", mac)
	}
	if !d.inClientNet(ip) {
		return fmt.Errorf("lease: %v is not an IPv4 address of the client network", ip)
	}
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
	noEnd := expires.IsZero()
	if noEnd {
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
	if op == LeaseOld && c.IP == ip && (noEnd || !expires.After(c.Expires)) {
		// the same repetition for a client served here: nothing to
		// refresh. Refreshing anyway re-added every roamed client's
		// members and sent its PLAT a ROAM at every SIGHUP, i.e. at
		// every reservation this node made or dropped (50-node lab: 957
		// old events and 247 refreshes in 142 roams).
		d.count("lease_old_same")
		return nil
	}
	if !c.IP.IsValid() {
		c.IP = ip
		d.setNeigh(c.IP, c.MAC)
		d.dropDetour(c)
	}
	if expires.After(c.Expires) {
		c.Expires = expires
	}
	if d.needsXlatState(c) {
		d.installRoamed(c, false) // refresh timeouts and tell the PLAT
	}
	return nil
}

// installRoamed puts a roamed client's state in place at the new node B
// and (re)sends ROAM to its PLAT; fresh: first install, so conntrack
// entries from before the rewrite are dropped (not on a lease refresh,
// whose flows are already rewritten).
func (d *machine) installRoamed(c *Client, fresh bool) {
	d.rewrite(c, fresh)
	d.tellRoamed(c, fresh)
}

// rewrite is the part of installRoamed that carries the client's flows:
// the rewrite's rules and members and the announce route.
func (d *machine) rewrite(c *Client, fresh bool) {
	d.dirty = true
	if d.needsXlatState(c) {
		r := d.roamedState(c)
		d.addRoamed(r, d.remaining(c))
		if fresh {
			d.kernel("conntrack flush", func(k Kernel) error { return k.FlushConntrack(r) })
		}
	}
	if announces(c) {
		dst := addrmap.Embed(c.Origin, c.IP)
		d.announce(dst)
		delete(d.rel, dst) // Announce replaced it
		delete(d.relTo, dst)
		d.dropFallback(dst)
	}
}

// tellRoamed is the rest of installRoamed: the DHCP reservation and the
// ROAM to the client's PLAT.
func (d *machine) tellRoamed(c *Client, fresh bool) {
	d.reserve(c.MAC, c.IP)
	if c.PLAT.IsValid() {
		d.sendRoam(c, d.remaining(c), fresh, netip.Prefix{})
	}
}

// sendRoam tells c's PLAT that this node serves c; oldPLAT (if valid) is
// the lost PLAT c's flows left for it (platSwitch at the PLAT).
func (d *machine) sendRoam(c *Client, lease time.Duration, fresh bool, oldPLAT netip.Prefix) {
	mac := append(net.HardwareAddr(nil), c.MAC...)
	origin, ip, own, plat := c.Origin, c.IP, d.cfg.OwnCLAT, c.PLAT
	secs := uint32(lease / time.Second)
	to := netip.AddrPortFrom(addrmap.Embed(c.PLAT, d.cfg.MgmtIPv4), uint16(d.cfg.Port))
	if old := d.byMAC["ROAM"+mac.String()]; !oldPLAT.IsValid() && old != nil && old.to == to {
		oldPLAT = old.oldPLAT // a renewal while the PLAT switch is unanswered: still the switch
	}
	p := &pending{kind: "ROAM", mac: mac.String(), fresh: fresh, oldPLAT: oldPLAT, to: to,
		from: addrmap.Embed(own, d.cfg.MgmtIPv4),
		build: func() *roamproto.Message {
			m := d.msg(roamproto.TypeRoam)
			m.MAC, m.CLAT, m.ClientIP, m.LeaseTime, m.HasLease, m.NewCLAT = mac, origin, ip, secs, true, own
			m.PLAT = plat // the PLAT it is meant for: no use replaying it to another
			m.OldPLAT = oldPLAT
			return m
		}}
	d.startPending(p)
}

func (d *machine) startPending(p *pending) {
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

func (d *machine) stopPending(p *pending) {
	p.stop = true
	p.timer.stop()
	for n := range p.nonces {
		delete(d.pend, n)
	}
	if d.byMAC[p.kind+p.mac] == p {
		delete(d.byMAC, p.kind+p.mac)
	}
}

func (d *machine) pendingTick(p *pending) {
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
	p.timer = d.after(d.cfg.InfoInterval, func() { d.pendingTick(p) })
}

// dropDetour deletes the lease node's fallback route of c's address (it
// left, releaseTo): c is served here again.
func (d *machine) dropDetour(c *Client) {
	if d.cfg.OwnCLAT.IsValid() && c.Origin == d.cfg.OwnCLAT {
		d.dropFallback(addrmap.Embed(c.Origin, c.IP))
	}
}

// addNodeClientIP puts a client's node-client-IP on this node, in place of
// its release route if the client was here a moment ago.
func (d *machine) addNodeClientIP(a netip.Addr) {
	d.kernel("add node-client-IP", func(k Kernel) error { return k.AddNodeClientIP(a) })
	if _, ok := d.rel[a]; ok {
		d.unretract(a)
		delete(d.rel, a)
		delete(d.relTo, a)
	}
	d.dropFallback(a)
}

// onInfo: new node B. Accept only the answer to our own CLAIM.
func (d *machine) onInfo(m *roamproto.Message, from netip.AddrPort) {
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
	c.timer.stop()
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
	d.setNeigh(cl.IP, cl.MAC)
	if d.cfg.OwnCLAT.IsValid() {
		d.rewrite(cl, true)
	}
	d.addNodeClientIP(cl.NodeIP)
	// The ACK goes once the rewrite is in place: on it the old node
	// releases the client (its /128 becomes a release route towards this
	// node) and confirms the handover to the PLAT, which steers the
	// replies here. ACKed first, the replies came while this node was
	// still making the rewrite's rules (several ip6tables commands, up to
	// 1 s each on a busy node with other clients roaming in and out). The
	// DHCP reservation (a file and a SIGHUP to dnsmasq) and the ROAM
	// follow it.
	d.ackInfo(from, m.Nonce, m.MAC)
	if d.cfg.OwnCLAT.IsValid() {
		d.tellRoamed(cl, true)
	}
}

func (d *machine) ackInfo(to netip.AddrPort, echo uint32, mac net.HardwareAddr) {
	a := d.msg(roamproto.TypeAck)
	a.MAC, a.Echo, a.HasEcho = mac, echo, true
	d.send(d.mgmtAddr(), to, a) // from where the INFO came to: NEWCLAT::192.0.0.1
}

// roamRefused: the PLAT refused our ROAM (new node B).
func (d *machine) roamRefused(m *roamproto.Message, from netip.AddrPort) {
	p := d.pend[m.Echo]
	if p == nil || p.kind != "ROAM" || p.to.Addr() != from.Addr() {
		d.count("drop_refuse_unknown")
		return
	}
	d.stopPending(p)
	d.count("roam_refused_by_plat")
	if c := d.cl[p.mac]; p.fresh && c != nil && c.Roamed {
		d.release(c, "handover refused by the PLAT")
	}
}
