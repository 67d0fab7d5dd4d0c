package roamd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/nfstate"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// recKernel records what the daemon asks of the kernel.
type recKernel struct {
	net            *fakeNet
	mu             sync.Mutex
	nodeIPs        map[netip.Addr]bool
	roamed         map[netip.Addr]nfstate.Roamed // by client IP
	announce       map[netip.Addr]bool
	retract        map[netip.Addr]netip.Addr // release routes: dst -> towards (invalid: unreachable)
	steer          map[netip.Addr]netip.Addr
	fallback       map[netip.Addr]netip.Addr // expired release routes' fallbacks
	neigh          map[netip.Addr]string
	dropped        []netip.Prefix
	present        map[netip.Addr]bool // clients that answer the presence probe here
	droppedOrigins []netip.Prefix
}

func newRecKernel(n *fakeNet) *recKernel {
	return &recKernel{net: n, nodeIPs: map[netip.Addr]bool{}, roamed: map[netip.Addr]nfstate.Roamed{},
		announce: map[netip.Addr]bool{}, retract: map[netip.Addr]netip.Addr{}, steer: map[netip.Addr]netip.Addr{}, neigh: map[netip.Addr]string{},
		fallback: map[netip.Addr]netip.Addr{},
		present:  map[netip.Addr]bool{}}
}

func (k *recKernel) Routed(netip.Addr) bool { return true }
func (k *recKernel) Present(ip netip.Addr, _ net.HardwareAddr) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.present[ip]
}

func (k *recKernel) AddNodeClientIP(a netip.Addr) error {
	k.mu.Lock()
	k.nodeIPs[a] = true
	k.mu.Unlock()
	return nil
}
func (k *recKernel) DelNodeClientIP(a netip.Addr) error {
	k.mu.Lock()
	delete(k.nodeIPs, a)
	k.mu.Unlock()
	return nil
}
func (k *recKernel) HasRoute(a netip.Addr) bool { return k.net.owner(a) != nil }
func (k *recKernel) AddAddr(netip.Addr) error   { return nil }
func (k *recKernel) AddRoamed(r nfstate.Roamed, _ time.Duration) error {
	k.mu.Lock()
	k.roamed[r.ClientIP] = r
	k.mu.Unlock()
	return nil
}
func (k *recKernel) RemoveRoamed(r nfstate.Roamed) error {
	k.mu.Lock()
	delete(k.roamed, r.ClientIP)
	k.mu.Unlock()
	return nil
}
func (k *recKernel) FlushConntrack(nfstate.Roamed) error { return nil }
func (k *recKernel) DeviceChanged() bool                 { return false }
func (k *recKernel) DropOrigin(p netip.Prefix) error {
	k.mu.Lock()
	k.droppedOrigins = append(k.droppedOrigins, p)
	k.mu.Unlock()
	return nil
}
func (k *recKernel) DropPLAT(p netip.Prefix) error {
	k.mu.Lock()
	k.dropped = append(k.dropped, p)
	k.mu.Unlock()
	return nil
}
func (k *recKernel) SetNeigh(ip netip.Addr, mac net.HardwareAddr) error {
	k.mu.Lock()
	k.neigh[ip] = mac.String()
	k.mu.Unlock()
	return nil
}
func (k *recKernel) DelNeigh(ip netip.Addr, _ net.HardwareAddr) error {
	k.mu.Lock()
	delete(k.neigh, ip)
	k.mu.Unlock()
	return nil
}
func (k *recKernel) Announce(a netip.Addr) error {
	k.mu.Lock()
	k.announce[a] = true
	delete(k.retract, a) // replaced, as a kernel route
	k.mu.Unlock()
	return nil
}
func (k *recKernel) Retract(a, towards netip.Addr) error {
	k.mu.Lock()
	delete(k.announce, a)
	k.retract[a] = towards
	k.mu.Unlock()
	return nil
}
func (k *recKernel) Repoint(a, via netip.Addr, dev string) error {
	k.mu.Lock()
	k.retract[a] = via
	k.mu.Unlock()
	return nil
}
func (k *recKernel) Unretract(a netip.Addr) error {
	k.mu.Lock()
	delete(k.retract, a)
	k.mu.Unlock()
	return nil
}
func (k *recKernel) Unannounce(a netip.Addr) error {
	k.mu.Lock()
	delete(k.announce, a)
	k.mu.Unlock()
	return nil
}
func (k *recKernel) Steer(a, to netip.Addr) error {
	k.mu.Lock()
	k.steer[a] = to
	k.mu.Unlock()
	return nil
}
func (k *recKernel) Fallback(a netip.Addr) error {
	k.mu.Lock()
	if to, ok := k.retract[a]; ok && to.IsValid() {
		k.fallback[a] = to
	}
	delete(k.retract, a)
	k.mu.Unlock()
	return nil
}
func (k *recKernel) Detour(a, to netip.Addr) error {
	k.mu.Lock()
	k.fallback[a] = to
	k.mu.Unlock()
	return nil
}
func (k *recKernel) Unfallback(a netip.Addr) error {
	k.mu.Lock()
	delete(k.fallback, a)
	k.mu.Unlock()
	return nil
}
func (k *recKernel) Unsteer(a netip.Addr) error {
	k.mu.Lock()
	delete(k.steer, a)
	k.mu.Unlock()
	return nil
}

