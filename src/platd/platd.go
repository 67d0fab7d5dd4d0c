// Package platd is the PLAT daemon's logic (xlat-plat run), after the 2018
// gluon-xlat464-plat design ("NAT64 = NAT66 + nat46"):
//
//   - a translator device (default "plat") with one rule pair: local RFC6052
//     <plat /96> (the IPv4 side is the internet) and remote NONE
//     <IPv4Address>/32 <-> <NAT66Address>/128;
//   - ip6tables NAT66: everything routed out of the device is SNATed to the
//     one NAT66Address, so that the translator sees a single IPv6 source;
//   - iptables MASQUERADE of IPv4Address on the WAN device;
//   - routes <plat /96> dev plat (babel redistributes it) and
//     IPv4Address/32 dev plat (return traffic);
//   - the management address <plat /96>+192.0.0.1 as /128 on loopback;
//   - a drop of translated traffic to private and special-purpose IPv4
//     destinations (BlockedIPv4), so that mesh clients cannot reach the PLAT
//     owner's LAN.
//
// Firewall rules live in the daemon's own chains, created idempotently and
// removed again on shutdown.
package platd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// Backend is a running translator device.
type Backend interface {
	// Close stops translating and removes what Open created.
	Close() error
}

// Mortal is implemented by backends that can die on their own (TAYGA, a
// child process): Dead is closed when the translator has stopped.
type Mortal interface {
	Dead() <-chan struct{}
}

// Counted is implemented by backends that count packets.
type Counted interface {
	Counters() map[string]uint64
}

// OpenFunc brings up translator device dev with the given nat46 rule pairs
// (nat46 `config` strings, see Rules). mtu is the device's IPv6 MTU.
type OpenFunc func(ctx context.Context, dev string, mtu int, rules []string) (Backend, error)

// Options are what the daemon needs besides its configuration.
type Options struct {
	Open        OpenFunc // translator backend
	BackendName string   // for status output
	Logger      *slog.Logger
	// SocketPath is the control socket's file (already relative to the root).
	SocketPath string
}

// Daemon is one PLAT instance.
type Daemon struct {
	cfg  xlatconf.PLAT
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	started time.Time
	state   string
	backend Backend
	fw      *firewall
}

