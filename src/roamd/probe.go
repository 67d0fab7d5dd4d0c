package roamd

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Present asks, with ARP requests sent to the client's MAC on the client
// bridge, whether the client with ip is still attached here. A client that
// roamed away cannot answer (its frames reach another node's bridge); a
// client that is still here answers within milliseconds. The old node asks
// this before it hands a client over, so that a CLAIM from a node that
// merely holds the site secret cannot take a client that never left.
// Without a client bridge (or when the probe cannot be sent) the client
// counts as gone, as before this check existed.
func (k *NetKernel) Present(ip netip.Addr, mac net.HardwareAddr) bool {
	if k.cfg.ClientBridge == "" || !ip.Is4() || len(mac) != 6 {
		return false
	}
	l, err := netlink.LinkByName(k.cfg.ClientBridge)
	if err != nil {
		return false
	}
	own := l.Attrs().HardwareAddr
	var spa [4]byte // 0.0.0.0 (an RFC 5227 probe) unless the bridge has an address
	if as, err := netlink.AddrList(l, netlink.FAMILY_V4); err == nil && len(as) > 0 {
		copy(spa[:], as[0].IP.To4())
	}
	proto := htons(unix.ETH_P_ARP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: l.Attrs().Index}); err != nil {
		return false
	}
	tpa := ip.As4()
	req := make([]byte, 28)
	binary.BigEndian.PutUint16(req[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(req[2:], 0x0800) // IPv4
	req[4], req[5] = 6, 4
	binary.BigEndian.PutUint16(req[6:], 1) // request
	copy(req[8:14], own)
	copy(req[14:18], spa[:])
	copy(req[24:28], tpa[:])
	dst := &unix.SockaddrLinklayer{Protocol: proto, Ifindex: l.Attrs().Index, Halen: 6}
	copy(dst.Addr[:], mac)
	buf := make([]byte, 128)
	for i := 0; i < k.cfg.PresenceProbes; i++ {
		if err := unix.Sendto(fd, req, 0, dst); err != nil {
			return false
		}
		deadline := time.Now().Add(k.cfg.PresenceInterval)
		for {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if n, err := unix.Poll(pfd, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
				return false
			} else if n <= 0 {
				continue
			}
			n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
			if err != nil || n < 28 {
				continue
			}
			r := buf[:n]
			if binary.BigEndian.Uint16(r[6:]) == 2 && net.HardwareAddr(r[8:14]).String() == mac.String() &&
				[4]byte(r[14:18]) == tpa {
				return true
			}
		}
	}
	return false
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