// fakeNet is an in-memory mesh of state machines on one fake clock. It
// delivers datagrams (by the addresses each node owns: node address,
// node-client-IPs, management) and background probe results through one
// FIFO queue, drained in the test's goroutine: no goroutines, no sleeps,
// the same order every run.
type fakeNet struct {
	clk   *fakeClock
	nodes []*node
	queue []func()
}

type node struct {
	name  string
	net   *fakeNet
	m     *machine
	k     *recKernel
	addrs map[netip.Addr]bool
}

func newFakeNet() *fakeNet { return &fakeNet{clk: newFakeClock()} }

func (n *fakeNet) owner(a netip.Addr) *node {
	for _, x := range n.nodes {
		x.k.mu.Lock()
		ok := x.addrs[a] || x.k.nodeIPs[a]
		x.k.mu.Unlock()
		if ok {
			return x
		}
	}
	return nil
}

type nodeTx struct {
	n    *fakeNet
	self *node
}

func (t nodeTx) Send(from netip.Addr, to netip.AddrPort, b []byte) error {
	if !from.IsValid() {
		from = t.self.m.cfg.NodeAddress
	}
	dst := t.n.owner(to.Addr())
	if dst == nil {
		return fmt.Errorf("no route to %v", to)
	}
	pkt := append([]byte(nil), b...)
	t.n.queue = append(t.n.queue, func() { dst.packet(netip.AddrPortFrom(from, 5524), pkt) })
	return nil
}

// do makes a transition on x's machine and carries out its effects, as
// the event loop does.
func (x *node) do(f func(m *machine)) {
	f(x.m)
	x.m.apply(x.m.take())
}

// call is do for a transition with an error (effects' errors included).
func (x *node) call(f func(m *machine) error) error {
	err := f(x.m)
	return errors.Join(err, x.m.apply(x.m.take()))
}

func (x *node) seen(mac net.HardwareAddr, ip netip.Addr) {
	x.do(func(m *machine) { m.Seen(mac, ip) })
}

func (x *node) lease(op LeaseOp, mac net.HardwareAddr, ip netip.Addr, exp time.Time) error {
	return x.call(func(m *machine) error { return m.Lease(op, mac, ip, exp) })
}

func (x *node) packet(src netip.AddrPort, b []byte) {
	x.do(func(m *machine) { m.HandlePacket(src, b) })
}

// settle delivers everything queued, and what that sends in turn, without
// moving the clock.
func (n *fakeNet) settle(t *testing.T) {
	t.Helper()
	for i := 0; len(n.queue) > 0; i++ {
		if i > 100000 {
			t.Fatal("the mesh does not settle")
		}
		f := n.queue[0]
		n.queue = n.queue[1:]
		f()
	}
}