// New checks cfg and returns a daemon that Run brings up.
func New(cfg xlatconf.PLAT, opts Options) (*Daemon, error) {
	if err := Check(cfg); err != nil {
		return nil, err
	}
	if opts.Open == nil {
		return nil, errors.New("platd: no translator backend")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Daemon{cfg: cfg, opts: opts, log: opts.Logger, state: "init"}, nil
}

// Check validates the fields the daemon uses, naming the UCI option at fault.
func Check(cfg xlatconf.PLAT) error {
	const where = "/etc/config/" + xlatconf.File + " section plat"
	switch {
	case !cfg.Prefix.IsValid() || !cfg.Prefix.Addr().Is6() || cfg.Prefix.Bits() != 96:
		return fmt.Errorf("%s: option prefix %q: want an IPv6 /96", where, cfg.Prefix)
	case cfg.Prefix.Masked() != cfg.Prefix:
		return fmt.Errorf("%s: option prefix %s: host bits set", where, cfg.Prefix)
	case !cfg.CLATRange.IsValid() || !cfg.CLATRange.Addr().Is6() || cfg.CLATRange.Addr().Is4In6() || cfg.CLATRange.Bits() > 96:
		return fmt.Errorf("%s: option clat_range %q: want the site's IPv6 clat_range (the PLAT translates for sources inside it only)", where, cfg.CLATRange)
	case cfg.CLATRange.Overlaps(cfg.Prefix):
		return fmt.Errorf("%s: option clat_range %s overlaps prefix %s", where, cfg.CLATRange, cfg.Prefix)
	case !cfg.NAT66Address.Is6() || cfg.NAT66Address.Is4In6():
		return fmt.Errorf("%s: option nat66_address %q: want an IPv6 address", where, cfg.NAT66Address)
	case !cfg.IPv4Address.Is4():
		return fmt.Errorf("%s: option ipv4_address %q: want an IPv4 address", where, cfg.IPv4Address)
	case cfg.Device == "" || len(cfg.Device) > 15:
		return fmt.Errorf("%s: option device %q: want 1..15 characters", where, cfg.Device)
	case cfg.WANDevice == "" || len(cfg.WANDevice) > 15:
		return fmt.Errorf("%s: option wan_device %q: want 1..15 characters", where, cfg.WANDevice)
	case cfg.MTU != 0 && (cfg.MTU < 1280 || cfg.MTU > 65535):
		return fmt.Errorf("%s: option mtu %d: want 1280..65535", where, cfg.MTU)
	}
	for _, p := range cfg.BlockedIPv4 {
		if !p.IsValid() || !p.Addr().Is4() {
			return fmt.Errorf("%s: list blocked_ipv4 %q: want an IPv4 prefix", where, p)
		}
	}
	return nil
}

// Rules are the translator's nat46 rule pairs for cfg.
func Rules(cfg xlatconf.PLAT) []string {
	return []string{fmt.Sprintf("local.style RFC6052 local.v4 0.0.0.0/0 local.v6 %s "+
		"remote.style NONE remote.v4 %s/32 remote.v6 %s/128",
		cfg.Prefix, cfg.IPv4Address, cfg.NAT66Address)}
}

func (d *Daemon) mtu() int {
	if d.cfg.MTU == 0 {
		return 1280
	}
	return d.cfg.MTU
}

func (d *Daemon) setState(s string) {
	d.mu.Lock()
	d.state = s
	d.mu.Unlock()
}

// Run brings the PLAT up, serves until ctx ends, then takes everything down
// again. A failure during bring-up undoes what was done so far.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	d.started = time.Now()
	d.mu.Unlock()
	d.setState("starting")
	undo, err := d.up(ctx)
	if err != nil {
		d.setState("failed")
		if uerr := undo(); uerr != nil {
			d.log.Warn("cleanup after failed start", "err", uerr)
		}
		return err
	}
	d.setState("running")
	d.log.Info("PLAT up", "prefix", d.cfg.Prefix, "device", d.cfg.Device,
		"nat66", d.cfg.NAT66Address, "ipv4", d.cfg.IPv4Address, "wan", d.cfg.WANDevice,
		"management", wellknown.ManagementAddress(d.cfg.Prefix), "backend", d.opts.BackendName)

	var srvErr error
	if d.opts.SocketPath != "" {
		srvErr = d.serve(ctx)
	} else {
		<-ctx.Done()
	}
	d.setState("stopping")
	err = undo()
	d.log.Info("PLAT down")
	return errors.Join(srvErr, err)
}

// up performs the bring-up steps; the returned undo reverses those done.
func (d *Daemon) up(ctx context.Context) (undo func() error, err error) {
	var undos []func() error
	undo = func() error {
		var errs []error
		for i := len(undos) - 1; i >= 0; i-- {
			errs = append(errs, undos[i]())
		}
		undos = nil
		return errors.Join(errs...)
	}
	if err := setSysctls(); err != nil {
		return undo, err
	}
	fw, err := newFirewall(d.cfg)
	if err != nil {
		return undo, err
	}
	// A run killed without cleanup may have left things this configuration
	// does not account for (leftover.go); what it does account for stays
	// and is replaced in place below.
	if n, err := cleanLeftovers(d.cfg, fw); err != nil {
		d.log.Warn("leftovers of an earlier run", "removed", n, "err", err)
	} else if n > 0 {
		d.log.Info("leftovers of an earlier run removed", "count", n)
	}
	// Firewall first: no translated packet may pass before the drops exist.
	d.mu.Lock()
	d.fw = fw
	d.mu.Unlock()
	undos = append(undos, fw.remove)
	if err := fw.install(); err != nil {
		return undo, err
	}
	stop, err := d.startTranslator(ctx)
	undos = append(undos, stop)
	if err != nil {
		return undo, err
	}
	// The supervisor owns the translator from here on: it withdraws the
	// announcement when the translator dies and restarts it (health.go).
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var stopNow func() error
	go func() {
		defer close(done)
		stopNow = d.supervise(sctx, stop)
	}()
	undos[len(undos)-1] = func() error {
		cancel()
		<-done
		return stopNow()
	}
	return undo, nil
}
