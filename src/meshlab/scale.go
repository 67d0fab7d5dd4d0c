package meshlab

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"time"
)

// ScaleOptions describe the scale lab (issue 9 item 5, files/docs/scale.md):
// a random connected mesh with several PLATs, many clients, some of which
// roam.
type ScaleOptions struct {
	Prefix   string // namespace prefix ("scale")
	BinDir   string
	Seed     int64 // the topology, homes and walks are a function of the seed
	Nodes    int   // mesh nodes (50)
	PLATs    int   // platnodes among them (3)
	Clients  int   // clients (200), each leases on its home node
	Roamers  int   // of the clients, how many roam (50)
	Hops     int   // roams per roamer (3: away, away, back home)
	Wave     int   // roamers roaming at the same time (10)
	Settle   time.Duration
	Idle     time.Duration // idle window in which CPU is measured
	Hosted   bool          // one `gluon-464xlat host` process per node
	KeepLogs bool          // keep the lab directory (every process's log)
	// ClientBatch clients are added at a time, each batch leased before
	// the next (0: all at once).
	ClientBatch int
	// ExtraRoutes, if > 0, makes one node redistribute that many more /128s
	// at the end (Mesh.LoadRoutes): the route table's cost per route.
	ExtraRoutes int
	// BabelTiming replaces the lab's babel timing line (default: hello 0.5 s,
	// update 4 s) when set, e.g. "default type wired hello-interval 1 update-interval 8".
	BabelTiming string
	Logf        func(format string, args ...any)
}

// scaleBabelTiming is the scale lab's babel timing: babeld's own defaults
// (hellos every 4 s, updates every 16 s), which Gluon keeps. Faster hellos
// starved 50 babelds and their monitors on the 2-core machine: at 0.5 s
// late hellos, lost neighbours, every route flapping; at 2 s babeld was the
// most runnable process while clients roamed, and 4 of 50 streams were
// kept (scale.md).
const scaleBabelTiming = "default type wired hello-interval 4 update-interval 16"

// DefaultScaleOptions are the 50-node mesh.
func DefaultScaleOptions(binDir string) ScaleOptions {
	return ScaleOptions{Prefix: "scale", BinDir: binDir, Seed: 1, Nodes: 50, PLATs: 3, Clients: 200,
		Roamers: 50, Hops: 3, Wave: 10, Settle: time.Second, Idle: 10 * time.Second, Hosted: true,
		ClientBatch: 50, BabelTiming: scaleBabelTiming}
}

// ScalePlan is the generated lab: the mesh spec and each roamer's path.
type ScalePlan struct {
	Spec  Spec
	Walks map[string][]string // roamer -> nodes it roams to, in order
	// Roamers in the order they roam.
	Roamers []string
}

// scaleNodeName is the name of node i (0-based): n01, n02, ...
func scaleNodeName(i int) string { return fmt.Sprintf("n%02d", i+1) }