// step moves the clock to the earliest timer of any node (not beyond
// limit), fires what is due everywhere and settles; false: no timer due
// by limit (the clock is then at limit).
func (n *fakeNet) step(t *testing.T, limit time.Time) bool {
	t.Helper()
	next, ok := time.Time{}, false
	for _, x := range n.nodes {
		if at, set := x.m.nextDeadline(); set && (!ok || at.Before(next)) {
			next, ok = at, true
		}
	}
	if !ok || next.After(limit) {
		n.clk.set(limit)
		return false
	}
	n.clk.set(next)
	for _, x := range n.nodes {
		x.do(func(m *machine) { m.fireDue() })
	}
	n.settle(t)
	return true
}

// advance moves the clock on by d, firing every timer on the way.
func (n *fakeNet) advance(t *testing.T, d time.Duration) {
	t.Helper()
	n.settle(t)
	end := n.clk.Now().Add(d)
	for n.step(t, end) {
	}
	n.settle(t)
}

// waitFor runs the mesh (deliveries, then timers in time order) until
// cond holds; it fails when 5 s of mesh time pass without it.
func (n *fakeNet) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	n.settle(t)
	limit := n.clk.Now().Add(5 * time.Second)
	for !cond() {
		if !n.step(t, limit) {
			t.Fatalf("%s: not reached in 5 s of mesh time", what)
		}
	}
}

var (
	clientNet = netip.MustParsePrefix("10.80.0.0/16")
	clatRange = netip.MustParsePrefix("fd00:1::/48")
	platRange = netip.MustParsePrefix("fd00:2::/48")
	platC     = netip.MustParsePrefix("fd00:2::c:0:0/96")
	clientMAC = net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	clientIP  = netip.MustParseAddr("10.80.0.5")
)

func clatOf(name string) netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("fd00:1::%x:0:0/96", name[0]))
}

func (n *fakeNet) add(t *testing.T, name string, plat bool, secret []byte) *node {
	cfg := Config{
		NodeAddress:      netip.MustParseAddr(fmt.Sprintf("fd00:9::%x", name[0])),
		NodeClientPrefix: netip.MustParsePrefix("fd00:5::/64"),
		ClientIPv4:       clientNet, OwnCLAT: clatOf(name), CLATRange: clatRange, PLAT: platC, PLATRange: platRange,
		ClaimInterval: 20 * time.Millisecond, InfoInterval: 20 * time.Millisecond, Secret: secret,
	}
	if plat {
		cfg.OwnPLAT = platC
	}
	return n.addNode(t, name, cfg, nil)
}

