//go:build e2e

package meshlab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
)

// TestE2EExposure attacks the PLAT and the CLAT from a mesh node and from
// clients (issue 8, item 4) in a two-node mesh: platnode C, node D with two
// clients. Each subtest is one attack; a positive control in the same
// subtest shows that the path it uses works for legitimate traffic.
func TestE2EExposure(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	m := startMesh(t, ctx, Spec{
		Prefix: "lab", BinDir: buildBins(t), Site: DefaultSite(),
		Nodes: []NodeSpec{
			{Name: "c", MAC: "02:00:5e:00:53:0c", PLAT: true},
			{Name: "d", MAC: "02:00:5e:00:53:0d"},
		},
		Links: []LinkSpec{{A: "c", B: "d"}},
		Clients: []ClientSpec{
			{Name: "cl", Node: "d", MAC: "02:c1:1e:00:00:01"},
			{Name: "cv", Node: "d", MAC: "02:c1:1e:00:00:02"}, // the victim whose address cl borrows
		},
	})
	c, d := m.Nodes["c"], m.Nodes["d"]
	cl, cv := m.Clients["cl"], m.Clients["cv"]
	addrCl, err := cl.WaitLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	addrCv, err := cv.WaitLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Listeners: on C (dual stack: its WAN IPv4 and every IPv6 address,
	// the management address included) and on the internet host (also on
	// special-purpose addresses).
	special := []netip.Addr{netip.MustParseAddr("198.18.0.10"), netip.MustParseAddr("192.0.0.170")}
	for _, a := range special {
		if _, err := m.Inet.Run(ctx, "ip", "addr", "add", a.String()+"/32", "dev", "lo"); err != nil {
			t.Fatal(err)
		}
	}
	const port = 2222
	for _, ns := range []*NS{c.NS, m.Inet} {
		l, err := listenHello(ns, port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	// The client's own traffic works (and so the CLAT's source filter
	// has learnt its lease).
	if err := m.Wait(ctx, "client TCP to the internet host", 200*time.Millisecond, func() (bool, error) {
		_, err := hello(ctx, cl.NS, "tcp4", ServerAddr.String(), port, time.Second)
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("OpenRelay", func(t *testing.T) {
		// A mesh node's own address (not inside clat_range) through C's PLAT.
		target := addrmap.Embed(c.PLATPrefix, ServerAddr).String()
		if seen, err := hello(ctx, d.NS, "tcp6", target, port, 2*time.Second); err == nil {
			t.Fatalf("D's node address %s was translated by C's PLAT (server saw %s)", d.Address, seen)
		}
	})
	t.Run("OwnWANAddress", func(t *testing.T) {
		if _, err := hello(ctx, c.NS, "tcp4", c.WANAddr.String(), port, time.Second); err != nil {
			t.Fatalf("C's listener on its WAN address (test setup): %v", err)
		}
		if seen, err := hello(ctx, cl.NS, "tcp4", c.WANAddr.String(), port, 2*time.Second); err == nil {
			t.Fatalf("client reached C's own WAN address %s through the PLAT (C saw %s)", c.WANAddr, seen)
		}
	})
	t.Run("OwnIPv6ListenerVia192.0.0.1", func(t *testing.T) {
		mgmt := addrmap.Embed(c.PLATPrefix, netip.MustParseAddr("192.0.0.1")).String()
		if _, err := hello(ctx, d.NS, "tcp6", mgmt, port, time.Second); err != nil {
			t.Fatalf("D reaches C's management address (test setup): %v", err)
		}
		if seen, err := hello(ctx, cl.NS, "tcp4", "192.0.0.1", port, 2*time.Second); err == nil {
			t.Fatalf("client reached C's IPv6 listener through 192.0.0.1 (C saw %s)", seen)
		}
	})
	t.Run("SpecialPurposeRanges", func(t *testing.T) {
		for _, a := range special {
			if _, err := hello(ctx, c.NS, "tcp4", a.String(), port, time.Second); err != nil {
				t.Fatalf("C reaches %s on the internet host (test setup): %v", a, err)
			}
			if seen, err := hello(ctx, cl.NS, "tcp4", a.String(), port, 2*time.Second); err == nil {
				t.Errorf("client reached %s through the PLAT (server saw %s)", a, seen)
			}
		}
	})
	t.Run("ClientSourceSpoofing", func(t *testing.T) {
		sink, err := listenSink(m.Inet, ServerAddr, 2225)
		if err != nil {
			t.Fatal(err)
		}
		defer sink.Close()
		// Addresses cl does not hold: another client's lease on the same
		// node, and one nobody holds (another node's DHCP range).
		nobody := netip.MustParseAddr("10.80.9.9")
		for _, a := range []netip.Addr{addrCv, nobody} {
			if _, err := cl.NS.Run(ctx, "ip", "addr", "add", a.String()+"/32", "dev", "eth0"); err != nil {
				t.Fatal(err)
			}
		}
		defer func() {
			for _, a := range []netip.Addr{addrCv, nobody} {
				_, _ = cl.NS.Run(ctx, "ip", "addr", "del", a.String()+"/32", "dev", "eth0")
			}
		}()
		send := func(src netip.Addr, tag string) bool {
			return sink.await(ctx, tag, 2*time.Second, func() error {
				return sendUDP(cl.NS, src, ServerAddr, 2225, tag)
			})
		}
		if !send(addrCl, "own-"+addrCl.String()) {
			t.Fatalf("the client's datagram from its own address %s did not arrive (test setup)", addrCl)
		}
		for _, a := range []netip.Addr{addrCv, nobody} {
			if send(a, "spoofed-"+a.String()) {
				t.Errorf("client %s sent with source %s through D's CLAT and it reached the internet host", addrCl, a)
			}
		}
	})
}

// listenHello accepts TCP (IPv4 and IPv6) on port in ns and greets with
// "hello <remote address>".
func listenHello(ns *NS, port int) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello %s\n", c.RemoteAddr())
			c.Close()
		}
	}()
	return l, nil
}

// hello connects from ns to addr:port and returns the greeting's address.
func hello(ctx context.Context, ns *NS, network, addr string, port int, timeout time.Duration) (string, error) {
	var c net.Conn
	err := ns.Do(func() error {
		d := net.Dialer{Timeout: timeout}
		var err error
		c, err = d.DialContext(ctx, network, net.JoinHostPort(addr, fmt.Sprint(port)))
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 128)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(strings.TrimSpace(string(buf[:n])), "hello "), nil
}

// sink records the payloads of the UDP datagrams it receives.
type sink struct {
	conn net.PacketConn
	mu   sync.Mutex
	seen map[string]bool
}

func listenSink(ns *NS, addr netip.Addr, port int) (*sink, error) {
	s := &sink{seen: map[string]bool{}}
	err := ns.Do(func() error {
		var err error
		s.conn, err = net.ListenPacket("udp4", netip.AddrPortFrom(addr, uint16(port)).String())
		return err
	})
	if err != nil {
		return nil, err
	}
	go func() {
		buf := make([]byte, 256)
		for {
			n, _, err := s.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.seen[string(buf[:n])] = true
			s.mu.Unlock()
		}
	}()
	return s, nil
}

func (s *sink) Close() error { return s.conn.Close() }

// await sends (every 100 ms) until a datagram with payload tag arrived or
// within passed; it reports whether it arrived.
func (s *sink) await(ctx context.Context, tag string, within time.Duration, send func() error) bool {
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	err := WaitFor(wctx, "datagram "+tag, 100*time.Millisecond, func() (bool, error) {
		s.mu.Lock()
		got := s.seen[tag]
		s.mu.Unlock()
		if got {
			return true, nil
		}
		return false, send()
	})
	return err == nil
}

// sendUDP sends one datagram from src (an address of ns) to dst:port.
func sendUDP(ns *NS, src, dst netip.Addr, port int, payload string) error {
	return ns.Do(func() error {
		c, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, uint16(port))))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(payload))
		return err
	})
}
