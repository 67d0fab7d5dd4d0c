package roamd

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Reconcile removes the kernel state of a previous run that o does not
// account for: announce, release and steering routes of client addresses
// (inside the CLAT range; Gluon's l3roamd also uses protocol 158, for
// other prefixes) and set members, sets and rules. It returns a count of
// what it removed.
func (k *NetKernel) Reconcile(o Owned) (int, error) {
	n := 0
	var errs []error
	for _, p := range []struct {
		proto int
		keep  map[netip.Addr]bool
	}{{k.cfg.AnnounceProto, o.Announce}, {k.cfg.ReleaseProto, o.Release}, {k.cfg.SteerProto, o.Steer}} {
		rs, err := netlink.RouteListFiltered(netlink.FAMILY_V6, &netlink.Route{Protocol: netlink.RouteProtocol(p.proto)},
			netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			errs = append(errs, fmt.Errorf("list routes of protocol %d: %w", p.proto, err))
			continue
		}
		for _, r := range rs {
			if r.Dst == nil {
				continue
			}
			ones, bits := r.Dst.Mask.Size()
			a, ok := netip.AddrFromSlice(r.Dst.IP)
			if !ok || ones != 128 || bits != 128 || p.keep[a] || !k.ours(p.proto, a) {
				continue
			}
			r := r
			if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("delete leftover route %s proto %d: %w", a, p.proto, err))
				continue
			}
			n++
		}
	}
	if k.nf != nil {
		m, s, err := k.nf.Reconcile(o.Roamed)
		n += m + s
		if err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// ours: a /128 route of protocol proto to a is the daemon's to remove.
// Release routes go to client addresses in the CLAT range and to
// node-client-IPs; announce and steering routes to client addresses only
// (Gluon's l3roamd uses protocol 158 for other prefixes).
func (k *NetKernel) ours(proto int, a netip.Addr) bool {
	switch {
	case k.cfg.CLATRange.IsValid() && k.cfg.CLATRange.Contains(a):
		return true
	case proto == k.cfg.ReleaseProto || proto == k.cfg.SteerProto && k.cfg.NodeClientPrefix.Contains(a): // (fallbacks)
		return k.cfg.NodeClientPrefix.Contains(a) || !k.cfg.CLATRange.IsValid()
	}
	return !k.cfg.CLATRange.IsValid() && proto == k.cfg.SteerProto
}

// DeviceChanged reports whether the CLAT device was created anew since the
// last call (xlat-clat restarted: the kernel dropped every route through
// the old device, the announce routes too).
func (k *NetKernel) DeviceChanged() bool {
	if k.cfg.CLATDevice == "" || !k.cfg.OwnCLAT.IsValid() {
		return false
	}
	idx, err := ifIndex(k.cfg.CLATDevice)
	if err != nil {
		return false // gone: announcing waits for it to come back
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	old, ok := k.links[k.cfg.CLATDevice]
	k.links[k.cfg.CLATDevice] = idx
	return ok && old != idx
}

// ifIndex is the index of device name, by ioctl: asked every second
// (DeviceChanged), where netlink's LinkByName parses the whole link with
// its statistics (6 % of an idle node's CPU in the scale lab).
func ifIndex(name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("device %s: %w", name, err)
	}
	return int(ifr.Uint32()), nil
}
