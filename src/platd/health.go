package platd

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Restart hold-downs after the translator died: the first restart waits
// restartMin (long enough that babel's retraction has reached the CLATs and
// they have moved to another PLAT, so that a flapping translator does not
// flap their choice), doubling up to restartMax while restarts keep failing.
const (
	restartMin = 10 * time.Second
	restartMax = 60 * time.Second
)

// releaseHold is how long the release route of a dead translator's /96
// stays (unless the translator is back before): one babel hold time after
// the triggered update is plenty for every node to have the release
// metric (as l3roamd-xlat's --release-hold). The copies the neighbours keep
// afterwards carry that metric and expire on their own.
const releaseHold = 60 * time.Second

// startTranslator opens the translator backend and announces the PLAT: the
// /96 and IPv4 routes on the device (babel redistributes the /96) and the
// management address. The returned stop undoes what was done (also after a
// partial failure).
func (d *Daemon) startTranslator(ctx context.Context) (stop func() error, err error) {
	b, err := d.opts.Open(ctx, d.cfg.Device, d.mtu(), Rules(d.cfg))
	if err != nil {
		return func() error { return nil }, fmt.Errorf("translator device %s: %w", d.cfg.Device, err)
	}
	d.mu.Lock()
	d.backend = b
	d.mu.Unlock()
	// Routes and management address go first, so that the PLAT stops being
	// announced before the translator stops.
	rm, err := addRoutes(d.cfg, d.mtu())
	stop = func() error {
		rerr := rm()
		d.mu.Lock()
		d.backend = nil
		d.mu.Unlock()
		return errors.Join(rerr, b.Close())
	}
	return stop, err
}

// dead returns a channel closed when the running translator dies (nil, which
// blocks forever, for backends that only stop on Close).
func (d *Daemon) dead() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m, ok := d.backend.(Mortal); ok {
		return m.Dead()
	}
	return nil
}

// supervise watches the translator started with stop until ctx ends. When it
// dies, the PLAT replaces its /96 by the release route (netcfg.go) and
// withdraws its management address at once, so that the CLATs fail over to
// another PLAT instead of sending into a black hole; it restarts the
// translator after a hold-down and announces again (the normal /96 route
// replaces the release route). The release route goes after releaseHold if
// the translator is still down. It returns what stops the PLAT in force at
// the end.
func (d *Daemon) supervise(ctx context.Context, stop func() error) func() error {
	hold := restartMin
	for {
		select {
		case <-ctx.Done():
			return stop
		case <-d.dead():
		}
		d.setState("translator-dead")
		d.log.Error("translator died: PLAT released", "device", d.cfg.Device,
			"prefix", d.cfg.Prefix, "restart_in", hold, "release_hold", releaseHold)
		if err := release(d.cfg); err != nil {
			d.log.Warn("release route after translator death", "err", err)
		}
		if err := stop(); err != nil {
			d.log.Warn("withdraw after translator death", "err", err)
		}
		stop = func() error { return unrelease(d.cfg) }
		released := time.NewTimer(releaseHold)
		for {
			t := time.NewTimer(hold)
			select {
			case <-ctx.Done():
				t.Stop()
				released.Stop()
				return stop
			case <-released.C:
				t.Stop()
				if err := unrelease(d.cfg); err != nil {
					d.log.Warn("release hold over", "err", err)
				}
				continue // the restart timer starts again: at most one hold later
			case <-t.C:
			}
			s, err := d.startTranslator(ctx)
			if err == nil {
				stop = s
				break
			}
			if serr := s(); serr != nil {
				d.log.Warn("cleanup after failed translator restart", "err", serr)
			}
			hold = min(2*hold, restartMax)
			d.log.Error("translator restart failed", "err", err, "retry_in", hold)
		}
		released.Stop()
		hold = restartMin
		d.setState("running")
		d.log.Info("translator restarted: PLAT announced again", "device", d.cfg.Device, "prefix", d.cfg.Prefix)
	}
}
