package clatd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Pinger sends ICMPv6 echo requests and waits for the matching reply.
type Pinger interface {
	Ping(ctx context.Context, dst netip.Addr, timeout time.Duration) error
	Close() error
}

// ICMPPinger pings over a raw ICMPv6 socket (needs CAP_NET_RAW). The kernel
// fills in the ICMPv6 checksum of raw ICMPv6 sockets.
type ICMPPinger struct {
	conn *net.IPConn
	id   uint16
	mu   sync.Mutex // one probe at a time
	seq  uint16
}

// NewICMPPinger opens the raw socket.
func NewICMPPinger(id uint16) (*ICMPPinger, error) {
	c, err := net.ListenIP("ip6:ipv6-icmp", &net.IPAddr{IP: net.IPv6unspecified})
	if err != nil {
		return nil, fmt.Errorf("probe: raw ICMPv6 socket: %w", err)
	}
	return &ICMPPinger{conn: c, id: id}, nil
}

// Ping sends one echo request to dst and waits up to timeout for its reply.
func (p *ICMPPinger) Ping(ctx context.Context, dst netip.Addr, timeout time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	seq := p.seq
	msg := make([]byte, 16)
	msg[0] = 128 // echo request
	binary.BigEndian.PutUint16(msg[4:], p.id)
	binary.BigEndian.PutUint16(msg[6:], seq)
	copy(msg[8:], "xlatclat")
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if _, err := p.conn.WriteToIP(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return fmt.Errorf("probe %s: send: %w", dst, err)
	}
	_ = p.conn.SetReadDeadline(deadline)
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFromIP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("probe %s: no reply within %v", dst, timeout)
			}
			return fmt.Errorf("probe %s: %w", dst, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n < 8 || buf[0] != 129 || binary.BigEndian.Uint16(buf[4:]) != p.id || binary.BigEndian.Uint16(buf[6:]) != seq {
			continue
		}
		if a, ok := netip.AddrFromSlice(from.IP); !ok || a.Unmap() != dst {
			continue
		}
		return nil
	}
}

// Close closes the socket.
func (p *ICMPPinger) Close() error { return p.conn.Close() }
