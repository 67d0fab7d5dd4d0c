package meshlab

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// BabelRoutes returns the IPv6 routes babeld installed in n's kernel table,
// with their metrics (reflect-kernel-metric: the babel metric).
func (n *Node) BabelRoutes(ctx context.Context) (map[netip.Prefix]int, error) {
	out, err := n.NS.Run(ctx, "ip", "-6", "route", "show", "proto", "babel")
	if err != nil {
		return nil, err
	}
	routes := map[netip.Prefix]int{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			if a, err2 := netip.ParseAddr(f[0]); err2 == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				continue
			}
		}
		metric := 0
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "metric" {
				metric, _ = strconv.Atoi(f[i+1])
			}
		}
		routes[p] = metric
	}
	return routes, nil
}

// HasRoute reports whether n has a babel route to exactly p.
func (n *Node) HasRoute(ctx context.Context, p netip.Prefix) bool {
	r, err := n.BabelRoutes(ctx)
	if err != nil {
		return false
	}
	_, ok := r[p]
	return ok
}

// WaitConverged waits until every node has a babel route to every other
// node's address and to every other platnode's PLAT /96.
func (m *Mesh) WaitConverged(ctx context.Context) error {
	var missing string
	return WaitFor(ctx, "babel convergence", 200*time.Millisecond, func() (bool, error) {
		for _, n := range m.NodeList() {
			routes, err := n.BabelRoutes(ctx)
			if err != nil {
				return false, err
			}
			for _, o := range m.NodeList() {
				if o == n {
					continue
				}
				want := []netip.Prefix{netip.PrefixFrom(o.Address, 128)}
				if o.Spec.PLAT {
					want = append(want, o.PLATPrefix)
				}
				for _, p := range want {
					if _, ok := routes[p]; !ok {
						missing = fmt.Sprintf("%s has no route to %s (node %s)", n.Spec.Name, p, o.Spec.Name)
						return false, fmt.Errorf("%s", missing)
					}
				}
			}
		}
		return true, nil
	})
}

// CheckRunning returns an error naming the first lab process that has
// exited, with the end of its log.
func (m *Mesh) CheckRunning() error {
	for _, n := range m.NodeList() {
		for name, p := range n.Procs {
			if p.Exited() {
				return fmt.Errorf("%s on node %s exited: %s", name, n.Spec.Name, tail(p.Log(), 12))
			}
		}
	}
	return nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// Wait is WaitFor that gives up at once, naming the process, when a lab
// process has exited.
func (m *Mesh) Wait(ctx context.Context, what string, interval time.Duration, cond func() (bool, error)) error {
	var fatal error
	err := WaitFor(ctx, what, interval, func() (bool, error) {
		if e := m.CheckRunning(); e != nil {
			fatal = e
			return true, nil
		}
		return cond()
	})
	if fatal != nil {
		return fmt.Errorf("waiting for %s: %w", what, fatal)
	}
	return err
}
