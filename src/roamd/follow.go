package roamd

import (
	"net/netip"

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
	if !s.Connected || len(d.rel) == 0 {
		return
	}
	best := map[netip.Addr]babel.Route{}
	for _, r := range s.Routes {
		if r.Prefix.Bits() != 128 || (r.From.IsValid() && r.From.Bits() != 0) || r.Metric >= d.cfg.ReleaseMetric ||
			!r.Via.IsValid() || r.Interface == "" {
			continue
		}
		a := r.Prefix.Addr()
		if _, held := d.rel[a]; !held {
			continue
		}
		if b, ok := best[a]; !ok || r.Metric < b.Metric {
			best[a] = r
		}
	}
	for a, r := range best {
		h := hop6{via: r.Via, dev: r.Interface}
		if d.relHop[a] == h {
			continue
		}
		a := a
		d.kernelThen("re-point release route", func(k Kernel) error { return k.Repoint(a, h.via, h.dev) }, func(err error) {
			if err == nil {
				d.relHop[a] = h
				d.count("release_repointed")
			}
		})
	}
}
