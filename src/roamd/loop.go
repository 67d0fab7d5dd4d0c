package roamd

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
)

// Daemon is the roaming daemon's event loop: the one goroutine that runs
// loop owns the state machine; everything else (the UDP socket, the
// control socket, babel's monitor, the bridge's neighbour events, the
// presence probes) hands it events and, where it needs an answer, waits
// for it. After each event the loop carries out the effects the machine
// listed (no lock is held anywhere: the machine is the loop's alone).
type Daemon struct {
	m      *machine
	log    *slog.Logger
	events chan event
	done   <-chan struct{} // the loop's context: events are not taken any more
	wg     *sync.WaitGroup // background probes; Run waits for them
	ended  bool            // the loop returned (owner goroutine only)
}

// event is a transition for the loop to make.
type event struct {
	run   func(m *machine) error
	reply chan error // nil: nobody waits; else run's error and the effects' (ret)
}

// errStopped: the daemon is shutting down.
var errStopped = errors.New("l3roamd-xlat is stopping")

// newDaemon wraps m; the loop's context ends the hand-over of events, wg
// counts the background probes.
func newDaemon(ctx context.Context, m *machine, wg *sync.WaitGroup) *Daemon {
	d := &Daemon{m: m, log: m.log, events: make(chan event, 256), done: ctx.Done(), wg: wg}
	m.spawn = d.spawn
	return d
}

// spawn runs a background probe off the loop; its result is an event.
func (d *Daemon) spawn(job func() func()) {
	if d.ended {
		return // shutting down: nobody would take the result
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		res := job()
		d.post(func(*machine) error { res(); return nil })
	}()
}

// post hands a transition to the loop without waiting for it.
func (d *Daemon) post(f func(m *machine) error) {
	select {
	case d.events <- event{run: f}:
	case <-d.done:
	}
}

// call hands a transition to the loop and waits until it and its effects
// are done.
func (d *Daemon) call(f func(m *machine) error) error {
	reply := make(chan error, 1)
	select {
	case d.events <- event{run: f, reply: reply}:
	case <-d.done:
		return errStopped
	}
	select {
	case err := <-reply:
		return err
	case <-d.done:
		return errStopped
	}
}

// step makes one transition and carries out its effects.
func (d *Daemon) step(ev event) {
	err := ev.run(d.m)
	if ferr := d.m.apply(d.m.take()); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if ev.reply != nil {
		ev.reply <- err
	}
}

// loop runs until ctx ends: events, timers by the machine's clock, and a
// sweep every second (then save, if not nil, writes the state file).
// Errors from errc end it.
func (d *Daemon) loop(ctx context.Context, errc <-chan error, babelc <-chan babel.Snapshot, save func()) error {
	defer func() { d.ended = true }()
	clk := d.m.clk
	var t Timer // for the machine's earliest timer, armed at armed
	var armed time.Time
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	sweep := clk.NewTimer(time.Second)
	defer func() { sweep.Stop() }()
	// babel's last snapshot, followed again at every sweep: babel.Client
	// publishes route changes only, and a release route may begin after
	// the route it should follow arrived
	var last babel.Snapshot
	for {
		if at, ok := d.m.nextDeadline(); !ok && t != nil {
			t.Stop()
			t = nil
		} else if ok && (t == nil || !at.Equal(armed)) {
			if t != nil {
				t.Stop()
			}
			t, armed = clk.NewTimer(at.Sub(clk.Now())), at
		}
		var tc <-chan time.Time
		if t != nil {
			tc = t.C()
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
		case ev := <-d.events:
			d.step(ev)
		case s := <-babelc:
			last = s
			d.step(event{run: func(m *machine) error { m.Follow(s); m.CheckPLATs(&s); return nil }})
		case <-tc:
			t = nil
			d.step(event{run: func(m *machine) error { m.fireDue(); return nil }})
		case <-sweep.C():
			sweep = clk.NewTimer(time.Second)
			d.step(event{run: func(m *machine) error { m.Sweep(); m.Follow(last); m.CheckPLATs(nil); return nil }})
			if save != nil {
				save()
			}
		}
	}
}

// The daemon's events, as the other goroutines hand them in.

// HandlePacket hands in one datagram from src (b is copied).
func (d *Daemon) HandlePacket(src netip.AddrPort, b []byte) {
	pkt := append([]byte(nil), b...)
	d.post(func(m *machine) error { m.HandlePacket(src, pkt); return nil })
}

// Seen: a client on the client bridge (new node).
func (d *Daemon) Seen(mac net.HardwareAddr, ip netip.Addr) {
	d.post(func(m *machine) error { m.Seen(mac, ip); return nil })
}

// Gone: a client's bridge FDB entry went.
func (d *Daemon) Gone(mac net.HardwareAddr) {
	d.post(func(m *machine) error { m.Gone(mac); return nil })
}

// Lease is a DHCP lease event (lease, add_address).
func (d *Daemon) Lease(op LeaseOp, mac net.HardwareAddr, ip netip.Addr, expires time.Time) error {
	return d.call(func(m *machine) error { return m.Lease(op, mac, ip, expires) })
}

// SetPLAT is set_platprefix.
func (d *Daemon) SetPLAT(p netip.Prefix) error {
	return d.call(func(m *machine) error { return m.SetPLAT(p) })
}

// DelPLAT is del_platprefix.
func (d *Daemon) DelPLAT(p netip.Prefix) error {
	return d.call(func(m *machine) error { return m.DelPLAT(p) })
}

// Forget is del_address; false: the MAC is unknown.
func (d *Daemon) Forget(mac net.HardwareAddr, ip netip.Addr) (bool, error) {
	var known bool
	err := d.call(func(m *machine) error { known = m.Forget(mac, ip); return nil })
	return known, err
}

// view is what status shows, taken in one transition.
type view struct {
	cfg      Config
	clients  []ClientView
	steered  int
	counters map[string]uint64
}

// view returns the configuration in force, the clients, the number of
// steering entries and the counters.
func (d *Daemon) view() (view, error) {
	var v view
	err := d.call(func(m *machine) error {
		v = view{cfg: m.cfg, clients: m.clients(), steered: len(m.st), counters: m.counters()}
		return nil
	})
	return v, err
}
