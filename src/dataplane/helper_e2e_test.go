//go:build e2e

package dataplane

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/header"
)

// The e2e tests run small network programs inside namespaces by re-executing
// the test binary with X2_HELPER set (ip netns exec NS /proc/self/exe ...).
func TestMain(m *testing.M) {
	if h := os.Getenv("X2_HELPER"); h != "" {
		if err := runHelper(h, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(name string, args []string) error {
	switch name {
	case "udpsink": // bind port count timeout: print the length of each datagram
		return udpSink(args[0], args[1], atoi(args[2]), dur(args[3]))
	case "udpsend": // dst port size count [src]
		src := ""
		if len(args) > 4 {
			src = args[4]
		}
		return udpSend(args[0], args[1], atoi(args[2]), atoi(args[3]), src)
	case "udpcount": // bind port count timeout: print how many arrived intact
		return udpCount(args[0], args[1], atoi(args[2]), dur(args[3]))
	case "udpburst": // dst port size count src: send without pacing
		return udpBurst(args[0], args[1], atoi(args[2]), atoi(args[3]), args[4])
	case "tcpecho": // bind port
		return tcpEcho(args[0], args[1])
	case "tcpcheck": // dst port size: send size bytes, expect them back
		return tcpCheck(args[0], args[1], atoi(args[2]))
	case "icmpcap": // seconds: print every ICMPv4 message received
		return icmpCap(dur(args[0]))
	}
	return fmt.Errorf("unknown helper %q", name)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func dur(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func udpSink(bind, port string, count int, timeout time.Duration) error {
	c, err := net.ListenPacket("udp", net.JoinHostPort(bind, port))
	if err != nil {
		return err
	}
	fmt.Println("ready")
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 70000)
	for i := 0; i < count; i++ {
		_ = c.SetReadDeadline(deadline)
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			fmt.Println("timeout")
			return nil
		}
		ok := bytes.Equal(buf[:n], pattern(n))
		fmt.Printf("datagram from=%s len=%d intact=%v\n", from.(*net.UDPAddr).IP, n, ok)
	}
	return nil
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func udpSend(dst, port string, size, count int, src string) error {
	d := net.Dialer{}
	if src != "" {
		d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(src)}
	}
	// Classic fragments (DF=0) for IPv4, not Linux's default of DF on every fragment.
	d.Control = func(network, address string, rc syscall.RawConn) error {
		if !strings.HasSuffix(network, "4") {
			return nil
		}
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_MTU_DISCOVER, syscall.IP_PMTUDISC_DONT)
		})
		if err != nil {
			return err
		}
		return serr
	}
	c, err := d.Dial("udp", net.JoinHostPort(dst, port))
	if err != nil {
		return err
	}
	for i := 0; i < count; i++ {
		if _, err := c.Write(pattern(size)); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond) // paced (not a wait for a condition)
	}
	return nil
}

func tcpEcho(bind, port string) error {
	l, err := net.Listen("tcp", net.JoinHostPort(bind, port))
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

func tcpCheck(dst, port string, size int) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(dst, port), 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	want := pattern(size)
	go func() { _, _ = c.Write(want); c.(*net.TCPConn).CloseWrite() }()
	got, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	fmt.Printf("tcp echoed=%d intact=%v\n", len(got), bytes.Equal(got, want))
	return nil
}

// icmpCap prints, for every ICMPv4 message, what a receiver can check:
// outer source, type/code, the MTU field of Frag Needed, and the inner
// packet's addresses, protocol and ports.
func icmpCap(d time.Duration) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	tv := syscall.NsecToTimeval(int64(100 * time.Millisecond))
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	fmt.Println("ready")
	end := time.Now().Add(d)
	buf := make([]byte, 65536)
	for time.Now().Before(end) {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		if line := describeICMP(buf[:n]); line != "" {
			fmt.Println(line)
		}
	}
	return nil
}

func describeICMP(p []byte) string {
	if len(p) < header.IPv4MinSize {
		return ""
	}
	h := header.IPv4(p)
	if len(p) < h.HeaderLen()+header.ICMPMinSize {
		return ""
	}
	src := netip.AddrFrom4([4]byte(h.Src()))
	icmp := header.ICMP(p[h.HeaderLen():])
	typ, code := icmp.Type(), icmp.Code()
	if typ == 0 || typ == 8 {
		return fmt.Sprintf("icmp src=%s type=%d", src, typ)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "icmp src=%s type=%d code=%d", src, typ, code)
	if typ == 3 && code == 4 {
		fmt.Fprintf(&b, " mtu=%d", icmp.MTU4())
	}
	in := icmp.Payload()
	if len(in) >= header.IPv4MinSize && header.Version(in) == 4 {
		ih := header.IPv4(in)
		fmt.Fprintf(&b, " inner=%s>%s proto=%d ttl=%d len=%d", netip.AddrFrom4([4]byte(ih.Src())),
			netip.AddrFrom4([4]byte(ih.Dst())), ih.Protocol(), ih.TTL(), ih.TotalLen())
		if p := ih.Protocol(); (p == header.ProtoUDP || p == header.ProtoTCP) && len(in) >= ih.HeaderLen()+4 {
			fmt.Fprintf(&b, " dport=%d", binary.BigEndian.Uint16(in[ih.HeaderLen()+2:]))
		}
	}
	return b.String()
}

func udpCount(bind, port string, count int, timeout time.Duration) error {
	c, err := net.ListenPacket("udp", net.JoinHostPort(bind, port))
	if err != nil {
		return err
	}
	_ = c.(*net.UDPConn).SetReadBuffer(8 << 20)
	fmt.Println("ready")
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 70000)
	got, intact, sizes := 0, 0, map[int]int{}
	for got < count {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			break
		}
		got++
		sizes[n]++
		if bytes.Equal(buf[:n], pattern(n)) {
			intact++
		}
	}
	fmt.Printf("received=%d intact=%d sizes=%v\n", got, intact, sizes)
	return nil
}

func udpBurst(dst, port string, size, count int, src string) error {
	d := net.Dialer{}
	if src != "-" {
		d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("udp", net.JoinHostPort(dst, port))
	if err != nil {
		return err
	}
	p := pattern(size)
	for i := 0; i < count; i++ {
		if _, err := c.Write(p); err != nil {
			return err
		}
		if i%50 == 49 {
			time.Sleep(3 * time.Millisecond) // bursts of 50: room in the queues, still back to back
		}
	}
	return nil
}
