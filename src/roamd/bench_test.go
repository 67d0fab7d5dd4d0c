//go:build bench

package roamd

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// TestBenchRoamScale feeds 10,000 ROAMs for distinct clients from 20 CLAT
// prefixes to a PLAT's l3roamd-xlat (a real process in a namespace) and
// prints a table: handling time (first send to last ACK), ip6tables rule
// count with 20 clients (one per prefix) and with 10,000, the daemon's RSS.
// Baseline in the same run: 10,000 "back home" ROAMs (full protocol path,
// ACKed, no kernel route work). Three runs, medians.
func TestBenchRoamScale(t *testing.T) {
	meshlab.Need(t)
	const nPrefixes, nClients, runs = 20, 10000, 3
	l := newBenchLab(t, "r5b", "p")
	s, p, must := l.s, l.n, l.must
	must(s, "ip -6 addr add fd00:9::1/64 dev r5bs nodad")
	must(p, "ip -6 addr add fd00:9::2/64 dev r5bp nodad")
	must(s, "ip -6 route add fd00:2::c:0:0/96 via fd00:9::2")
	// the PLAT's own NAT66 rule, so that the count is a real PLAT's
	must(p, "ip6tables -t nat -A POSTROUTING -o r5bp -s fd00:1::/48 -j SNAT --to-source fd00:2::c:c000:8")
	clat := make([]netip.Prefix, nPrefixes)
	for i := range clat {
		clat[i] = netip.MustParsePrefix(fmt.Sprintf("fd00:1::%x:0:0/96", 0x100+i))
		must(s, "ip -6 addr add "+addrmap.Embed(clat[i], netip.MustParseAddr("192.0.0.1")).String()+"/128 dev lo nodad")
		must(p, "ip -6 route add "+clat[i].String()+" via fd00:9::1") // as babel announces each CLAT /96
	}
	plat := netip.MustParsePrefix("fd00:2::c:0:0/96")
	to := netip.AddrPortFrom(addrmap.Embed(plat, netip.MustParseAddr("192.0.0.1")), 5524)

	rules := func() int {
		out := must(p, "ip6tables-save")
		return strings.Count(out, "\n-A ")
	}
	start := func() *meshlab.Proc {
		return l.start("--node-address", "fd00:9::2",
			"--node-client-prefix", "fd00:5::/64", "--client-ipv4", "10.0.0.0/8", "--clat-range", "fd00:1::/48",
			"--own-plat", plat.String(), "--dhcp-hostsfile", "none", "--clean-exit", "--handover-rate", "1e6", "--handover-rate-clat", "1e6")
	}
	// s plays every node of the mesh: the new node B that sends each ROAM
	// (from NEWCLAT::192.0.0.1) and the serving node A that handed the
	// client over and answers the PLAT's VERIFY as a real node does
	// (oldnode.go onVerify): CONFIRM only for a handover it recorded, to
	// exactly that NEWCLAT and MAC, asked by the client's own PLAT; REFUSE
	// otherwise. Like a node, it listens on the roaming port 5524: the
	// PLAT sends VERIFYs to <serving CLAT>::192.0.0.1 port 5524.
	platMgmt := addrmap.Embed(plat, netip.MustParseAddr("192.0.0.1"))
	type handed struct {
		to  netip.Prefix
		mac string
	}
	var refusedTotal, confirmedTotal atomic.Int64
	// A's nonces, one sequence for the whole bench (the PLAT drops a
	// repeated (sender, type, nonce)); B's ROAMs use run<<24|i
	var nonce atomic.Uint32
	nonce.Store(0x80000000)
	// feed sends ROAMs for clients [first, first+n) and waits for n ACKs.
	feed := func(run, first, n int, home bool) time.Duration {
		t.Helper()
		var d time.Duration
		err := inNS(s.Name, func() error {
			u, err := ListenUDP(wellknown.RoamPort)
			if err != nil {
				return err
			}
			defer u.Close()
			var mu sync.Mutex
			ho := map[netip.Addr]handed{} // A's handover records, CLATD::ip -> to whom
			var acks, refused atomic.Int64
			done := make(chan struct{})
			go recvMsgs(u, func(m *roamproto.Message, src netip.AddrPort) {
				switch m.Type {
				case roamproto.TypeVerify:
					mu.Lock()
					h, ok := ho[addrmap.Embed(m.CLAT, m.ClientIP)]
					mu.Unlock()
					ok = ok && h.to == m.NewCLAT && src.Addr() == platMgmt && (m.MAC == nil || m.MAC.String() == h.mac)
					a := &roamproto.Message{Type: roamproto.TypeRefuse, TTL: 1, Nonce: nonce.Add(1),
						Sender: netip.MustParseAddr("fd00:9::1"), Echo: m.Nonce, HasEcho: true, Timestamp: time.Now()}
					if ok {
						a.Type, a.LeaseTime, a.HasLease = roamproto.TypeConfirm, 3600, true
						confirmedTotal.Add(1)
					} else {
						refusedTotal.Add(1)
					}
					b, _ := roamproto.Encode(a, nil)
					// from the address the VERIFY went to: the lease node's (these
					// clients have no steering entry yet, so it serves them)
					u.Send(addrmap.Embed(m.CLAT, netip.MustParseAddr("192.0.0.1")), src, b)
					return
				case roamproto.TypeRefuse:
					refused.Add(1)
				case roamproto.TypeAck:
				default:
					return
				}
				if acks.Add(1) == int64(n) {
					close(done)
				}
			})
			t0 := time.Now()
			for i := first; i < first+n; i++ {
				// window below the PLAT's cap of 1024 pending VERIFYs
				// (beyond it a ROAM is dropped and B would retransmit)
				for int64(i-first)-acks.Load() > 512 {
					if time.Since(t0) > 30*time.Second {
						return fmt.Errorf("stuck at %d of %d ROAMs sent, %d answers (%d refused)", i-first, n, acks.Load(), refused.Load())
					}
					time.Sleep(50 * time.Microsecond)
				}
				b := clat[i%nPrefixes]
				orig := clat[(i+1)%nPrefixes]
				if home {
					orig = b
				}
				mac := net.HardwareAddr{2, 0, byte(run), byte(i >> 16), byte(i >> 8), byte(i)}
				ip := netip.AddrFrom4([4]byte{10, byte(run*3 + btoi(home)), byte(i >> 8), byte(i)})
				if !home { // A handed the client to B (ACK in, client gone) before B's ROAM
					mu.Lock()
					ho[addrmap.Embed(orig, ip)] = handed{to: b, mac: mac.String()}
					mu.Unlock()
				}
				m := &roamproto.Message{Type: roamproto.TypeRoam, TTL: 1, Nonce: uint32(run<<24 | i),
					Sender: netip.MustParseAddr("fd00:9::1"), MAC: mac,
					CLAT: orig, ClientIP: ip,
					LeaseTime: 3600, HasLease: true, NewCLAT: b, PLAT: plat, Timestamp: time.Now()}
				pkt, err := roamproto.Encode(m, nil)
				if err != nil {
					return err
				}
				if err := u.Send(addrmap.Embed(b, netip.MustParseAddr("192.0.0.1")), to, pkt); err != nil {
					return err
				}
			}
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				return fmt.Errorf("only %d of %d answers (%d refused)", acks.Load(), n, refused.Load())
			}
			d = time.Since(t0)
			if r := refused.Load(); r > 0 {
				return fmt.Errorf("%d of %d ROAMs refused", r, n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	rss := func(pid int) (string, string) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		var r, h string
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				r = f[1] + " kB"
			} else if len(f) >= 2 && f[0] == "VmHWM:" {
				h = f[1] + " kB"
			}
		}
		return r, h
	}
	var base, roam []time.Duration
	var rules20, rules10k, routes int
	var rssAfter, hwm string
	for r := 1; r <= runs; r++ {
		pr := start()
		base = append(base, feed(r, 0, nClients, true))
		feed(r, nClients, nPrefixes, false) // one client per CLAT prefix
		rules20 = rules()
		roam = append(roam, feed(r, nClients+nPrefixes, nClients, false))
		rules10k = rules()
		routes = strings.Count(must(p, "ip -6 route show proto 159"), "\n")
		rssAfter, hwm = rss(pr.PID())
		if err := pr.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	// 1,000 roamed clients (issue 9, files/docs/memory.md): a fresh daemon,
	// idle, then carrying 1,000 roamed clients; the growth is what the PLAT
	// side adds to a node's memory sum.
	pr := start()
	idle, err := meshlab.ReadMem(pr.PID())
	if err != nil {
		t.Fatal(err)
	}
	feed(runs+1, 0, 1000, false)
	k1, err := meshlab.ReadMem(pr.PID())
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.Stop(); err != nil {
		t.Fatal(err)
	}
	med := func(ds []time.Duration) time.Duration {
		x := append([]time.Duration(nil), ds...)
		sort.Slice(x, func(i, j int) bool { return x[i] < x[j] })
		return x[len(x)/2]
	}
	mb, mr := med(base), med(roam)
	fmt.Printf("| l3roamd-xlat PLAT, %d ROAMs, %d CLAT prefixes, %d runs | value |\n|---|---|\n", nClients, nPrefixes, runs)
	fmt.Printf("| protocol | each handover VERIFYed by the serving node (played by the bench): %d CONFIRM, %d REFUSE |\n", confirmedTotal.Load(), refusedTotal.Load())
	fmt.Printf("| rate limits raised for the bench | --handover-rate 1e6 --handover-rate-clat 1e6 (defaults 1000/s, 100/s per NEWCLAT: 10,000 handovers would take >= 9 s) |\n")
	fmt.Printf("| handling time, median (runs: %v) | %v |\n", roam, mr.Round(time.Millisecond))
	fmt.Printf("| per ROAM | %v |\n", (mr / nClients).Round(100*time.Nanosecond))
	fmt.Printf("| baseline: %d 'back home' ROAMs (no kernel work), median | %v |\n", nClients, mb.Round(time.Millisecond))
	fmt.Printf("| ratio roam / baseline | %.2f |\n", float64(mr)/float64(mb))
	fmt.Printf("| ip6tables rules, 1 client per CLAT prefix (20 clients) | %d |\n", rules20)
	fmt.Printf("| ip6tables rules, %d + 20 clients | %d |\n", nClients, rules10k)
	fmt.Printf("| steering /128 routes (proto 159) | %d |\n", routes)
	fmt.Printf("| daemon RSS after the last run (peak) | %s (%s) |\n", rssAfter, hwm)
	fmt.Printf("| RSS idle -> 1,000 roamed clients (anon) | %.1f -> %.1f MiB (%.1f -> %.1f MiB) |\n",
		float64(idle.RSS)/1024, float64(k1.RSS)/1024, float64(idle.Anon)/1024, float64(k1.Anon)/1024)
	if rules20 != rules10k {
		t.Errorf("rule count grew with clients: %d -> %d", rules20, rules10k)
	}
	if routes != nClients+nPrefixes {
		t.Errorf("%d steering routes, want %d", routes, nClients+nPrefixes)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
