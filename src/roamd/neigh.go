package roamd

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// WatchNeighbours learns clients from netlink neighbour events on the
// client bridge: bridge FDB entries learned on its ports (a client's MAC as
// soon as it sends a frame; this is how a roamed client shows up, since it
// keeps its ARP cache) and IPv4 neighbour entries of the bridge
// (REACHABLE, STALE, DELAY: MAC and address). Permanent and local entries
// are ignored. The deletion of a learnt FDB entry goes to Gone. It
// resubscribes after errors until ctx ends, and returns only after the
// subscription's receiving goroutine has ended.
func WatchNeighbours(ctx context.Context, d *Daemon, bridge string) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return err
	}
	idx, own := br.Attrs().Index, br.Attrs().HardwareAddr
	for ctx.Err() == nil {
		ch := make(chan netlink.NeighUpdate, 256)
		done := make(chan struct{})
		errc := make(chan error, 1)
		err := netlink.NeighSubscribeWithOptions(ch, done, netlink.NeighSubscribeOptions{
			ListExisting: true, ReceiveBufferSize: 1 << 20,
			ErrorCallback: func(e error) {
				select {
				case errc <- e:
				default:
				}
			}})
		if err != nil {
			d.log.Warn("neighbour subscription", "err", err)
		} else {
			func() {
				defer close(done)
				for {
					select {
					case <-ctx.Done():
						return
					case u, ok := <-ch:
						if !ok {
							return
						}
						if mac, ip, ok := clientOf(u, idx, own); ok {
							d.Seen(mac, ip)
						} else if mac, ok := goneOf(u, idx); ok {
							d.Gone(mac)
						}
					}
				}
			}()
			// closing done closes the subscription's socket; its receiver
			// then closes ch: wait for that, so that no goroutine of ours
			// outlives the daemon (nor sits on a full ch for good)
			for range ch {
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func clientOf(u netlink.NeighUpdate, bridge int, own net.HardwareAddr) (net.HardwareAddr, netip.Addr, bool) {
	if u.Type != unix.RTM_NEWNEIGH || len(u.HardwareAddr) != 6 || u.HardwareAddr[0]&1 != 0 ||
		u.HardwareAddr.String() == own.String() || u.State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) != 0 {
		return nil, netip.Addr{}, false
	}
	if u.Family == unix.AF_BRIDGE {
		if u.MasterIndex != bridge || u.Flags&netlink.NTF_SELF != 0 {
			return nil, netip.Addr{}, false
		}
		return u.HardwareAddr, netip.Addr{}, true
	}
	if u.LinkIndex != bridge || u.Family != unix.AF_INET {
		return nil, netip.Addr{}, false
	}
	if u.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY) == 0 {
		return nil, netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(u.IP)
	if !ok {
		return nil, netip.Addr{}, false
	}
	return u.HardwareAddr, ip.Unmap(), true
}

// goneOf is the MAC of a learnt bridge FDB entry of the bridge being deleted.
func goneOf(u netlink.NeighUpdate, bridge int) (net.HardwareAddr, bool) {
	if u.Type != unix.RTM_DELNEIGH || u.Family != unix.AF_BRIDGE || u.MasterIndex != bridge ||
		u.Flags&netlink.NTF_SELF != 0 || len(u.HardwareAddr) != 6 || u.HardwareAddr[0]&1 != 0 ||
		u.State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) != 0 {
		return nil, false
	}
	return u.HardwareAddr, true
}
