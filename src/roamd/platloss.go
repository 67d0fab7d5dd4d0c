package roamd

import (
	"net/netip"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/platselect"
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
	if !w.last.Connected || w.last.Synced.IsZero() {
		return nil
	}
	routed := map[netip.Prefix]bool{}
	for _, c := range platselect.Candidates(w.last, w.platRange) {
		routed[c.Prefix] = true
		w.seen[c.Prefix] = struct{}{}
	}
	settled := now.Sub(w.last.Synced) >= w.grace
	var lost []netip.Prefix
	for _, p := range inUse {
		if routed[p] {
			continue
		}
		if _, ok := w.seen[p]; ok || settled {
			lost = append(lost, p)
		}
	}
	return lost
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
	for _, p := range d.plats.update(s, d.roamedPLATs(), d.clk.Now()) {
		d.log.Info("PLAT lost: babel no longer routes it", "plat", p)
		d.count("plat_lost")
		_ = d.DelPLAT(p) // errors: the effects' (logged and counted)
	}
}
