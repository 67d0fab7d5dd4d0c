package platd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// RouteProtocol marks the daemon's routes. babeld's default redistribution
// ignores proto "boot" (what `ip route add` uses), so the routes carry
// "static"; the site's `redistribute ip <plat_range> eq 96 allow` picks the
// /96 up.
const RouteProtocol = unix.RTPROT_STATIC

// ReleaseProtocol marks the PLAT's release route: while its translator is
// dead the /96 is an unreachable route of this protocol, which the upgrade
// step's `redistribute proto 160 ip <plat_range> eq 96 metric 16384` makes
// babeld announce at wellknown.ReleaseMetric. It is l3roamd-xlat's release
// protocol (release routes for client /128s, files/docs/roaming.md): one
// protocol, one meaning, told apart by prefix length (l3roamd-xlat touches
// only /128s of it).
const ReleaseProtocol = wellknown.RouteProtoRelease

// sysctls the PLAT needs in its network namespace.
var sysctls = []struct{ path, value string }{
	{"/proc/sys/net/ipv4/ip_forward", "1"},
	{"/proc/sys/net/ipv6/conf/all/forwarding", "1"},
}

func setSysctls() error {
	for _, s := range sysctls {
		if err := os.WriteFile(s.path, []byte(s.value+"\n"), 0o644); err != nil {
			return fmt.Errorf("sysctl %s: %w", s.path, err)
		}
	}
	return nil
}

// release replaces the /96 route by its release route (unreachable,
// ReleaseProtocol). babeld 1.12.1 sends no retraction when a redistributed
// route just disappears (files/docs/roaming.md, "Release routes"); a
// metric change it does announce at once, on every interface, so the
// other nodes learn within a round trip that this PLAT is gone. The
// replace is atomic (same destination and metric), so the /96 never
// falls back to another route in between; the route no longer depends on
// the translator device, which may go away after it.
func release(cfg xlatconf.PLAT) error {
	r := &netlink.Route{Dst: ipnet(cfg.Prefix), Type: unix.RTN_UNREACHABLE, Protocol: ReleaseProtocol}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("release route %s: %w", cfg.Prefix, err)
	}
	return nil
}

// unrelease deletes the release route (none is fine; a /96 route of
// another protocol, the announced one, stays).
func unrelease(cfg xlatconf.PLAT) error {
	r := &netlink.Route{Dst: ipnet(cfg.Prefix), Protocol: ReleaseProtocol}
	if err := netlink.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove release route %s: %w", cfg.Prefix, err)
	}
	return nil
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// addRoutes brings the translator device up and adds the /96 route, the
// IPv4 return route and the management address. The returned function removes
// what was added (also after a partial failure).
func addRoutes(cfg xlatconf.PLAT, mtu int) (func() error, error) {
	var undos []func() error
	remove := func() error {
		var errs []error
		for i := len(undos) - 1; i >= 0; i-- {
			errs = append(errs, undos[i]())
		}
		return errors.Join(errs...)
	}
	link, err := netlink.LinkByName(cfg.Device)
	if err != nil {
		return remove, fmt.Errorf("device %s: %w", cfg.Device, err)
	}
	if link.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(link, mtu); err != nil {
			return remove, fmt.Errorf("device %s: set mtu %d: %w", cfg.Device, mtu, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return remove, fmt.Errorf("device %s: up: %w", cfg.Device, err)
	}
	for _, dst := range []netip.Prefix{cfg.Prefix, netip.PrefixFrom(cfg.IPv4Address, 32)} {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipnet(dst), Protocol: RouteProtocol}
		if err := netlink.RouteReplace(r); err != nil {
			return remove, fmt.Errorf("route %s dev %s: %w", dst, cfg.Device, err)
		}
		undos = append(undos, func() error {
			if err := netlink.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENODEV) {
				return fmt.Errorf("remove route %s: %w", r.Dst, err)
			}
			return nil
		})
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return remove, fmt.Errorf("device lo: %w", err)
	}
	mgmt := &netlink.Addr{IPNet: ipnet(netip.PrefixFrom(wellknown.ManagementAddress(cfg.Prefix), 128))}
	if err := netlink.AddrReplace(lo, mgmt); err != nil {
		return remove, fmt.Errorf("management address %s on lo: %w", mgmt.IPNet, err)
	}
	undos = append(undos, func() error {
		if err := netlink.AddrDel(lo, mgmt); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("remove management address %s: %w", mgmt.IPNet, err)
		}
		return nil
	})
	return remove, nil
}