// addNode adds a node with cfg; tx nil: the mesh's delivery.
func (n *fakeNet) addNode(t *testing.T, name string, cfg Config, tx Transport) *node {
	x := &node{name: name, net: n, addrs: map[netip.Addr]bool{cfg.NodeAddress: true}}
	x.k = newRecKernel(n)
	if tx == nil {
		tx = nodeTx{n: n, self: x}
	}
	m, err := newMachine(cfg, world{k: x.k, tx: tx}, n.clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	x.m = m
	// a background probe (Present) answers at once, in queue order
	m.spawn = func(job func() func()) {
		n.queue = append(n.queue, func() {
			res := job()
			x.do(func(*machine) { res() })
		})
	}
	x.addrs[addrmap.Embed(cfg.OwnCLAT, m.cfg.MgmtIPv4)] = true
	if cfg.OwnPLAT.IsValid() {
		x.addrs[addrmap.Embed(cfg.OwnPLAT, m.cfg.MgmtIPv4)] = true
	}
	n.nodes = append(n.nodes, x)
	t.Cleanup(m.Close)
	return x
}

func (x *node) has(f func(k *recKernel) bool) bool {
	x.k.mu.Lock()
	defer x.k.mu.Unlock()
	return f(x.k)
}

// mgmtOf is a node's management address (<own CLAT>::192.0.0.1), where
// INFOs to it go and where a release route towards it points.
func mgmtOf(name string) netip.Addr {
	return wellknown.ManagementAddress(clatOf(name))
}

func TestRoamDAB(t *testing.T) {
	for _, secret := range [][]byte{nil, []byte("site key")} {
		t.Run(fmt.Sprintf("secret=%t", secret != nil), func(t *testing.T) { testRoamDAB(t, secret) })
	}
}

func testRoamDAB(t *testing.T, secret []byte) {
	n := newFakeNet()
	D, A, B, C := n.add(t, "d", false, secret), n.add(t, "a", false, secret), n.add(t, "b", false, secret), n.add(t, "c", true, secret)
	nip := D.m.nodeClientIP(clientMAC)
	if err := D.lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !D.has(func(k *recKernel) bool { return k.nodeIPs[nip] }) {
		t.Fatal("D does not hold the node-client-IP")
	}
	dIP := addrmap.Embed(clatOf("d"), clientIP)

	// D -> A
	A.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "C steering to A", func() bool {
		return C.has(func(k *recKernel) bool { return k.steer[dIP] == addrmap.Embed(clatOf("a"), clientIP) })
	})
	n.waitFor(t, "D released", func() bool { return !D.has(func(k *recKernel) bool { return k.nodeIPs[nip] }) })
	if !A.has(func(k *recKernel) bool {
		r := k.roamed[clientIP]
		return k.nodeIPs[nip] && k.announce[dIP] && r.CLAT == clatOf("d") && k.neigh[clientIP] == clientMAC.String()
	}) {
		t.Fatalf("A state incomplete: %+v", A.k)
	}
	// D never announced the /128 (its /96 covers it): a fallback route
	// towards A carries what still reaches D until babel has A's /128
	if to := D.k.fallback[dIP]; to != mgmtOf("a") {
		t.Errorf("D's fallback route for the client goes towards %v, want A %v", to, mgmtOf("a"))
	}
	// A -> B
	B.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "C steering to B", func() bool {
		return C.has(func(k *recKernel) bool { return k.steer[dIP] == addrmap.Embed(clatOf("b"), clientIP) })
	})
	n.waitFor(t, "A released", func() bool {
		return A.has(func(k *recKernel) bool {
			return !k.nodeIPs[nip] && !k.announce[dIP] && len(k.roamed) == 0 && len(k.neigh) == 0
		})
	})
	if to, ok := A.k.retract[dIP]; !ok || to != mgmtOf("b") {
		t.Errorf("A's release route goes towards %v (held: %t), want B %v", to, ok, mgmtOf("b"))
	}
	if !A.has(func(k *recKernel) bool { return len(k.droppedOrigins) == 0 }) {
		t.Errorf("A dropped the rule of origin D at once (it waits ReleaseHold for the next client): %v", A.k.droppedOrigins)
	}
	// A's dnsmasq repeats its leases as "old" on the SIGHUP after the
	// hostsfile change: that must not make A take the client back
	if err := A.lease(LeaseOld, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if len(A.m.clients()) != 0 {
		t.Fatalf("A took the client back on a repeated lease: %+v", A.m.clients())
	}
	cv := B.m.clients()
	if len(cv) != 1 || cv[0].CLAT != clatOf("d").String() || cv[0].PLAT != platC.String() || !cv[0].Roamed {
		t.Fatalf("B clients: %+v", cv)
	}
	if cv[0].LeaseSec < 3500 {
		t.Errorf("lease not carried over: %d s", cv[0].LeaseSec)
	}
	// B's dnsmasq repeats the lease at its own SIGHUPs: nothing to
	// refresh, no ROAM to the PLAT
	txRoam := B.m.counters()["tx_ROAM"]
	if err := B.lease(LeaseOld, clientMAC, clientIP, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	n.settle(t)
	if c := B.m.counters(); c["lease_old_same"] != 1 || c["tx_ROAM"] != txRoam {
		t.Errorf("a repeated lease at B: lease_old_same %d, ROAMs %d -> %d", c["lease_old_same"], txRoam, c["tx_ROAM"])
	}
	// B -> D (home): C stops steering, B releases towards D, D announces
	// the client's /128 itself (it must beat the release routes' copies)
	D.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "C unsteered", func() bool { return C.has(func(k *recKernel) bool { return len(k.steer) == 0 }) })
	n.waitFor(t, "B released", func() bool {
		return B.has(func(k *recKernel) bool {
			return len(k.roamed) == 0 && len(k.announce) == 0 && len(k.nodeIPs) == 0 && k.retract[dIP] == mgmtOf("d")
		})
	})
	if !D.has(func(k *recKernel) bool {
		r, ok := k.roamed[clientIP]
		return ok && r.CLAT == clatOf("d") && !r.PLAT.IsValid()
	}) {
		// no rewrite, but its flows from elsewhere pass the mid-stream drop
		t.Errorf("D does not let its returned client through as roamed: %+v", D.k.roamed)
	}
	if !D.has(func(k *recKernel) bool { return k.announce[dIP] }) {
		t.Error("D does not announce its client's /128 after it came back")
	}
	if _, ok := D.k.fallback[dIP]; ok {
		t.Error("D kept its fallback route for the client after it came back")
	}
	// back to A, where the release route becomes an announce route again
	A.seen(clientMAC, netip.Addr{})
	n.waitFor(t, "A announces again", func() bool {
		return A.has(func(k *recKernel) bool { _, held := k.retract[dIP]; return k.announce[dIP] && !held })
	})
	if to := D.k.retract[dIP]; to != mgmtOf("a") {
		t.Errorf("D's release route goes towards %v, want A", to)
	}
	if D.has(func(k *recKernel) bool { return len(k.roamed) != 0 }) {
		t.Errorf("D kept its client in l3x-roam after it left: %+v", D.k.roamed)
	}
	if _, held := A.m.rel[dIP]; held {
		t.Error("A still times out a release route it replaced")
	}
	// lease end at A: an unreachable release route, gone after ReleaseHold
	if err := A.lease(LeaseDel, clientMAC, clientIP, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if len(A.m.clients()) != 0 || A.has(func(k *recKernel) bool { return len(k.nodeIPs) != 0 || len(k.announce) != 0 }) {
		t.Error("A kept state after lease del")
	}
	if to, held := A.k.retract[dIP]; !held || to.IsValid() {
		t.Errorf("A's release route after the lease end: towards %v (held %t), want unreachable", to, held)
	}
	n.advance(t, A.m.cfg.ReleaseHold+time.Second)
	for _, x := range []*node{A, B, D} {
		x.do(func(m *machine) { m.Sweep() })
		if x.has(func(k *recKernel) bool { return len(k.retract) != 0 || len(k.announce) != 0 }) {
			t.Errorf("%s: routes left after the release hold: %+v %+v", x.name, x.k.retract, x.k.announce)
		}
	}
	// the rule of origin D goes once, after the hold, on A and B (D's own
	// clients need none)
	for _, x := range []*node{A, B, D} {
		want := 1
		if x == D {
			want = 0
		}
		if got := x.k.droppedOrigins; len(got) != want || (want == 1 && got[0] != clatOf("d")) {
			t.Errorf("%s: origin rules dropped after the release hold: %v, want D's %d time(s)", x.name, got, want)
		}
	}
}

func TestNewClientAfterClaimTimeout(t *testing.T) {
	n := newFakeNet()
	B := n.add(t, "b", false, nil)
	n.add(t, "x", false, nil) // owns nothing: CLAIMs go nowhere
	// HasRoute is false (nobody owns the node-client-IP): taken at once
	B.seen(clientMAC, clientIP)
	cv := B.m.clients()
	if len(cv) != 1 || cv[0].Roamed || cv[0].CLAT != clatOf("b").String() {
		t.Fatalf("clients %+v", cv)
	}
}

func TestSetDelPLAT(t *testing.T) {
	B, newP := onOldPLAT(t)
	if r := B.k.roamed[clientIP]; r.PLAT != platC || r.CLAT != clatOf("b") {
		t.Fatalf("old client not mapped to its PLAT: %+v", r)
	}
	if err := B.call(func(m *machine) error { return m.DelPLAT(platC) }); err != nil {
		t.Fatal(err)
	}
	if _, ok := B.k.roamed[clientIP]; ok || len(B.k.dropped) != 1 {
		t.Fatalf("state for deleted PLAT left: %+v %v", B.k.roamed, B.k.dropped)
	}
	if cv := B.m.clients(); cv[0].PLAT != newP.String() {
		t.Errorf("client PLAT %s, want %s", cv[0].PLAT, newP)
	}
}

// ---- security ----

type capture struct {
	mu   sync.Mutex
	pkts []*roamproto.Message
	to   []netip.AddrPort
}

func (c *capture) Send(_ netip.Addr, to netip.AddrPort, b []byte) error {
	m, err := roamproto.Parse(b, nil)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.pkts = append(c.pkts, m)
	c.to = append(c.to, to)
	c.mu.Unlock()
	return nil
}

// last returns the last message of type t sent and where it went.
func (c *capture) last(t uint8) (*roamproto.Message, netip.AddrPort) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.pkts) - 1; i >= 0; i-- {
		if c.pkts[i].Type == t {
			return c.pkts[i], c.to[i]
		}
	}
	return nil, netip.AddrPort{}
}

