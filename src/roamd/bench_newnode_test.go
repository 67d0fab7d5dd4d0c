//go:build bench

package roamd

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// TestBenchRoamNewNode: the l3roamd-xlat of a node (CLAT + roaming, no
// PLAT) idle and with 1,000 clients that roamed in (issue 9 item 4, the
// new node's side). The clients appear as IPv4 neighbours on the node's
// client bridge; namespace s plays the rest of the mesh as real nodes do:
// the old nodes (it receives each CLAIM at the client's node-client-IP and
// answers with the INFO, then takes the ACK) and the PLAT (it ACKs each
// ROAM). The CLAT device is a plain TUN (no TAYGA: nothing is translated
// here), the kernel state (ipset members, routes, neighbours) is real.
func TestBenchRoamNewNode(t *testing.T) {
	meshlab.Need(t, "ip6tables", "ipset")
	const nClients, nOrigins, batch = 1000, 20, 200
	l := newBenchLab(t, "r5n", "b")
	s, b, must, ctx, lab := l.s, l.n, l.must, l.ctx, l.lab
	mgmt := netip.MustParseAddr("192.0.0.1")
	plat := netip.MustParsePrefix("fd00:2::c:0:0/96")
	own := netip.MustParsePrefix("fd00:1::200:0:0/96")
	must(s, "ip -6 addr add fd00:9::1/64 dev r5ns nodad")
	must(b, "ip -6 addr add fd00:9::3/64 dev r5nb nodad")
	must(s, "ip -6 addr add "+addrmap.Embed(plat, mgmt).String()+"/128 dev lo nodad")
	must(s, "ip -6 route add local fd00:5::/64 dev lo") // every node-client-IP (the clients' old nodes)
	must(s, "ip -6 route add "+own.String()+" via fd00:9::3")
	must(b, "ip -6 route add fd00:5::/64 via fd00:9::1") // as babel carries the node-client-IPs
	must(b, "ip -6 route add fd00:1::/48 via fd00:9::1")
	must(b, "ip -6 route add fd00:2::/48 via fd00:9::1")
	must(b, "ip link add r5nbr type bridge")
	must(b, "ip addr add 10.80.0.1/16 dev r5nbr")
	must(b, "ip link set r5nbr up")
	must(b, "ip tuntap add clat mode tun")
	must(b, "ip link set clat up")

	var mu sync.Mutex
	ipOf := map[string]netip.Addr{} // MAC -> the client's address (the old node knows it)
	roamed := map[string]bool{}     // MACs whose ROAM the "PLAT" ACKed
	mac := func(i int) net.HardwareAddr { return net.HardwareAddr{2, 1, 0, 0, byte(i >> 8), byte(i)} }
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 80, byte(1 + i>>8), byte(i)}) }
	for i := 0; i < nClients; i++ {
		ipOf[mac(i).String()] = ip(i)
	}
	var u *UDP
	if err := inNS(s.Name, func() (err error) { u, err = ListenUDP(wellknown.RoamPort); return }); err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	var nonce uint32
	go recvMsgs(u, func(m *roamproto.Message, src netip.AddrPort) {
		mu.Lock()
		nonce++
		a := &roamproto.Message{TTL: 1, Nonce: nonce, Sender: netip.MustParseAddr("fd00:9::1"),
			MAC: m.MAC, Echo: m.Nonce, HasEcho: true, Timestamp: time.Now()}
		var from netip.Addr
		var to netip.AddrPort
		switch m.Type {
		case roamproto.TypeClaim: // the old node: INFO to NEWCLAT::192.0.0.1
			cip, ok := ipOf[m.MAC.String()]
			if !ok {
				mu.Unlock()
				return
			}
			n := int(cip.As4()[3]) % nOrigins
			a.Type, a.CLAT, a.ClientIP, a.PLAT = roamproto.TypeInfo, netip.MustParsePrefix(fmt.Sprintf("fd00:1::%x:0:0/96", 0x100+n)), cip, plat
			a.LeaseTime, a.HasLease = 3600, true
			from, to = netip.MustParseAddr("fd00:9::1"), netip.AddrPortFrom(addrmap.Embed(m.NewCLAT, mgmt), src.Port())
		case roamproto.TypeRoam: // the PLAT: ACK from where the ROAM went to
			a.Type, from, to = roamproto.TypeAck, addrmap.Embed(plat, mgmt), src
			roamed[m.MAC.String()] = true
		default: // the INFO's ACK: the old node has handed over
			mu.Unlock()
			return
		}
		mu.Unlock()
		if pkt, err := roamproto.Encode(a, nil); err == nil {
			u.Send(from, to, pkt)
		}
	})

	pr := l.start("--node-address", "fd00:9::3",
		"--node-client-prefix", "fd00:5::/64", "--client-ipv4", "10.80.0.0/16", "--clat-range", "fd00:1::/48",
		"--plat-range", "fd00:2::/48", "--plat-prefix", plat.String(), "--clat-prefix", own.String(),
		"--client-bridge", "r5nbr", "--dhcp-hostsfile", "none")
	mem := func() meshlab.Mem {
		t.Helper()
		m, err := meshlab.ReadMem(pr.PID())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	idle := mem()
	// The clients appear at once; the node keeps at most 256 CLAIMs out
	// (a finished one is kept 10 s to re-ACK a lost INFO) and drops the
	// rest, which try again with their next frame: here, every second, the
	// neighbour entries of the clients not yet roamed are made anew.
	neigh := func(all bool) {
		var cmds strings.Builder
		mu.Lock()
		for i := 0; i < nClients; i++ {
			if all || !roamed[mac(i).String()] {
				if !all {
					fmt.Fprintf(&cmds, "neigh del %s dev r5nbr\n", ip(i))
				}
				fmt.Fprintf(&cmds, "neigh add %s dev r5nbr lladdr %s nud stale\n", ip(i), mac(i))
			}
		}
		mu.Unlock()
		f := filepath.Join(lab.Dir(), "neigh.batch")
		if err := os.WriteFile(f, []byte(cmds.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		b.Run(ctx, "ip", "-force", "-batch", f) // a del of an entry the node replaced may fail: -force goes on
	}
	t0 := time.Now()
	neigh(true)
	last := time.Now()
	if err := meshlab.WaitFor(ctx, "1,000 clients roamed in", 20*time.Millisecond, func() (bool, error) {
		if pr.Exited() {
			return false, fmt.Errorf("exited: %s", pr.Log())
		}
		mu.Lock()
		n := len(roamed)
		mu.Unlock()
		if n >= nClients {
			return true, nil
		}
		if time.Since(last) > time.Second {
			neigh(false)
			last = time.Now()
		}
		return false, nil
	}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	members := strings.Count(must(b, "ipset list -o save"), "\nadd ")
	k1 := mem()
	if err := pr.Stop(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("| l3roamd-xlat new node (CLAT + roaming), %d clients roamed in | value |\n|---|---|\n", nClients)
	fmt.Printf("| clients ACKed by the PLAT (played by the bench) / ipset members at the node | %d / %d |\n", len(roamed), members)
	fmt.Printf("| time until all roamed in (CLAIM cap 256, retried each second) | %v |\n", took.Round(time.Millisecond))
	fmt.Printf("| RSS idle -> %d roamed-in clients (anon) | %.1f -> %.1f MiB (%.1f -> %.1f MiB) |\n", nClients,
		float64(idle.RSS)/1024, float64(k1.RSS)/1024, float64(idle.Anon)/1024, float64(k1.Anon)/1024)
}
