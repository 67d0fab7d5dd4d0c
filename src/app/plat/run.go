package plat

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gluon-464xlat/gluon-464xlat/dataplane"
	"github.com/gluon-464xlat/gluon-464xlat/platd"
	"github.com/gluon-464xlat/gluon-464xlat/subcmd"
	"github.com/gluon-464xlat/gluon-464xlat/translator"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// configFlags are the daemon's configuration overrides (for hosts without a
// Gluon root, and for the lab until the upgrade step has written UCI).
type configFlags struct {
	root, prefix, clatRange, device, nat66, ipv4, wan, blocked, socket string
	mtu                                                                int
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.root, "root", "/", "root directory of the node's files")
	fs.StringVar(&c.prefix, "prefix", "", "own PLAT /96 (overrides UCI plat.prefix)")
	fs.StringVar(&c.clatRange, "clat-range", "", "site clat_range: the only IPv6 sources translated (overrides UCI plat.clat_range)")
	fs.StringVar(&c.device, "device", "", "translator device (overrides UCI plat.device)")
	fs.StringVar(&c.nat66, "nat66", "", "NAT66 address (overrides UCI plat.nat66_address)")
	fs.StringVar(&c.ipv4, "ipv4", "", "IPv4 address of the NAT66 address (overrides UCI plat.ipv4_address)")
	fs.StringVar(&c.wan, "wan", "", "WAN device (overrides UCI plat.wan_device)")
	fs.StringVar(&c.blocked, "blocked", "", "comma-separated blocked IPv4 prefixes (replace UCI plat.blocked_ipv4)")
	fs.StringVar(&c.socket, "socket", "", "control socket, below root (overrides UCI plat.socket)")
	fs.IntVar(&c.mtu, "mtu", 0, "translator device MTU (overrides UCI plat.mtu)")
}

// config loads the UCI configuration under root and applies the overrides.
func (c *configFlags) config() (xlatconf.PLAT, error) {
	cfg, err := loadPLATConfig(c.root, c.prefix != "")
	if err != nil {
		return xlatconf.PLAT{}, err
	}
	var errs []error
	if c.prefix != "" {
		p, err := netip.ParsePrefix(c.prefix)
		errs = append(errs, flagErr("prefix", err))
		cfg.Prefix = p
	}
	if c.clatRange != "" {
		p, err := netip.ParsePrefix(c.clatRange)
		errs = append(errs, flagErr("clat-range", err))
		cfg.CLATRange = p
	}
	if c.nat66 != "" {
		a, err := netip.ParseAddr(c.nat66)
		errs = append(errs, flagErr("nat66", err))
		cfg.NAT66Address = a
	}
	if c.ipv4 != "" {
		a, err := netip.ParseAddr(c.ipv4)
		errs = append(errs, flagErr("ipv4", err))
		cfg.IPv4Address = a
	}
	if c.blocked != "" {
		cfg.BlockedIPv4 = nil
		for _, s := range strings.Split(c.blocked, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			errs = append(errs, flagErr("blocked", err))
			cfg.BlockedIPv4 = append(cfg.BlockedIPv4, p)
		}
	}
	if c.device != "" {
		cfg.Device = c.device
	}
	if c.wan != "" {
		cfg.WANDevice = c.wan
	}
	if c.socket != "" {
		cfg.Socket = c.socket
	}
	if c.mtu != 0 {
		cfg.MTU = c.mtu
	}
	if err := errors.Join(errs...); err != nil {
		return xlatconf.PLAT{}, err
	}
	defaults(&cfg)
	return cfg, nil
}

func flagErr(name string, err error) error {
	if err != nil {
		return fmt.Errorf("option --%s: %w", name, err)
	}
	return nil
}

// defaults fills what neither UCI nor flags set.
func defaults(cfg *xlatconf.PLAT) {
	if cfg.Device == "" {
		cfg.Device = xlatconf.DefaultPLATDevice
	}
	if !cfg.IPv4Address.IsValid() {
		cfg.IPv4Address = xlatconf.DefaultPLATIPv4
	}
	if !cfg.NAT66Address.IsValid() && cfg.Prefix.IsValid() && cfg.Prefix.Addr().Is6() {
		// The 2018 default: the /96 itself + 192.0.0.8.
		cfg.NAT66Address = xlatconf.DefaultNAT66Address(cfg.Prefix, cfg.IPv4Address)
	}
	if cfg.WANDevice == "" {
		cfg.WANDevice = xlatconf.DefaultWANDevice
	}
	if cfg.BlockedIPv4 == nil {
		cfg.BlockedIPv4 = xlatconf.DefaultBlockedIPv4()
	}
	if cfg.Socket == "" {
		cfg.Socket = xlatconf.DefaultPLATSocket
	}
}

