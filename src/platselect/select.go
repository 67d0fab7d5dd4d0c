// Package platselect chooses the PLAT (IPv4 exit) a clatnode uses, from the
// babel routes to /96 prefixes inside plat_range: the seed's "prefixd". The
// logic is pure and deterministic (the clock is injected): the daemon feeds it
// babel snapshots and probe results and acts on the decisions it returns.
package platselect

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// Candidate is one PLAT /96 reachable through babel.
type Candidate struct {
	Prefix    netip.Prefix
	Metric    int
	Own       bool // this node's own PLAT (redistributed locally, metric 0)
	Installed bool
	RouterID  string
	Via       netip.Addr
	Interface string
}

// Candidates extracts the PLAT candidates from a babel snapshot: per /96
// inside platRange (not source-specific), the route babeld installed; routes
// with infinite metric are left out. Routes that are not installed are not
// candidates: babeld always installs its best feasible route, so a prefix
// with only uninstalled routes is not usable (e.g. a stale route echoed back
// by a neighbour after a withdrawal). A local xroute for such a /96 is this
// node's own PLAT (metric 0). A route or xroute at wellknown.ReleaseMetric
// or more is a PLAT being released (its translator died: xlat-plat
// redistributes a release route, files/docs/roaming.md) and is no candidate
// either. The result is sorted by metric, then prefix.
func Candidates(s babel.Snapshot, platRange netip.Prefix) []Candidate {
	inRange := func(p, from netip.Prefix) bool {
		return p.IsValid() && p.Addr().Is6() && !p.Addr().Is4In6() && p.Bits() == 96 &&
			platRange.Bits() <= 96 && platRange.Contains(p.Addr()) && (!from.IsValid() || from.Bits() == 0)
	}
	best := map[netip.Prefix]Candidate{}
	for _, x := range s.XRoutes {
		if inRange(x.Prefix, x.From) && x.Metric < wellknown.ReleaseMetric {
			best[x.Prefix] = Candidate{Prefix: x.Prefix, Metric: 0, Own: true, Installed: true}
		}
	}
	for _, r := range s.Routes {
		if !inRange(r.Prefix, r.From) || r.Metric >= wellknown.ReleaseMetric || !r.Installed {
			continue
		}
		c := Candidate{Prefix: r.Prefix, Metric: r.Metric, Installed: r.Installed, RouterID: r.RouterID, Via: r.Via, Interface: r.Interface}
		old, ok := best[r.Prefix]
		switch {
		case !ok:
		case old.Own:
			continue
		case old.Installed && !c.Installed:
			continue
		case old.Installed == c.Installed && old.Metric <= c.Metric:
			continue
		}
		best[r.Prefix] = c
	}
	out := make([]Candidate, 0, len(best))
	for _, c := range best {
		out = append(out, c)
	}
	sortCandidates(out)
	return out
}

func sortCandidates(cs []Candidate) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Metric != cs[j].Metric {
			return cs[i].Metric < cs[j].Metric
		}
		return cs[i].Prefix.Addr().Less(cs[j].Prefix.Addr())
	})
}

