package roamd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/roamd"
	"github.com/gluon-464xlat/gluon-464xlat/subcmd"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

const (
	defaultSocket = xlatconf.DefaultRoamdSocket
	defaultHosts  = xlatconf.DefaultRoamdHostsFile
	// defaultState is the state file: tmpfs, so it lives as long as the
	// kernel state it describes (a daemon restart, not a reboot).
	defaultState = "/var/run/l3roamd-xlat.state"
	// defaultStop is created by the init script on a plain stop.
	defaultStop = "/var/run/l3roamd-xlat.stop"
)

type runFlags struct {
	root, nodeAddr, nodeClientPrefix, nodeClientDev, socket, bridge, clientIPv4 string
	clatDev, clatPrefix, clatRange, platPrefix, platRange, ownPLAT              string
	secretFile, hostsFile, pidFile, mgmt, babelSocket                           string
	port                                                                        int
	leaseMin, leaseMax, releaseHold                                             time.Duration
	handoverRate, handoverRateCLAT                                              float64
	cleanExit                                                                   bool
	log                                                                         subcmd.LogFlag
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.root, "root", "/", "root directory of the node's files")
	fs.StringVar(&f.nodeAddr, "node-address", "", "node's own mesh address (UCI roamd.node_address)")
	fs.StringVar(&f.nodeClientPrefix, "node-client-prefix", "", "node-client /64 (UCI roamd.node_client_prefix)")
	fs.StringVar(&f.nodeClientDev, "node-client-dev", "lo", "device that holds the node-client-IPs as /128")
	fs.IntVar(&f.port, "port", 0, fmt.Sprintf("UDP port (default %d; UCI roamd.port)", wellknown.RoamPort))
	fs.StringVar(&f.secretFile, "secret-file", "", "file with the per-domain HMAC key (UCI roamd.secret)")
	fs.StringVar(&f.socket, "socket", "", "control socket below root (default "+defaultSocket+")")
	fs.StringVar(&f.bridge, "client-bridge", "", "client bridge (UCI roamd.client_bridge)")
	fs.StringVar(&f.clientIPv4, "client-ipv4", "", "clients' IPv4 network (UCI clat.client_ipv4)")
	fs.StringVar(&f.clatDev, "clat-dev", "", "CLAT device (UCI clat.device, default clat)")
	fs.StringVar(&f.clatPrefix, "clat-prefix", "", "own CLAT /96 (UCI clat.prefix); empty = no CLAT")
	fs.StringVar(&f.clatRange, "clat-range", "", "range all CLAT /96s lie in (site clat_range)")
	fs.StringVar(&f.platPrefix, "plat-prefix", "", "PLAT /96 for new leases (UCI clat.plat_prefix, then set_platprefix)")
	fs.StringVar(&f.platRange, "plat-range", "", "range all PLAT /96s lie in (UCI clat.plat_range)")
	fs.StringVar(&f.ownPLAT, "own-plat", "", "own PLAT /96 (UCI plat.prefix); empty = not a platnode")
	fs.StringVar(&f.hostsFile, "dhcp-hostsfile", "", "dnsmasq dhcp-hostsfile below root (default "+defaultHosts+"; \"none\" = off)")
	fs.StringVar(&f.pidFile, "dnsmasq-pidfile", "", "dnsmasq pid file below root, SIGHUPed after hostsfile changes")
	fs.DurationVar(&f.leaseMin, "lease-min", 0, "shortest accepted LEASETIME (default 60s)")
	fs.DurationVar(&f.leaseMax, "lease-max", 0, "longest accepted LEASETIME (default 168h)")
	fs.DurationVar(&f.releaseHold, "release-hold", 0, "how long a released client's /128 stays as a release route (default 60s)")
	fs.StringVar(&f.mgmt, "mgmt-ipv4", "", "IPv4 of the management address in the own CLAT/PLAT /96 (default "+wellknown.ManagementIPv4().String()+"; same on all nodes)")
	fs.Float64Var(&f.handoverRate, "handover-rate", 0, "PLAT: handovers (VERIFYs) started per second in total (default 1000, burst 2x)")
	fs.Float64Var(&f.handoverRateCLAT, "handover-rate-clat", 0, "PLAT: handovers per second and NEWCLAT (default 100, burst 2x)")
	fs.StringVar(&f.babelSocket, "babel-socket", babel.DefaultAddress, "babeld's local socket (release routes follow babel's route to the client's node; \"\" = off)")
	fs.BoolVar(&f.cleanExit, "clean-exit", false, "on exit release every client and remove rules, sets, routes and the state file (default: keep them for the next start)")
	f.log.Register(fs)
}

// loadRoamdConfig reads the roamd, clat and plat sections of
// /etc/config/gluon-464xlat under root; flags override them. A missing
// file is not an error (flags may configure the daemon).
func loadRoamdConfig(root string) (xlatconf.Config, error) {
	cfg, err := xlatconf.Load(root)
	switch {
	case errors.Is(err, xlatconf.ErrNotConfigured):
		return xlatconf.Config{}, nil
	case err != nil:
		return xlatconf.Config{}, err
	}
	return *cfg, nil
}

