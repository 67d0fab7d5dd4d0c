//go:build e2e

package roamd

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
	"golang.org/x/sys/unix"
)

// TestE2EKeyHolderAttacks: node m holds the site secret and attacks the
// client (10.80.0.5, leased on D, roamed to A, TCP stream through PLAT C):
// a forged ROAM, a forged CLAIM+ACK, a forged INFO for an accomplice, a
// captured genuine ROAM replayed to another PLAT (e) and to C after a
// restart. Each must leave the client's steering and the stream alone.
func TestE2EKeyHolderAttacks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	l := startR5(t, ctx, r5Opts{attacker: true, lease: 10 * time.Minute})
	secret := []byte("r5 domain secret")
	mgmt := netip.MustParseAddr("192.0.0.1")
	clat := func(n string) netip.Prefix { return netip.MustParsePrefix(e2eCLAT(n)) }
	victim := netip.MustParseAddr(e2eClient)
	victimMAC, _ := net.ParseMAC(e2eMAC)
	key := addrmap.Embed(clat("d"), victim) // CLATD::10.80.0.5, what C steers
	mNode := netip.MustParseAddr("fd00:9::6d")
	mMgmt := addrmap.Embed(clat("m"), mgmt)
	platC := netip.AddrPortFrom(addrmap.Embed(netip.MustParsePrefix(e2ePLAT), mgmt), 5524)
	platE := netip.AddrPortFrom(addrmap.Embed(netip.MustParsePrefix(e2ePLATE), mgmt), 5524)

	// m's socket: [::]:5524, may send from any source (spoofing)
	if err := l.ns["m"].Sysctl("net.ipv6.ip_nonlocal_bind", "1"); err != nil {
		t.Fatal(err)
	}
	var m *UDP
	if err := inNS(l.ns["m"].Name, func() (err error) { m, err = ListenUDP(5524); return err }); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	send := func(from netip.Addr, to netip.AddrPort, msg *roamproto.Message) {
		t.Helper()
		msg.TTL, msg.Timestamp = 1, time.Now()
		if msg.Nonce == 0 {
			msg.Nonce = nonce()
		}
		b, err := roamproto.Encode(msg, secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Send(from, to, b); err != nil {
			t.Fatal(err)
		}
	}
	// recv waits for a message to m that want accepts.
	recv := func(what string, want func(*roamproto.Message) bool) (*roamproto.Message, netip.AddrPort) {
		t.Helper()
		buf := make([]byte, 2048)
		deadline := time.Now().Add(5 * time.Second)
		for {
			m.c.SetReadDeadline(deadline)
			n, src, err := m.c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return nil, netip.AddrPort{}
			}
			msg, err := roamproto.Parse(buf[:n], secret)
			if err == nil && want(msg) {
				return msg, netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
			}
		}
	}
	counters := func(n string) map[string]uint64 {
		out, err := exec.Command(l.bin, "status", "--json", "--socket", l.sock(n)).Output()
		if err != nil {
			t.Fatalf("status %s: %v", n, err)
		}
		var st Status
		if err := json.Unmarshal(out, &st); err != nil {
			t.Fatalf("status %s: %v", n, err)
		}
		return st.Counters
	}
	steering := func(n string) string { return strings.TrimSpace(l.sh(n, "ip -6 route show proto 159")) }
	waitCounter := func(n, what string, cond func(c map[string]uint64) bool) {
		t.Helper()
		if err := meshlab.WaitFor(ctx, what, 50*time.Millisecond, func() (bool, error) { return cond(counters(n)), nil }); err != nil {
			t.Fatal(err)
		}
	}
	streamOn := func(after string) {
		t.Helper()
		if err := l.st.waitBytes(ctx, l.st.total()+128<<10); err != nil {
			t.Fatalf("the client's stream stalled after %s: %v", after, err)
		}
	}

	// the genuine roam D -> A, its ROAM to C captured on A's mesh link
	capture := captureROAM(t, l.ns["mx"].Name, "r5ma")
	l.roam("d", "a")
	var genuine []byte
	select {
	case genuine = <-capture:
	case <-time.After(10 * time.Second):
		t.Fatal("no ROAM from A captured")
	}
	viaA := "via fd00:9::61"
	if r := steering("c"); !strings.Contains(r, key.String()) || !strings.Contains(r, viaA) {
		t.Fatalf("C does not steer the client to A: %q", r)
	}

	t.Run("forged ROAM", func(t *testing.T) {
		send(mMgmt, platC, &roamproto.Message{Type: roamproto.TypeRoam, Sender: mNode, MAC: victimMAC, CLAT: clat("d"),
			ClientIP: victim, LeaseTime: 86400, HasLease: true, NewCLAT: clat("m"), PLAT: netip.MustParsePrefix(e2ePLAT)})
		a, _ := recv("C's answer", func(x *roamproto.Message) bool { return x.Type != roamproto.TypeRoam && x.HasEcho })
		t.Logf("C answered the forged ROAM with %v", typeOf(a))
		if r := steering("c"); !strings.Contains(r, viaA) || strings.Contains(r, "fd00:9::6d") {
			t.Fatalf("forged ROAM steered the client: %q", r)
		}
		streamOn("the forged ROAM")
	})

	t.Run("forged CLAIM+ACK", func(t *testing.T) {
		var mac addrmap.MAC
		copy(mac[:], victimMAC)
		nip, _ := addrmap.NodeClientIP(netip.MustParsePrefix("fd00:5::/64"), mac)
		send(mNode, netip.AddrPortFrom(nip, 5524), &roamproto.Message{Type: roamproto.TypeClaim, Sender: mNode,
			MAC: victimMAC, NewCLAT: clat("m")})
		info, _ := recv("A's INFO", func(x *roamproto.Message) bool { return x.Type == roamproto.TypeInfo })
		if info == nil {
			t.Fatal("A sent no INFO")
		}
		for _, from := range []netip.Addr{mMgmt, mNode} { // from where the INFO went to
			send(from, netip.AddrPortFrom(info.Sender, 5524), &roamproto.Message{Type: roamproto.TypeAck, Sender: mNode,
				MAC: victimMAC, Echo: info.Nonce, HasEcho: true})
		}
		waitCounter("a", "A's decision", func(c map[string]uint64) bool { return c["handover_refused_present"]+c["released"] > 0 })
		if c := counters("a"); c["released"] > 0 {
			t.Fatalf("A released the client on a forged CLAIM+ACK: %v", c)
		}
		streamOn("the forged CLAIM+ACK")
	})

	t.Run("forged INFO", func(t *testing.T) {
		accomplice, _ := net.ParseMAC("02:ac:00:00:00:01")
		var mac addrmap.MAC
		copy(mac[:], accomplice)
		nip, _ := addrmap.NodeClientIP(netip.MustParsePrefix("fd00:5::/64"), mac)
		l.sh("m", "ip -6 addr add "+nip.String()+"/128 dev r5m nodad") // m served the accomplice before
		// the accomplice appears at B (as a neighbour event would tell it)
		out, err := ctlsock.Call(ctx, l.sock("b"), "add_address fd00::1 "+accomplice.String())
		if err != nil {
			t.Fatalf("add_address at B: %v %s", err, out)
		}
		claim, from := recv("B's CLAIM", func(x *roamproto.Message) bool { return x.Type == roamproto.TypeClaim })
		if claim == nil {
			t.Fatal("B sent no CLAIM")
		}
		send(mNode, from, &roamproto.Message{Type: roamproto.TypeInfo, Sender: mNode, MAC: accomplice, CLAT: clat("d"),
			ClientIP: victim, LeaseTime: 86400, HasLease: true, PLAT: netip.MustParsePrefix(e2ePLAT),
			Echo: claim.Nonce, HasEcho: true})
		if err := meshlab.WaitFor(ctx, "the outcome at C and B", 50*time.Millisecond, func() (bool, error) {
			return strings.Contains(steering("c"), "fd00:9::62") || counters("b")["roam_refused_by_plat"] > 0, nil
		}); err != nil {
			t.Fatal(err)
		}
		if r := steering("c"); !strings.Contains(r, viaA) {
			t.Fatalf("the forged INFO moved the client's steering: %q", r)
		}
		if err := meshlab.WaitFor(ctx, "B undoes the binding", 50*time.Millisecond, func() (bool, error) {
			return !strings.Contains(l.sh("b", "ip neigh show dev r5br"), "02:ac:00:00:00:01"), nil
		}); err != nil {
			t.Fatal(err)
		}
		streamOn("the forged INFO")
	})

	t.Run("replay to another PLAT", func(t *testing.T) {
		if err := m.Send(addrmap.Embed(clat("a"), mgmt), platE, genuine); err != nil {
			t.Fatal(err)
		}
		waitCounter("e", "E handles the replay", func(c map[string]uint64) bool {
			return c["rx_ROAM"]+c["drop_roam_wrong_plat"]+c["drop_replay"]+c["drop_stale"] > 0
		})
		if r := steering("e"); r != "" {
			t.Fatalf("the replayed ROAM steered at E: %q", r)
		}
	})

	t.Run("replay after a PLAT restart", func(t *testing.T) {
		// a plain stop (the init script's stop file): C starts again with
		// no steering state and a fresh replay window, the case a replay
		// could abuse (a restart alone keeps the state, see TestE2ERoamRestarts)
		stopFile := filepath.Join(l.lab.Dir(), "root-c", "var/run/l3roamd-xlat.stop")
		if err := os.WriteFile(stopFile, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := l.procs["c"].Stop(); err != nil {
			t.Fatal(err)
		}
		l.startDaemon("c")
		l.waitDaemon("c")
		if r := steering("c"); r != "" {
			t.Fatalf("proto-159 routes left after the restart: %q", r)
		}
		if err := m.Send(addrmap.Embed(clat("a"), mgmt), platC, genuine); err != nil {
			t.Fatal(err)
		}
		waitCounter("c", "C handles the replay", func(c map[string]uint64) bool {
			return c["rx_ROAM"]+c["drop_before_start"]+c["drop_stale"]+c["drop_replay"] > 0
		})
		if c := counters("c"); c["roam_accepted"] > 0 {
			t.Fatalf("C accepted the replayed ROAM after its restart: %v", c)
		}
		if r := steering("c"); r != "" {
			t.Fatalf("the replayed ROAM steered at C: %q", r)
		}
	})
}