// answerVerify plays the serving node: it answers the PLAT's last VERIFY
// (CONFIRM with lease seconds, or REFUSE).
func answerVerify(t *testing.T, d *node, ok bool, lease uint32, key []byte) {
	t.Helper()
	v, to := d.m.w.tx.(*capture).last(roamproto.TypeVerify)
	if v == nil {
		t.Fatal("the PLAT sent no VERIFY")
	}
	m := &roamproto.Message{Type: roamproto.TypeRefuse, Nonce: nonce(), Sender: netip.MustParseAddr("fd00:9::d"),
		Echo: v.Nonce, HasEcho: true, Timestamp: time.Now()}
	if ok {
		m.Type, m.LeaseTime, m.HasLease = roamproto.TypeConfirm, lease, true
	}
	d.packet(to, enc(t, m, key))
}

// newPLAT is a PLAT alone; what it sends is captured.
func newPLAT(t *testing.T, secret []byte) (*node, *recKernel) {
	cfg := Config{
		NodeAddress: netip.MustParseAddr("fd00:9::c"), NodeClientPrefix: netip.MustParsePrefix("fd00:5::/64"),
		ClientIPv4: clientNet, OwnCLAT: clatOf("c"), CLATRange: clatRange, PLAT: platC, PLATRange: platRange,
		OwnPLAT: platC, Secret: secret, RatePerSec: 10, RateBurst: 20,
	}
	x := newFakeNet().addNode(t, "c", cfg, &capture{})
	return x, x.k
}

