package udpblast

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Sink is a bound UDP socket that counts datagrams.
type Sink struct {
	fd int
	b  *batch
}

// SinkResult is what a sink received: Packets between the first and the
// last datagram, Seconds apart.
type SinkResult struct {
	Packets uint64  `json:"packets"`
	Bytes   uint64  `json:"bytes"`
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu_seconds"` // this process's CPU time while receiving
}

// Listen binds a sink to addr with a receive buffer of rcvbuf bytes
// (SO_RCVBUFFORCE, so above the sysctl limit; 0 = default).
func Listen(addr netip.AddrPort, rcvbuf int) (*Sink, error) {
	fd, err := socket(addr)
	if err != nil {
		return nil, err
	}
	if rcvbuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
		}
	}
	// wake up now and then to see whether the traffic has ended
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("udpblast: SO_RCVTIMEO: %w", err)
	}
	if err := unix.Bind(fd, sockaddr(addr)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("udpblast: bind %s: %w", addr, err)
	}
	const n, size = 64, 2048
	bufs := make([]byte, n*size)
	return &Sink{fd: fd, b: newBatch(n, func(i int) []byte { return bufs[i*size : (i+1)*size] })}, nil
}

// Close closes the socket.
func (s *Sink) Close() error { return unix.Close(s.fd) }

// Count receives until no datagram came for idle after the first one, or
// until max has passed, or ctx ends.
func (s *Sink) Count(ctx context.Context, idle, max time.Duration) (SinkResult, error) {
	var res SinkResult
	var first, last time.Time
	cpu0 := cpuSeconds()
	deadline := time.Now().Add(max)
	for ctx.Err() == nil {
		n, err := s.b.mmsg(unix.SYS_RECVMMSG, s.fd, len(s.b.msgs), unix.MSG_WAITFORONE)
		now := time.Now()
		switch err {
		case nil:
			if res.Packets == 0 {
				first = now
			}
			last = now
			res.Packets += uint64(n)
			for i := 0; i < n; i++ {
				res.Bytes += uint64(s.b.msgs[i].n)
			}
		case unix.EAGAIN:
		default:
			return res, fmt.Errorf("udpblast: recvmmsg: %w", err)
		}
		if (res.Packets > 0 && now.Sub(last) >= idle) || now.After(deadline) {
			break
		}
	}
	res.Seconds = last.Sub(first).Seconds()
	res.CPU = cpuSeconds() - cpu0
	return res, ctx.Err()
}

// LocalAddr is the address the sink is bound to (with the port the kernel
// chose for port 0).
func (s *Sink) LocalAddr() (netip.AddrPort, error) {
	sa, err := unix.Getsockname(s.fd)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("udpblast: getsockname: %w", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("udpblast: getsockname: %T", sa)
}
