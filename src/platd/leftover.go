package platd

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// cleanLeftovers removes what a previous run killed without cleanup (kill
// -9, a crash, a power cut of the daemon only) left behind and this
// configuration does not account for: routes on the translator device
// other than the /96 and the IPv4 route, release routes of other /96s
// (an old prefix), and jumps into the daemon's chains other than its own
// (an old device or WAN name). What it accounts for (the device, its two
// routes, the management address, the chains) is replaced idempotently by
// the bring-up, so that a restart does not take the announced /96 down.
// A leftover translator process is the backend's to stop (OpenTayga).
// It returns how many things it removed.
func cleanLeftovers(cfg xlatconf.PLAT, fw *firewall) (int, error) {
	n, err := cleanRoutes(cfg)
	m, ferr := fw.cleanJumps()
	return n + m, errors.Join(err, ferr)
}

func cleanRoutes(cfg xlatconf.PLAT) (int, error) {
	var (
		n    int
		errs []error
		del  []netlink.Route
	)
	ours := map[netip.Prefix]bool{cfg.Prefix: true, netip.PrefixFrom(cfg.IPv4Address, 32): true}
	if link, err := netlink.LinkByName(cfg.Device); err == nil {
		rs, err := netlink.RouteList(link, netlink.FAMILY_ALL)
		if err != nil {
			errs = append(errs, fmt.Errorf("routes on %s: %w", cfg.Device, err))
		}
		for _, r := range rs {
			if p, ok := prefixOf(r); ok && !ours[p] && r.Protocol != unix.RTPROT_KERNEL {
				del = append(del, r)
			}
		}
	}
	rs, err := netlink.RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{Protocol: ReleaseProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		errs = append(errs, fmt.Errorf("routes of protocol %d: %w", ReleaseProtocol, err))
	}
	for _, r := range rs {
		// /96s only: l3roamd-xlat's release routes (/128s) are its own
		if p, ok := prefixOf(r); ok && p.Bits() == 96 && p != cfg.Prefix {
			del = append(del, r)
		}
	}
	for _, r := range del {
		r := r
		if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete leftover route %s proto %d: %w", r.Dst, r.Protocol, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func prefixOf(r netlink.Route) (netip.Prefix, bool) {
	if r.Dst == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(r.Dst.IP)
	ones, _ := r.Dst.Mask.Size()
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// cleanJumps deletes the rules in the built-in chains the daemon jumps
// from that jump into one of its chains but are not one of its jumps.
func (f *firewall) cleanJumps() (int, error) {
	n := 0
	var errs []error
	for _, fam := range []struct {
		jumps  []rule
		chains []rule
		del    func(table, chain string, spec ...string) error
		list   func(table, chain string) ([]string, error)
	}{
		{f.jumps4, f.chains4, f.v4.DeleteIfExists, f.v4.List},
		{f.jumps6, f.chains6, f.v6.DeleteIfExists, f.v6.List},
	} {
		own := map[string]bool{}
		targets := map[string]bool{}
		for _, j := range fam.jumps {
			own[j.table+" "+j.chain+" "+strings.Join(j.spec, " ")] = true
		}
		for _, c := range fam.chains {
			targets[c.chain] = true
		}
		for _, b := range chainsOf(fam.jumps) {
			lines, err := fam.list(b.table, b.chain)
			if err != nil {
				errs = append(errs, fmt.Errorf("list %s/%s: %w", b.table, b.chain, err))
				continue
			}
			for _, spec := range staleJumps(lines, b.chain, targets, func(spec []string) bool {
				return own[b.table+" "+b.chain+" "+strings.Join(spec, " ")]
			}) {
				if err := fam.del(b.table, b.chain, spec...); err != nil {
					errs = append(errs, fmt.Errorf("delete leftover jump %s/%s %v: %w", b.table, b.chain, spec, err))
					continue
				}
				n++
			}
		}
	}
	return n, errors.Join(errs...)
}

// staleJumps picks from chain's rules (`iptables -S chain` lines) those that
// jump into one of targets and are not own, as rule specs without "-A chain".
func staleJumps(lines []string, chain string, targets map[string]bool, own func(spec []string) bool) [][]string {
	var out [][]string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 4 || f[0] != "-A" || f[1] != chain || f[len(f)-2] != chainTarget || !targets[f[len(f)-1]] {
			continue
		}
		if spec := f[2:]; !own(spec) {
			out = append(out, spec)
		}
	}
	return out
}
