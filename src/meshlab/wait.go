package meshlab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
)

// dialBabel connects to babeld's local socket on n ([::1]:33123, as the
// CLAT reads it).
func (n *Node) dialBabel(ctx context.Context) (net.Conn, error) {
	var conn net.Conn
	err := n.NS.Do(func() error {
		d := net.Dialer{Timeout: 2 * time.Second}
		var err error
		conn, err = d.DialContext(ctx, "tcp6", "[::1]:33123")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("babeld on %s: %w", n.Spec.Name, err)
	}
	return conn, nil
}

// BabelRoutes returns the routes babeld on n has selected (installed, with
// a finite metric), read from its local socket ([::1]:33123, as the CLAT
// reads it): prefix -> babel metric.
func (n *Node) BabelRoutes(ctx context.Context) (map[netip.Prefix]int, error) {
	conn, err := n.dialBabel(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	r := bufio.NewReader(conn)
	readUntilOK := func(f func(string)) error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("babeld on %s: %w", n.Spec.Name, err)
			}
			line = strings.TrimSpace(line)
			if line == "ok" {
				return nil
			}
			if line == "no" || line == "bad" || strings.HasPrefix(line, "no ") {
				return fmt.Errorf("babeld on %s: %s", n.Spec.Name, line)
			}
			f(line)
		}
	}
	if err := readUntilOK(func(string) {}); err != nil { // banner
		return nil, err
	}
	if _, err := io.WriteString(conn, "dump\n"); err != nil {
		return nil, err
	}
	routes := map[netip.Prefix]int{}
	err = readUntilOK(func(line string) {
		ev, err := babel.ParseLine(line)
		if err != nil || ev.Route == nil {
			return
		}
		if rt := *ev.Route; usable(rt) {
			routes[rt.Prefix] = rt.Metric
		}
	})
	return routes, err
}

// usable: a route babeld selected (installed, finite metric), not
// source-specific.
func usable(rt babel.Route) bool {
	return rt.Installed && rt.Metric < babel.Infinity && (!rt.From.IsValid() || rt.From.Bits() == 0)
}

// WatchWithdrawal follows babeld's monitor on n. The channel it returns
// receives the moment at which n has no usable route to p any more (as
// HasRoute), taken when babeld's lines saying so arrive, and is then
// closed; it is closed without a value when ctx ends or the monitor breaks
// first. (Polling HasRoute, a dump every 10 ms, saw a withdrawal 40-90 ms
// after the lines, later than the CLAT acting on them.)
func (n *Node) WatchWithdrawal(ctx context.Context, p netip.Prefix) (<-chan time.Time, error) {
	conn, err := n.dialBabel(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(conn, "monitor\n"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("babeld on %s: %w", n.Spec.Name, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	ch := make(chan time.Time, 1)
	go func() {
		defer close(ch)
		defer stop()
		defer conn.Close()
		r := bufio.NewReader(conn)
		t := babel.NewTable()
		oks := 0 // the banner's and the monitor's dump's: then live lines
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if line = strings.TrimSpace(line); line == "ok" {
				oks++
			} else {
				_, _, _ = t.ApplyLine(line)
			}
			// A burst (a route replaced: the old one's line, then the
			// new one's) is judged when it is read completely.
			if oks < 2 || r.Buffered() > 0 {
				continue
			}
			found := false
			for _, rt := range t.Routes {
				found = found || rt.Prefix == p && usable(rt)
			}
			if !found {
				ch <- time.Now()
				return
			}
		}
	}()
	return ch, nil
}

// HasRoute reports whether babeld on n has a usable route to exactly p
// (installed, finite metric). When babeld withdraws a route it sets its
// metric to infinity and installs an "unreachable" kernel route in its place.
func (n *Node) HasRoute(ctx context.Context, p netip.Prefix) bool {
	r, err := n.BabelRoutes(ctx)
	if err != nil {
		return false
	}
	_, ok := r[p]
	return ok
}

// ExpectedMetrics are the babel metrics of the shortest paths between the
// nodes that are up (wired links: cost 96 unless the spec sets one).
func (m *Mesh) ExpectedMetrics() map[[2]string]int {
	const inf = 1 << 30
	dist := map[[2]string]int{}
	nodes := m.NodeList()
	for _, a := range nodes {
		for _, b := range nodes {
			if a == b {
				dist[[2]string{a.Spec.Name, b.Spec.Name}] = 0
			} else {
				dist[[2]string{a.Spec.Name, b.Spec.Name}] = inf
			}
		}
	}
	for _, l := range m.Spec.Links {
		if m.Nodes[l.A].Down || m.Nodes[l.B].Down {
			continue
		}
		c := l.Cost
		if c == 0 {
			c = 96
		}
		dist[[2]string{l.A, l.B}], dist[[2]string{l.B, l.A}] = c, c
	}
	for _, k := range nodes { // Floyd-Warshall: a handful of nodes
		for _, i := range nodes {
			for _, j := range nodes {
				ik, kj := dist[[2]string{i.Spec.Name, k.Spec.Name}], dist[[2]string{k.Spec.Name, j.Spec.Name}]
				if ij := [2]string{i.Spec.Name, j.Spec.Name}; ik+kj < dist[ij] {
					dist[ij] = ik + kj
				}
			}
		}
	}
	for k, v := range dist {
		if v >= inf {
			delete(dist, k)
		}
	}
	return dist
}

// WaitConverged waits until every node that is up has a babel route with
// the shortest-path metric to every other node's address and to every other
// platnode's PLAT /96.
func (m *Mesh) WaitConverged(ctx context.Context) error {
	want := m.ExpectedMetrics()
	return WaitFor(ctx, "babel convergence", 100*time.Millisecond, func() (bool, error) {
		err := m.converged(ctx, want)
		return err == nil, err
	})
}

// converged checks the routes once against want (see ExpectedMetrics).
func (m *Mesh) converged(ctx context.Context, want map[[2]string]int) error {
	{
		for _, n := range m.NodeList() {
			if n.Down {
				continue
			}
			routes, err := n.BabelRoutes(ctx)
			if err != nil {
				return err
			}
			for _, o := range m.NodeList() {
				metric, reachable := want[[2]string{n.Spec.Name, o.Spec.Name}]
				if o == n || o.Down || !reachable {
					continue
				}
				dsts := []netip.Prefix{netip.PrefixFrom(o.Address, 128)}
				if o.Spec.PLAT {
					dsts = append(dsts, o.PLATPrefix)
				}
				for _, p := range dsts {
					got, ok := routes[p]
					if !ok {
						return fmt.Errorf("%s has no route to %s (node %s)", n.Spec.Name, p, o.Spec.Name)
					}
					if got != metric {
						return fmt.Errorf("%s: route to %s (node %s) has metric %d, want %d", n.Spec.Name, p, o.Spec.Name, got, metric)
					}
				}
			}
		}
		return nil
	}
}

// CheckRunning returns an error naming the first lab process that has
// exited, with the end of its log.
func (m *Mesh) CheckRunning() error {
	for _, n := range m.NodeList() {
		if n.Down {
			continue
		}
		for name, p := range n.Procs {
			if p.Exited() && !m.Spec.Optional[name] {
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

// CheckDaemon returns an error if daemon name has exited on any node.
func (m *Mesh) CheckDaemon(name string) error {
	for _, n := range m.NodeList() {
		if p := n.Procs[name]; p != nil && p.Exited() && !n.Down {
			return fmt.Errorf("%s on node %s exited: %s", name, n.Spec.Name, tail(p.Log(), 6))
		}
	}
	return nil
}
