package roamd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

// Options are the daemon's file paths (already below --root) and logger.
type Options struct {
	Socket    string // control socket
	HostsFile string // dnsmasq dhcp-hostsfile ("" = none)
	PIDFile   string // dnsmasq pid file
	StateFile string // state kept across restarts ("" = none); see state.go
	// CleanExit releases every client and removes rules, sets and routes
	// on exit, and the state file. Without it everything stays in place
	// for the next start (a restart loses and duplicates nothing).
	CleanExit bool
	// StopFile, if it exists at exit, makes that exit clean (and is
	// removed): the init script creates it on a plain stop, when the
	// daemon is not coming back (not on restart or reload).
	StopFile string
	Logger   *slog.Logger // nil: slog.Default()
	// BabelSocket is babeld's local socket (babel.Client's Address; ""
	// = none): release routes follow babel's route to the client's node.
	BabelSocket string
}

// Run runs the daemon until ctx ends.
func Run(ctx context.Context, cfg Config, opt Options) error {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg.Defaults()
	if err := cfg.Check(); err != nil {
		return err
	}
	k, err := NewKernel(cfg)
	if err != nil {
		return err
	}
	if cfg.OwnCLAT.IsValid() {
		if err := k.AddAddr(addrmap.Embed(cfg.OwnCLAT, cfg.MgmtIPv4)); err != nil {
			return fmt.Errorf("management address: %w", err)
		}
	}
	if cfg.OwnPLAT.IsValid() {
		if err := k.AddAddr(addrmap.Embed(cfg.OwnPLAT, cfg.MgmtIPv4)); err != nil {
			return fmt.Errorf("PLAT management address: %w", err)
		}
		// Left behind by a crash and nobody tracks them, unless a state
		// file does: then Reconcile keeps the restored ones (their flows go
		// on across a restart) and removes the rest.
		if opt.StateFile == "" {
			flushSteering(k, log, "start")
		}
	}
	for _, f := range []string{opt.Socket, opt.HostsFile, opt.StateFile} {
		if f != "" {
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				return fmt.Errorf("directory of %s: %w", f, err)
			}
		}
	}
	u, err := ListenUDP(cfg.Port)
	if err != nil {
		return err
	}
	defer u.Close()
	var res Reserver
	if opt.HostsFile != "" {
		h, err := NewHosts(opt.HostsFile, opt.PIDFile)
		if err != nil {
			return err
		}
		res = h
	}
	m, err := newMachine(cfg, world{k: k, tx: u, res: res}, nil, log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// every goroutine Run starts (sockets, babel, neighbours, presence
	// probes) is counted here; Run returns only after all have ended
	var wg sync.WaitGroup
	d := newDaemon(ctx, m, &wg)
	if opt.StateFile != "" {
		saved, err := loadState(opt.StateFile)
		if err != nil {
			log.Warn("starting without the previous state", "err", err)
		}
		m.Restore(saved)
		m.apply(m.take())
		n, err := k.Reconcile(m.Owned())
		if err != nil {
			log.Warn("removing leftovers", "err", err)
		}
		log.Info("state restored", "clients", len(saved.Clients), "steering", len(saved.Steer),
			"release_routes", len(saved.Release), "leftovers_removed", n)
	}
	// Deferred after everything above: runs first, and the loop (this
	// goroutine) owns the machine again once the others are gone.
	defer func() {
		cancel()
		wg.Wait()
		m.Close()
		exit(m, k, opt, log)
	}()
	var rules func() (int, error)
	if nf := k.NF(); nf != nil {
		rules = nf.Rules
	}
	srv, err := ctlsock.Listen(opt.Socket, Handlers(d, rules))
	if err != nil {
		return err
	}
	errc := make(chan error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errc <- srv.Serve(ctx) }()
	go func() { defer wg.Done(); errc <- u.Serve(ctx, d) }()
	bch := make(chan babel.Snapshot, 1)
	if opt.BabelSocket != "" {
		bc := &babel.Client{Address: opt.BabelSocket, Logger: log, MaxBackoff: 30 * time.Second}
		wg.Add(1)
		go func() { defer wg.Done(); _ = bc.Run(ctx, bch) }()
	}
	if cfg.ClientBridge != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := WatchNeighbours(ctx, d, cfg.ClientBridge); err != nil {
				log.Warn("neighbour learning off", "bridge", cfg.ClientBridge, "err", err)
			}
		}()
	}
	if len(cfg.Secret) == 0 {
		log.Warn("roaming messages are not signed (no xlat464.roam_secret): any mesh node can forge them")
	}
	log.Info("running", "node", cfg.NodeAddress, "port", cfg.Port, "clat", cfg.OwnCLAT, "plat", cfg.PLAT,
		"own_plat", cfg.OwnPLAT, "hmac", len(cfg.Secret) > 0)
	var save func()
	if opt.StateFile != "" {
		save = func() { saveIfChanged(m, opt.StateFile, false, log) }
	}
	return d.loop(ctx, errc, bch, save)
}

// saveIfChanged writes the state file if the state changed since the last
// write (or always, with force); on the owner goroutine.
func saveIfChanged(m *machine, path string, force bool, log *slog.Logger) {
	s, changed := m.snapshot(force)
	if !changed {
		return
	}
	if err := saveState(path, s); err != nil {
		m.dirty = true // try again at the next sweep
		log.Warn("state file", "err", err)
	}
}

// exit ends a run: by default everything stays in place and the state is
// saved for the next start; a clean exit (CleanExit, or the init script's
// stop file) releases every client and removes rules, sets, routes and the
// state file.
func exit(m *machine, k *NetKernel, opt Options, log *slog.Logger) {
	clean := opt.CleanExit
	if opt.StopFile != "" {
		if err := os.Remove(opt.StopFile); err == nil {
			clean = true
		}
	}
	if !clean {
		if opt.StateFile != "" {
			saveIfChanged(m, opt.StateFile, true, log)
		}
		log.Info("exit: state kept for the next start")
		return
	}
	m.ReleaseAll()
	m.apply(m.take())
	if m.cfg.OwnPLAT.IsValid() {
		flushSteering(k, log, "stop")
	}
	if err := k.Teardown(); err != nil {
		log.Warn("teardown", "err", err)
	}
	if opt.StateFile != "" {
		os.Remove(opt.StateFile)
	}
	log.Info("exit: clients released, state removed")
}

func flushSteering(k *NetKernel, log *slog.Logger, when string) {
	n, err := k.FlushSteering()
	if err != nil {
		log.Warn("steering routes", "when", when, "err", err)
	}
	if n > 0 {
		log.Info("steering routes flushed", "when", when, "routes", n)
	}
}
