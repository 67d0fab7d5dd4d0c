package clatd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RulePriority is the priority of the policy rule that sends the clients'
// IPv4 to the CLAT table (before the main table at 32766).
const RulePriority = 30464

// Kernel is what the daemon changes in the kernel. Netlink implements it;
// tests use a recording fake.
type Kernel interface {
	// Prepare enables forwarding and installs the policy rule and the CLAT
	// table's routes with an unreachable default (no PLAT yet).
	Prepare(s Setup) error
	// DeviceUp brings the CLAT device up and routes the CLAT /96 to it.
	DeviceUp(s Setup) error
	// SetDefault points the CLAT table's default route at the device (true)
	// or makes it unreachable (false).
	SetDefault(s Setup, viaCLAT bool) error
	// Cleanup removes everything Prepare and DeviceUp added.
	Cleanup(s Setup) error
}

// Setup is what the kernel configuration is derived from.
type Setup struct {
	Device       string
	CLATPrefix   netip.Prefix
	ClientBridge string
	ClientIPv4   netip.Prefix
	Table        int
	MTU          int // IPv6 MTU; IPv4 routes get MTU-20 and advmss MTU-60
}

// Netlink configures the kernel of the current network namespace.
type Netlink struct {
	// ProcSys is the sysctl tree (default /proc/sys).
	ProcSys string
}

func (k Netlink) sysctl(key, val string) error {
	dir := k.ProcSys
	if dir == "" {
		dir = "/proc/sys"
	}
	p := filepath.Join(dir, strings.ReplaceAll(key, ".", "/"))
	if err := os.WriteFile(p, []byte(val), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, val, err)
	}
	return nil
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

var default4 = netip.MustParsePrefix("0.0.0.0/0")

func (s Setup) rule() *netlink.Rule {
	r := netlink.NewRule()
	r.Family = unix.AF_INET
	r.Priority = RulePriority
	r.Table = s.Table
	r.IifName = s.ClientBridge
	if s.ClientIPv4.IsValid() {
		r.Src = ipnet(s.ClientIPv4)
	}
	return r
}

func (s Setup) unreachable() *netlink.Route {
	return &netlink.Route{Table: s.Table, Dst: ipnet(default4), Type: unix.RTN_UNREACHABLE, Protocol: unix.RTPROT_STATIC, Family: unix.AF_INET}
}

func (s Setup) throw() *netlink.Route {
	return &netlink.Route{Table: s.Table, Dst: ipnet(s.ClientIPv4), Type: unix.RTN_THROW, Protocol: unix.RTPROT_STATIC, Family: unix.AF_INET}
}

// Prepare implements Kernel.
func (k Netlink) Prepare(s Setup) error {
	for _, kv := range [][2]string{{"net.ipv4.ip_forward", "1"}, {"net.ipv6.conf.all.forwarding", "1"}} {
		if err := k.sysctl(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if err := netlink.RouteReplace(s.unreachable()); err != nil {
		return fmt.Errorf("table %d: unreachable default: %w", s.Table, err)
	}
	if s.ClientIPv4.IsValid() {
		// Lookups for the clients' own network fall back to the main table.
		if err := netlink.RouteReplace(s.throw()); err != nil {
			return fmt.Errorf("table %d: throw %s: %w", s.Table, s.ClientIPv4, err)
		}
	}
	r := s.rule()
	_ = netlink.RuleDel(r) // a stale rule of a killed run; absent is fine
	if err := netlink.RuleAdd(r); err != nil {
		return fmt.Errorf("ip rule iif %s lookup %d: %w", s.ClientBridge, s.Table, err)
	}
	return nil
}

// DeviceUp implements Kernel.
func (k Netlink) DeviceUp(s Setup) error {
	link, err := netlink.LinkByName(s.Device)
	if err != nil {
		return fmt.Errorf("device %s: %w", s.Device, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("device %s: set up: %w", s.Device, err)
	}
	// The translated IPv4 replies come out of the device with sources that
	// have no route back through it; strict reverse-path filtering would drop them.
	_ = k.sysctl("net.ipv4.conf."+s.Device+".rp_filter", "0")
	// Routes with a protocol other than babel's own (42) are what babeld
	// redistributes; "static" is what works with Gluon's filters.
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipnet(s.CLATPrefix), Protocol: unix.RTPROT_STATIC}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("route %s dev %s: %w", s.CLATPrefix, s.Device, err)
	}
	return nil
}

// SetDefault implements Kernel.
func (k Netlink) SetDefault(s Setup, viaCLAT bool) error {
	if !viaCLAT {
		if err := netlink.RouteReplace(s.unreachable()); err != nil {
			return fmt.Errorf("table %d: unreachable default: %w", s.Table, err)
		}
		return nil
	}
	link, err := netlink.LinkByName(s.Device)
	if err != nil {
		return fmt.Errorf("device %s: %w", s.Device, err)
	}
	r := &netlink.Route{Table: s.Table, Dst: ipnet(default4), LinkIndex: link.Attrs().Index, Protocol: unix.RTPROT_STATIC,
		MTU: s.MTU - 20, AdvMSS: s.MTU - 60, Family: unix.AF_INET, Scope: netlink.SCOPE_LINK}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("table %d: default dev %s: %w", s.Table, s.Device, err)
	}
	return nil
}

// Cleanup implements Kernel. The device's own routes go with the device.
func (k Netlink) Cleanup(s Setup) error {
	var errs []error
	if err := netlink.RuleDel(s.rule()); err != nil && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("delete rule: %w", err))
	}
	routes, err := netlink.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: s.Table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		errs = append(errs, fmt.Errorf("list table %d: %w", s.Table, err))
	}
	for i := range routes {
		if err := netlink.RouteDel(&routes[i]); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("table %d: delete %v: %w", s.Table, routes[i].Dst, err))
		}
	}
	if link, err := netlink.LinkByName(s.Device); err == nil {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipnet(s.CLATPrefix), Protocol: unix.RTPROT_STATIC}
		if err := netlink.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", s.CLATPrefix, err))
		}
	}
	return errors.Join(errs...)
}