func (f *runFlags) config() (roamd.Config, roamd.Options, error) {
	var cfg roamd.Config
	var opt roamd.Options
	uc, err := loadRoamdConfig(f.root)
	if err != nil {
		return cfg, opt, err
	}
	if r := uc.Roamd; r != nil {
		cfg.NodeAddress, cfg.NodeClientPrefix, cfg.Port = r.NodeAddress, r.NodeClientPrefix, r.Port
		cfg.Secret, cfg.ClientBridge, opt.Socket = []byte(r.Secret), r.ClientBridge, r.Socket
		cfg.CLATRange = r.CLATRange
		if f.hostsFile == "" {
			f.hostsFile = "none" // UCI: "" means off, see xlatconf
			if r.HostsFile != "" {
				f.hostsFile = r.HostsFile
			}
		}
		if f.pidFile == "" {
			f.pidFile = r.DnsmasqPIDFile
		}
	}
	if c := uc.CLAT; c != nil {
		cfg.OwnCLAT, cfg.CLATDevice, cfg.ClientIPv4 = c.Prefix, c.Device, c.ClientIPv4
		cfg.PLAT, cfg.PLATRange = c.PLATPrefix, c.PLATRange
	}
	if p := uc.PLAT; p != nil {
		cfg.OwnPLAT = p.Prefix
	}
	var errs []error
	addr := func(name, v string, dst *netip.Addr) {
		if v != "" {
			a, err := netip.ParseAddr(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("option --%s: %w", name, err))
			}
			*dst = a
		}
	}
	pfx := func(name, v string, dst *netip.Prefix) {
		if v != "" {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("option --%s: %w", name, err))
			}
			*dst = p
		}
	}
	addr("node-address", f.nodeAddr, &cfg.NodeAddress)
	addr("mgmt-ipv4", f.mgmt, &cfg.MgmtIPv4)
	pfx("node-client-prefix", f.nodeClientPrefix, &cfg.NodeClientPrefix)
	pfx("client-ipv4", f.clientIPv4, &cfg.ClientIPv4)
	pfx("clat-prefix", f.clatPrefix, &cfg.OwnCLAT)
	pfx("clat-range", f.clatRange, &cfg.CLATRange)
	pfx("plat-prefix", f.platPrefix, &cfg.PLAT)
	pfx("plat-range", f.platRange, &cfg.PLATRange)
	pfx("own-plat", f.ownPLAT, &cfg.OwnPLAT)
	cfg.NodeClientDevice = f.nodeClientDev
	if f.port != 0 {
		cfg.Port = f.port
	}
	if f.bridge != "" {
		cfg.ClientBridge = f.bridge
	}
	if f.clatDev != "" {
		cfg.CLATDevice = f.clatDev
	}
	if f.secretFile != "" {
		b, err := os.ReadFile(filepath.Join(f.root, f.secretFile))
		if err != nil {
			errs = append(errs, fmt.Errorf("option --secret-file: %w", err))
		} else if len(strings.TrimSpace(string(b))) == 0 {
			// an empty key would silently turn signing off
			errs = append(errs, fmt.Errorf("option --secret-file: %s is empty", f.secretFile))
		}
		cfg.Secret = []byte(strings.TrimSpace(string(b)))
	}
	cfg.LeaseMin, cfg.LeaseMax, cfg.ReleaseHold = f.leaseMin, f.leaseMax, f.releaseHold
	cfg.HandoverRate, cfg.HandoverRateCLAT = f.handoverRate, f.handoverRateCLAT
	if f.socket != "" {
		opt.Socket = f.socket
	}
	if opt.Socket == "" {
		opt.Socket = defaultSocket
	}
	opt.Socket = filepath.Join(f.root, opt.Socket)
	switch f.hostsFile {
	case "none":
	case "":
		opt.HostsFile = filepath.Join(f.root, defaultHosts)
	default:
		opt.HostsFile = filepath.Join(f.root, f.hostsFile)
	}
	if f.pidFile != "" {
		opt.PIDFile = filepath.Join(f.root, f.pidFile)
	}
	opt.CleanExit = f.cleanExit
	opt.StateFile = filepath.Join(f.root, defaultState)
	opt.StopFile = filepath.Join(f.root, defaultStop)
	opt.BabelSocket = f.babelSocket
	if err := errors.Join(errs...); err != nil {
		return cfg, opt, err
	}
	cfg.Defaults()
	return cfg, opt, cfg.Check()
}

// runDaemon is `l3roamd-xlat run`: the daemon as its own process, until SIGTERM or SIGINT.
func runDaemon(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return Daemon(ctx, args)
}

// Daemon runs the daemon until ctx ends (also hosted by gluon-464xlat host).
func Daemon(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("l3roamd-xlat run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := f.log.Logger("daemon", "l3roamd-xlat")
	cfg, opt, err := f.config()
	if err != nil {
		log.Error("configuration", "err", err)
		return 2
	}
	opt.Logger = log
	if err := roamd.Run(ctx, cfg, opt); err != nil {
		log.Error("exit", "err", err)
		return 1
	}
	return 0
}