// ScaleTopology returns a random connected mesh of n nodes, deterministic
// for the seed, shaped like a community mesh on a map: nodes at random
// points of a square, each linked to its two nearest neighbours, components
// joined by their shortest gap, and more short links added until no platnode
// is a cut vertex (a PLAT's failure must leave the rest connected). It
// returns the links (node indices, a < b) and the platnodes' indices.
func ScaleTopology(seed int64, n, plats int) (links [][2]int, platIdx []int) {
	rng := rand.New(rand.NewSource(seed))
	type pt struct{ x, y float64 }
	pts := make([]pt, n)
	for i := range pts {
		pts[i] = pt{rng.Float64(), rng.Float64()}
	}
	dist := func(a, b int) float64 { return math.Hypot(pts[a].x-pts[b].x, pts[a].y-pts[b].y) }
	has := map[[2]int]bool{}
	add := func(a, b int) {
		if a > b {
			a, b = b, a
		}
		if a != b && !has[[2]int{a, b}] {
			has[[2]int{a, b}] = true
			links = append(links, [2]int{a, b})
		}
	}
	for i := 0; i < n; i++ {
		others := make([]int, 0, n-1)
		for j := 0; j < n; j++ {
			if j != i {
				others = append(others, j)
			}
		}
		sort.SliceStable(others, func(x, y int) bool { return dist(i, others[x]) < dist(i, others[y]) })
		for _, j := range others[:min(2, len(others))] {
			add(i, j)
		}
	}
	platIdx = rng.Perm(n)[:min(plats, n)]
	sort.Ints(platIdx)
	// join until connected, then until no platnode is a cut vertex
	for _, without := range append([]int{-1}, platIdx...) {
		for {
			comp := component(n, links, without)
			if len(comp) == n-boolInt(without >= 0) {
				break
			}
			best, ba, bb := math.Inf(1), -1, -1
			for a := range comp {
				for b := 0; b < n; b++ {
					if b != without && !comp[b] && dist(a, b) < best {
						best, ba, bb = dist(a, b), a, b
					}
				}
			}
			add(ba, bb)
		}
	}
	sort.Slice(links, func(i, j int) bool {
		if links[i][0] != links[j][0] {
			return links[i][0] < links[j][0]
		}
		return links[i][1] < links[j][1]
	})
	return links, platIdx
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// component returns the nodes reachable from the lowest-numbered node other
// than without, over links that avoid without (-1: none left out).
func component(n int, links [][2]int, without int) map[int]bool {
	adj := make([][]int, n)
	for _, l := range links {
		if l[0] != without && l[1] != without {
			adj[l[0]] = append(adj[l[0]], l[1])
			adj[l[1]] = append(adj[l[1]], l[0])
		}
	}
	start := 0
	if without == 0 {
		start = 1
	}
	seen := map[int]bool{start: true}
	for todo := []int{start}; len(todo) > 0; {
		a := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, b := range adj[a] {
			if !seen[b] {
				seen[b] = true
				todo = append(todo, b)
			}
		}
	}
	return seen
}

// Plan builds the scale lab's spec: nodes n01..nNN, the platnodes
// and links of ScaleTopology, clients c001..cNNN. The roamers come first:
// each leases on a node without PLAT that has a neighbour without PLAT
// (a client roaming onto its own PLAT's node is a known limit,
// files/docs/roaming.md) and walks away, away again and back home
// (the seed's D -> A -> B -> D); the other clients lease on any node and
// stay.
func (o ScaleOptions) Plan() (ScalePlan, error) {
	links, platIdx := ScaleTopology(o.Seed, o.Nodes, o.PLATs)
	rng := rand.New(rand.NewSource(o.Seed + 1))
	spec := Spec{Prefix: o.Prefix, BinDir: o.BinDir, Site: DefaultSite(), Roaming: true, Hosted: o.Hosted,
		BabelTiming: o.BabelTiming, Logf: o.Logf}
	plat := map[int]bool{}
	for _, p := range platIdx {
		plat[p] = true
	}
	for i := 0; i < o.Nodes; i++ {
		spec.Nodes = append(spec.Nodes, NodeSpec{Name: scaleNodeName(i),
			MAC: fmt.Sprintf("02:00:5e:10:%02x:%02x", (i+1)>>8, (i+1)&0xff), PLAT: plat[i]})
	}
	nb := make([][]int, o.Nodes) // neighbours without PLAT
	for _, l := range links {
		spec.Links = append(spec.Links, LinkSpec{A: scaleNodeName(l[0]), B: scaleNodeName(l[1])})
		if !plat[l[0]] && !plat[l[1]] {
			nb[l[0]] = append(nb[l[0]], l[1])
			nb[l[1]] = append(nb[l[1]], l[0])
		}
	}
	var homes []int // where roamers can lease
	for i := 0; i < o.Nodes; i++ {
		if !plat[i] && len(nb[i]) > 0 {
			homes = append(homes, i)
		}
	}
	if o.Roamers > 0 && len(homes) == 0 {
		return ScalePlan{}, fmt.Errorf("meshlab: scale topology (seed %d) has no two neighbours without PLAT", o.Seed)
	}
	plan := ScalePlan{Walks: map[string][]string{}}
	for i := 0; i < o.Clients; i++ {
		cs := ClientSpec{Name: fmt.Sprintf("c%03d", i+1), MAC: fmt.Sprintf("02:c1:1e:10:%02x:%02x", (i+1)>>8, (i+1)&0xff),
			Visits: []string{}}
		if i < o.Roamers {
			home := homes[rng.Intn(len(homes))]
			cs.Node = scaleNodeName(home)
			prev, at := -1, home
			var walk []string
			for h := 0; h < o.Hops; h++ {
				next := home
				if h < o.Hops-1 || o.Hops == 1 {
					var cand []int
					for _, b := range nb[at] {
						if b != prev && b != home {
							cand = append(cand, b)
						}
					}
					if len(cand) == 0 {
						cand = nb[at] // dead end: back where it came from
					}
					next = cand[rng.Intn(len(cand))]
				}
				if next == at {
					continue // a dead end sent it home already
				}
				walk = append(walk, scaleNodeName(next))
				prev, at = at, next
			}
			cs.Visits = walk
			plan.Walks[cs.Name] = walk
			plan.Roamers = append(plan.Roamers, cs.Name)
		} else {
			cs.Node = scaleNodeName(rng.Intn(o.Nodes))
		}
		spec.Clients = append(spec.Clients, cs)
	}
	plan.Spec = spec
	return plan, nil
}

// Diameter returns the longest shortest path of the mesh, in links, and
// the mean node degree.
func (s Spec) Diameter() (diameter int, degree float64) {
	idx := map[string]int{}
	for i, n := range s.Nodes {
		idx[n.Name] = i
	}
	adj := make([][]int, len(s.Nodes))
	for _, l := range s.Links {
		a, b := idx[l.A], idx[l.B]
		adj[a] = append(adj[a], b)
		adj[b] = append(adj[b], a)
	}
	for src := range s.Nodes {
		d := map[int]int{src: 0}
		for q := []int{src}; len(q) > 0; q = q[1:] {
			for _, b := range adj[q[0]] {
				if _, ok := d[b]; !ok {
					d[b] = d[q[0]] + 1
					diameter = max(diameter, d[b])
					q = append(q, b)
				}
			}
		}
	}
	if len(s.Nodes) > 0 {
		degree = 2 * float64(len(s.Links)) / float64(len(s.Nodes))
	}
	return diameter, degree
}
