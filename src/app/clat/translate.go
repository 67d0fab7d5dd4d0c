package clat

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gluon-464xlat/gluon-464xlat/dataplane"
	"github.com/gluon-464xlat/gluon-464xlat/subcmd"
	"github.com/gluon-464xlat/gluon-464xlat/translator"
)

type ruleFlags []string

func (r *ruleFlags) String() string     { return strings.Join(*r, "; ") }
func (r *ruleFlags) Set(v string) error { *r = append(*r, v); return nil }

// runTranslate runs the userspace translator alone, the way people run TAYGA:
//
//	xlat-clat translate --tun DEV --rule 'RULE' [--rule 'RULE' ...] [--mtu N]
//
// It creates DEV if missing, translates until SIGTERM or SIGINT and then
// removes what it created.
func runTranslate(args []string) int {
	fs := flag.NewFlagSet("xlat-clat translate", flag.ContinueOnError)
	dev := fs.String("tun", "", "TUN device to use (created if missing, removed on exit if created)")
	var rules ruleFlags
	fs.Var(&rules, "rule", "nat46 rule pair, e.g. 'local.style RFC6052 local.v6 2001:db8:1::/96 remote.style RFC6052 remote.v6 64:ff9b::/96' (repeatable, in order)")
	mtu := fs.Int("mtu", 1500, "IPv6 path MTU; the device gets MTU-20 so that translated IPv4 packets fit")
	queues := fs.Int("queues", 1, "TUN queues (worker goroutines)")
	rfc6791 := fs.String("rfc6791", "", "IPv4 source for ICMPv6 errors from untranslatable sources (default: the translated destination, like nat46)")
	coalesce := fs.Bool("udp-coalesce", true, "write runs of one UDP flow as UDP GSO super-packets")
	strictWKP := fs.Bool("strict-wkp", false, "RFC 6052 §3.1: drop packets whose 64:ff9b::/96 address embeds a non-global IPv4 address")
	var lf subcmd.LogFlag
	lf.Register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dev == "" || len(rules) == 0 || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: xlat-clat translate --tun DEV --rule 'RULE' [--rule 'RULE' ...] [--mtu N]")
		return 2
	}
	cfg, err := translateConfig(rules, *mtu, *rfc6791)
	cfg.StrictWKP = *strictWKP
	if err != nil {
		fmt.Fprintf(os.Stderr, "xlat-clat translate: %v\n", err)
		return 2
	}
	log := lf.Logger()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	be, err := dataplane.Open(ctx, *dev, *mtu-20, cfg, dataplane.Options{Userspace: true, Queues: *queues,
		NoUDPCoalesce: !*coalesce, Logger: log})
	if err != nil {
		fmt.Fprintf(os.Stderr, "xlat-clat translate: %v\n", err)
		return 1
	}
	log.Info("translating", "dev", *dev, "rules", len(rules), "mtu6", *mtu)
	<-ctx.Done()
	st := be.Counters()
	err = be.Close()
	log.Info("stopped", "rx", st.RxPackets, "rx_gso", st.RxGSO, "tx", st.TxPackets, "emitted", st.Emitted,
		"dropped", st.Dropped, "errors", st.Errors, "udp_coalesced", st.TxCoalesced, "translator", fmt.Sprintf("%+v", st.Translator))
	if err != nil && !errors.Is(err, os.ErrClosed) {
		fmt.Fprintf(os.Stderr, "xlat-clat translate: close: %v\n", err)
		return 1
	}
	return 0
}

// translateConfig builds the translator configuration from the command line.
func translateConfig(rules []string, mtu int, rfc6791 string) (translator.Config, error) {
	var cfg translator.Config
	for i, r := range rules {
		p, err := translator.ParsePair(r)
		if err != nil {
			return cfg, fmt.Errorf("--rule %d %q: %w", i+1, r, err)
		}
		cfg.Pairs = append(cfg.Pairs, p)
	}
	if mtu < 1280 || mtu > 65535 {
		return cfg, fmt.Errorf("--mtu %d: want 1280..65535 (the IPv6 path MTU)", mtu)
	}
	// IPv4 packets without DF whose translation exceeds 1280 bytes are
	// fragmented to 1280 (RFC 7915 lowest-ipv6-mtu, as Jool and TAYGA do):
	// the IPv6 path beyond the next hop may be narrower than --mtu.
	cfg.MTU6, cfg.MTU4, cfg.LowestIPv6MTU = mtu, mtu-20, 1280
	if rfc6791 != "" {
		a, err := netip.ParseAddr(rfc6791)
		if err != nil || !a.Is4() {
			return cfg, fmt.Errorf("--rfc6791 %q: not an IPv4 address", rfc6791)
		}
		cfg.RFC6791 = a
	}
	_, err := translator.New(cfg)
	return cfg, err
}
