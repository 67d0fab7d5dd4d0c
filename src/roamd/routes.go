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

// fibLookup asks the kernel which route (RTM_F_FIB_MATCH: the FIB entry,
// not a cloned host route) covers a, on one socket kept open, with one
// buffer: under a flood of ROAMs for made-up prefixes every lookup misses
// the cache, and vishvananda/netlink would open a socket and allocate 64 KiB
// for each. It returns the entry's prefix length and route type.
type fibLookup struct {
	fd  int
	buf []byte
	seq uint32
}

func newFIBLookup() (*fibLookup, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("route netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("route netlink bind: %w", err)
	}
	return &fibLookup{fd: fd, buf: make([]byte, 8192)}, nil
}

func (f *fibLookup) lookup(a netip.Addr) (dstLen int, typ uint8, err error) {
	f.seq++
	b := a.As16()
	// nlmsghdr (16) + rtmsg (12) + RTA_DST (4 + 16)
	req := make([]byte, 48)
	binary.NativeEndian.PutUint32(req[0:], 48)
	binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETROUTE)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:], f.seq)
	req[16] = unix.AF_INET6
	req[17] = 128 // rtm_dst_len
	binary.NativeEndian.PutUint32(req[24:], unix.RTM_F_FIB_MATCH)
	binary.NativeEndian.PutUint16(req[28:], 20)
	binary.NativeEndian.PutUint16(req[30:], unix.RTA_DST)
	copy(req[32:], b[:])
	if err := unix.Sendto(f.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, fmt.Errorf("route lookup %s: %w", a, err)
	}
	for {
		n, _, err := unix.Recvfrom(f.fd, f.buf, 0)
		if err != nil {
			return 0, 0, fmt.Errorf("route lookup %s: %w", a, err)
		}
		msgs, err := syscall.ParseNetlinkMessage(f.buf[:n])
		if err != nil {
			return 0, 0, fmt.Errorf("route lookup %s: %w", a, err)
		}
		for _, m := range msgs {
			if m.Header.Seq != f.seq {
				continue // an answer to an earlier, abandoned lookup
			}
			switch {
			case m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4:
				return 0, 0, fmt.Errorf("route lookup %s: %w", a, syscall.Errno(-int32(binary.NativeEndian.Uint32(m.Data[:4]))))
			case m.Header.Type == unix.RTM_NEWROUTE && len(m.Data) >= 12:
				return int(m.Data[1]), m.Data[7], nil // rtm_dst_len, rtm_type
			}
		}
	}
}
