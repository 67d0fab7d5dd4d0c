package meshlab

import (
	"reflect"
	"testing"
)

func TestScaleTopology(t *testing.T) {
	for _, seed := range []int64{1, 2, 3, 42} {
		links, plats := ScaleTopology(seed, 50, 3)
		again, plats2 := ScaleTopology(seed, 50, 3)
		if !reflect.DeepEqual(links, again) || !reflect.DeepEqual(plats, plats2) {
			t.Fatalf("seed %d: not deterministic", seed)
		}
		if len(plats) != 3 {
			t.Fatalf("seed %d: %d platnodes", seed, len(plats))
		}
		if got := len(component(50, links, -1)); got != 50 {
			t.Fatalf("seed %d: %d of 50 nodes connected", seed, got)
		}
		for _, p := range plats {
			if got := len(component(50, links, p)); got != 49 {
				t.Fatalf("seed %d: without platnode %d only %d of 49 nodes connected", seed, p, got)
			}
		}
	}
}

func TestScalePlan(t *testing.T) {
	o := DefaultScaleOptions("bin")
	plan, err := o.Plan()
	if err != nil {
		t.Fatal(err)
	}
	s := plan.Spec
	if len(s.Nodes) != 50 || len(s.Clients) != 200 || len(plan.Roamers) != 50 {
		t.Fatalf("%d nodes, %d clients, %d roamers", len(s.Nodes), len(s.Clients), len(plan.Roamers))
	}
	plat, adj := map[string]bool{}, map[[2]string]bool{}
	for _, n := range s.Nodes {
		plat[n.Name] = n.PLAT
	}
	for _, l := range s.Links {
		adj[[2]string{l.A, l.B}], adj[[2]string{l.B, l.A}] = true, true
	}
	macs := map[string]bool{}
	for _, c := range s.Clients {
		if macs[c.MAC] {
			t.Fatalf("MAC %s twice", c.MAC)
		}
		macs[c.MAC] = true
		walk := plan.Walks[c.Name]
		if walk == nil {
			if len(c.Visits) != 0 {
				t.Fatalf("%s stays but visits %v", c.Name, c.Visits)
			}
			continue
		}
		if plat[c.Node] || walk[len(walk)-1] != c.Node {
			t.Fatalf("%s: home %s (PLAT %v), walk %v does not end at home", c.Name, c.Node, plat[c.Node], walk)
		}
		at := c.Node
		for i, to := range walk {
			if plat[to] || to == at {
				t.Fatalf("%s: step %d to %s (PLAT %v) from %s", c.Name, i, to, plat[to], at)
			}
			if i < len(walk)-1 && !adj[[2]string{at, to}] {
				t.Fatalf("%s: step %d %s -> %s is no link", c.Name, i, at, to)
			}
			at = to
		}
	}
	d, deg := s.Diameter()
	if d < 3 || deg < 2 {
		t.Fatalf("diameter %d, degree %.1f: not a mesh", d, deg)
	}
	t.Logf("50 nodes, %d links, diameter %d, mean degree %.1f", len(s.Links), d, deg)
}

func TestWanNet(t *testing.T) {
	for i, want := range []string{"192.0.2.0/24", "198.51.100.0/24", "198.18.0.0/24", "198.18.1.0/24"} {
		if got, err := wanNet(i); err != nil || got.String() != want {
			t.Fatalf("wanNet(%d) = %v, %v; want %s", i, got, err, want)
		}
	}
	if got, _ := wanNet(2 + 256); got.String() != "198.19.0.0/24" {
		t.Fatalf("wanNet(258) = %v", got)
	}
}
