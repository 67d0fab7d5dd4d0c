package roamd

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP is the daemon's socket: bound to [::]:port, it receives on every
// local address (node address, node-client-IPs, management addresses) and
// sends from a chosen source with IPV6_PKTINFO.
type UDP struct {
	c *net.UDPConn
}

// ListenUDP opens the socket.
func ListenUDP(port int) (*UDP, error) {
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified, Port: port})
	if err != nil {
		return nil, fmt.Errorf("udp port %d: %w", port, err)
	}
	_ = c.SetReadBuffer(1 << 21) // bursts of ROAMs (best effort; capped by rmem_max)
	return &UDP{c: c}, nil
}

// Send implements Transport.
func (u *UDP) Send(from netip.Addr, to netip.AddrPort, b []byte) error {
	var oob []byte
	if from.IsValid() {
		oob = make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
		pi.Addr = from.As16()
	}
	_, _, err := u.c.WriteMsgUDPAddrPort(b, oob, to)
	return err
}

// Serve reads datagrams until ctx ends and hands them to d.
func (u *UDP) Serve(ctx context.Context, d *Daemon) error {
	stop := context.AfterFunc(ctx, func() { u.c.Close() })
	defer stop()
	buf := make([]byte, 2048)
	for {
		n, src, err := u.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("udp receive: %w", err)
		}
		d.HandlePacket(src, buf[:n])
	}
}

// Close closes the socket.
func (u *UDP) Close() error { return u.c.Close() }
