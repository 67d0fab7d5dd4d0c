package roamd

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
)

// hop6 is a release route's next hop: a babel neighbour and its interface.
type hop6 struct {
	via netip.Addr
	dev string
}

// Follow re-points each release route to babel's best route towards a
// node that announces the address itself (metric below ReleaseMetric): the
// client's node now. While this node redistributes the release route,
// babeld installs no route of its own for the address here, so the
// release route must do the forwarding; its first next hop (towards the
// node the client went to) goes stale when the client moves on, and two
// release routes pointing at each other loop (seen: D -> A -> B -> D with
// the ring cut, B's towards D via A, A's towards B). Called with every
// babel snapshot (the local socket's monitor).
func (d *machine) Follow(s babel.Snapshot) {
	if !s.Connected || len(d.rel)+len(d.fb) == 0 {
		return
	}
	for _, r := range s.Routes { // babeld installed its own route: the fallback's work is done
		if _, fb := d.fb[r.Prefix.Addr()]; fb && r.Installed && r.Prefix.Bits() == 128 && r.Metric < d.cfg.ReleaseMetric {
			d.dropFallback(r.Prefix.Addr())
		}
	}
	// An originator whose announcement some neighbour reports at
	// ReleaseMetric or more has released the address: every copy of its
	// announcement with a lower metric is stale (without split horizon a
	// neighbour may still hold the one it learned through this node; its
	// update of it carries this node's own router-id, which babeld
	// ignores, so it is never corrected: seen in the walk, B followed P's
	// stale copy of A's announcement, P routed back to B, 8 s).
	released := map[netip.Addr]map[string]bool{}
	for _, r := range s.Routes {
		if r.Prefix.Bits() == 128 && r.RefMetric >= d.cfg.ReleaseMetric && r.RouterID != "" {
			a := r.Prefix.Addr()
			if released[a] == nil {
				released[a] = map[string]bool{}
			}
			released[a][r.RouterID] = true
		}
	}
	// A release route whose successor (the node the client went to from
	// here) is a babel neighbour follows a neighbour that announces the
	// address itself (reference metric 0: it serves the client) or an
	// entry that comes the short way (below), and otherwise stays pointed
	// at the successor, which serves the client or forwards along its own
	// release route. An entry learned through a neighbour can be stale:
	// a neighbour that switches to this node's own release announcement
	// sends updates with this node's router-id, which babeld ignores, so
	// its earlier route (another originator's, at a low metric) stays in
	// this node's table. Seen in the 8-node
	// walk: G followed F towards B, B released the client, F switched to
	// G's release route and G kept following F's stale entry: a G <-> F
	// loop of 3-8 s (cl3 b -> a). A neighbour's own announcement is never
	// stale that way (its updates carry its own router-id).
	direct := map[netip.Addr]bool{}
	for a, to := range d.relTo {
		direct[a] = to.IsValid() && neighbourOwns(s, to)
	}
	// An entry learned through a neighbour is taken for such a release
	// route only when it comes the way babel routes to its originator's
	// node (the metric of the originator's installed /96): a longer way
	// means a release holder shadows the short one, and the neighbour on
	// the long way is the one that falls back on this node's release
	// route once the originator lets the client go (the walk's G, above).
	node := map[string]int{}
	for _, r := range s.Routes {
		if r.Installed && r.Prefix.Bits() == 96 && r.RouterID != "" {
			if m, ok := node[r.RouterID]; !ok || r.Metric < m {
				node[r.RouterID] = r.Metric
			}
		}
	}
	shortWay := func(r babel.Route) bool {
		m, ok := node[r.RouterID]
		return r.RefMetric == 0 || ok && m == r.Metric
	}
	best := map[netip.Addr]babel.Route{}
	for _, r := range s.Routes {
		if r.Prefix.Bits() != 128 || (r.From.IsValid() && r.From.Bits() != 0) || r.Metric >= d.cfg.ReleaseMetric ||
			!r.Via.IsValid() || r.Interface == "" {
			continue
		}
		a := r.Prefix.Addr()
		// A neighbour's own announcement (reference metric 0) is
		// first-hand: older copies of its release elsewhere do not count.
		if _, held := d.rel[a]; !held || released[a][r.RouterID] && r.RefMetric != 0 || direct[a] && !shortWay(r) {
			continue
		}
		if b, ok := best[a]; !ok || r.Metric < b.Metric {
			best[a] = r
		}
	}
	if d.log.Enabled(context.Background(), slog.LevelDebug) {
		d.traceFollow(s, direct)
	}
	for a := range d.relHop {
		// The neighbour Follow chose announces the address no more below
		// ReleaseMetric, and nobody else does: back to the route towards
		// the node the client went to. Without split horizon a neighbour
		// also hands this node's own earlier route back to it; chosen
		// while this node still forwarded that way, it points back here
		// once the neighbour's metric catches up (seen in the 8-node walk:
		// B's release route via P, P's route via B, a 4.9 s loop).
		if _, held := d.rel[a]; !held {
			delete(d.relHop, a) // announced here again
			continue
		}
		to := d.relTo[a]
		if _, ok := best[a]; ok || !to.IsValid() {
			continue
		}
		a := a
		delete(d.relHop, a)
		d.kernelThen("restore release route", func(k Kernel) error { return k.Retract(a, to) }, func(err error) {
			if err == nil {
				d.log.Debug("release route restored", "dst", a, "towards", to)
				d.count("release_restored")
			}
		})
	}
	for a, r := range best {
		h := hop6{via: r.Via, dev: r.Interface}
		if d.relHop[a] == h {
			continue
		}
		a := a
		d.kernelThen("re-point release route", func(k Kernel) error { return k.Repoint(a, h.via, h.dev) }, func(err error) {
			if err == nil {
				d.log.Debug("release route re-pointed", "dst", a, "via", h.via, "dev", h.dev)
				d.relHop[a] = h
				d.count("release_repointed")
			}
		})
	}
}

