//go:build e2e

package meshlab

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
	"golang.org/x/sys/unix"
)

// TestE2ERoamFlood: node B floods PLAT C with 100,000 ROAMs in 25 s from
// ever new spoofed sources (half with made-up CLAT /96s, half spoofing E's
// and B's own CLAT; random clients). Meanwhile: babeld on C keeps all its
// routes (no neighbour lost), D keeps its route to C's PLAT (no failover),
// and the client's genuine roam D -> A succeeds with its TCP stream. After
// it: C holds a bounded number of steering routes and its l3roamd-xlat a
// bounded RSS, and babeld on C logged no netlink overrun.
func TestE2ERoamFlood(t *testing.T) {
	needRoot(t)
	bin := buildBins(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	spec := SeedSpec("lab", bin)
	spec.Roaming = true
	m := startMesh(t, ctx, spec)
	cl, c, d, b := m.Clients["cl"], m.Nodes["c"], m.Nodes["d"], m.Nodes["b"]
	ip, err := cl.WaitLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx, "TCP through C", 200*time.Millisecond, func() (bool, error) {
		seen, err := TCPHello(ctx, cl.NS, ServerAddr.String(), time.Second)
		return err == nil && HostOf(seen) == c.WANAddr.String(), err
	}); err != nil {
		t.Fatal(err)
	}
	before, err := c.BabelRoutes(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// the flood, from B
	if err := b.NS.Sysctl("net.ipv6.ip_nonlocal_bind", "1"); err != nil {
		t.Fatal(err)
	}
	var sock *net.UDPConn
	if err := b.NS.Do(func() (err error) {
		sock, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6unspecified})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	mgmt := netip.AddrFrom4([4]byte{192, 0, 0, 1})
	embed := addrmap.Embed
	to := netip.AddrPortFrom(embed(c.PLATPrefix, mgmt), roamproto.DefaultPort)
	spoofed := []netip.Prefix{m.Nodes["e"].CLATPrefix, b.CLATPrefix}
	site := m.Spec.Site
	const total, dur = 100000, 25 * time.Second
	var sent atomic.Int64
	floodDone := make(chan error, 1)
	go func() {
		rnd := rand.New(rand.NewSource(1))
		t0 := time.Now()
		for i := 0; i < total; i++ {
			if i%100 == 0 {
				if ahead := time.Duration(i)*dur/total - time.Since(t0); ahead > 0 {
					time.Sleep(ahead)
				}
			}
			newCLAT := spoofed[i%len(spoofed)]
			if i%2 == 0 { // a made-up /96 in clat_range
				a := site.CLATRange.Addr().As16()
				binary.BigEndian.PutUint32(a[6:10], rnd.Uint32())
				newCLAT = netip.PrefixFrom(netip.AddrFrom16(a), 96).Masked()
			}
			cip := site.Prefix4.Addr().As4()
			cip[2], cip[3] = byte(rnd.Intn(256)), byte(1+rnd.Intn(254))
			msg := &roamproto.Message{Type: roamproto.TypeRoam, TTL: 1, Nonce: rnd.Uint32(), Sender: b.Address,
				MAC: net.HardwareAddr{2, 0xf1, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}, CLAT: d.CLATPrefix,
				ClientIP: netip.AddrFrom4(cip), LeaseTime: 86400, HasLease: true, NewCLAT: newCLAT, PLAT: c.PLATPrefix,
				Timestamp: time.Now()}
			pkt, err := roamproto.Encode(msg, nil)
			if err != nil {
				floodDone <- err
				return
			}
			if err := sendFrom(sock, embed(newCLAT, mgmt), to, pkt); err == nil {
				sent.Add(1)
			}
		}
		floodDone <- nil
	}()

	// during the flood: babel on C keeps every route, D keeps C's PLAT
	watchErr := make(chan error, 1)
	wctx, stopWatch := context.WithCancel(ctx)
	go func() {
		for wctx.Err() == nil {
			routes, err := c.BabelRoutes(wctx)
			if err != nil && wctx.Err() == nil {
				watchErr <- fmt.Errorf("babeld on C: %w", err)
				return
			}
			for p := range before {
				if _, ok := routes[p]; !ok && wctx.Err() == nil && p.Bits() == 128 && isNodeAddr(m, p) {
					watchErr <- fmt.Errorf("babeld on C lost its route to %s during the flood", p)
					return
				}
			}
			if !d.HasRoute(wctx, c.PLATPrefix) && wctx.Err() == nil {
				watchErr <- fmt.Errorf("D lost its route to C's PLAT %s during the flood (failover)", c.PLATPrefix)
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		watchErr <- nil
	}()

	// a genuine roam in the middle of the flood
	if err := m.Wait(ctx, "the flood to be under way", 50*time.Millisecond, func() (bool, error) {
		return sent.Load() > total/4, nil
	}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	res, err := m.Roam(ctx, "cl", []string{"a"}, time.Second)
	if err != nil { // go on: the figures below tell what the flood did
		t.Errorf("genuine roam during the flood: %v", err)
	}
	if len(res) == 0 {
		res = []RoamResult{{}}
	}
	t.Logf("genuine roam D -> A during the flood: TCP stall %v, UDP stall %v (%v after the move)",
		res[0].TCPStall.Round(time.Millisecond), res[0].UDPStall.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	if err := <-floodDone; err != nil {
		t.Fatal(err)
	}
	stopWatch()
	babel := "babel routes and D's route to C kept"
	if err := <-watchErr; err != nil {
		t.Error(err)
		babel = err.Error()
	}
	routes := strings.Count(mustRun(t, ctx, c.NS, "ip", "-6", "route", "show", "proto", "159"), "\n")
	rss, _ := RSS(c.Procs["l3roamd-xlat"].PID())
	blog, _ := os.ReadFile(c.Procs["babeld"].LogPath)
	line := fmt.Sprintf("FLOOD %d ROAMs in %v at C: steering routes %d, l3roamd-xlat RSS %d KiB, %s, "+
		"genuine roam TCP stall %v; client %v", sent.Load(), dur, routes, rss, babel, res[0].TCPStall.Round(time.Millisecond), ip)
	fmt.Println(line)
	t.Log(line)
	if routes > 64 {
		t.Errorf("%d steering routes at C after the flood (want a bound, not one per forged ROAM)", routes)
	}
	if rss > 24*1024 { // main before the bounds: 26-32 MiB
		t.Errorf("l3roamd-xlat on C: RSS %d KiB after the flood", rss)
	}
	if strings.Contains(string(blog), "No buffer space") {
		t.Errorf("babeld on C overran its netlink socket during the flood")
	}
	seen, err := TCPHello(ctx, cl.NS, ServerAddr.String(), 2*time.Second)
	if err != nil || HostOf(seen) != c.WANAddr.String() {
		t.Errorf("after the flood the client's new connection went %q (err %v), not through C", seen, err)
	}
}

func isNodeAddr(m *Mesh, p netip.Prefix) bool {
	for _, n := range m.Nodes {
		if p.Addr() == n.Address {
			return true
		}
	}
	return false
}

func mustRun(t *testing.T, ctx context.Context, ns *NS, args ...string) string {
	t.Helper()
	out, err := ns.Run(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sendFrom sends b from the (possibly non-local) source from.
func sendFrom(c *net.UDPConn, from netip.Addr, to netip.AddrPort, b []byte) error {
	oob := make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
	pi.Addr = from.As16()
	_, _, err := c.WriteMsgUDPAddrPort(b, oob, to)
	return err
}
