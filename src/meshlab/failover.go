package meshlab

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Failover is what MeasureFailover measured.
type Failover struct {
	From, To      string        // platnodes
	Withdrawn     time.Duration // failure -> the failed PLAT's /96 gone from the client node's table
	FirstConn     time.Duration // failure -> first new connection through To
	AfterWithdraw time.Duration // withdrawal -> first new connection
	Attempts      int           // connection attempts until then
}

func (f Failover) String() string {
	return fmt.Sprintf("PLAT %s -> %s: route withdrawn after %v, first new connection through %s after %v (%v after the withdrawal, %d attempts)",
		f.From, f.To, f.Withdrawn.Round(time.Millisecond), f.To, f.FirstConn.Round(time.Millisecond),
		f.AfterWithdraw.Round(time.Millisecond), f.Attempts)
}

// MeasureFailover powers platnode from off and measures, at the client's
// node, when babel withdraws from's /96 and when the client's first new TCP
// connection to the internet host goes out through platnode to (the host
// sees to's WAN address).
func (m *Mesh) MeasureFailover(ctx context.Context, client string, from, to *Node) (Failover, error) {
	return m.MeasureFailoverAfter(ctx, client, from, to, from.PowerOff)
}

// MeasureFailoverAfter is MeasureFailover with another failure of from's
// PLAT: fail (e.g. its translator killed) instead of the power loss.
func (m *Mesh) MeasureFailoverAfter(ctx context.Context, client string, from, to *Node, fail func(context.Context) error) (Failover, error) {
	res := Failover{From: from.Spec.Name, To: to.Spec.Name}
	c := m.Clients[client]
	if c == nil {
		return res, fmt.Errorf("meshlab: unknown client %q", client)
	}
	at := m.Nodes[c.Node]
	if !at.HasRoute(ctx, from.PLATPrefix) {
		return res, fmt.Errorf("meshlab: node %s has no route to %s's PLAT %s before the failure", at.Spec.Name, from.Spec.Name, from.PLATPrefix)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var (
		mu       sync.Mutex
		withdraw time.Time
	)
	t0 := time.Now()
	if err := fail(ctx); err != nil {
		return res, err
	}
	go func() {
		for wctx.Err() == nil {
			if !at.HasRoute(wctx, from.PLATPrefix) && wctx.Err() == nil {
				mu.Lock()
				withdraw = time.Now()
				mu.Unlock()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	want := to.WANAddr.String()
	var conn time.Time
	err := WaitFor(ctx, "a new connection through "+to.Spec.Name, 20*time.Millisecond, func() (bool, error) {
		res.Attempts++
		seen, err := TCPHello(ctx, c.NS, ServerAddr.String(), 300*time.Millisecond)
		if err != nil {
			return false, err
		}
		if HostOf(seen) != want {
			return false, fmt.Errorf("server saw %s, not %s's WAN %s", seen, to.Spec.Name, want)
		}
		conn = time.Now()
		return true, nil
	})
	if err != nil {
		mu.Lock()
		w := withdraw
		mu.Unlock()
		if w.IsZero() {
			return res, fmt.Errorf("%w (%s's /96 still at %s)", err, from.Spec.Name, at.Spec.Name)
		}
		return res, fmt.Errorf("%w (%s's /96 gone at %s %v after the failure)", err, from.Spec.Name, at.Spec.Name, w.Sub(t0).Round(time.Millisecond))
	}
	res.FirstConn = conn.Sub(t0)
	// The route is gone by now (the connection went elsewhere); give the
	// watcher its last poll.
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_ = WaitFor(lctx, "route withdrawal", 10*time.Millisecond, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return !withdraw.IsZero(), nil
	})
	mu.Lock()
	w := withdraw
	mu.Unlock()
	if !w.IsZero() {
		res.Withdrawn = w.Sub(t0)
		res.AfterWithdraw = conn.Sub(w)
		if res.AfterWithdraw < 0 {
			res.AfterWithdraw = 0
		}
	}
	return res, nil
}
