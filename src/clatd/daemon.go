// Package clatd is the CLAT daemon's logic: it follows babel, selects the
// PLAT (platselect), runs the translator data plane on the CLAT device with
// the rules "local RFC6052 <clat /96>, remote RFC6052 <plat /96>", routes the
// clients' IPv4 into it by policy routing, probes the chosen PLAT's
// management address, reconfigures on PLAT changes and tells l3roamd-xlat.
// Everything it adds to the kernel it removes again when its context ends.
package clatd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/dataplane"
	"github.com/gluon-464xlat/gluon-464xlat/platselect"
	"github.com/gluon-464xlat/gluon-464xlat/translator"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// DataPlane is the part of dataplane.Backend the daemon uses.
type DataPlane interface {
	SetPairs(pairs []translator.Pair) error
	Counters() dataplane.Stats
	Close() error
}

// OpenFunc opens the data plane on dev.
type OpenFunc func(ctx context.Context, dev string, mtu int, cfg translator.Config) (DataPlane, error)

// Options configure a Daemon. CLAT is required; the rest has defaults.
type Options struct {
	CLAT xlatconf.CLAT
	// RoamdResend is how often the current PLAT is repeated to
	// l3roamd-xlat (0: once a minute).
	RoamdResend time.Duration
	// OwnPLAT is this node's own PLAT /96 when it is also a platnode.
	OwnPLAT netip.Prefix
	// Socket is the control socket path ("" = none); RoamdSocket is
	// l3roamd-xlat's socket ("" = do not notify).
	Socket, RoamdSocket string
	Logger              *slog.Logger
	Now                 func() time.Time
	// FailHold: how long a failed PLAT is avoided (default 30 probe intervals, at least 30 s).
	FailHold time.Duration
	// BabelGrace: after babeld restarts, how long a missing route to the
	// current PLAT is not taken as its loss (default 30 s).
	BabelGrace time.Duration
	Open       OpenFunc // default dataplane.Open
	Kernel     Kernel   // default Netlink{}
	Pinger     Pinger   // default ICMPPinger; nil with NoProbe
	NoProbe    bool
	// Babel overrides the babel snapshot source (tests); default a babel.Client on CLAT.BabelSocket.
	Babel func(ctx context.Context, out chan babel.Snapshot) error
}

// Daemon is a running CLAT.
type Daemon struct {
	o     Options
	log   *slog.Logger
	setup Setup
	bc    *babel.Client

	mu        sync.Mutex
	sel       *platselect.Selector
	dp        DataPlane
	babelSnap babel.Snapshot
	probe     ProbeStatus
	changed   chan struct{} // closed and replaced on every PLAT change (tests, status waiters)
	notify    chan string
}