// Params configure a Selector.
type Params struct {
	// Margin: another PLAT must have a metric lower by at least this much
	// (and by at least 1) before the selector leaves a working PLAT.
	Margin int
	// ProbeFailures: probe failures in a row after which the current PLAT has failed.
	ProbeFailures int
	// FailHold: how long a failed PLAT is avoided while others are available.
	FailHold time.Duration
	// Own is this node's own PLAT (optional; an xroute marks it too).
	Own netip.Prefix
	// Fixed pins the PLAT (no selection); zero = select.
	Fixed netip.Prefix
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Reason says why the selection changed.
type Reason string

// The reasons for a change.
const (
	ReasonInitial   Reason = "initial"    // first PLAT chosen
	ReasonOwn       Reason = "own-plat"   // this node's own PLAT appeared
	ReasonMetric    Reason = "metric"     // another PLAT is better by the margin
	ReasonRouteLost Reason = "route-lost" // the current PLAT's route is gone or infinite
	ReasonProbes    Reason = "probes"     // the current PLAT's management address stopped answering
	ReasonFixed     Reason = "fixed"      // configured PLAT
)

// Decision is the outcome of one input.
type Decision struct {
	Changed bool
	Old     netip.Prefix // previous PLAT (zero if none)
	New     netip.Prefix // current PLAT (zero if none)
	Reason  Reason
	// OldFailed: the old PLAT was left because it failed (route lost or probes),
	// so state using it should be dropped (l3roamd del_platprefix).
	OldFailed bool
}

// Switch is a recorded change.
type Switch struct {
	At       time.Time
	From, To netip.Prefix
	Reason   Reason
}

// Selector holds the selection state. It is not safe for concurrent use.
type Selector struct {
	p           Params
	current     netip.Prefix
	since       time.Time
	cands       []Candidate
	failedUntil map[netip.Prefix]time.Time
	probeFails  int
	switches    int
	last        Switch
}

// New returns a selector; with Params.Fixed set it chooses that PLAT at once.
func New(p Params) *Selector {
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.ProbeFailures <= 0 {
		p.ProbeFailures = 3
	}
	if p.FailHold <= 0 {
		p.FailHold = time.Minute
	}
	s := &Selector{p: p, failedUntil: map[netip.Prefix]time.Time{}}
	if p.Fixed.IsValid() {
		s.set(p.Fixed, ReasonFixed)
	}
	return s
}

// Current is the chosen PLAT (zero if none).
func (s *Selector) Current() netip.Prefix { return s.current }

// State is a copy of the selector's state for status output.
type State struct {
	Current             netip.Prefix
	Since               time.Time
	Candidates          []Candidate
	Failed              []netip.Prefix // PLATs currently avoided
	Switches            int
	Last                Switch
	ConsecutiveFailures int
}

// State returns the selector's state.
func (s *Selector) State() State {
	st := State{Current: s.current, Since: s.since, Candidates: append([]Candidate(nil), s.cands...),
		Switches: s.switches, Last: s.last, ConsecutiveFailures: s.probeFails}
	now := s.p.Now()
	for p, until := range s.failedUntil {
		if now.Before(until) {
			st.Failed = append(st.Failed, p)
		}
	}
	sort.Slice(st.Failed, func(i, j int) bool { return st.Failed[i].Addr().Less(st.Failed[j].Addr()) })
	return st
}

func (s *Selector) set(p netip.Prefix, r Reason) Decision {
	d := Decision{Changed: p != s.current, Old: s.current, New: p, Reason: r}
	if !d.Changed {
		return Decision{Old: p, New: p}
	}
	now := s.p.Now()
	if s.current.IsValid() || p.IsValid() {
		s.switches++
		s.last = Switch{At: now, From: s.current, To: p, Reason: r}
	}
	s.current, s.since, s.probeFails = p, now, 0
	d.OldFailed = d.Old.IsValid() && (r == ReasonRouteLost || r == ReasonProbes)
	return d
}

func (s *Selector) failed(p netip.Prefix) bool {
	until, ok := s.failedUntil[p]
	if !ok {
		return false
	}
	if !s.p.Now().Before(until) {
		delete(s.failedUntil, p)
		return false
	}
	return true
}

// HoldEnds is when the earliest failure hold still running ends (false:
// none runs): the selection may change then without any new input, so the
// daemon feeds the candidates again at that time.
func (s *Selector) HoldEnds() (time.Time, bool) {
	now := s.p.Now()
	var first time.Time
	for _, until := range s.failedUntil {
		if until.After(now) && (first.IsZero() || until.Before(first)) {
			first = until
		}
	}
	return first, !first.IsZero()
}

// best is the candidate to use, preferring the own PLAT, then healthy ones
// by metric. When all have failed it returns the one whose failure is
// oldest (it may have recovered), so that a clatnode rotates through its
// PLATs instead of sticking to the one that failed last.
func (s *Selector) best() (Candidate, bool) {
	for _, c := range s.cands {
		if (c.Own || c.Prefix == s.p.Own) && !s.failed(c.Prefix) {
			return c, true
		}
	}
	var fallback Candidate
	var oldest time.Time
	found := false
	for _, c := range s.cands {
		if !s.failed(c.Prefix) {
			return c, true
		}
		if until := s.failedUntil[c.Prefix]; !found || until.Before(oldest) {
			fallback, oldest, found = c, until, true
		}
	}
	return fallback, found
}

func (s *Selector) find(p netip.Prefix) (Candidate, bool) {
	for _, c := range s.cands {
		if c.Prefix == p {
			return c, true
		}
	}
	return Candidate{}, false
}

// Update feeds the current candidates (from Candidates) and returns the decision.
func (s *Selector) Update(cands []Candidate) Decision {
	s.cands = append(s.cands[:0:0], cands...)
	for i := range s.cands {
		if s.cands[i].Prefix == s.p.Own {
			s.cands[i].Own = true
		}
	}
	sortCandidates(s.cands)
	return s.reselect()
}

func (s *Selector) reselect() Decision {
	if s.p.Fixed.IsValid() {
		return Decision{Old: s.current, New: s.current}
	}
	best, ok := s.best()
	if !s.current.IsValid() {
		if !ok {
			return Decision{}
		}
		return s.set(best.Prefix, ReasonInitial)
	}
	cur, have := s.find(s.current)
	if !have {
		// Route lost: move to the best other PLAT, or to none.
		s.failedUntil[s.current] = s.p.Now().Add(s.p.FailHold)
		if !ok {
			return s.set(netip.Prefix{}, ReasonRouteLost)
		}
		return s.set(best.Prefix, ReasonRouteLost)
	}
	if !ok || best.Prefix == s.current {
		return Decision{Old: s.current, New: s.current}
	}
	if s.failed(s.current) {
		// best is healthy, or failed longer ago than the current one
		return s.set(best.Prefix, ReasonProbes)
	}
	if best.Own && !cur.Own {
		return s.set(best.Prefix, ReasonOwn)
	}
	if cur.Own && !s.failed(s.current) {
		return Decision{Old: s.current, New: s.current}
	}
	margin := s.p.Margin
	if margin < 1 {
		margin = 1
	}
	if cur.Metric-best.Metric >= margin {
		return s.set(best.Prefix, ReasonMetric)
	}
	return Decision{Old: s.current, New: s.current}
}

// Probe records one probe result for prefix (results for other than the
// current PLAT are ignored). After ProbeFailures failures in a row the PLAT
// counts as failed for FailHold and the selector moves to another one if any.
func (s *Selector) Probe(prefix netip.Prefix, ok bool) Decision {
	if prefix != s.current || !s.current.IsValid() {
		return Decision{Old: s.current, New: s.current}
	}
	if ok {
		// It answers: whatever failure was recorded for it is over.
		s.probeFails = 0
		delete(s.failedUntil, prefix)
		return Decision{Old: s.current, New: s.current}
	}
	s.probeFails++
	if s.probeFails < s.p.ProbeFailures || s.p.Fixed.IsValid() {
		return Decision{Old: s.current, New: s.current}
	}
	s.failedUntil[s.current] = s.p.Now().Add(s.p.FailHold)
	d := s.reselect()
	if !d.Changed {
		// Nothing better to go to: keep it, count again from zero.
		s.probeFails = 0
	}
	return d
}

// String renders a decision for logs.
func (d Decision) String() string {
	if !d.Changed {
		return fmt.Sprintf("keep %v", d.New)
	}
	return fmt.Sprintf("%v -> %v (%s)", d.Old, d.New, d.Reason)
}
