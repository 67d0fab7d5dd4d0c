package meshlab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// RouteLoad is what injecting extra routes into the mesh cost: K /128s that
// one node redistributes (as it would K more clients' node-client-IPs), the
// projection's main term (files/docs/scale.md).
type RouteLoad struct {
	Node        string
	Routes      int
	Learned     time.Duration  // added -> every node up has them all installed
	BabelRSS    map[string]int // node -> babeld's RSS growth, KiB
	CPU         map[string]map[string]float64
	SlabKiB     int // the host's slab growth (kernel routes of all nodes, noisy)
	Base, After map[string]int
}

func slabKiB() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Slab:" {
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	return 0
}

// extraRoutes are k /128s inside the node-client prefix that no client uses
// (interface identifier ffff:xxxx:xxxx).
func extraRoutes(s Site, k int) []netip.Prefix {
	base := s.NodeClientPrefix6.Masked().Addr().As16()
	base[8], base[9] = 0xff, 0xff
	out := make([]netip.Prefix, k)
	for i := range out {
		a := base
		a[12], a[13], a[14], a[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		out[i] = netip.PrefixFrom(netip.AddrFrom16(a), 128)
	}
	return out
}

// LoadRoutes makes node n redistribute k extra /128 routes and measures
// how long until every node that is up has installed them, and what that
// cost each node's babeld in memory and CPU.
func (m *Mesh) LoadRoutes(ctx context.Context, n *Node, k int) (RouteLoad, error) {
	res := RouteLoad{Node: n.Spec.Name, Routes: k, BabelRSS: map[string]int{}}
	var err error
	if res.Base, err = m.routeCounts(ctx); err != nil {
		return res, err
	}
	rss0 := map[string]int{}
	for _, o := range m.NodeList() {
		if p := o.Procs["babeld"]; p != nil && !o.Down {
			rss0[o.Spec.Name], _ = RSS(p.PID())
		}
	}
	var batch strings.Builder
	for _, p := range extraRoutes(m.Spec.Site, k) {
		fmt.Fprintf(&batch, "route add %s dev lo proto static\n", p)
	}
	slab0 := slabKiB()
	t0 := time.Now()
	res.CPU, err = m.cpuDuring(ctx, func() error {
		cmd := n.NS.Command(ctx, "ip", "-6", "-batch", "-")
		cmd.Stdin = strings.NewReader(batch.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("meshlab: %s: ip -batch of %d routes: %v: %s", n.Spec.Name, k, err, bytesTrim(out))
		}
		return m.Wait(ctx, fmt.Sprintf("every node to install %d more routes", k), time.Second, func() (bool, error) {
			got, err := m.routeCounts(ctx)
			if err != nil {
				return false, err
			}
			for name, c := range got {
				want := res.Base[name] + k
				if name == n.Spec.Name {
					want = res.Base[name] // its own are not babel's
				}
				if c < want {
					return false, fmt.Errorf("%s has %d of %d routes", name, c, want)
				}
			}
			res.After = got
			return true, nil
		})
	})
	res.Learned = time.Since(t0)
	res.SlabKiB = slabKiB() - slab0
	for _, o := range m.NodeList() {
		if p := o.Procs["babeld"]; p != nil && !o.Down {
			r, _ := RSS(p.PID())
			res.BabelRSS[o.Spec.Name] = r - rss0[o.Spec.Name]
		}
	}
	return res, err
}
