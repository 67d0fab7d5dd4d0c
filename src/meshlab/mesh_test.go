package meshlab

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestExpectedMetricsSeed(t *testing.T) {
	spec := SeedSpec("x", "/nonexistent")
	m := &Mesh{Spec: spec, Nodes: map[string]*Node{}}
	for i, ns := range spec.Nodes {
		m.Nodes[ns.Name] = &Node{Spec: ns, Index: i + 1}
	}
	tests := []struct {
		from, to string
		want     int
	}{
		{"d", "c", 96}, {"d", "e", 288}, {"d", "b", 192}, {"a", "c", 192}, {"e", "c", 192}, {"d", "d", 0},
	}
	got := m.ExpectedMetrics()
	for _, tt := range tests {
		if g := got[[2]string{tt.from, tt.to}]; g != tt.want {
			t.Errorf("%s->%s: %d, want %d", tt.from, tt.to, g, tt.want)
		}
	}
	// C down: D reaches E only through A and B.
	m.Nodes["c"].Down = true
	got = m.ExpectedMetrics()
	if g := got[[2]string{"d", "e"}]; g != 288 {
		t.Errorf("C down: d->e %d, want 288", g)
	}
	if _, ok := got[[2]string{"d", "c"}]; ok {
		t.Errorf("C down: d->c still reachable")
	}
}

func TestBabelConf(t *testing.T) {
	s := DefaultSite()
	conf := babelConf(s, netip.MustParseAddr("fdca:ffee:80:1:0:5eff:fe00:530a"))
	for _, want := range []string{
		"ipv6-subtrees true\nreflect-kernel-metric true\nexport-table 254\nimport-table 254\n",
		"out ip fdca:ffee:80::1/128 deny\nredistribute ip fdca:ffee:80::1/128 deny\n",
		"redistribute ip fdca:ffee:80:1::/64 eq 128  allow\n",
		"redistribute local ip 0.0.0.0/0 deny\ninstall pref-src fdca:ffee:80:1:0:5eff:fe00:530a\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("gluon-babeld.conf lacks %q:\n%s", want, conf)
		}
	}
}

func TestFlowMaxGap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	f := &Flow{}
	for _, ms := range []int{0, 10, 20, 500, 510} {
		f.replies = append(f.replies, t0.Add(time.Duration(ms)*time.Millisecond))
	}
	tests := []struct {
		from, to int
		want     time.Duration
	}{
		{0, 510, 480 * time.Millisecond},
		{15, 30, 10 * time.Millisecond},    // last reply before from counts as the start
		{505, 900, 390 * time.Millisecond}, // replies stopped: the gap runs to "to"
		{100, 200, 180 * time.Millisecond}, // no reply in the window: from the last one before
	}
	for _, tt := range tests {
		got := f.MaxGap(t0.Add(time.Duration(tt.from)*time.Millisecond), t0.Add(time.Duration(tt.to)*time.Millisecond))
		if got != tt.want {
			t.Errorf("MaxGap(%d, %d) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestDeriveSeedNodes(t *testing.T) {
	spec := SeedSpec("x", "/nonexistent")
	for _, ns := range spec.Nodes {
		mac, err := net.ParseMAC(ns.MAC)
		if err != nil {
			t.Fatal(err)
		}
		n := &Node{Spec: ns, MAC: mac}
		if err := n.derive(spec.Site); err != nil {
			t.Fatalf("node %s: %v", ns.Name, err)
		}
		if !spec.Site.CLATRange.Contains(n.CLATPrefix.Addr()) || n.CLATPrefix.Bits() != 96 ||
			!spec.Site.NodePrefix6.Contains(n.Address) || ns.PLAT != n.PLATPrefix.IsValid() {
			t.Errorf("node %s: address %s, CLAT %s, PLAT %s", ns.Name, n.Address, n.CLATPrefix, n.PLATPrefix)
		}
	}
}

func TestRandomWalkDeterministic(t *testing.T) {
	s := RingSpec("x", "")
	w1, w2 := s.RandomWalk(11, 20), s.RandomWalk(11, 20)
	if fmt.Sprint(w1) != fmt.Sprint(w2) || len(w1) != 60 {
		t.Fatalf("walk not deterministic or wrong length: %d", len(w1))
	}
	kinds := map[HopKind]int{}
	cur, prev := map[string]string{}, map[string]string{}
	for _, c := range s.Clients {
		cur[c.Name] = c.Node
	}
	home := map[string]string{}
	for _, c := range s.Clients {
		home[c.Name] = c.Node
	}
	for _, st := range w1 {
		if st.To == cur[st.Client] {
			t.Fatalf("step %v stays on its node", st)
		}
		kinds[hopKind(home[st.Client], prev[st.Client], st.To)]++
		prev[st.Client], cur[st.Client] = cur[st.Client], st.To
	}
	t.Logf("hop kinds: %v", kinds)
	for _, k := range []HopKind{HopAway, HopHome, HopPingPong} {
		if kinds[k] < 5 {
			t.Errorf("only %d hops of kind %s", kinds[k], k)
		}
	}
}

func TestQuantiles(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 20; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if q := Quantiles(d); q.Median != 10*time.Millisecond || q.P95 != 19*time.Millisecond || q.Max != 20*time.Millisecond {
		t.Errorf("quantiles %+v", q)
	}
}
