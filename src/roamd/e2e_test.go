//go:build e2e

package roamd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// e2e topology (namespace prefix r5):
//
//	cl (client 10.80.0.5) --veth r5cp--> bridge r5br of d, later a, later b
//	d, a, b: clat nodes, TAYGA as CLAT (CLATx::/96 <-> 10.80.0.5), l3roamd-xlat
//	c: PLAT node: NAT66 (conntrack SNAT) to the server link, l3roamd-xlat --own-plat
//	srv: the "internet" host PLATC::203.0.113.1
//	d, a, b, c share the mesh bridge in mx (fd00:9::x/64); static /96 routes
//	stand in for babel's (the daemon's /128 steering at C does the rest).
const (
	e2eMAC    = "02:00:00:00:00:05"
	e2eClient = "10.80.0.5"
	e2ePLAT   = "fd00:2::c:0:0/96"
	e2ePLATE  = "fd00:2::e:0:0/96"
	e2eServer = "203.0.113.1"
)

func e2eCLAT(x string) string { return fmt.Sprintf("fd00:1::%x:0:0/96", x[0]) }

type e2eLab struct {
	t   *testing.T
	lab *meshlab.Lab
	ns  map[string]*meshlab.NS
	bin string
	ctx context.Context
}

func (l *e2eLab) run(ns string, args ...string) string {
	l.t.Helper()
	out, err := l.ns[ns].Run(l.ctx, args...)
	if err != nil {
		l.t.Fatal(err)
	}
	return out
}

func (l *e2eLab) sh(ns, line string) string {
	l.t.Helper()
	return l.run(ns, strings.Fields(line)...)
}

// r5 is the running lab of the roaming e2e tests.
type r5 struct {
	*e2eLab
	procs  map[string]*meshlab.Proc
	args   map[string][]string // daemon command lines (restarts)
	st     *streamReader       // the client's TCP stream through C
	udp    *udpFlow
	conn   net.Conn
	dial   func() (net.Conn, error)
	srvErr chan error
}

func (l *r5) sock(n string) string {
	return filepath.Join(l.lab.Dir(), "root-"+n, "var/run/l3roamd-xlat.sock")
}

// r5Opts: with attacker, the mesh also has node m (fd00:9::6d, CLAT
// fd00:1::6d:0:0/96, no daemon: the test speaks for it, with the site
// secret) and a second PLAT e (fd00:2::e:0:0/96, daemon only).
type r5Opts struct {
	attacker bool
	lease    time.Duration // the client's lease at D
}

// newE2ELab makes a lab with the namespaces names (kept with its logs if
// the test fails or R5_KEEP is set) and builds the daemon into it.
func newE2ELab(t *testing.T, ctx context.Context, prefix string, names ...string) *e2eLab {
	t.Helper()
	lab, err := meshlab.New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("R5_KEEP") != "" {
			lab.KeepDir()
			t.Logf("logs in %s", lab.Dir())
		}
		lab.Close()
	})
	l := &e2eLab{t: t, lab: lab, ns: map[string]*meshlab.NS{}, ctx: ctx}
	l.bin = filepath.Join(lab.Dir(), "l3roamd-xlat")
	if err := meshlab.BuildBinary(l.bin); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		x, err := lab.AddNS(n)
		if err != nil {
			t.Fatal(err)
		}
		l.ns[n] = x
	}
	return l
}