func roamMsg(lease uint32) *roamproto.Message {
	return &roamproto.Message{Type: roamproto.TypeRoam, Nonce: nonce(), Sender: netip.MustParseAddr("fd00:9::b"),
		MAC: clientMAC, CLAT: clatOf("d"), ClientIP: clientIP, LeaseTime: lease, HasLease: true,
		NewCLAT: clatOf("b"), PLAT: platC, Timestamp: time.Now()}
}

var fromB = netip.AddrPortFrom(addrmap.Embed(clatOf("b"), netip.MustParseAddr("192.0.0.1")), 5524)

func enc(t *testing.T, m *roamproto.Message, key []byte) []byte {
	b, err := roamproto.Encode(m, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSecurityRoam(t *testing.T) {
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	bIP := addrmap.Embed(clatOf("b"), clientIP)
	eve := netip.AddrPortFrom(addrmap.Embed(clatOf("e"), netip.MustParseAddr("192.0.0.1")), 5524)
	tests := []struct {
		name    string
		secret  []byte
		forge   func(t *testing.T) (netip.AddrPort, []byte)
		counter string
	}{
		{"source not in NEWCLAT", nil, func(t *testing.T) (netip.AddrPort, []byte) {
			return eve, enc(t, roamMsg(3600), nil) // Eve claims B's prefix
		}, "drop_bad_source"},
		{"redirect to own CLAT", nil, func(t *testing.T) (netip.AddrPort, []byte) {
			m := roamMsg(3600)
			m.NewCLAT = clatOf("e")
			m.ClientIP = netip.MustParseAddr("10.80.0.6") // different client: accepted, but can't touch .5
			return fromB, enc(t, m, nil)
		}, "drop_bad_source"},
		{"lease 0", nil, func(t *testing.T) (netip.AddrPort, []byte) { return fromB, enc(t, roamMsg(0), nil) }, "drop_lease_short"},
		{"lease 1", nil, func(t *testing.T) (netip.AddrPort, []byte) { return fromB, enc(t, roamMsg(1), nil) }, "drop_lease_short"},
		{"stale", nil, func(t *testing.T) (netip.AddrPort, []byte) {
			m := roamMsg(3600)
			m.Timestamp = time.Now().Add(-time.Hour)
			return fromB, enc(t, m, nil)
		}, "drop_stale"},
		{"CLAT outside range", nil, func(t *testing.T) (netip.AddrPort, []byte) {
			m := roamMsg(3600)
			m.CLAT = netip.MustParsePrefix("fd99::/96")
			return fromB, enc(t, m, nil)
		}, "drop_roam_bad_prefix"},
		{"client outside network", nil, func(t *testing.T) (netip.AddrPort, []byte) {
			m := roamMsg(3600)
			m.ClientIP = netip.MustParseAddr("192.168.1.1")
			return fromB, enc(t, m, nil)
		}, "drop_roam_bad_prefix"},
		{"unsigned", []byte("k"), func(t *testing.T) (netip.AddrPort, []byte) { return fromB, enc(t, roamMsg(3600), nil) }, "drop_hmac"},
		{"wrong key", []byte("k"), func(t *testing.T) (netip.AddrPort, []byte) {
			return fromB, enc(t, roamMsg(3600), []byte("guess"))
		}, "drop_hmac"},
		{"meant for another PLAT", nil, func(t *testing.T) (netip.AddrPort, []byte) {
			m := roamMsg(3600)
			m.PLAT = netip.MustParsePrefix("fd00:2::e:0:0/96")
			return fromB, enc(t, m, nil)
		}, "drop_roam_wrong_plat"},
		{"version 1", nil, func(t *testing.T) (netip.AddrPort, []byte) {
			b := enc(t, roamMsg(3600), nil)
			b[0] = 1
			return fromB, b
		}, "drop_version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, k := newPLAT(t, tc.secret)
			// a legitimate roam D -> B first
			d.packet(fromB, enc(t, roamMsg(3600), tc.secret))
			answerVerify(t, d, true, 3600, tc.secret)
			if k.steer[dIP] != bIP {
				t.Fatalf("legitimate ROAM not applied: %v", k.steer)
			}
			exp := d.m.st[dIP].Expires
			src, pkt := tc.forge(t)
			d.packet(src, pkt)
			if c := d.m.counters()[tc.counter]; c != 1 {
				t.Errorf("counter %s = %d, want 1 (%v)", tc.counter, c, d.m.counters())
			}
			if k.steer[dIP] != bIP || !d.m.st[dIP].Expires.Equal(exp) || len(k.steer) != 1 {
				t.Errorf("forged ROAM changed state: %v", k.steer)
			}
		})
	}
}

func TestSecurityReplayAndRate(t *testing.T) {
	d, k := newPLAT(t, []byte("k"))
	pkt := enc(t, roamMsg(3600), []byte("k"))
	d.packet(fromB, pkt)
	answerVerify(t, d, true, 3600, []byte("k"))
	d.packet(fromB, pkt)
	if c := d.m.counters()["drop_replay"]; c != 1 {
		t.Errorf("drop_replay = %d", c)
	}
	if len(k.steer) != 1 {
		t.Fatal("legitimate ROAM not applied")
	}
	// burst 20, 10/s: 50 quick messages from one source -> about 29 dropped
	flood := netip.AddrPortFrom(netip.MustParseAddr("fd00:1::66:c000:1"), 5524)
	for i := 0; i < 50; i++ {
		d.packet(flood, []byte("junk"))
	}
	if c := d.m.counters()["drop_rate"]; c < 25 {
		t.Errorf("drop_rate = %d, want >= 25", c)
	}
	// another source is not affected (B renews: a refresh)
	d.packet(fromB, enc(t, roamMsg(7200), []byte("k")))
	if d.m.counters()["roam_accepted"] != 1 || d.m.counters()["roam_refresh"] != 1 {
		t.Errorf("counters %v", d.m.counters())
	}
}

func TestNeverShorten(t *testing.T) {
	d, _ := newPLAT(t, nil)
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	d.packet(fromB, enc(t, roamMsg(7200), nil))
	answerVerify(t, d, true, 7200, nil)
	exp := d.m.st[dIP].Expires
	d.packet(fromB, enc(t, roamMsg(60), nil))
	if d.m.st[dIP].Expires.Before(exp) {
		t.Error("a later ROAM shortened the state")
	}
}

func TestSecurityInfoAckClaim(t *testing.T) {
	n := newFakeNet()
	A := n.add(t, "a", false, nil)
	B := n.add(t, "b", false, nil)
	if err := A.lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	eve := netip.AddrPortFrom(netip.MustParseAddr("fd00:9::e"), 5524)
	info := &roamproto.Message{Type: roamproto.TypeInfo, Nonce: nonce(), Sender: eve.Addr(), MAC: clientMAC,
		CLAT: clatOf("e"), ClientIP: clientIP, LeaseTime: 3600, HasLease: true, PLAT: platC, Timestamp: time.Now()}
	// unsolicited INFO at B (no CLAIM out)
	B.packet(eve, enc(t, info, nil))
	if B.m.counters()["drop_info_unsolicited"] != 1 || len(B.m.clients()) != 0 {
		t.Errorf("unsolicited INFO: %v", B.m.counters())
	}
	// INFO with a guessed echo while B's claim is out
	B.m.clm[clientMAC.String()] = &claim{mac: clientMAC, nonces: map[uint32]bool{12345: true}}
	info.Nonce, info.Echo, info.HasEcho = nonce(), 999, true
	B.packet(eve, enc(t, info, nil))
	if B.m.counters()["drop_info_bad_echo"] != 1 || len(B.m.clients()) != 0 {
		t.Errorf("bad echo INFO: %v", B.m.counters())
	}
	// forged ACK at A: A keeps the client
	ack := &roamproto.Message{Type: roamproto.TypeAck, Nonce: nonce(), Sender: eve.Addr(), MAC: clientMAC,
		Echo: 1, HasEcho: true, Timestamp: time.Now()}
	A.packet(eve, enc(t, ack, nil))
	if A.m.counters()["drop_ack_unknown"] != 1 || len(A.m.clients()) != 1 {
		t.Errorf("forged ACK: %v", A.m.counters())
	}
	// CLAIM whose source does not match its sender field
	cl := &roamproto.Message{Type: roamproto.TypeClaim, Nonce: nonce(), Sender: netip.MustParseAddr("fd00:9::b"),
		MAC: clientMAC, Timestamp: time.Now()}
	A.packet(eve, enc(t, cl, nil))
	if A.m.counters()["drop_bad_source"] != 1 {
		t.Errorf("spoofed CLAIM: %v", A.m.counters())
	}
	// A CLAIM alone never releases: only the ACK to A's INFO does
	A.packet(eve, enc(t, &roamproto.Message{Type: roamproto.TypeClaim, Nonce: nonce(), Sender: eve.Addr(),
		MAC: clientMAC, Timestamp: time.Now()}, nil))
	if len(A.m.clients()) != 1 {
		t.Error("CLAIM released the client without ACK")
	}
}
