package roamd

import (
	"net"
	"testing"
	"time"
)

// A client learnt from the bridge without a lease is released when its FDB
// entry goes; a leased client keeps its lease.
func TestGoneReleasesOnlyUnleased(t *testing.T) {
	n := newFakeNet()
	B := n.add(t, "b", false, nil)
	stray := net.HardwareAddr{0x9a, 0x98, 0xab, 0x6a, 0xf9, 0xcd}
	B.seen(stray, clientIP) // nobody owns its node-client-IP: taken at once
	if err := B.lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if len(B.m.clients()) != 2 {
		t.Fatalf("clients %+v", B.m.clients())
	}
	strayIP, leasedIP := B.m.nodeClientIP(stray), B.m.nodeClientIP(clientMAC)
	B.do(func(m *machine) { m.Gone(stray) })
	B.do(func(m *machine) { m.Gone(clientMAC) })
	if cv := B.m.clients(); len(cv) != 1 || cv[0].MAC != clientMAC.String() {
		t.Fatalf("clients after Gone: %+v", cv)
	}
	if B.has(func(k *recKernel) bool { return k.nodeIPs[strayIP] || !k.nodeIPs[leasedIP] }) {
		t.Fatalf("node-client-IPs after Gone: %v", B.k.nodeIPs)
	}
	B.do(func(m *machine) { m.Gone(stray) }) // unknown MAC: nothing happens
}