// loadPLATConfig reads the plat section of /etc/config/gluon-464xlat under
// root. A missing file is not an error (flags may configure the daemon); a
// file without a plat section is, unless --prefix is given.
func loadPLATConfig(root string, havePrefix bool) (xlatconf.PLAT, error) {
	cfg, err := xlatconf.Load(root)
	switch {
	case errors.Is(err, xlatconf.ErrNotConfigured) && havePrefix:
		return xlatconf.PLAT{}, nil
	case err != nil:
		return xlatconf.PLAT{}, err
	case cfg.PLAT == nil && !havePrefix:
		return xlatconf.PLAT{}, fmt.Errorf("%s: no plat section (run xlat-plat upgrade) and no --prefix given",
			filepath.Join(root, "etc/config", xlatconf.File))
	case cfg.PLAT == nil:
		return xlatconf.PLAT{}, nil
	}
	return *cfg.PLAT, nil
}

// runDaemon is `xlat-plat run`: the daemon as its own process, until SIGTERM or SIGINT.
func runDaemon(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return Daemon(ctx, args)
}

// Daemon runs the daemon until ctx ends (also hosted by gluon-464xlat host).
func Daemon(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("xlat-plat run", flag.ContinueOnError)
	var cf configFlags
	cf.register(fs)
	backend := fs.String("backend", "auto", "translator: auto, userspace, nat46 or tayga")
	strictWKP := fs.Bool("strict-wkp", false, "RFC 6052 §3.1: drop packets whose 64:ff9b::/96 address embeds a non-global IPv4 address (userspace translator only)")
	queues := fs.Int("queues", 1, "TUN queues of the userspace translator, one worker each (pays only with many flows and cores to spare; see dataplane.md)")
	var lf subcmd.LogFlag
	lf.Register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := lf.Logger("daemon", "xlat-plat")
	cfg, err := cf.config()
	if err != nil {
		log.Error("configuration", "err", err)
		return 1
	}
	if *queues < 1 {
		log.Error("configuration", "err", fmt.Errorf("--queues %d: want 1 or more", *queues))
		return 2
	}
	open, name, err := chooseBackend(*backend, cf.root, *strictWKP, *queues, log)
	if err != nil {
		log.Error("translator backend", "err", err)
		return 1
	}
	sock := filepath.Join(cf.root, cfg.Socket)
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		log.Error("control socket", "err", err)
		return 1
	}
	d, err := platd.New(cfg, platd.Options{Open: open, BackendName: name, Logger: log, SocketPath: sock})
	if err != nil {
		log.Error("configuration", "err", err)
		return 1
	}
	if err := d.Run(ctx); err != nil {
		log.Error("PLAT failed", "err", err)
		return 1
	}
	return 0
}

// chooseBackend picks the translator: dataplane.Open (the nat46 module where
// its control file exists, else the userspace translator on a TUN device),
// or TAYGA as a reference.
func chooseBackend(want, root string, strictWKP bool, queues int, log *slog.Logger) (platd.OpenFunc, string, error) {
	switch want {
	case "auto", "nat46":
		return dataplaneOpener(dataplane.Options{Logger: log, Queues: queues}, strictWKP), "dataplane", nil
	case "userspace":
		return dataplaneOpener(dataplane.Options{Userspace: true, Logger: log, Queues: queues}, strictWKP), "userspace", nil
	case "tayga":
		if strictWKP {
			return nil, "", errors.New("backend tayga: --strict-wkp is for the built-in translator (TAYGA has its own wkpf-strict)")
		}
		if _, err := exec.LookPath("tayga"); err != nil {
			return nil, "", fmt.Errorf("backend tayga: %w", err)
		}
		return platd.OpenTayga(filepath.Join(root, "var/run/xlat-plat")), "tayga", nil
	}
	return nil, "", fmt.Errorf("unknown backend %q (want auto, userspace, nat46 or tayga)", want)
}

// dataplaneOpener adapts dataplane.Open to platd.OpenFunc.
func dataplaneOpener(opts dataplane.Options, strictWKP bool) platd.OpenFunc {
	return func(ctx context.Context, dev string, mtu int, rules []string) (platd.Backend, error) {
		cfg := translator.Config{MTU6: mtu, StrictWKP: strictWKP}
		for _, r := range rules {
			p, err := translator.ParsePair(r)
			if err != nil {
				return nil, err
			}
			cfg.Pairs = append(cfg.Pairs, p)
		}
		b, err := dataplane.Open(ctx, dev, mtu, cfg, opts)
		if err != nil {
			return nil, err
		}
		return countedBackend{b}, nil
	}
}

// countedBackend exposes the data plane's counters to the status output.
type countedBackend struct{ dataplane.Backend }

func (c countedBackend) Counters() map[string]uint64 {
	s := c.Backend.Counters()
	t := s.Translator
	return map[string]uint64{
		"rx_packets": s.RxPackets, "tx_packets": s.TxPackets, "rx_bytes": s.RxBytes, "tx_bytes": s.TxBytes,
		"dropped": s.Dropped, "errors": s.Errors, "emitted": s.Emitted,
		"translated_4to6": t.Translated46, "translated_6to4": t.Translated64,
		"drop_no_mapping": t.DropNoMapping, "drop_malformed": t.DropMalformed,
		"drop_unsupported": t.DropUnsupported, "drop_too_big": t.DropTooBig,
		"drop_illegal_source": t.DropIllegalSource, "drop_udp_zero_csum": t.DropUDPZeroCsum,
		"drop_wkp_non_global": t.DropWKPNonGlobal,
	}
}
