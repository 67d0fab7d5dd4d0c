package roamd

import (
	"net"
	"net/netip"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/nfstate"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// The old node A: a CLAIM for a client it serves is answered with INFO
// (to the claimer's NEWCLAT::192.0.0.1) until ACKed; the client is handed
// over and released once the ACK is in and the client no longer answers
// here. Its announced /128 and node-client-IP become release routes
// towards the new node (re-pointed by Follow, follow.go) for ReleaseHold.

// onClaim: old node A. Answer with INFO (to NEWCLAT::192.0.0.1) until
// ACKed; hand over and release once ACKed and the client is gone from here.
func (d *machine) onClaim(m *roamproto.Message, from netip.AddrPort) {
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

// release drops every piece of state for c (old node A, or lease end).
func (d *machine) release(c *Client, why string) { d.releaseTo(c, why, netip.Addr{}) }

// releaseTo is release when c went to the node with address towards: the
// announced /128 becomes a release route towards it for ReleaseHold.
func (d *machine) releaseTo(c *Client, why string, towards netip.Addr) {
	d.dirty = true
	key := c.MAC.String()
	// Routes first (netlink, quick), the rest after them: ipset and
	// ip6tables (a dropped per-origin rule) take tens of ms.
	// The node-client-IP (an address, which babel redistributes) gets a
	// release route too: it is where CLAIMs for the client go, and an old
	// copy of it would send them to a node that no longer has the client.
	d.retract("node-client-IP release route", c.NodeIP, towards)
	nip := c.NodeIP
	d.kernel("del node-client-IP", func(k Kernel) error { return k.DelNodeClientIP(nip) })
	xlat := c.IP.IsValid() && d.cfg.OwnCLAT.IsValid() && c.Origin.IsValid()
	switch {
	case !xlat:
	case announces(c):
		d.retract("release route", addrmap.Embed(c.Origin, c.IP), towards)
	case c.Origin == d.cfg.OwnCLAT && towards.IsValid():
		// The client leaves its lease node, which never announced its
		// /128: until babel carries the new node's /128 here, this
		// node's /96 would hand the client's packets to its own CLAT and
		// a client that is gone (seen in the 8-node walk: the PLAT's
		// steering route crossed the lease node, 145 ms more stall on
		// the first hop away from home). A fallback route towards the
		// new node carries them; babel's route beats it (Follow drops
		// it then), the client's return replaces it.
		dst := addrmap.Embed(c.Origin, c.IP)
		d.kernel("detour", func(k Kernel) error { return k.Detour(dst, towards) })
		d.fb[dst] = d.now().Add(d.cfg.ReleaseHold)
	}
	if c.IP.IsValid() {
		ip, mac := c.IP, c.MAC
		d.kernel("del neighbour", func(k Kernel) error { return k.DelNeigh(ip, mac) })
	}
	if xlat && d.needsXlatState(c) {
		r := d.roamedState(c)
		d.removeRoamed(r)
		defer d.dropUnused(r) // once c is gone from d.cl
	}
	if c.Roamed {
		d.unreserve(c.MAC)
	}
	if p := d.byMAC["ROAM"+key]; p != nil {
		d.stopPending(p)
	}
	delete(d.cl, key)
	d.count("released")
	d.log.Info("client released", "mac", key, "ip", c.IP, "why", why)
}

// retract turns dst's route into a release route towards towards (invalid:
// unreachable), held for ReleaseHold.
func (d *machine) retract(what string, dst, towards netip.Addr) {
	d.kernel(what, func(k Kernel) error { return k.Retract(dst, towards) })
	d.rel[dst], d.relTo[dst] = d.now().Add(d.cfg.ReleaseHold), towards
	delete(d.relHop, dst)
	d.dropFallback(dst)
}

// dropUnused notes the per-origin and per-PLAT rules and sets of r that
// no client served here uses any more; Sweep drops them once they stayed
// unused for ReleaseHold (dropIdle), so no rule outlives the last lease
// by more than that. Not at once: each rule is several ip6tables commands
// (0.1-1 s each on a busy node) run by the event loop, and in a wave of
// roams the next client of the same origin or PLAT comes a moment later
// and makes them again; meanwhile every other handover on this node
// waited (12-node scale lab, three roamers at once: "drop PLAT rule" up
// to 0.99 s, "drop origin rule" up to 0.7 s, CLAIMs and VERIFYs queued
// behind them, 2-4 s stalls).
func (d *machine) dropUnused(r nfstate.Roamed) {
	now := d.now()
	if r.CLAT != d.cfg.OwnCLAT && !d.prefixUsed(ruleOrigin, r.CLAT) {
		d.markIdle(ruleKey{ruleOrigin, r.CLAT}, now)
	}
	if r.PLAT.IsValid() && !d.prefixUsed(rulePLAT, r.PLAT) {
		d.markIdle(ruleKey{rulePLAT, r.PLAT}, now)
	}
}

// ruleKey names a per-prefix rule and set: an origin CLAT's or a PLAT's.
type ruleKey struct {
	kind byte
	p    netip.Prefix
}

const (
	ruleOrigin byte = 's'
	rulePLAT   byte = 'p'
)

func (d *machine) markIdle(k ruleKey, now time.Time) {
	if _, ok := d.idle[k]; !ok {
		d.idle[k] = now
	}
}

// prefixUsed: a client served here needs the rule of kind for p.
func (d *machine) prefixUsed(kind byte, p netip.Prefix) bool {
	for _, c := range d.cl {
		if !d.needsXlatState(c) {
			continue
		}
		r := d.roamedState(c)
		if (kind == ruleOrigin && r.CLAT == p) || (kind == rulePLAT && r.PLAT == p) {
			return true
		}
	}
	return false
}

// dropIdle drops the rules noted by dropUnused that are still unused after
// ReleaseHold (all of them: now), and forgets those in use again.
func (d *machine) dropIdle(now time.Time, all bool) {
	for k, since := range d.idle {
		switch {
		case d.prefixUsed(k.kind, k.p):
			delete(d.idle, k)
		case all || now.Sub(since) >= d.cfg.ReleaseHold:
			delete(d.idle, k)
			p := k.p
			if k.kind == ruleOrigin {
				d.kernel("drop origin rule", func(k Kernel) error { return k.DropOrigin(p) })
			} else {
				d.kernel("drop PLAT rule", func(k Kernel) error { return k.DropPLAT(p) })
			}
		}
	}
}

// handover is the serving node's record of a client it is asked to hand to
// another node (a CLAIM naming that node's CLAT, NEWCLAT). The record is
// final only when the claimer ACKed the INFO (it owns NEWCLAT: the INFO
// went to NEWCLAT::192.0.0.1) and the client no longer answers here (ARP
// probes on the client bridge). Only then is the client released, and only
// a final record is confirmed to the client's own PLAT when it asks
// (VERIFY). A node that merely holds the site secret can CLAIM and ACK, but
// it cannot make a client that is still here answer from elsewhere.
type handover struct {
	key     netip.Addr   // CLATD::ip
	mac     string       // client MAC
	ip      netip.Addr   // client IPv4
	to      netip.Prefix // NEWCLAT of the claimer
	plat    netip.Prefix // the client's PLAT: the only one whose VERIFY is answered
	expires time.Time    // the client's lease end when it was handed over
	acked   bool         // the claimer ACKed our INFO
	probing bool
	probed  bool
	present bool      // the client answered a probe here: the CLAIM was not the client's doing
	done    bool      // handed over and released: confirmable until until
	until   time.Time // the record is forgotten after this
	waiting []verifyAsk
}

// verifyAsk is a VERIFY that came while the handover was still open.
type verifyAsk struct {
	from netip.AddrPort
	echo uint32
	to   netip.Prefix // the NEWCLAT asked about
}

const (
	handoverKeep = time.Minute // a final record answers VERIFYs this long
	maxWaiting   = 4           // deferred VERIFYs per record (one per PLAT retry)
)

// startHandover records that c is being claimed by the node of NEWCLAT to
// and starts probing whether c is still here.
func (d *machine) startHandover(c *Client, to netip.Prefix) *handover {
	key := addrmap.Embed(c.Origin, c.IP)
	h := d.ho[key]
	if h == nil || h.done || h.to != to || h.mac != c.MAC.String() {
		if h != nil {
			d.answerWaiting(h, false)
		}
		plat := c.PLAT
		if !plat.IsValid() {
			plat = d.cfg.PLAT
		}
		h = &handover{key: key, mac: c.MAC.String(), ip: c.IP, to: to, plat: plat}
		d.ho[key] = h
	}
	h.expires, h.until = c.Expires, d.now().Add(handoverKeep)
	if h.probed && h.present {
		h.probed, h.present = false, false // asked again: the client may have left since
	}
	if !h.probing && !h.probed {
		h.probing = true
		ip, mac := h.ip, append(net.HardwareAddr(nil), c.MAC...)
		d.background(func(w world) func() {
			present := w.k.Present(ip, mac) // blocks: ARP probes on the client bridge
			return func() {
				d.log.Debug("presence probe", "ip", ip, "present", present)
				h.probing, h.probed, h.present = false, true, present
				if d.ho[key] == h {
					d.handoverStep(h)
				}
			}
		})
	}
	return h
}

// handoverAcked: the claimer ACKed our INFO.
func (d *machine) handoverAcked(key netip.Addr, to netip.Prefix) {
	if h := d.ho[key]; h != nil && h.to == to && !h.done {
		h.acked = true
		d.handoverStep(h)
	}
}

// handoverStep finishes h once both the ACK and the probe are in (a client
// still here is refused at once).
func (d *machine) handoverStep(h *handover) {
	if h.done || !h.probed {
		return
	}
	if h.present {
		if h.acked {
			d.count("handover_refused_present")
			d.log.Warn("CLAIM for a client that is still here refused", "mac", h.mac, "ip", h.ip, "claimer", h.to)
			delete(d.ho, h.key)
		}
		d.answerWaiting(h, false)
		return
	}
	if !h.acked {
		return
	}
	// The PLAT's CONFIRM first: it steers the client's replies to the
	// new node, and the release below waits for ipset and ip6tables
	// (seen in the 8-node walk: the CONFIRM went out 100-250 ms, once
	// 700 ms, after the decision, all of it in the client's stall).
	h.done, h.until = true, d.now().Add(handoverKeep)
	d.count("handover_done")
	d.answerWaiting(h, true)
	if c := d.cl[h.mac]; c != nil && c.IP == h.ip {
		d.releaseTo(c, "roamed away", addrmap.Embed(h.to, d.cfg.MgmtIPv4))
	}
}

func (d *machine) answerWaiting(h *handover, handed bool) {
	for _, w := range h.waiting {
		d.answerAsk(h, w, handed)
	}
	h.waiting = nil
}

// answerAsk answers VERIFY w once h's outcome is known (handed: the
// client went to h.to). A VERIFY about h.to is confirmed; one about
// another node is refused, naming h.to when the client went there: the
// PLAT asks h.to next, which may have handed the client on to the asker
// before the PLAT took h.to's ROAM (a quick walk).
func (d *machine) answerAsk(h *handover, w verifyAsk, handed bool) {
	var successor netip.Prefix
	switch {
	case handed && w.to == h.to:
		d.count("verify_confirmed")
		d.answerVerify(h, w, true, successor)
		return
	case handed:
		successor = h.to
		d.count("verify_refused_successor")
	default:
		d.count("verify_refused")
	}
	d.answerVerify(h, w, false, successor)
}

// answerVerify answers a VERIFY: CONFIRM (ok) or REFUSE, which names
// successor if it is valid: the node this one handed the client to instead.
func (d *machine) answerVerify(h *handover, w verifyAsk, ok bool, successor netip.Prefix) {
	t := roamproto.TypeRefuse
	if ok {
		t = roamproto.TypeConfirm
	}
	m := d.msg(t)
	m.Echo, m.HasEcho = w.echo, true
	if ok {
		r := h.expires.Sub(d.now())
		if r < 0 {
			r = 0
		}
		m.LeaseTime, m.HasLease = uint32(r/time.Second), true
	} else {
		m.NewCLAT = successor
	}
	d.send(d.mgmtAddr(), w.from, m)
}

// mgmtAddr is where VERIFYs reach this node: <own CLAT>::192.0.0.1.
func (d *machine) mgmtAddr() netip.Addr {
	if !d.cfg.OwnCLAT.IsValid() {
		return netip.Addr{}
	}
	return addrmap.Embed(d.cfg.OwnCLAT, d.cfg.MgmtIPv4)
}

// onVerify: the client's PLAT asks whether we handed the client to NEWCLAT.
func (d *machine) onVerify(m *roamproto.Message, from netip.AddrPort) {
	h := d.ho[addrmap.Embed(m.CLAT, m.ClientIP)]
	w := verifyAsk{from: from, echo: m.Nonce, to: m.NewCLAT}
	if h == nil || from.Addr() != addrmap.Embed(h.plat, d.cfg.MgmtIPv4) || (m.MAC != nil && m.MAC.String() != h.mac) {
		if !d.glob.allow(d.now()) { // answers to forged VERIFYs are budgeted too
			d.count("verify_refused")
			return
		}
		d.answerAsk(&handover{}, w, false)
		return
	}
	switch {
	case h.done:
		d.answerAsk(h, w, !d.serves(h))
	case h.probed && h.present:
		d.answerAsk(h, w, false)
	default: // ACK or probe still outstanding: answer when they are in
		for i := range h.waiting {
			if h.waiting[i].from == from && h.waiting[i].to == w.to {
				h.waiting[i].echo = m.Nonce
				return
			}
		}
		if len(h.waiting) < maxWaiting {
			h.waiting = append(h.waiting, w)
		}
	}
}

// serves reports whether the client of handover record h is served here
// (again, whichever way it came back): then the record is history. It
// confirms nothing, or a late ROAM of the node it went to would take the
// client back, and names no successor.
func (d *machine) serves(h *handover) bool {
	c := d.cl[h.mac]
	return c != nil && c.IP == h.ip && addrmap.Embed(c.Origin, c.IP) == h.key
}

// sweepHandovers forgets records whose time is up.
func (d *machine) sweepHandovers(now time.Time) {
	for k, h := range d.ho {
		if now.After(h.until) && !h.probing {
			d.answerWaiting(h, false)
			delete(d.ho, k)
		}
	}
}