func startR5(t *testing.T, ctx context.Context, o r5Opts) *r5 {
	meshlab.Need(t, "tayga", "ip6tables", "ipset")
	meshNodes, clatNodes := []string{"d", "a", "b", "c"}, []string{"d", "a", "b"}
	if o.attacker {
		meshNodes, clatNodes = append(meshNodes, "m", "e"), append(clatNodes, "m")
	}
	l := newE2ELab(t, ctx, "r5", append([]string{"mx", "air", "cl", "srv"}, meshNodes...)...)
	lab := l.lab
	r := &r5{e2eLab: l, procs: map[string]*meshlab.Proc{}, args: map[string][]string{}}
	// mesh
	l.sh("mx", "ip link add r5mesh type bridge")
	l.sh("mx", "ip link set r5mesh up")
	for _, n := range meshNodes {
		if err := lab.Veth(l.ns[n], "r5m", l.ns["mx"], "r5m"+n); err != nil {
			t.Fatal(err)
		}
		l.sh("mx", "ip link set r5m"+n+" master r5mesh")
		x := l.ns[n]
		for _, s := range []string{"net.ipv6.conf.all.forwarding=1", "net.ipv4.ip_forward=1", "net.ipv6.conf.r5m.accept_dad=0"} {
			kv := strings.SplitN(s, "=", 2)
			if err := x.Sysctl(kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
		l.sh(n, fmt.Sprintf("ip -6 addr add fd00:9::%x/64 dev r5m nodad", n[0]))
		l.sh(n, "ip -6 route add fd00:5::/64 dev r5m") // node-client prefix on-link
		for _, o := range clatNodes {
			if o != n {
				l.sh(n, fmt.Sprintf("ip -6 route add %s via fd00:9::%x", e2eCLAT(o), o[0]))
			}
		}
		if n != "c" {
			l.sh(n, "ip -6 route add "+e2ePLAT+" via fd00:9::63")
		}
		if o.attacker && n != "e" {
			l.sh(n, "ip -6 route add "+e2ePLATE+" via fd00:9::65")
		}
	}
	if o.attacker {
		l.sh("m", "ip -6 addr add "+addrmap.Embed(netip.MustParsePrefix(e2eCLAT("m")), netip.MustParseAddr("192.0.0.1")).String()+"/128 dev lo")
	}
	// PLAT c: NAT66 (conntrack) towards the server
	if err := lab.Veth(l.ns["c"], "r5s", l.ns["srv"], "r5s"); err != nil {
		t.Fatal(err)
	}
	l.sh("c", "ip -6 addr add fd00:7::c/64 dev r5s nodad")
	l.sh("srv", "ip -6 addr add fd00:7::1/64 dev r5s nodad")
	l.sh("srv", "ip -6 addr add fd00:2::c:cb00:7101/128 dev lo")
	l.sh("srv", "ip -6 route add default via fd00:7::c")
	l.sh("c", "ip -6 route add "+e2ePLAT+" via fd00:7::1")
	l.sh("c", "ip6tables -t nat -A POSTROUTING -o r5s -j SNAT --to-source fd00:7::c")
	// clat nodes: client bridge (anycast gateway) and TAYGA
	for _, n := range []string{"d", "a", "b"} {
		// FDB ageing 5 s (default 300 s): a MAC the bridge learnt without a
		// lease is dropped once its entry ages out (Gone), within the test
		l.sh(n, "ip link add r5br type bridge ageing_time 500")
		l.sh(n, "ip link set r5br address 02:00:0a:50:00:01")
		l.sh(n, "ip addr add 10.80.0.1/16 dev r5br")
		l.sh(n, "ip link set r5br up")
		cp := netip.MustParsePrefix(e2eCLAT(n))
		conf := filepath.Join(lab.Dir(), "tayga-"+n+".conf")
		dataDir := filepath.Join(lab.Dir(), "tayga-"+n)
		os.MkdirAll(dataDir, 0o755)
		os.WriteFile(conf, []byte(fmt.Sprintf("tun-device clat\nipv4-addr 192.0.0.2\nipv6-addr %s\nprefix %s\nmap %s %s\ndata-dir %s\n",
			addrmap.Embed(cp, netip.MustParseAddr("192.0.0.2")), e2ePLAT, e2eClient, addrmap.Embed(cp, netip.MustParseAddr(e2eClient)), dataDir)), 0o644)
		l.run(n, "tayga", "-c", conf, "--mktun")
		l.sh(n, "ip link set clat up")
		l.sh(n, "ip route add 203.0.113.0/24 dev clat")
		l.sh(n, "ip -6 route add "+e2eCLAT(n)+" dev clat")
		if _, err := l.ns[n].Start("tayga", "tayga", "-c", conf, "-d"); err != nil {
			t.Fatal(err)
		}
	}
	// daemons
	procs := r.procs
	for _, n := range meshNodes {
		if n == "m" {
			continue
		}
		root := filepath.Join(lab.Dir(), "root-"+n)
		os.MkdirAll(filepath.Join(root, "var/run"), 0o755)
		os.MkdirAll(filepath.Join(root, "etc"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/roam.key"), []byte("r5 domain secret\n"), 0o600)
		args := []string{l.bin, "run", "--root", root, "--secret-file", "/etc/roam.key", "--node-address", fmt.Sprintf("fd00:9::%x", n[0]),
			"--node-client-prefix", "fd00:5::/64", "--node-client-dev", "r5m", "--client-ipv4", "10.80.0.0/16",
			"--clat-range", "fd00:1::/48", "--plat-range", "fd00:2::/48", "--plat-prefix", e2ePLAT,
			"--lease-min", "5s", "--debug"}
		switch n {
		case "c":
			args = append(args, "--own-plat", e2ePLAT)
		case "e":
			args = append(args, "--own-plat", e2ePLATE)
		default:
			args = append(args, "--clat-prefix", e2eCLAT(n), "--client-bridge", "r5br")
		}
		r.args[n] = args
		r.startDaemon(n)
	}
	sock := r.sock
	for n := range procs {
		r.waitDaemon(n)
	}
	// the client leases on D (through the dnsmasq hook), then attaches there
	leaseEnd := time.Now().Add(o.lease)
	hook := exec.Command(l.bin, "lease", "--socket", sock("d"), "add", e2eMAC, e2eClient, "host")
	hook.Env = append(os.Environ(), fmt.Sprintf("DNSMASQ_LEASE_EXPIRES=%d", leaseEnd.Unix()))
	if out, err := hook.CombinedOutput(); err != nil {
		t.Fatalf("lease hook: %v %s", err, out)
	}
	if err := l.ns["cl"].Sysctl("net.ipv6.conf.all.disable_ipv6", "1"); err != nil {
		t.Fatal(err)
	}
	// the "air": the client's link stays up; a roam moves which node's
	// port is bridged to it (no carrier change, so no linkwatch delay)
	for _, k := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
		if err := l.ns["air"].Sysctl(k, "1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := lab.Veth(l.ns["cl"], "r5c", l.ns["air"], "r5ac"); err != nil {
		t.Fatal(err)
	}
	l.sh("air", "ip link add r5air type bridge")
	l.sh("air", "ip link set r5air up")
	l.sh("air", "ip link set r5ac master r5air")
	for _, n := range []string{"d", "a", "b"} {
		if err := lab.Veth(l.ns[n], "r5cp", l.ns["air"], "r5a"+n); err != nil {
			t.Fatal(err)
		}
		l.sh(n, "ip link set r5cp master r5br")
	}
	l.sh("cl", "ip link set r5c address "+e2eMAC)
	l.sh("cl", "ip addr add "+e2eClient+"/16 dev r5c")
	l.sh("cl", "ip route add default via 10.80.0.1")
	l.sh("air", "ip link set r5ad master r5air")

	// server: streams a verifiable byte sequence; reads the client's bytes
	var ln net.Listener
	if err := inNS(l.ns["srv"].Name, func() (err error) {
		ln, err = net.Listen("tcp6", "[fd00:2::c:cb00:7101]:5001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srvErr := make(chan error, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveStream(c, srvErr)
		}
	}()
	dial := func() (net.Conn, error) {
		var c net.Conn
		err := inNS(l.ns["cl"].Name, func() (err error) {
			d := net.Dialer{Timeout: 3 * time.Second}
			c, err = d.Dial("tcp4", e2eServer+":5001")
			return err
		})
		return c, err
	}
	conn, err := dial()
	if err != nil {
		t.Fatalf("first connection: %v\nd: %s", err, procs["d"].Log())
	}
	st := newStreamReader(conn)
	go st.run()
	if err := st.waitBytes(ctx, 64<<10); err != nil {
		t.Fatal(err)
	}

	// UDP flow: one datagram every 10 ms, echoed by the server
	var us net.PacketConn
	if err := inNS(l.ns["srv"].Name, func() (err error) {
		us, err = net.ListenPacket("udp6", "[fd00:2::c:cb00:7101]:5002")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, a, err := us.ReadFrom(buf)
			if err != nil {
				return
			}
			us.WriteTo(buf[:n], a)
		}
	}()
	var uc net.Conn
	if err := inNS(l.ns["cl"].Name, func() (err error) {
		uc, err = net.Dial("udp4", e2eServer+":5002")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	udp := &udpFlow{c: uc}
	go udp.run()
	if err := meshlab.WaitFor(ctx, "UDP echoes", 10*time.Millisecond, func() (bool, error) { return udp.received() > 10, nil }); err != nil {
		t.Fatal(err)
	}
	r.st, r.udp, r.conn, r.dial, r.srvErr = st, udp, conn, dial, srvErr
	t.Cleanup(func() { conn.Close(); uc.Close(); us.Close(); ln.Close() })
	return r
}

func (r *r5) startDaemon(n string) {
	r.t.Helper()
	p, err := r.ns[n].Start("roamd", r.args[n]...)
	if err != nil {
		r.t.Fatal(err)
	}
	r.procs[n] = p
}

func (r *r5) waitDaemon(n string) {
	r.t.Helper()
	if err := meshlab.WaitFor(r.ctx, "daemon "+n, 20*time.Millisecond, func() (bool, error) {
		if r.procs[n].Exited() {
			return false, fmt.Errorf("exited: %s", r.procs[n].Log())
		}
		_, err := os.Stat(r.sock(n))
		return err == nil, nil
	}); err != nil {
		r.t.Fatal(err)
	}
}

// roam moves the client's air link from node from to node to, makes the
// client send a frame and waits until its stream has moved on 256 KiB; it
// returns the longest stall.
func (r *r5) roam(from, to string) time.Duration {
	t, l, ctx, st, udp, procs := r.t, r.e2eLab, r.ctx, r.st, r.udp, r.procs
	t.Helper()
	st.resetGap()
	udp.resetGap()
	t.Logf("%s roam %s->%s", time.Now().Format("15:04:05.000"), from, to)
	l.sh("air", "ip link set r5a"+from+" nomaster")
	l.sh("air", "ip link set r5a"+to+" master r5air")
	// re-association: like a WiFi client's DNAv4 check, the client
	// sends one frame at once (l3roamd learns from nl80211 there)
	l.ns["cl"].Run(ctx, "ping", "-c1", "-W1", "10.80.0.1")
	start := st.total()
	if err := st.waitBytes(ctx, start+256<<10); err != nil {
		t.Fatalf("roam %s->%s: stream stalled: %v\n%s: %s\n%s: %s\nc: %s", from, to, err, from, procs[from].Log(),
			to, procs[to].Log(), procs["c"].Log())
	}
	return st.maxGap()
}

func TestE2ERoamTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l := startR5(t, ctx, r5Opts{lease: 16 * time.Second})
	sock, st, udp, conn, dial, lab, srvErr := l.sock, l.st, l.udp, l.conn, l.dial, l.lab, l.srvErr

	var udpGaps []time.Duration
	roam := func(from, to string) time.Duration {
		t.Helper()
		gap := l.roam(from, to)
		// new connections work after the roam
		c2, err := dial()
		if err != nil {
			t.Fatalf("new connection after roam %s->%s: %v", from, to, err)
		}
		s2 := newStreamReader(c2)
		go s2.run()
		if err := s2.waitBytes(ctx, 16<<10); err != nil {
			t.Fatalf("new connection after roam: %v", err)
		}
		c2.Close()
		n0 := udp.received()
		if err := meshlab.WaitFor(ctx, "UDP after roam", 10*time.Millisecond, func() (bool, error) {
			return udp.received() > n0+10, nil
		}); err != nil {
			t.Fatalf("UDP flow after roam %s->%s: %v", from, to, err)
		}
		udpGaps = append(udpGaps, udp.maxGap())
		return gap
	}
	gapA := roam("d", "a")
	gapB := roam("a", "b")
	t.Logf("longest stall: TCP D->A %v, A->B %v; UDP (10 ms flow) D->A %v, A->B %v", gapA.Round(time.Millisecond),
		gapB.Round(time.Millisecond), udpGaps[0].Round(time.Millisecond), udpGaps[1].Round(time.Millisecond))
	if err := st.failed(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	select {
	case err := <-srvErr:
		t.Fatalf("server: %v", err)
	default:
	}
	for _, g := range []time.Duration{gapA, gapB} {
		if g > 3*time.Second {
			t.Errorf("stall %v longer than 3 s", g)
		}
	}
	hosts, _ := os.ReadFile(filepath.Join(lab.Dir(), "root-b", "var/run/l3roamd-xlat.hosts"))
	if !strings.Contains(string(hosts), e2eMAC+","+e2eClient) {
		t.Errorf("B's dhcp hostsfile lacks the roamed client: %q", hosts)
	}
	// A released: no node-client-IP, no members, no announce route
	if out := l.sh("a", "ipset list l3x-roam"); strings.Contains(out, "a50:5") {
		t.Errorf("A still has members:\n%s", out)
	}
	// after the lease: nothing for the client at A, B or C
	// the client goes quiet (a real one would renew or leave): once the
	// lease ends and its FDB entries age out, no node holds anything for it
	conn.Close()
	udp.c.Close()
	dl, _ := ctx.Deadline()
	waitCtx, waitCancel := context.WithDeadline(ctx, dl.Add(-5*time.Second)) // ctx left for the report
	defer waitCancel()
	if err := meshlab.WaitFor(waitCtx, "lease end cleanup", 200*time.Millisecond, func() (bool, error) {
		for _, n := range []string{"a", "b"} {
			if out := l.sh(n, "ipset list"); strings.Contains(out, "a50:5") {
				return false, fmt.Errorf("%s ipset: %s", n, out)
			}
			if out := l.sh(n, "ip -6 route show proto 158"); strings.TrimSpace(out) != "" {
				return false, fmt.Errorf("%s routes: %s", n, out)
			}
			if out := l.sh(n, "ip -6 addr show dev r5m"); strings.Contains(out, "inet6 fd00:5:") { // any node-client-IP
				return false, fmt.Errorf("%s node-client-IP: %s", n, out)
			}
		}
		if out := l.sh("c", "ip -6 route show proto 159"); strings.TrimSpace(out) != "" {
			return false, fmt.Errorf("c steering: %s", out)
		}
		return true, nil
	}); err != nil {
		for _, n := range []string{"cl", "air", "d", "a", "b"} {
			out, _ := exec.Command("ip", "netns", "exec", l.ns[n].Name, "ip", "-br", "link").CombinedOutput()
			t.Logf("cleanup failed: %s links:\n%s", n, out)
		}
		for _, n := range []string{"d", "a", "b"} {
			out, _ := exec.Command("ip", "netns", "exec", l.ns[n].Name, "bridge", "fdb", "show", "br", "r5br").CombinedOutput()
			t.Logf("cleanup failed: %s fdb:\n%s", n, out)
			for _, ln := range strings.Split(l.procs[n].Log(), "\n") {
				if strings.Contains(ln, "client seen") || strings.Contains(ln, "CLAIM") || strings.Contains(ln, "INFO") {
					t.Logf("cleanup failed: %s log: %s", n, ln)
				}
			}
		}
		t.Fatal(err)
	}
	for _, n := range []string{"d", "a", "b", "c"} {
		out, _ := exec.Command(l.bin, "status", "--socket", sock(n)).CombinedOutput()
		t.Logf("status %s:\n%s", n, out)
	}
}

// serveStream sends byte i = i*7 mod 251 in 1 KiB chunks every 2 ms and
// reads what the client sends.
func serveStream(c net.Conn, errc chan<- error) {
	defer c.Close()
	go io.Copy(io.Discard, c)
	buf := make([]byte, 1024)
	var off uint64
	for {
		for i := range buf {
			buf[i] = byte((off + uint64(i)) * 7 % 251)
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
		off += uint64(len(buf))
		time.Sleep(2 * time.Millisecond)
	}
}

type streamReader struct {
	c      net.Conn
	mu     sync.Mutex
	n      uint64
	last   time.Time
	gap    time.Duration
	err    error
	notify chan struct{}
}

func newStreamReader(c net.Conn) *streamReader {
	return &streamReader{c: c, last: time.Now(), notify: make(chan struct{}, 1)}
}

func (s *streamReader) run() {
	buf := make([]byte, 64<<10)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	go func() { // the client also sends, every 10 ms
		for range tick.C {
			if _, err := s.c.Write([]byte("ping-from-client")); err != nil {
				return
			}
		}
	}()
	for {
		k, err := s.c.Read(buf)
		now := time.Now()
		s.mu.Lock()
		for i := 0; i < k; i++ {
			if buf[i] != byte((s.n+uint64(i))*7%251) && s.err == nil {
				s.err = fmt.Errorf("corrupt byte at offset %d", s.n+uint64(i))
			}
		}
		s.n += uint64(k)
		if k > 0 {
			if g := now.Sub(s.last); g > 300*time.Millisecond && os.Getenv("R5_KEEP") != "" {
				fmt.Printf("%s stream resumed after %v\n", now.Format("15:04:05.000"), g)
			}
			if g := now.Sub(s.last); g > s.gap {
				s.gap = g
			}
			s.last = now
		}
		if err != nil && s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

func (s *streamReader) total() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *streamReader) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *streamReader) resetGap() {
	s.mu.Lock()
	s.gap, s.last = 0, time.Now()
	s.mu.Unlock()
}

func (s *streamReader) maxGap() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gap
}

func (s *streamReader) waitBytes(ctx context.Context, n uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		s.mu.Lock()
		got, err := s.n, s.err
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d bytes: %w", got, n, ctx.Err())
		case <-s.notify:
		}
	}
}

// udpFlow sends a sequence number every 10 ms and records the longest gap
// between echoes.
type udpFlow struct {
	c    net.Conn
	mu   sync.Mutex
	n    int
	last time.Time
	gap  time.Duration
}

func (u *udpFlow) run() {
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := u.c.Read(buf); err != nil {
				return
			}
			now := time.Now()
			u.mu.Lock()
			if !u.last.IsZero() && now.Sub(u.last) > u.gap {
				u.gap = now.Sub(u.last)
			}
			u.last = now
			u.n++
			u.mu.Unlock()
		}
	}()
	for i := 0; ; i++ {
		if _, err := fmt.Fprintf(u.c, "seq %d", i); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (u *udpFlow) received() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n
}

func (u *udpFlow) resetGap() {
	u.mu.Lock()
	u.gap, u.last = 0, time.Now()
	u.mu.Unlock()
}

func (u *udpFlow) maxGap() time.Duration {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.gap
}