func typeOf(m *roamproto.Message) string {
	if m == nil {
		return "nothing"
	}
	return roamproto.TypeName(m.Type)
}

// captureROAM reads the IPv6 packets on ifname in namespace ns and hands
// the payload of the first ROAM (UDP to 5524, type 4) to the channel.
func captureROAM(t *testing.T, ns, ifname string) <-chan []byte {
	t.Helper()
	// ETH_P_ALL: on a bridge port, only these taps see frames before the
	// bridge takes them
	proto := htons(unix.ETH_P_ALL)
	var fd int
	if err := inNS(ns, func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(proto)); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifc.Index})
	}); err != nil {
		t.Fatalf("capture on %s: %v", ifname, err)
	}
	tv := unix.Timeval{Sec: 20}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	out := make(chan []byte, 1)
	go func() {
		defer unix.Close(fd)
		buf := make([]byte, 4096)
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err == unix.EINTR {
				continue // the Go runtime's preemption signal, not the end
			}
			if err != nil {
				return
			}
			p := buf[:n]
			if n < 48+roamproto.HeaderLen || p[0]>>4 != 6 || p[6] != unix.IPPROTO_UDP || p[42] != 5524>>8 || p[43] != 5524&0xff {
				continue
			}
			if pl := p[48:]; pl[2] == roamproto.TypeRoam {
				out <- append([]byte(nil), pl...)
				return
			}
		}
	}()
	return out
}
