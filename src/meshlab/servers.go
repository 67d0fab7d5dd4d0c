package meshlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Ports of the internet host's services.
const (
	PortHTTP = 80
	PortTCP  = 7 // greeting, then echo
	PortUDP  = 7 // "whoami" -> remote address; anything else echoed
)

// Servers are the internet host's services, listening in a namespace.
type Servers struct {
	http *http.Server
	tcp  net.Listener
	udp  net.PacketConn
	wg   sync.WaitGroup
}

// StartServers listens on addr (an IPv4 address of ns) with an HTTP server
// that answers "hello from <addr>, you are <ip>:<port>", a TCP server that
// greets with "hello <ip>:<port>\n" and then echoes, and a UDP echo server
// that answers "whoami" with the sender's address.
func StartServers(ns *NS, addr string) (*Servers, error) {
	s := &Servers{}
	var hl net.Listener
	err := ns.Do(func() error {
		var err error
		if hl, err = net.Listen("tcp4", net.JoinHostPort(addr, fmt.Sprint(PortHTTP))); err != nil {
			return err
		}
		if s.tcp, err = net.Listen("tcp4", net.JoinHostPort(addr, fmt.Sprint(PortTCP))); err != nil {
			hl.Close()
			return err
		}
		if s.udp, err = net.ListenPacket("udp4", net.JoinHostPort(addr, fmt.Sprint(PortUDP))); err != nil {
			hl.Close()
			s.tcp.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("meshlab: servers on %s in %s: %w", addr, ns.Short, err)
	}
	s.http = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %s, you are %s\n", addr, r.RemoteAddr)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); _ = s.http.Serve(hl) }()
	go func() { defer s.wg.Done(); s.serveTCP() }()
	go func() { defer s.wg.Done(); s.serveUDP() }()
	return s, nil
}

func (s *Servers) serveTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if _, err := fmt.Fprintf(c, "hello %s\n", c.RemoteAddr()); err != nil {
				return
			}
			_, _ = io.Copy(c, c)
		}()
	}
}

func (s *Servers) serveUDP() {
	buf := make([]byte, 65536)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		reply := buf[:n]
		if string(reply) == "whoami" {
			reply = []byte(from.String())
		}
		_, _ = s.udp.WriteTo(reply, from)
	}
}

// Close stops the servers.
func (s *Servers) Close() error {
	err := s.http.Close()
	s.tcp.Close()
	s.udp.Close()
	s.wg.Wait()
	return err
}

// Dial connects from ns to addr:port over network ("tcp4", "udp4", ...)
// within timeout.
func (n *NS) Dial(ctx context.Context, network, addr string, port int, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		d := net.Dialer{Timeout: timeout}
		var err error
		c, err = d.DialContext(ctx, network, net.JoinHostPort(addr, fmt.Sprint(port)))
		return err
	})
	return c, err
}

// TCPHello connects from ns to addr's TCP service and returns the address
// the server saw (the "ip:port" of its greeting).
func TCPHello(ctx context.Context, ns *NS, addr string, timeout time.Duration) (string, error) {
	c, err := ns.Dial(ctx, "tcp4", addr, PortTCP, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	seen, ok := strings.CutPrefix(strings.TrimSpace(line), "hello ")
	if !ok {
		return "", fmt.Errorf("unexpected greeting %q", line)
	}
	return seen, nil
}

// UDPWhoami sends "whoami" from ns to addr's UDP service and returns the
// address the server saw.
func UDPWhoami(ctx context.Context, ns *NS, addr string, timeout time.Duration) (string, error) {
	c, err := ns.Dial(ctx, "udp4", addr, PortUDP, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 128)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := c.Write([]byte("whoami")); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n]), nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			time.Sleep(50 * time.Millisecond) // e.g. ICMP unreachable: retry at a bounded rate
		}
	}
	return "", fmt.Errorf("no UDP answer from %s within %s", addr, timeout)
}

// HostOf returns the IP part of an "ip:port" string.
func HostOf(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}
