package roamd

import (
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
	neigh          map[netip.Addr]string
	dropped        []netip.Prefix
	present        map[netip.Addr]bool // clients that answer the presence probe here
	droppedOrigins []netip.Prefix
}

func newRecKernel(n *fakeNet) *recKernel {
	return &recKernel{net: n, nodeIPs: map[netip.Addr]bool{}, roamed: map[netip.Addr]nfstate.Roamed{},
		announce: map[netip.Addr]bool{}, retract: map[netip.Addr]netip.Addr{}, steer: map[netip.Addr]netip.Addr{}, neigh: map[netip.Addr]string{},
		present: map[netip.Addr]bool{}}
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
func (k *recKernel) Unsteer(a netip.Addr) error {
	k.mu.Lock()
	delete(k.steer, a)
	k.mu.Unlock()
	return nil
}

// fakeNet delivers datagrams between daemons asynchronously, by the
// addresses each node owns (node address, node-client-IPs, management).
type fakeNet struct {
	mu    sync.Mutex
	nodes []*node
	sent  []string
}

type node struct {
	name  string
	d     *Daemon
	k     *recKernel
	addrs map[netip.Addr]bool
}

func (n *fakeNet) owner(a netip.Addr) *node {
	n.mu.Lock()
	defer n.mu.Unlock()
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
		from = t.self.d.cfg.NodeAddress
	}
	dst := t.n.owner(to.Addr())
	if dst == nil {
		return fmt.Errorf("no route to %v", to)
	}
	pkt := append([]byte(nil), b...)
	go dst.d.HandlePacket(netip.AddrPortFrom(from, 5524), pkt)
	return nil
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
	x := &node{name: name, addrs: map[netip.Addr]bool{cfg.NodeAddress: true}}
	x.k = newRecKernel(n)
	d, err := New(cfg, x.k, nodeTx{n: n, self: x}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	x.d = d
	x.addrs[addrmap.Embed(cfg.OwnCLAT, d.cfg.MgmtIPv4)] = true
	if plat {
		x.addrs[addrmap.Embed(platC, d.cfg.MgmtIPv4)] = true
	}
	n.mu.Lock()
	n.nodes = append(n.nodes, x)
	n.mu.Unlock()
	t.Cleanup(d.Close)
	return x
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
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
	n := &fakeNet{}
	D, A, B, C := n.add(t, "d", false, secret), n.add(t, "a", false, secret), n.add(t, "b", false, secret), n.add(t, "c", true, secret)
	nip := D.d.nodeClientIP(clientMAC)
	if err := D.d.Lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !D.has(func(k *recKernel) bool { return k.nodeIPs[nip] }) {
		t.Fatal("D does not hold the node-client-IP")
	}
	dIP := addrmap.Embed(clatOf("d"), clientIP)

	// D -> A
	A.d.Seen(clientMAC, netip.Addr{})
	waitFor(t, "C steering to A", func() bool {
		return C.has(func(k *recKernel) bool { return k.steer[dIP] == addrmap.Embed(clatOf("a"), clientIP) })
	})
	waitFor(t, "D released", func() bool { return !D.has(func(k *recKernel) bool { return k.nodeIPs[nip] }) })
	if !A.has(func(k *recKernel) bool {
		r := k.roamed[clientIP]
		return k.nodeIPs[nip] && k.announce[dIP] && r.CLAT == clatOf("d") && k.neigh[clientIP] == clientMAC.String()
	}) {
		t.Fatalf("A state incomplete: %+v", A.k)
	}
	// A -> B
	B.d.Seen(clientMAC, netip.Addr{})
	waitFor(t, "C steering to B", func() bool {
		return C.has(func(k *recKernel) bool { return k.steer[dIP] == addrmap.Embed(clatOf("b"), clientIP) })
	})
	waitFor(t, "A released", func() bool {
		return A.has(func(k *recKernel) bool {
			return !k.nodeIPs[nip] && !k.announce[dIP] && len(k.roamed) == 0 && len(k.neigh) == 0
		})
	})
	if to, ok := A.k.retract[dIP]; !ok || to != mgmtOf("b") {
		t.Errorf("A's release route goes towards %v (held: %t), want B %v", to, ok, mgmtOf("b"))
	}
	if !A.has(func(k *recKernel) bool { return len(k.droppedOrigins) == 1 && k.droppedOrigins[0] == clatOf("d") }) {
		t.Errorf("A kept the rule of origin D after its last client left: %v", A.k.droppedOrigins)
	}
	// A's dnsmasq repeats its leases as "old" on the SIGHUP after the
	// hostsfile change: that must not make A take the client back
	if err := A.d.Lease(LeaseOld, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if len(A.d.Clients()) != 0 {
		t.Fatalf("A took the client back on a repeated lease: %+v", A.d.Clients())
	}
	cv := B.d.Clients()
	if len(cv) != 1 || cv[0].CLAT != clatOf("d").String() || cv[0].PLAT != platC.String() || !cv[0].Roamed {
		t.Fatalf("B clients: %+v", cv)
	}
	if cv[0].LeaseSec < 3500 {
		t.Errorf("lease not carried over: %d s", cv[0].LeaseSec)
	}
	// B -> D (home): C stops steering, B releases towards D, D announces
	// the client's /128 itself (it must beat the release routes' copies)
	D.d.Seen(clientMAC, netip.Addr{})
	waitFor(t, "C unsteered", func() bool { return C.has(func(k *recKernel) bool { return len(k.steer) == 0 }) })
	waitFor(t, "B released", func() bool {
		return B.has(func(k *recKernel) bool {
			return len(k.roamed) == 0 && len(k.announce) == 0 && len(k.nodeIPs) == 0 && k.retract[dIP] == mgmtOf("d")
		})
	})
	if D.has(func(k *recKernel) bool { return len(k.roamed) != 0 }) {
		t.Error("D installed rewrite state for its own client")
	}
	if !D.has(func(k *recKernel) bool { return k.announce[dIP] }) {
		t.Error("D does not announce its client's /128 after it came back")
	}
	// back to A, where the release route becomes an announce route again
	A.d.Seen(clientMAC, netip.Addr{})
	waitFor(t, "A announces again", func() bool {
		return A.has(func(k *recKernel) bool { _, held := k.retract[dIP]; return k.announce[dIP] && !held })
	})
	if to := D.k.retract[dIP]; to != mgmtOf("a") {
		t.Errorf("D's release route goes towards %v, want A", to)
	}
	if _, held := A.d.rel[dIP]; held {
		t.Error("A still times out a release route it replaced")
	}
	// lease end at A: an unreachable release route, gone after ReleaseHold
	if err := A.d.Lease(LeaseDel, clientMAC, clientIP, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if len(A.d.Clients()) != 0 || A.has(func(k *recKernel) bool { return len(k.nodeIPs) != 0 || len(k.announce) != 0 }) {
		t.Error("A kept state after lease del")
	}
	if to, held := A.k.retract[dIP]; !held || to.IsValid() {
		t.Errorf("A's release route after the lease end: towards %v (held %t), want unreachable", to, held)
	}
	for _, x := range []*node{A, B, D} {
		later := time.Now().Add(A.d.cfg.ReleaseHold + time.Second)
		x.d.mu.Lock()
		x.d.now = func() time.Time { return later }
		x.d.mu.Unlock()
		x.d.Sweep()
		if x.has(func(k *recKernel) bool { return len(k.retract) != 0 || len(k.announce) != 0 }) {
			t.Errorf("%s: routes left after the release hold: %+v %+v", x.name, x.k.retract, x.k.announce)
		}
	}
}

func TestNewClientAfterClaimTimeout(t *testing.T) {
	n := &fakeNet{}
	B := n.add(t, "b", false, nil)
	n.add(t, "x", false, nil) // owns nothing: CLAIMs go nowhere
	// HasRoute is false (nobody owns the node-client-IP): taken at once
	B.d.Seen(clientMAC, clientIP)
	cv := B.d.Clients()
	if len(cv) != 1 || cv[0].Roamed || cv[0].CLAT != clatOf("b").String() {
		t.Fatalf("clients %+v", cv)
	}
}

func TestSetDelPLAT(t *testing.T) {
	n := &fakeNet{}
	B := n.add(t, "b", false, nil)
	if err := B.d.Lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	newP := netip.MustParsePrefix("fd00:2::e:0:0/96")
	if err := B.d.SetPLAT(newP); err != nil {
		t.Fatal(err)
	}
	if r := B.k.roamed[clientIP]; r.PLAT != platC || r.CLAT != clatOf("b") {
		t.Fatalf("old client not mapped to its PLAT: %+v", r)
	}
	if err := B.d.DelPLAT(platC); err != nil {
		t.Fatal(err)
	}
	if _, ok := B.k.roamed[clientIP]; ok || len(B.k.dropped) != 1 {
		t.Fatalf("state for deleted PLAT left: %+v %v", B.k.roamed, B.k.dropped)
	}
	if cv := B.d.Clients(); cv[0].PLAT != newP.String() {
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
func answerVerify(t *testing.T, d *Daemon, ok bool, lease uint32, key []byte) {
	t.Helper()
	v, to := d.tx.(*capture).last(roamproto.TypeVerify)
	if v == nil {
		t.Fatal("the PLAT sent no VERIFY")
	}
	m := &roamproto.Message{Type: roamproto.TypeRefuse, Nonce: nonce(), Sender: netip.MustParseAddr("fd00:9::d"),
		Echo: v.Nonce, HasEcho: true, Timestamp: time.Now()}
	if ok {
		m.Type, m.LeaseTime, m.HasLease = roamproto.TypeConfirm, lease, true
	}
	d.HandlePacket(to, enc(t, m, key))
}

func newPLAT(t *testing.T, secret []byte) (*Daemon, *recKernel) {
	cfg := Config{
		NodeAddress: netip.MustParseAddr("fd00:9::c"), NodeClientPrefix: netip.MustParsePrefix("fd00:5::/64"),
		ClientIPv4: clientNet, OwnCLAT: clatOf("c"), CLATRange: clatRange, PLAT: platC, PLATRange: platRange,
		OwnPLAT: platC, Secret: secret, RatePerSec: 10, RateBurst: 20,
	}
	k := newRecKernel(&fakeNet{})
	d, err := New(cfg, k, &capture{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d, k
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
			d.HandlePacket(fromB, enc(t, roamMsg(3600), tc.secret))
			answerVerify(t, d, true, 3600, tc.secret)
			if k.steer[dIP] != bIP {
				t.Fatalf("legitimate ROAM not applied: %v", k.steer)
			}
			exp := d.st[dIP].Expires
			src, pkt := tc.forge(t)
			d.HandlePacket(src, pkt)
			if c := d.Counters()[tc.counter]; c != 1 {
				t.Errorf("counter %s = %d, want 1 (%v)", tc.counter, c, d.Counters())
			}
			if k.steer[dIP] != bIP || !d.st[dIP].Expires.Equal(exp) || len(k.steer) != 1 {
				t.Errorf("forged ROAM changed state: %v", k.steer)
			}
		})
	}
}

func TestSecurityReplayAndRate(t *testing.T) {
	d, k := newPLAT(t, []byte("k"))
	pkt := enc(t, roamMsg(3600), []byte("k"))
	d.HandlePacket(fromB, pkt)
	answerVerify(t, d, true, 3600, []byte("k"))
	d.HandlePacket(fromB, pkt)
	if c := d.Counters()["drop_replay"]; c != 1 {
		t.Errorf("drop_replay = %d", c)
	}
	if len(k.steer) != 1 {
		t.Fatal("legitimate ROAM not applied")
	}
	// burst 20, 10/s: 50 quick messages from one source -> about 29 dropped
	flood := netip.AddrPortFrom(netip.MustParseAddr("fd00:1::66:c000:1"), 5524)
	for i := 0; i < 50; i++ {
		d.HandlePacket(flood, []byte("junk"))
	}
	if c := d.Counters()["drop_rate"]; c < 25 {
		t.Errorf("drop_rate = %d, want >= 25", c)
	}
	// another source is not affected (B renews: a refresh)
	d.HandlePacket(fromB, enc(t, roamMsg(7200), []byte("k")))
	if d.Counters()["roam_accepted"] != 1 || d.Counters()["roam_refresh"] != 1 {
		t.Errorf("counters %v", d.Counters())
	}
}

func TestNeverShorten(t *testing.T) {
	d, _ := newPLAT(t, nil)
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	d.HandlePacket(fromB, enc(t, roamMsg(7200), nil))
	answerVerify(t, d, true, 7200, nil)
	exp := d.st[dIP].Expires
	d.HandlePacket(fromB, enc(t, roamMsg(60), nil))
	if d.st[dIP].Expires.Before(exp) {
		t.Error("a later ROAM shortened the state")
	}
}

func TestSecurityInfoAckClaim(t *testing.T) {
	n := &fakeNet{}
	A := n.add(t, "a", false, nil)
	B := n.add(t, "b", false, nil)
	if err := A.d.Lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	eve := netip.AddrPortFrom(netip.MustParseAddr("fd00:9::e"), 5524)
	info := &roamproto.Message{Type: roamproto.TypeInfo, Nonce: nonce(), Sender: eve.Addr(), MAC: clientMAC,
		CLAT: clatOf("e"), ClientIP: clientIP, LeaseTime: 3600, HasLease: true, PLAT: platC, Timestamp: time.Now()}
	// unsolicited INFO at B (no CLAIM out)
	B.d.HandlePacket(eve, enc(t, info, nil))
	if B.d.Counters()["drop_info_unsolicited"] != 1 || len(B.d.Clients()) != 0 {
		t.Errorf("unsolicited INFO: %v", B.d.Counters())
	}
	// INFO with a guessed echo while B's claim is out
	B.d.mu.Lock()
	B.d.clm[clientMAC.String()] = &claim{mac: clientMAC, nonces: map[uint32]bool{12345: true}}
	B.d.mu.Unlock()
	info.Nonce, info.Echo, info.HasEcho = nonce(), 999, true
	B.d.HandlePacket(eve, enc(t, info, nil))
	if B.d.Counters()["drop_info_bad_echo"] != 1 || len(B.d.Clients()) != 0 {
		t.Errorf("bad echo INFO: %v", B.d.Counters())
	}
	// forged ACK at A: A keeps the client
	ack := &roamproto.Message{Type: roamproto.TypeAck, Nonce: nonce(), Sender: eve.Addr(), MAC: clientMAC,
		Echo: 1, HasEcho: true, Timestamp: time.Now()}
	A.d.HandlePacket(eve, enc(t, ack, nil))
	if A.d.Counters()["drop_ack_unknown"] != 1 || len(A.d.Clients()) != 1 {
		t.Errorf("forged ACK: %v", A.d.Counters())
	}
	// CLAIM whose source does not match its sender field
	cl := &roamproto.Message{Type: roamproto.TypeClaim, Nonce: nonce(), Sender: netip.MustParseAddr("fd00:9::b"),
		MAC: clientMAC, Timestamp: time.Now()}
	A.d.HandlePacket(eve, enc(t, cl, nil))
	if A.d.Counters()["drop_bad_source"] != 1 {
		t.Errorf("spoofed CLAIM: %v", A.d.Counters())
	}
	// A CLAIM alone never releases: only the ACK to A's INFO does
	A.d.HandlePacket(eve, enc(t, &roamproto.Message{Type: roamproto.TypeClaim, Nonce: nonce(), Sender: eve.Addr(),
		MAC: clientMAC, Timestamp: time.Now()}, nil))
	if len(A.d.Clients()) != 1 {
		t.Error("CLAIM released the client without ACK")
	}
}
