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
	Switched      time.Duration // failure -> the client node's CLAT switched (its status' last_switch; 0: unknown)
	Attempts      int           // connection attempts started until then
}

func (f Failover) String() string {
	return fmt.Sprintf("PLAT %s -> %s: route withdrawn after %v, CLAT switched after %v, first new connection through %s after %v (%v after the withdrawal, %d attempts)",
		f.From, f.To, f.Withdrawn.Round(time.Millisecond), f.Switched.Round(time.Millisecond), f.To, f.FirstConn.Round(time.Millisecond),
		f.AfterWithdraw.Round(time.Millisecond), f.Attempts)
}

// AfterSwitch is the time from the CLAT's switch to the first new
// connection (0 when the switch time is unknown).
func (f Failover) AfterSwitch() time.Duration {
	if f.Switched <= 0 || f.FirstConn < f.Switched {
		return 0
	}
	return f.FirstConn - f.Switched
}

// MeasureFailover powers platnode from off and measures, at the client's
// node, when babel withdraws from's /96, when the node's CLAT switches, and
// when the client's first new TCP connection to the internet host goes out
// through platnode to (the host sees to's WAN address).
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
	withdrawn, err := at.WatchWithdrawal(wctx, from.PLATPrefix)
	if err != nil {
		return res, err
	}
	var (
		mu       sync.Mutex
		withdraw time.Time
	)
	t0 := time.Now()
	if err := fail(ctx); err != nil {
		return res, err
	}
	go func() {
		if w, ok := <-withdrawn; ok {
			mu.Lock()
			withdraw = w
			mu.Unlock()
		}
	}()
	conn, err := firstConnVia(ctx, c, to, &res.Attempts)
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
	if st, err := at.CLATState(ctx); err == nil && st.LastSwitch != nil && st.LastSwitch.At.After(t0) {
		res.Switched = st.LastSwitch.At.Sub(t0)
	}
	// The route is gone by now (the connection went elsewhere); give the
	// watcher the last lines.
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

// firstConnVia starts a new TCP connection from client c to the internet
// host every 20 ms until one is greeted with platnode to's WAN address, and
// returns when that one completed; *attempts counts the connections
// started. The attempts overlap (each may take up to 300 ms): a SYN sent
// while the old path was still in use is lost, and waiting for its
// timeout before the next attempt hid a working new path for up to 300 ms
// (most of the spread of the demo's figure after the withdrawal).
func firstConnVia(ctx context.Context, c *Client, to *Node, attempts *int) (time.Time, error) {
	type result struct {
		at   time.Time
		seen string
		err  error
	}
	actx, stop := context.WithCancel(ctx)
	defer stop()
	results := make(chan result)
	start := func() {
		*attempts++
		go func() {
			seen, err := TCPHello(actx, c.NS, ServerAddr.String(), 300*time.Millisecond)
			select {
			case results <- result{time.Now(), seen, err}:
			case <-actx.Done():
			}
		}()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	want := to.WANAddr.String()
	var last error
	start()
	for {
		select {
		case <-ctx.Done():
			err := fmt.Errorf("waiting for a new connection through %s: %w", to.Spec.Name, ctx.Err())
			if last != nil {
				err = fmt.Errorf("%w (last: %v)", err, last)
			}
			return time.Time{}, err
		case <-tick.C:
			start()
		case r := <-results:
			switch {
			case r.err != nil:
				last = r.err
			case HostOf(r.seen) != want:
				last = fmt.Errorf("server saw %s, not %s's WAN %s", r.seen, to.Spec.Name, want)
			default:
				return r.at, nil
			}
		}
	}
}
