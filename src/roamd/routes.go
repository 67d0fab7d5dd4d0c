package roamd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// routeBatch is how many route requests go to the kernel in one sendmsg.
const routeBatch = 256

// delRoutes deletes the IPv6 /128 routes to dsts of protocol proto and
// metric metric, routeBatch requests per sendmsg, then reads their acks
// (one netlink round trip per batch instead of one per route: flushing
// thousands of steering routes does not keep the kernel's route netlink
// busy, which babeld on the same node reads). Routes already gone count
// as deleted. It reports how many were deleted.
func delRoutes(dsts []netip.Addr, proto, metric int) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return 0, fmt.Errorf("route netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("route netlink bind: %w", err)
	}
	done := 0
	var errs []error
	buf := make([]byte, 1<<16)
	for start := 0; start < len(dsts); start += routeBatch {
		chunk := dsts[start:min(start+routeBatch, len(dsts))]
		var out []byte
		seqs := map[uint32]netip.Addr{}
		for _, a := range chunk {
			req := nl.NewNetlinkRequest(unix.RTM_DELROUTE, unix.NLM_F_ACK)
			msg := nl.NewRtMsg()
			msg.Family, msg.Dst_len, msg.Protocol = unix.AF_INET6, 128, uint8(proto)
			msg.Table, msg.Scope, msg.Type = unix.RT_TABLE_MAIN, unix.RT_SCOPE_NOWHERE, unix.RTN_UNICAST
			req.AddData(msg)
			b := a.As16()
			req.AddData(nl.NewRtAttr(unix.RTA_DST, b[:]))
			prio := make([]byte, 4)
			binary.NativeEndian.PutUint32(prio, uint32(metric))
			req.AddData(nl.NewRtAttr(unix.RTA_PRIORITY, prio))
			seqs[req.Seq] = a
			out = append(out, req.Serialize()...)
		}
		if err := unix.Sendto(fd, out, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return done, fmt.Errorf("route netlink send: %w", err)
		}
		for len(seqs) > 0 {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return done, fmt.Errorf("route netlink receive: %w", err)
			}
			msgs, err := syscall.ParseNetlinkMessage(buf[:n])
			if err != nil {
				return done, fmt.Errorf("route netlink parse: %w", err)
			}
			for _, m := range msgs {
				a, ok := seqs[m.Header.Seq]
				if !ok || m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
					continue
				}
				delete(seqs, m.Header.Seq)
				if e := syscall.Errno(-int32(binary.NativeEndian.Uint32(m.Data[:4]))); e != 0 && e != unix.ESRCH && e != unix.ENOENT {
					errs = append(errs, fmt.Errorf("delete route %s/128 proto %d: %w", a, proto, e))
					continue
				}
				done++
			}
		}
	}
	return done, errors.Join(errs...)
}
