package roamd

import (
	"net/netip"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/platselect"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// platWatch notices that a PLAT some client served here still sends its
// flows to has died: babel no longer routes its /96. xlat-clat reports
// only the loss of the PLAT this node's CLAT uses (del_platprefix); a
// roamed client leased under another PLAT (D's C, while this node's CLAT
// uses E) would keep being rewritten to the dead PLAT, and no new
// connection of it would work until its lease ends. The watcher treats
// such a PLAT as del_platprefix does: its rule and set go, its clients
// fall back to this node's PLAT.
//
// A PLAT is lost when babel (connected) has no usable route to its /96
// (platselect.Candidates: installed, finite metric) while it had one
// earlier on the same connection, or when the connection has been synced
// for at least grace (a client roamed in with a PLAT that died before).
// Right after babeld (re)starts its table is empty until it has heard its
// neighbours; grace keeps that from passing as a loss.
type platWatch struct {
	platRange netip.Prefix
	grace     time.Duration
	synced    time.Time                 // the connection the seen set belongs to
	seen      map[netip.Prefix]struct{} // PLATs routed on that connection
	last      babel.Snapshot
}

// platLossGrace is how long after babeld's (re)start a PLAT it never
// routed is not taken as lost (xlat-clat's BabelGrace).
const platLossGrace = 30 * time.Second

func newPLATWatch(platRange netip.Prefix, grace time.Duration) *platWatch {
	return &platWatch{platRange: platRange, grace: grace, seen: map[netip.Prefix]struct{}{}}
}

// update takes a new snapshot (nil keeps the last one: the daemon's tick)
// and returns the PLATs among inUse that are lost.
func (w *platWatch) update(s *babel.Snapshot, inUse []netip.Prefix, now time.Time) []netip.Prefix {
	if s != nil {
		if !s.Connected || !s.Synced.Equal(w.synced) {
			w.seen = map[netip.Prefix]struct{}{}
			w.synced = s.Synced
		}
		w.last = *s
	}
	routed := w.routed()
	var lost []netip.Prefix
	for _, p := range inUse {
		if w.isLost(p, routed, now) {
			lost = append(lost, p)
		}
	}
	return lost
}

// routed lists the PLATs babel routes now and notes them as seen on this
// connection; nil while babeld is not connected or not synced.
func (w *platWatch) routed() map[netip.Prefix]bool {
	if !w.last.Connected || w.last.Synced.IsZero() {
		return nil
	}
	routed := map[netip.Prefix]bool{}
	for _, c := range platselect.Candidates(w.last, w.platRange) {
		routed[c.Prefix] = true
		w.seen[c.Prefix] = struct{}{}
	}
	return routed
}

func (w *platWatch) isLost(p netip.Prefix, routed map[netip.Prefix]bool, now time.Time) bool {
	if routed == nil || routed[p] {
		return false
	}
	_, seen := w.seen[p]
	return seen || now.Sub(w.last.Synced) >= w.grace
}

// lost says whether babel, as seen here, has lost PLAT p now.
func (w *platWatch) lost(p netip.Prefix, now time.Time) bool {
	return w.isLost(p, w.routed(), now)
}

// originator is the router-id of the node that babel, as seen here, has
// announce p: this node for an own route, else the originator of the
// installed route; release routes (wellknown.ReleaseMetric) and
// source-specific routes do not count. "" when nobody announces p.
func (w *platWatch) originator(p netip.Prefix) string {
	s := w.last
	if !s.Connected {
		return ""
	}
	plain := func(from netip.Prefix) bool { return !from.IsValid() || from.Bits() == 0 }
	for _, x := range s.XRoutes {
		if x.Prefix == p && plain(x.From) && x.Metric < wellknown.ReleaseMetric {
			return s.RouterID
		}
	}
	for _, r := range s.Routes {
		if r.Prefix == p && plain(r.From) && r.Installed && r.Metric < wellknown.ReleaseMetric {
			return r.RouterID
		}
	}
	return ""
}

// announcedBy says whether babel, as seen here, has the node that
// announces CLAT /96 clat also announce dst/128 (the client's CLATD::ip,
// which only the node that serves a roamed client announces).
func (w *platWatch) announcedBy(dst netip.Addr, clat netip.Prefix) bool {
	id := w.originator(netip.PrefixFrom(dst, 128))
	return id != "" && id == w.originator(clat)
}

// roamedPLATs lists the PLATs that served clients' flows are rewritten to
// here (not this node's own choice, which xlat-clat watches itself).
func (d *machine) roamedPLATs() []netip.Prefix {
	set := map[netip.Prefix]bool{}
	var out []netip.Prefix
	for _, c := range d.cl {
		if p := c.PLAT; p.IsValid() && p != d.cfg.PLAT && !set[p] {
			set[p] = true
			out = append(out, p)
		}
	}
	return out
}

// CheckPLATs feeds a babel snapshot (nil: the last one again, on the
// sweep) to the PLAT watcher and forgets every lost PLAT.
func (d *machine) CheckPLATs(s *babel.Snapshot) {
	if d.plats == nil {
		return
	}
	var inUse []netip.Prefix
	if d.cfg.OwnCLAT.IsValid() && d.cfg.PLATRange.IsValid() { // a PLAT node alone only keeps the table
		inUse = d.roamedPLATs()
	}
	for _, p := range d.plats.update(s, inUse, d.clk.Now()) {
		d.log.Info("PLAT lost: babel no longer routes it", "plat", p)
		d.count("plat_lost")
		_ = d.DelPLAT(p) // errors: the effects' (logged and counted)
	}
}
