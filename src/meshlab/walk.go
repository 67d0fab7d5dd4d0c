package meshlab

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"time"
)

// RingSpec is the bigger mesh of the roaming walk: eight nodes in a ring
// a-b-c-d-e-f-g-h-a, and two platnodes p (beside b) and q (beside f) that
// clients do not associate with (a client roaming onto its own PLAT's node
// is a known limit: files/docs/roaming.md). Three clients lease on a and c
// (PLAT p) and g (PLAT q).
func RingSpec(prefix, binDir string) Spec {
	s := Spec{Prefix: prefix, BinDir: binDir, Site: DefaultSite()}
	names := "abcdefgh"
	for i, n := range names {
		s.Nodes = append(s.Nodes, NodeSpec{Name: string(n), MAC: fmt.Sprintf("02:00:5e:00:54:%02x", i+1)})
		s.Links = append(s.Links, LinkSpec{A: string(n), B: string(names[(i+1)%len(names)])})
	}
	s.Nodes = append(s.Nodes, NodeSpec{Name: "p", MAC: "02:00:5e:00:54:10", PLAT: true},
		NodeSpec{Name: "q", MAC: "02:00:5e:00:54:11", PLAT: true})
	s.Links = append(s.Links, LinkSpec{A: "b", B: "p"}, LinkSpec{A: "f", B: "q"})
	for i, home := range []string{"a", "c", "g"} {
		s.Clients = append(s.Clients, ClientSpec{Name: fmt.Sprintf("cl%d", i+1), Node: home,
			MAC: fmt.Sprintf("02:c1:1e:00:01:%02x", i+1)})
	}
	return s
}

// WalkStep is one roam of a walk.
type WalkStep struct{ Client, To string }

// RandomWalk returns a walk of n roams per client, the clients taking
// turns, deterministic for a seed: each roam goes back to the node the
// client came from (ping-pong, 1 in 4), straight back to its lease node
// (1 in 6, when away), or to a neighbour of its node in the mesh (nodes
// without PLAT only).
func (s Spec) RandomWalk(seed int64, n int) []WalkStep {
	rng := rand.New(rand.NewSource(seed))
	plat := map[string]bool{}
	for _, n := range s.Nodes {
		plat[n.Name] = n.PLAT
	}
	nb := map[string][]string{} // clients walk between the nodes without PLAT
	for _, l := range s.Links {
		if !plat[l.A] && !plat[l.B] {
			nb[l.A] = append(nb[l.A], l.B)
			nb[l.B] = append(nb[l.B], l.A)
		}
	}
	for _, v := range nb {
		sort.Strings(v)
	}
	cur, prev := map[string]string{}, map[string]string{}
	for _, c := range s.Clients {
		cur[c.Name] = c.Node
	}
	var out []WalkStep
	for i := 0; i < n; i++ {
		for _, c := range s.Clients {
			at, to := cur[c.Name], ""
			switch r := rng.Float64(); {
			case prev[c.Name] != "" && r < 0.25:
				to = prev[c.Name]
			case at != c.Node && r < 0.25+1.0/6:
				to = c.Node
			default:
				to = nb[at][rng.Intn(len(nb[at]))]
			}
			prev[c.Name], cur[c.Name] = at, to
			out = append(out, WalkStep{Client: c.Name, To: to})
		}
	}
	return out
}

// StallTable prints the stalls of roam results per hop kind: count,
// median, 95th percentile and maximum of the TCP and UDP stalls, and the
// most UDP datagrams lost in one hop.
func StallTable(res []RoamResult) string {
	by := map[HopKind][]RoamResult{}
	for _, r := range res {
		by[r.Kind] = append(by[r.Kind], r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| hop kind | hops | TCP median | TCP p95 | TCP max | UDP median | UDP p95 | UDP max | UDP lost max |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range []HopKind{HopAway, HopHome, HopPingPong, ""} {
		rs := by[k]
		name := string(k)
		if k == "" {
			rs, name = res, "all"
		}
		if len(rs) == 0 {
			continue
		}
		var tcp, udp []time.Duration
		var lost uint64
		for _, r := range rs {
			tcp, udp = append(tcp, r.TCPStall), append(udp, r.UDPStall)
			if r.UDPLost > lost {
				lost = r.UDPLost
			}
		}
		t, u := Quantiles(tcp), Quantiles(udp)
		fmt.Fprintf(&b, "| %s | %d | %v | %v | %v | %v | %v | %v | %d |\n", name, len(rs),
			t.Median, t.P95, t.Max, u.Median, u.P95, u.Max, lost)
	}
	return b.String()
}

// Q are quantiles of durations (rounded to milliseconds).
type Q struct{ Median, P95, Max time.Duration }

// Quantiles returns the median, 95th percentile (nearest rank) and maximum.
func Quantiles(d []time.Duration) Q {
	if len(d) == 0 {
		return Q{}
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return s[i].Round(time.Millisecond)
	}
	return Q{Median: rank(0.5), P95: rank(0.95), Max: s[len(s)-1].Round(time.Millisecond)}
}
