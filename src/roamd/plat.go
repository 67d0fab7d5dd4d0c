package roamd

import (
	"net"
	"net/netip"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// At the PLAT, a ROAM that moves a client to another node (a handover) is
// applied only when the node that serves the client now confirms it: the
// node of the steering entry's NEWCLAT, or the lease node (CLATD) when
// there is none. The PLAT asks it at <its CLAT>::192.0.0.1, an address the
// mesh routes to the owner of that /96, whatever the ROAM says; the ROAM's
// own source is bound to NEWCLAT::192.0.0.1. A ROAM from the serving node
// itself (a lease renewal) is a refresh and needs no question.

// steerEntry is where the PLAT steers a roamed client's replies.
type steerEntry struct {
	CLAT, NewCLAT netip.Prefix
	IP            netip.Addr
	Expires       time.Time
}

type verifyKey struct {
	key netip.Addr   // CLATD::ip
	to  netip.Prefix // NEWCLAT
}

type verifyReq struct {
	k        verifyKey
	clat     netip.Prefix // CLATD
	ip       netip.Addr
	mac      net.HardwareAddr
	lease    time.Duration  // from the ROAM, clamped
	roamFrom netip.AddrPort // B, for the ACK or REFUSE
	roamEcho uint32         // nonce of B's latest ROAM
	server   netip.Addr     // where the VERIFY goes
	hops     int            // successors followed (maxSuccessors)
	nonces   []uint32
	tries    int
	timer    *timer
	done     bool
}

// maxSuccessors bounds how many successors one VERIFY follows: each is a
// node the one asked before handed the client to (a REFUSE naming it), so
// a walk of that many hops between two ROAMs the PLAT takes still ends at
// the node that serves the client; it also bounds what a ROAM can cost.
const maxSuccessors = 4

// onRoam: the PLAT C.
func (d *machine) onRoam(m *roamproto.Message, from netip.AddrPort) {
	if !d.cfg.OwnPLAT.IsValid() {
		d.count("drop_roam_not_plat")
		return
	}
	if from.Addr() != addrmap.Embed(m.NewCLAT, d.cfg.MgmtIPv4) {
		d.count("drop_bad_source")
		return
	}
	if m.PLAT != d.cfg.OwnPLAT { // meant for another PLAT (a replay there)
		d.count("drop_roam_wrong_plat")
		return
	}
	if !d.inRange(d.cfg.CLATRange, m.CLAT) || !d.inRange(d.cfg.CLATRange, m.NewCLAT) || !d.inClientNet(m.ClientIP) {
		d.count("drop_roam_bad_prefix")
		return
	}
	if time.Duration(m.LeaseTime)*time.Second < d.cfg.LeaseMin {
		d.count("drop_lease_short")
		return
	}
	now := d.now()
	lease := d.clampLease(m.LeaseTime)
	key := addrmap.Embed(m.CLAT, m.ClientIP)
	cur := d.st[key]
	server := m.CLAT
	if cur != nil {
		server = cur.NewCLAT
	}
	if m.NewCLAT == server { // the serving node renews, or a client at home
		if cur != nil && now.Add(lease).After(cur.Expires) {
			cur.Expires = now.Add(lease) // never shortened
		}
		d.count("roam_refresh")
		d.answerRoam(roamproto.TypeAck, from, m.Nonce, m.MAC)
		return
	}
	if m.OldPLAT.IsValid() {
		d.platSwitch(m, from, key, lease)
		return
	}
	vk := verifyKey{key, m.NewCLAT}
	if v := d.vr[vk]; v != nil { // B retransmitted while we ask
		v.roamFrom, v.roamEcho, v.lease = from, m.Nonce, lease
		return
	}
	if !d.w.k.Routed(from.Addr()) { // no node announces NEWCLAT: a spoofed source
		d.count("drop_roam_unknown_clat")
		return
	}
	switch {
	case len(d.vr) >= d.cfg.MaxVerify:
		d.count("drop_busy_verify")
		return
	case d.vrCLAT[m.NewCLAT] >= d.cfg.MaxVerifyCLAT:
		d.count("drop_busy_verify_clat")
		return
	case !d.handoverBudget(m.NewCLAT, now):
		return
	}
	v := &verifyReq{k: vk, clat: m.CLAT, ip: m.ClientIP, mac: m.MAC, lease: lease, roamFrom: from,
		roamEcho: m.Nonce, server: addrmap.Embed(server, d.cfg.MgmtIPv4)}
	d.vr[vk] = v
	d.vrCLAT[m.NewCLAT]++
	d.count("verify_sent")
	d.verifyTick(v)
}

// platSwitch: a node says it serves a roamed client whose flows it moved
// to this PLAT because the client's PLAT on record (OLDPLAT) is lost.
// Nobody can confirm that: the lost PLAT held the steering entry, the
// lease node knows at most the client's first hop. So this PLAT takes
// babel, as seen here, as its witness: OLDPLAT must be lost in this node's
// own babel table (a key holder cannot make a live PLAT vanish here), and
// the client's CLATD::ip/128 must be announced by the node that announces
// NEWCLAT (the same babel originator; only the serving node announces the
// /128 below the release metric). The steering then points where babel
// routes the client's replies anyway, and later handovers are verified
// with that node. Otherwise the ROAM is dropped without an answer: the
// serving node retries while babel catches up.
func (d *machine) platSwitch(m *roamproto.Message, from netip.AddrPort, key netip.Addr, lease time.Duration) {
	now := d.now()
	switch {
	case m.OldPLAT == d.cfg.OwnPLAT || !d.inRange(d.cfg.PLATRange, m.OldPLAT):
		d.count("drop_roam_bad_prefix")
		return
	case !d.handoverBudget(m.NewCLAT, now):
		return
	case d.plats == nil || !d.plats.lost(m.OldPLAT, now):
		d.count("drop_switch_plat_alive")
		return
	case !d.plats.announcedBy(key, m.NewCLAT):
		d.count("drop_switch_unwitnessed")
		return
	}
	d.applySteer(key, m.CLAT, m.NewCLAT, m.ClientIP, now.Add(lease), func(ok bool) {
		if !ok {
			return // no ACK: the serving node retries
		}
		d.count("roam_plat_switch")
		d.log.Info("client of a lost PLAT taken over", "client", key, "lost", m.OldPLAT, "serving", m.NewCLAT)
		d.answerRoam(roamproto.TypeAck, from, m.Nonce, m.MAC)
	})
}

// handoverBudget takes a handover from NEWCLAT clat out of the rate
// limits (per NEWCLAT, then overall); false (counted): over budget.
func (d *machine) handoverBudget(clat netip.Prefix, now time.Time) bool {
	if !d.clatLim.allow(clat, now) {
		d.count("drop_busy_rate_clat")
		return false
	}
	if !d.glob.allow(now) {
		d.count("drop_busy_rate")
		return false
	}
	return true
}

func (d *machine) verifyTick(v *verifyReq) {
	if v.done {
		return
	}
	if v.tries >= d.cfg.VerifyMax {
		d.count("verify_timeout")
		d.endVerify(v)
		return
	}
	v.tries++
	m := d.msg(roamproto.TypeVerify)
	m.CLAT, m.ClientIP, m.NewCLAT, m.MAC = v.clat, v.ip, v.k.to, v.mac
	v.nonces = append(v.nonces, m.Nonce)
	d.vrNonce[m.Nonce] = v
	d.send(addrmap.Embed(d.cfg.OwnPLAT, d.cfg.MgmtIPv4), netip.AddrPortFrom(v.server, uint16(d.cfg.Port)), m)
	v.timer = d.after(d.cfg.VerifyInterval, func() { d.verifyTick(v) })
}

func (d *machine) endVerify(v *verifyReq) {
	v.done = true
	v.timer.stop()
	for _, n := range v.nonces {
		delete(d.vrNonce, n)
	}
	if d.vr[v.k] == v {
		delete(d.vr, v.k)
		if d.vrCLAT[v.k.to]--; d.vrCLAT[v.k.to] <= 0 {
			delete(d.vrCLAT, v.k.to)
		}
	}
}

func (d *machine) answerRoam(t uint8, to netip.AddrPort, echo uint32, mac net.HardwareAddr) {
	if mac == nil {
		return // ACK and REFUSE carry the MAC; a ROAM without one gets no answer
	}
	a := d.msg(t)
	a.MAC, a.Echo, a.HasEcho = mac, echo, true
	d.send(addrmap.Embed(d.cfg.OwnPLAT, d.cfg.MgmtIPv4), to, a)
}

// onConfirm: the serving node confirmed the handover: steer, then ACK B.
func (d *machine) onConfirm(m *roamproto.Message, from netip.AddrPort) {
	v := d.vrNonce[m.Echo]
	if v == nil || from.Addr() != v.server {
		d.count("drop_confirm_unknown")
		return
	}
	d.endVerify(v)
	if v.hops > 0 {
		d.supersede(v)
	}
	// the steering never outlives the lease the serving node reported
	lease := d.clampLease(m.LeaseTime)
	if v.lease < lease {
		lease = v.lease
	}
	d.applySteer(v.k.key, v.clat, v.k.to, v.ip, d.now().Add(lease), func(ok bool) {
		if !ok {
			return // no ACK: B retries
		}
		d.count("roam_accepted")
		d.answerRoam(roamproto.TypeAck, v.roamFrom, v.roamEcho, v.mac)
	})
}

// supersede ends the other VERIFYs for v's client once v, confirmed at
// the end of a chain of successors, moved it on: they asked nodes the
// client has left since, whose late CONFIRM would steer the client back.
// Their ROAMs come again and are asked of the node that serves it now.
func (d *machine) supersede(v *verifyReq) {
	for k, o := range d.vr {
		if k.key == v.k.key && o != v {
			d.count("verify_superseded")
			d.endVerify(o)
		}
	}
}

// verifyRefused: at the PLAT, the serving node refused a handover: ask
// the successor it names, or tell B. False: the REFUSE answers no VERIFY
// of ours.
func (d *machine) verifyRefused(m *roamproto.Message, from netip.AddrPort) bool {
	v := d.vrNonce[m.Echo]
	if v == nil || from.Addr() != v.server {
		return false
	}
	if next := d.successor(v, m.NewCLAT); next.IsValid() {
		d.count("verify_redirected")
		d.log.Info("handover asked of the node the client was handed to", "client", v.k.key, "to", v.k.to,
			"refused_by", v.server, "next", next)
		v.timer.stop()
		v.server, v.tries = next, 0
		v.hops++
		d.verifyTick(v)
		return true
	}
	d.endVerify(v)
	d.count("roam_refused")
	d.log.Warn("handover refused by the serving node", "client", v.k.key, "to", v.k.to, "server", v.server)
	d.answerRoam(roamproto.TypeRefuse, v.roamFrom, v.roamEcho, v.mac)
	return true
}

// successor is where v's VERIFY goes next when the node asked names the
// node it handed the client to (to, a REFUSE's NEWCLAT), or invalid: no
// successor, one out of range or not in the mesh, the asker itself (that
// would have been a CONFIRM), or too many already.
func (d *machine) successor(v *verifyReq, to netip.Prefix) netip.Addr {
	if !to.IsValid() || v.hops >= maxSuccessors || to == v.k.to || !d.inRange(d.cfg.CLATRange, to) {
		return netip.Addr{}
	}
	next := addrmap.Embed(to, d.cfg.MgmtIPv4)
	if next == v.server || !d.w.k.Routed(next) {
		return netip.Addr{}
	}
	return next
}

// applySteer installs the steering entry for key (CLATD::ip) towards
// NEWCLAT to, within the caps, and calls done with whether it did (once
// the kernel took the route, if one is needed).
func (d *machine) applySteer(key netip.Addr, clat, to netip.Prefix, ip netip.Addr, exp time.Time, done func(ok bool)) {
	d.dirty = true
	old := d.st[key]
	if to == clat { // back at the node it leased on
		if old != nil {
			d.delSteer(key)
		}
		done(true)
		return
	}
	if old == nil && len(d.st) >= d.cfg.MaxSteer {
		d.count("drop_steer_full")
		done(false)
		return
	}
	if (old == nil || old.NewCLAT != to) && d.stCLAT[to] >= d.cfg.MaxSteerCLAT {
		d.count("drop_steer_full_clat")
		done(false)
		return
	}
	commit := func() {
		if old := d.st[key]; old != nil {
			if old.NewCLAT != to && to == d.cfg.OwnCLAT && old.NewCLAT != d.cfg.OwnCLAT {
				d.unsteer(key) // served here: the local route does it
			}
			d.stCLAT[old.NewCLAT]--
		}
		d.st[key] = &steerEntry{CLAT: clat, NewCLAT: to, IP: ip, Expires: exp}
		d.stCLAT[to]++
		done(true)
	}
	if to == d.cfg.OwnCLAT || (old != nil && old.NewCLAT == to) {
		commit()
		return
	}
	towards := addrmap.Embed(to, ip)
	d.kernelThen("steer", func(k Kernel) error { return k.Steer(key, towards) }, func(err error) {
		if err != nil {
			done(false) // kernel error logged and counted
			return
		}
		commit()
	})
}

func (d *machine) unsteer(key netip.Addr) {
	d.kernel("unsteer", func(k Kernel) error { return k.Unsteer(key) })
}

// delSteer removes a steering entry and its route.
func (d *machine) delSteer(key netip.Addr) {
	s := d.st[key]
	if s == nil {
		return
	}
	d.dirty = true
	if s.NewCLAT != d.cfg.OwnCLAT {
		d.unsteer(key)
	}
	delete(d.st, key)
	if d.stCLAT[s.NewCLAT]--; d.stCLAT[s.NewCLAT] <= 0 {
		delete(d.stCLAT, s.NewCLAT)
	}
}