// ProbeStatus counts probes of the current PLAT.
type ProbeStatus struct {
	Target      string    `json:"target,omitempty"`
	Sent        uint64    `json:"sent"`
	Failed      uint64    `json:"failed"`
	Consecutive int       `json:"consecutive_failures"`
	LastOK      time.Time `json:"last_ok,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
}

// New checks the options and returns a daemon; Run starts it.
func New(o Options) (*Daemon, error) {
	c := o.CLAT
	if !c.Prefix.IsValid() || c.Prefix.Bits() != 96 || !c.Prefix.Addr().Is6() {
		return nil, fmt.Errorf("clat: prefix %v is not an IPv6 /96", c.Prefix)
	}
	if !c.PLATRange.IsValid() && !c.PLATPrefix.IsValid() {
		return nil, errors.New("clat: neither plat_range nor plat_prefix set")
	}
	if c.Device == "" || c.ClientBridge == "" || c.Table <= 0 {
		return nil, fmt.Errorf("clat: device %q, client_bridge %q, table %d: all required", c.Device, c.ClientBridge, c.Table)
	}
	if c.MTU < 1280 {
		return nil, fmt.Errorf("clat: mtu %d below 1280", c.MTU)
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = xlatconf.DefaultProbeInterval
	}
	if c.ProbeFailures <= 0 {
		c.ProbeFailures = xlatconf.DefaultProbeFailures
	}
	o.CLAT = c
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FailHold <= 0 {
		o.FailHold = 30 * c.ProbeInterval
		if o.FailHold < 30*time.Second {
			o.FailHold = 30 * time.Second
		}
	}
	if o.BabelGrace <= 0 {
		o.BabelGrace = 30 * time.Second
	}
	if o.Open == nil {
		o.Open = func(ctx context.Context, dev string, mtu int, cfg translator.Config) (DataPlane, error) {
			return dataplane.Open(ctx, dev, mtu, cfg, dataplane.Options{Logger: o.Logger})
		}
	}
	if o.Kernel == nil {
		o.Kernel = Netlink{}
	}
	d := &Daemon{
		o:   o,
		log: o.Logger,
		setup: Setup{Device: c.Device, CLATPrefix: c.Prefix, ClientBridge: c.ClientBridge,
			ClientIPv4: c.ClientIPv4, Table: c.Table, MTU: c.MTU},
		changed: make(chan struct{}),
		notify:  make(chan string, 64),
	}
	if o.Babel == nil {
		d.bc = &babel.Client{Address: c.BabelSocket, Logger: o.Logger}
	}
	d.sel = platselect.New(platselect.Params{Margin: c.SwitchMargin, ProbeFailures: c.ProbeFailures,
		FailHold: o.FailHold, Own: o.OwnPLAT, Fixed: c.PLATPrefix, Now: o.Now})
	return d, nil
}

// Changed returns a channel that is closed at the next PLAT change.
func (d *Daemon) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

// Run runs the daemon until ctx ends, then removes what it added.
func (d *Daemon) Run(ctx context.Context) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := d.o.Kernel.Prepare(d.setup); err != nil {
		_ = d.o.Kernel.Cleanup(d.setup)
		return fmt.Errorf("clat: %w", err)
	}
	d.log.Info("clat: started", "clat_prefix", d.setup.CLATPrefix, "device", d.setup.Device,
		"plat_range", d.o.CLAT.PLATRange, "fixed_plat", d.o.CLAT.PLATPrefix, "own_plat", d.o.OwnPLAT,
		"margin", d.o.CLAT.SwitchMargin, "table", d.setup.Table)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		d.mu.Lock()
		dp := d.dp
		d.dp = nil
		d.mu.Unlock()
		if dp != nil {
			if cerr := dp.Close(); cerr != nil {
				d.log.Warn("clat: closing data plane", "err", cerr)
			}
		}
		if cerr := d.o.Kernel.Cleanup(d.setup); cerr != nil {
			d.log.Warn("clat: cleanup", "err", cerr)
		}
		d.log.Info("clat: stopped")
	}()

	if d.o.Socket != "" {
		srv, err := ctlsock.Listen(d.o.Socket, map[string]ctlsock.Handler{
			"status": func(ctx context.Context, args []string) ([]byte, error) {
				b, err := json.MarshalIndent(d.Status(), "", "  ")
				return append(b, '\n'), err
			},
		})
		if err != nil {
			return fmt.Errorf("clat: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx); err != nil {
				d.log.Error("clat: control socket", "err", err)
			}
		}()
	}
	if d.o.RoamdSocket != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.notifier(ctx)
		}()
	}

	// A configured PLAT is in force from the start.
	d.mu.Lock()
	if cur := d.sel.Current(); cur.IsValid() {
		d.apply(ctx, platselect.Decision{Changed: true, New: cur, Reason: platselect.ReasonFixed})
	}
	d.mu.Unlock()

	snaps := make(chan babel.Snapshot, 1)
	babelDone := make(chan error, 1)
	src := d.o.Babel
	if src == nil {
		src = d.bc.Run
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		babelDone <- src(ctx, snaps)
	}()

	var hadBabel bool
	var graceUntil time.Time
	graceTimer := time.NewTimer(time.Hour)
	graceTimer.Stop()
	defer graceTimer.Stop()
	// A failed PLAT's hold ends by the clock: the selection is made again
	// then (babel publishes only changes; a quiet mesh sends none).
	holdTimer := time.NewTimer(time.Hour)
	holdTimer.Stop()
	defer holdTimer.Stop()
	var holdAt time.Time
	armHold := func() { // d.mu held
		at, ok := d.sel.HoldEnds()
		if !ok || at.Equal(holdAt) {
			return
		}
		holdAt = at
		holdTimer.Stop()
		holdTimer.Reset(at.Sub(d.o.Now()) + time.Millisecond)
	}

	probes := make(chan probeResult, 1)
	if !d.o.NoProbe {
		p := d.o.Pinger
		if p == nil {
			ip, err := NewICMPPinger(uint16(os.Getpid()))
			if err != nil {
				return fmt.Errorf("clat: %w", err)
			}
			p = ip
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.Close()
			d.prober(ctx, p, probes)
		}()
	}

	// l3roamd-xlat may restart (procd respawn) after our last PLAT change
	// and would then not know the PLAT: repeat it now and then (a repeated
	// set_platprefix of the same prefix is a no-op there).
	resendEvery := d.o.RoamdResend
	if resendEvery <= 0 {
		resendEvery = roamdResendInterval
	}
	resend := time.NewTicker(resendEvery)
	defer resend.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-resend.C:
			d.mu.Lock()
			if cur := d.sel.Current(); cur.IsValid() {
				d.queue("set_platprefix " + cur.String())
			}
			d.mu.Unlock()
		case err := <-babelDone:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("clat: babel: %w", err)
		case s := <-snaps:
			d.mu.Lock()
			if s.Connected && !d.babelSnap.Connected && hadBabel {
				// babeld restarted: its first tables are empty until it has
				// heard its neighbours again. Route loss is not believed
				// for a while (probes still guard the current PLAT).
				graceUntil = time.Now().Add(d.o.BabelGrace)
				graceTimer.Reset(d.o.BabelGrace)
				d.log.Info("clat: babeld reconnected, holding the PLAT through its resync", "for", d.o.BabelGrace)
			}
			hadBabel = hadBabel || s.Connected
			d.babelSnap = s
			d.evaluate(ctx, time.Now().Before(graceUntil))
			armHold()
			d.mu.Unlock()
		case <-graceTimer.C:
			d.mu.Lock()
			d.evaluate(ctx, false)
			armHold()
			d.mu.Unlock()
		case <-holdTimer.C:
			holdAt = time.Time{}
			d.mu.Lock()
			d.evaluate(ctx, time.Now().Before(graceUntil))
			armHold()
			d.mu.Unlock()
		case r := <-probes:
			d.mu.Lock()
			d.probe.Sent++
			if r.err != nil {
				d.probe.Failed++
				d.probe.LastError = r.err.Error()
			} else {
				d.probe.LastOK = d.o.Now()
				d.probe.LastError = ""
			}
			dec := d.sel.Probe(r.plat, r.err == nil)
			d.probe.Consecutive = d.sel.State().ConsecutiveFailures
			if r.err != nil && r.plat == d.sel.Current() || dec.Changed {
				d.log.Debug("clat: probe", "plat", r.plat, "err", r.err, "consecutive", d.probe.Consecutive)
			}
			d.apply(ctx, dec)
			armHold()
			d.mu.Unlock()
		}
	}
}

// evaluate feeds the last babel snapshot to the selector; d.mu is held.
// While babeld is away the selection stays as it is; during the grace after
// a reconnect a snapshot without the current PLAT is ignored.
func (d *Daemon) evaluate(ctx context.Context, grace bool) {
	s := d.babelSnap
	if !s.Connected || !d.o.CLAT.PLATRange.IsValid() {
		return
	}
	cands := platselect.Candidates(s, d.o.CLAT.PLATRange)
	if cur := d.sel.Current(); grace && cur.IsValid() {
		found := false
		for _, c := range cands {
			found = found || c.Prefix == cur
		}
		if !found {
			return
		}
	}
	d.apply(ctx, d.sel.Update(cands))
}

// apply carries out a decision; d.mu is held.
func (d *Daemon) apply(ctx context.Context, dec platselect.Decision) {
	if !dec.Changed {
		return
	}
	d.log.Info("clat: PLAT changed", "from", dec.Old, "to", dec.New, "reason", dec.Reason)
	close(d.changed)
	d.changed = make(chan struct{})
	d.probe.Consecutive = 0
	if dec.New.IsValid() {
		d.probe.Target = wellknown.ManagementAddress(dec.New).String()
	} else {
		d.probe.Target = ""
	}
	if err := d.configure(ctx, dec.New); err != nil {
		d.log.Error("clat: reconfiguring", "plat", dec.New, "err", err)
	}
	if dec.New.IsValid() {
		d.queue("set_platprefix " + dec.New.String())
	}
	if dec.Old.IsValid() && (dec.OldFailed || !dec.New.IsValid()) {
		d.queue("del_platprefix " + dec.Old.String())
	}
}

// roamdResendInterval is how often the current PLAT is repeated to
// l3roamd-xlat.
const roamdResendInterval = time.Minute

// Pairs are the translator rules for a PLAT.
func Pairs(clat, plat netip.Prefix) []translator.Pair {
	return []translator.Pair{{
		Local:  translator.Side{Style: translator.StyleRFC6052, V6: clat},
		Remote: translator.Side{Style: translator.StyleRFC6052, V6: plat},
	}}
}

func (d *Daemon) configure(ctx context.Context, plat netip.Prefix) error {
	if !plat.IsValid() {
		return d.o.Kernel.SetDefault(d.setup, false)
	}
	pairs := Pairs(d.setup.CLATPrefix, plat)
	if d.dp == nil {
		dp, err := d.o.Open(ctx, d.setup.Device, d.setup.MTU, translator.Config{Pairs: pairs, MTU6: d.setup.MTU})
		if err != nil {
			return err
		}
		d.dp = dp
		if err := d.o.Kernel.DeviceUp(d.setup); err != nil {
			return err
		}
	} else if err := d.dp.SetPairs(pairs); err != nil {
		return err
	}
	return d.o.Kernel.SetDefault(d.setup, true)
}

func (d *Daemon) queue(line string) {
	if d.o.RoamdSocket == "" {
		return
	}
	select {
	case d.notify <- line:
	default:
		d.log.Warn("clat: l3roamd notification queue full, dropped", "line", line)
	}
}

// notifier sends the queued lines to l3roamd-xlat in order.
// On shutdown it still sends what is queued (each with a short timeout).
func (d *Daemon) notifier(ctx context.Context) {
	// Sends are not cut short by ctx: a line lost at shutdown would leave
	// l3roamd with state for a PLAT that is gone.
	send := func(line string, timeout time.Duration) {
		cctx, cancel := context.WithTimeout(context.Background(), timeout)
		_, err := ctlsock.Call(cctx, d.o.RoamdSocket, line)
		cancel()
		switch {
		case err == nil:
			d.log.Info("clat: told l3roamd", "line", line)
		case errors.Is(err, os.ErrNotExist):
			d.log.Debug("clat: l3roamd socket absent", "socket", d.o.RoamdSocket, "line", line)
		default:
			d.log.Warn("clat: telling l3roamd", "line", line, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case line := <-d.notify:
					send(line, 500*time.Millisecond)
				default:
					return
				}
			}
		case line := <-d.notify:
			send(line, 2*time.Second)
		}
	}
}

type probeResult struct {
	plat netip.Prefix
	err  error
}

// prober pings the current PLAT's management address every ProbeInterval.
func (d *Daemon) prober(ctx context.Context, p Pinger, out chan<- probeResult) {
	iv := d.o.CLAT.ProbeInterval
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		plat := d.sel.Current()
		d.mu.Unlock()
		if !plat.IsValid() {
			continue
		}
		err := p.Ping(ctx, wellknown.ManagementAddress(plat), iv*9/10)
		if ctx.Err() != nil {
			return
		}
		select {
		case out <- probeResult{plat: plat, err: err}:
		case <-ctx.Done():
			return
		}
	}
}
