package clat

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gluon-464xlat/gluon-464xlat/clatd"
	"github.com/gluon-464xlat/gluon-464xlat/subcmd"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// underRoot places an absolute daemon path below root.
func underRoot(root, p string) string {
	if p == "" || root == "" || root == "/" {
		return p
	}
	return filepath.Join(root, p)
}

// loadCLAT reads the clat section of <root>/etc/config/gluon-464xlat.
func loadCLAT(root string) (*xlatconf.Config, error) {
	cfg, err := xlatconf.Load(root)
	if err != nil {
		return nil, err
	}
	if cfg.CLAT == nil {
		return nil, fmt.Errorf("%s: no 'config clat' section: the CLAT is not configured",
			underRoot(root, "/etc/config/"+xlatconf.File))
	}
	return cfg, nil
}

// runDaemon is `xlat-clat run`: the daemon as its own process, until SIGTERM or SIGINT.
func runDaemon(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	return Daemon(ctx, args)
}

// Daemon runs the daemon until ctx ends (also hosted by gluon-464xlat host).
func Daemon(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("xlat-clat run", flag.ContinueOnError)
	root := fs.String("root", "/", "root directory of the node's files (config, sockets)")
	var lf subcmd.LogFlag
	lf.Register(fs)
	noProbe := fs.Bool("no-probe", false, "do not probe the PLAT's management address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := lf.Logger()
	cfg, err := loadCLAT(*root)
	if err != nil {
		log.Error("xlat-clat: config", "err", err)
		return 1
	}
	c := *cfg.CLAT
	if strings.HasPrefix(c.BabelSocket, "/") {
		c.BabelSocket = underRoot(*root, c.BabelSocket)
	}
	o := clatd.Options{
		CLAT:        c,
		Socket:      underRoot(*root, c.Socket),
		RoamdSocket: underRoot(*root, xlatconf.DefaultRoamdSocket),
		Logger:      log,
		NoProbe:     *noProbe,
	}
	if cfg.Roamd != nil && cfg.Roamd.Socket != "" {
		o.RoamdSocket = underRoot(*root, cfg.Roamd.Socket)
	}
	if cfg.PLAT != nil {
		o.OwnPLAT = cfg.PLAT.Prefix
	}
	if dir := filepath.Dir(o.Socket); o.Socket != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			log.Error("xlat-clat: socket directory", "dir", dir, "err", err)
			return 1
		}
	}
	d, err := clatd.New(o)
	if err != nil {
		log.Error("xlat-clat: config", "err", err)
		return 1
	}
	if c.SourceFilter {
		f := sourceFilter(*root, cfg, log)
		if err := f.Setup(); err != nil {
			log.Error("xlat-clat: source filter", "err", err)
			_ = f.Cleanup()
			return 1
		}
		fctx, fstop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { f.Run(fctx); close(done) }()
		defer func() {
			fstop()
			<-done // no Sync while the chain goes
			if err := f.Cleanup(); err != nil {
				log.Warn("xlat-clat: source filter cleanup", "err", err)
			}
		}()
	} else {
		log.Warn("xlat-clat: source filter off (option source_filter 0): clients may send with any source address")
	}
	if err := d.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("xlat-clat: stopped", "err", err)
		return 1
	}
	return 0
}

// sourceFilter admits the node's DHCP clients (dnsmasq's lease file) and
// the clients l3roamd-xlat serves after a roam (its dnsmasq hosts file).
func sourceFilter(root string, cfg *xlatconf.Config, log *slog.Logger) *clatd.SourceFilter {
	c := cfg.CLAT
	hosts := xlatconf.DefaultRoamdHostsFile
	if cfg.Roamd != nil && cfg.Roamd.HostsFile != "" {
		hosts = cfg.Roamd.HostsFile
	}
	return &clatd.SourceFilter{
		Bridge: c.ClientBridge, Device: c.Device, ClientIPv4: c.ClientIPv4, Log: log,
		Files: []string{underRoot(root, c.LeaseFile), underRoot(root, hosts)},
	}
}
