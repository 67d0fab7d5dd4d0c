package platselect

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

var (
	rangeP = netip.MustParsePrefix("fddd:2::/48")
	pA     = netip.MustParsePrefix("fddd:2:0:a::/96")
	pB     = netip.MustParsePrefix("fddd:2:0:b::/96")
	pC     = netip.MustParsePrefix("fddd:2:0:c::/96")
	none   netip.Prefix
)

func TestCandidates(t *testing.T) {
	any6 := netip.MustParsePrefix("::/0")
	s := babel.Snapshot{
		Connected: true,
		XRoutes: []babel.XRoute{
			{Prefix: pC, From: any6},
			{Prefix: netip.MustParsePrefix("10.0.0.1/32"), From: netip.MustParsePrefix("0.0.0.0/0")},
		},
		Routes: []babel.Route{
			{ID: "1", Prefix: pA, From: any6, Metric: 300, Installed: false},
			{ID: "2", Prefix: pA, From: any6, Metric: 400, Installed: true, Via: netip.MustParseAddr("fe80::2"), Interface: "m1"},
			{ID: "3", Prefix: pB, From: any6, Metric: 200, Installed: true},
			{ID: "4", Prefix: pB, From: any6, Metric: 100},                                       // lower, but not installed (e.g. unfeasible)
			{ID: "10", Prefix: netip.MustParsePrefix("fddd:2:0:e::/96"), From: any6, Metric: 50}, // only uninstalled routes
			{ID: "5", Prefix: netip.MustParsePrefix("fddd:2:0:d::/96"), From: any6, Metric: babel.Infinity},
			{ID: "6", Prefix: netip.MustParsePrefix("fddd:3:0:e::/96"), From: any6, Metric: 10},                                   // outside range
			{ID: "7", Prefix: netip.MustParsePrefix("fddd:2:0:f::/64"), From: any6, Metric: 10},                                   // not a /96
			{ID: "8", Prefix: netip.MustParsePrefix("fddd:2:0:9::/96"), From: netip.MustParsePrefix("2001:db8::/48"), Metric: 10}, // source-specific
			{ID: "9", Prefix: pC, From: any6, Metric: 50},
		},
	}
	got := Candidates(s, rangeP)
	want := []Candidate{
		{Prefix: pC, Metric: 0, Own: true, Installed: true},
		{Prefix: pB, Metric: 200, Installed: true},
		{Prefix: pA, Metric: 400, Installed: true, Via: netip.MustParseAddr("fe80::2"), Interface: "m1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestCandidatesReleased: a PLAT whose translator died is redistributed by
// its node at wellknown.ReleaseMetric (its release route); neither that
// node's own xroute nor the copies at other nodes (metric 16384 + path) are
// candidates, so the CLATs leave it as if its route were lost.
func TestCandidatesReleased(t *testing.T) {
	any6 := netip.MustParsePrefix("::/0")
	s := babel.Snapshot{
		Connected: true,
		XRoutes:   []babel.XRoute{{Prefix: pC, From: any6, Metric: wellknown.ReleaseMetric}},
		Routes: []babel.Route{
			{ID: "1", Prefix: pA, From: any6, Metric: wellknown.ReleaseMetric + 96, Installed: true},
			{ID: "2", Prefix: pB, From: any6, Metric: wellknown.ReleaseMetric - 1, Installed: true},
		},
	}
	got := Candidates(s, rangeP)
	want := []Candidate{{Prefix: pB, Metric: wellknown.ReleaseMetric - 1, Installed: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	sel := New(Params{Own: pC})
	sel.Update([]Candidate{{Prefix: pC, Own: true, Installed: true}, {Prefix: pB, Metric: 200, Installed: true}})
	d := sel.Update(got)
	if !d.Changed || d.New != pB || d.Reason != ReasonRouteLost || !d.OldFailed {
		t.Errorf("own PLAT released: decision %+v, want route-lost to %v with OldFailed", d, pB)
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// step is one input to the selector and the expected outcome.
type step struct {
	cands   []Candidate // nil with probe set: a probe result instead
	probe   *bool
	advance time.Duration
	want    netip.Prefix
	reason  Reason // expected reason if the selection changes
	failed  bool   // expected OldFailed
}

func c(p netip.Prefix, m int) Candidate { return Candidate{Prefix: p, Metric: m} }

var (
	yes = true
	no  = false
)

func TestSelector(t *testing.T) {
	tests := []struct {
		name   string
		params Params
		steps  []step
	}{
		{
			name:   "initial lowest metric, tie by prefix",
			params: Params{Margin: 100},
			steps: []step{
				{cands: nil, want: none},
				{cands: []Candidate{c(pB, 200), c(pA, 200)}, want: pA, reason: ReasonInitial},
			},
		},
		{
			name:   "margin and hysteresis",
			params: Params{Margin: 100},
			steps: []step{
				{cands: []Candidate{c(pA, 200), c(pB, 300)}, want: pA, reason: ReasonInitial},
				{cands: []Candidate{c(pA, 350), c(pB, 300)}, want: pA},                       // better by 50 < margin
				{cands: []Candidate{c(pA, 399), c(pB, 300)}, want: pA},                       // by 99
				{cands: []Candidate{c(pA, 400), c(pB, 300)}, want: pB, reason: ReasonMetric}, // by 100
				{cands: []Candidate{c(pA, 250), c(pB, 300)}, want: pB},                       // A back, but only 50 better
				{cands: []Candidate{c(pA, 200), c(pB, 300)}, want: pA, reason: ReasonMetric},
			},
		},
		{
			name:   "margin zero still needs a strictly better metric",
			params: Params{Margin: 0},
			steps: []step{
				{cands: []Candidate{c(pA, 200), c(pB, 300)}, want: pA, reason: ReasonInitial},
				{cands: []Candidate{c(pA, 300), c(pB, 300)}, want: pA},
				{cands: []Candidate{c(pA, 301), c(pB, 300)}, want: pB, reason: ReasonMetric},
			},
		},
		{
			name:   "route loss and avoidance of the lost PLAT for FailHold",
			params: Params{Margin: 100, FailHold: 30 * time.Second},
			steps: []step{
				{cands: []Candidate{c(pA, 100), c(pB, 300)}, want: pA, reason: ReasonInitial},
				{cands: []Candidate{c(pB, 300)}, want: pB, reason: ReasonRouteLost, failed: true},
				{cands: []Candidate{c(pA, 100), c(pB, 300)}, want: pB}, // A flapped back: held down
				{advance: 31 * time.Second, cands: []Candidate{c(pA, 100), c(pB, 300)}, want: pA, reason: ReasonMetric},
				{cands: []Candidate{}, want: none, reason: ReasonRouteLost, failed: true},
				{cands: []Candidate{c(pB, 300)}, want: pB, reason: ReasonInitial},
			},
		},
		{
			name:   "lost PLAT is used again when it is the only one",
			params: Params{Margin: 100, FailHold: time.Hour},
			steps: []step{
				{cands: []Candidate{c(pA, 100)}, want: pA, reason: ReasonInitial},
				{cands: []Candidate{}, want: none, reason: ReasonRouteLost, failed: true},
				{cands: []Candidate{c(pA, 100)}, want: pA, reason: ReasonInitial},
			},
		},
		{
			name:   "probe failures",
			params: Params{Margin: 100, ProbeFailures: 3, FailHold: time.Minute},
			steps: []step{
				{cands: []Candidate{c(pA, 100), c(pB, 500)}, want: pA, reason: ReasonInitial},
				{probe: &no, want: pA},
				{probe: &no, want: pA},
				{probe: &yes, want: pA}, // resets the count
				{probe: &no, want: pA},
				{probe: &no, want: pA},
				{probe: &no, want: pB, reason: ReasonProbes, failed: true},
				{cands: []Candidate{c(pA, 100), c(pB, 500)}, want: pB}, // A avoided although much better
				{advance: 2 * time.Minute, cands: []Candidate{c(pA, 100), c(pB, 500)}, want: pA, reason: ReasonMetric},
			},
		},
		{
			name:   "all PLATs failing: rotate to the one that failed longest ago",
			params: Params{Margin: 100, ProbeFailures: 1, FailHold: time.Minute},
			steps: []step{
				{cands: []Candidate{c(pA, 100), c(pB, 500), c(pC, 300)}, want: pA, reason: ReasonInitial},
				{probe: &no, want: pC, reason: ReasonProbes, failed: true},
				{advance: time.Second, probe: &no, want: pB, reason: ReasonProbes, failed: true},
				{advance: time.Second, probe: &no, want: pA, reason: ReasonProbes, failed: true},
				{advance: time.Second, probe: &yes, want: pA},
				{cands: []Candidate{c(pA, 100), c(pB, 500), c(pC, 300)}, want: pA},
			},
		},
		{
			name:   "probe failures with no alternative keep the PLAT",
			params: Params{ProbeFailures: 2},
			steps: []step{
				{cands: []Candidate{c(pA, 100)}, want: pA, reason: ReasonInitial},
				{probe: &no, want: pA},
				{probe: &no, want: pA},
				{probe: &no, want: pA},
				{probe: &yes, want: pA}, // answers again: no longer failed
				{cands: []Candidate{c(pA, 100), c(pB, 150)}, want: pA},
			},
		},
		{
			name:   "own PLAT preferred regardless of margin, and kept",
			params: Params{Margin: 1000, Own: pC},
			steps: []step{
				{cands: []Candidate{c(pA, 100)}, want: pA, reason: ReasonInitial},
				{cands: []Candidate{c(pA, 100), c(pC, 0)}, want: pC, reason: ReasonOwn},
				{cands: []Candidate{c(pA, 1), c(pC, 0)}, want: pC},
			},
		},
		{
			name:   "own PLAT by xroute flag",
			params: Params{Margin: 100},
			steps: []step{
				{cands: []Candidate{c(pA, 100), {Prefix: pB, Own: true}}, want: pB, reason: ReasonInitial},
				{cands: []Candidate{c(pA, 100)}, want: pA, reason: ReasonRouteLost, failed: true},
			},
		},
		{
			name:   "fixed PLAT ignores babel and probes",
			params: Params{Fixed: pB, ProbeFailures: 1},
			steps: []step{
				{cands: []Candidate{c(pA, 100)}, want: pB},
				{cands: nil, want: pB},
				{probe: &no, want: pB},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1000, 0)}
			tc.params.Now = clk.now
			s := New(tc.params)
			for i, st := range tc.steps {
				clk.t = clk.t.Add(st.advance)
				before := s.Current()
				var d Decision
				if st.probe != nil {
					d = s.Probe(s.Current(), *st.probe)
				} else {
					d = s.Update(st.cands)
				}
				if d.New != st.want || s.Current() != st.want {
					t.Fatalf("step %d: got %v (decision %v), want %v", i, s.Current(), d, st.want)
				}
				if d.Changed != (before != st.want) {
					t.Fatalf("step %d: Changed=%v, before %v", i, d.Changed, before)
				}
				if d.Changed && (d.Reason != st.reason || d.OldFailed != st.failed) {
					t.Fatalf("step %d: decision %v OldFailed=%v, want reason %s failed %v", i, d, d.OldFailed, st.reason, st.failed)
				}
			}
		})
	}
}

func TestSelectorState(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	s := New(Params{Margin: 10, Now: clk.now, ProbeFailures: 1})
	s.Update([]Candidate{c(pA, 100), c(pB, 200)})
	clk.t = clk.t.Add(time.Second)
	s.Probe(pA, false)
	st := s.State()
	if st.Current != pB || st.Switches != 2 || st.Last.Reason != ReasonProbes || st.Last.From != pA ||
		!st.Since.Equal(clk.t) || !reflect.DeepEqual(st.Failed, []netip.Prefix{pA}) || len(st.Candidates) != 2 {
		t.Errorf("state %+v", st)
	}
	s.Probe(pA, false) // not current: ignored
	if s.State().ConsecutiveFailures != 0 {
		t.Error("probe for a non-current PLAT counted")
	}
}

// The dump captured at lab node D 1.3 s after C's power-off: babeld still
// shows its retracted (infinite) installed route via mesh-c and an
// uninstalled, unfeasible route via mesh-a with a finite metric. C's /96 is
// lost; only E remains. The same state reached by monitor `change` lines
// from a working route must give the same result.
func TestCandidatesCapturedRetraction(t *testing.T) {
	pE := netip.MustParsePrefix("fddd:2:0:e::/96")
	cRoute := "route 11 prefix fddd:2:0:c::/96 from ::/0 installed yes id 02:00:00:ff:fe:00:00:0c"
	aRoute := "route 12 prefix fddd:2:0:c::/96 from ::/0 installed no id 02:00:00:ff:fe:00:00:0c"
	eRoute := "add route 13 prefix fddd:2:0:e::/96 from ::/0 installed yes id 02:00:00:ff:fe:00:00:0e metric 384 refmetric 288 via fe80::a if mesh-a"
	tests := []struct {
		name  string
		lines []string
		want  []netip.Prefix
	}{
		{"working", []string{
			"add " + cRoute + " metric 96 refmetric 0 via fe80::c if mesh-c",
			"add " + aRoute + " metric 288 refmetric 192 via fe80::a if mesh-a",
			eRoute,
		}, []netip.Prefix{pC, pE}},
		{"captured dump", []string{
			"add " + cRoute + " metric 65535 refmetric 65535 via fe80::c if mesh-c",
			"add " + aRoute + " metric 288 refmetric 192 via fe80::a if mesh-a",
			eRoute,
		}, []netip.Prefix{pE}},
		{"monitor change", []string{
			"add " + cRoute + " metric 96 refmetric 0 via fe80::c if mesh-c",
			"add " + aRoute + " metric 288 refmetric 192 via fe80::a if mesh-a",
			eRoute,
			"change " + cRoute + " metric 65535 refmetric 65535 via fe80::c if mesh-c",
		}, []netip.Prefix{pE}},
		{"installed route flushed", []string{
			"add " + cRoute + " metric 96 refmetric 0 via fe80::c if mesh-c",
			"add " + aRoute + " metric 288 refmetric 192 via fe80::a if mesh-a",
			eRoute,
			"flush " + cRoute + " metric 65535 refmetric 65535 via fe80::c if mesh-c",
		}, []netip.Prefix{pE}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := babel.NewTable()
			for _, l := range tt.lines {
				ev, err := babel.ParseLine(l)
				if err != nil {
					t.Fatalf("%q: %v", l, err)
				}
				tab.Apply(ev)
			}
			var got []netip.Prefix
			for _, c := range Candidates(tab.Snapshot(), rangeP) {
				got = append(got, c.Prefix)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("candidates %v, want %v", got, tt.want)
			}
		})
	}
	// The selector on C leaves it at once for E (route lost, not probes).
	clk := &clock{t: time.Unix(1e9, 0)}
	s := New(Params{Margin: 100, Now: clk.now})
	s.Update([]Candidate{c(pC, 96), c(pE, 384)})
	if d := s.Update([]Candidate{c(pE, 384)}); !d.Changed || d.New != pE || d.Reason != ReasonRouteLost || !d.OldFailed {
		t.Errorf("after the retraction: %+v, want %v -> %v (route-lost)", d, pC, pE)
	}
}