// neighbourOwns: babel's installed route to addr is the /96 a neighbour
// announces itself (reference metric 0): addr's node is one hop away.
func neighbourOwns(s babel.Snapshot, addr netip.Addr) bool {
	for _, r := range s.Routes {
		if r.Installed && r.Prefix.Bits() == 96 && r.Prefix.Contains(addr) && r.RefMetric == 0 && r.Via.IsValid() {
			return true
		}
	}
	return false
}

// expireRelease ends the hold of a release route. Deleting it would leave
// a gap: babeld (1.12.1) installs no neighbour's route for an address whose
// redistributed route disappears until that neighbour's next update (lab:
// 4 s; Gluon's update-interval 300: minutes), and meanwhile this node
// sends the client's packets (its own CLAIM when the client comes back,
// above all) nowhere or into its own CLAT. So it becomes a fallback: the
// same next hop, not redistributed, with a kernel metric every babel route
// beats; it goes as soon as babeld installs a route of its own (Follow) or
// after another hold.
func (d *machine) expireRelease(dst netip.Addr, now time.Time) {
	d.kernel("release route -> fallback", func(k Kernel) error { return k.Fallback(dst) })
	d.fb[dst] = now.Add(d.cfg.ReleaseHold)
	delete(d.rel, dst)
	delete(d.relHop, dst)
	delete(d.relTo, dst)
}

// dropFallback deletes dst's fallback route, if any.
func (d *machine) dropFallback(dst netip.Addr) {
	if _, ok := d.fb[dst]; ok {
		d.kernel("delete fallback route", func(k Kernel) error { return k.Unfallback(dst) })
		delete(d.fb, dst)
	}
}

// traceFollow logs (debug) babel's entries for each held release route
// whenever they differ from the last snapshot's.
func (d *machine) traceFollow(s babel.Snapshot, direct map[netip.Addr]bool) {
	if d.followSeen == nil {
		d.followSeen = map[netip.Addr]string{}
	}
	byAddr := map[netip.Addr][]string{}
	for _, r := range s.Routes {
		if _, held := d.rel[r.Prefix.Addr()]; held && r.Prefix.Bits() == 128 {
			byAddr[r.Prefix.Addr()] = append(byAddr[r.Prefix.Addr()],
				fmt.Sprintf("%s/%d/%d/%s/%t", r.RouterID, r.RefMetric, r.Metric, r.Interface, r.Installed))
		}
	}
	for a := range d.followSeen {
		if _, held := d.rel[a]; !held {
			delete(d.followSeen, a)
		}
	}
	for a := range d.rel {
		e := byAddr[a]
		sort.Strings(e)
		line := strings.Join(e, " ")
		if d.followSeen[a] != line {
			d.followSeen[a] = line
			d.log.Debug("follow entries", "dst", a, "direct", direct[a], "entries", line)
		}
	}
}
