package roamd

import (
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/nfstate/nstest"
)

func TestKernelHasRouteAndSteer(t *testing.T) {
	if !nstest.Inside(t, "r5k") {
		return
	}
	sh := func(line string) {
		t.Helper()
		if out, err := exec.Command("ip", strings.Fields(line)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v %s", line, err, out)
		}
	}
	sh("link add r5ka type veth peer name r5kb")
	sh("link set r5ka up")
	sh("link set r5kb up")
	sh("-6 addr add fd00:9::1/64 dev r5ka nodad")
	sh("-6 route add default via fd00:9::2")
	k, err := NewKernel(Config{NodeAddress: netip.MustParseAddr("fd00:9::1"), NodeClientPrefix: netip.MustParsePrefix("fd00:5::/64")})
	if err != nil {
		t.Fatal(err)
	}
	nip := netip.MustParseAddr("fd00:5::ff:fe00:5")
	if k.HasRoute(nip) {
		t.Error("default route counted as a route to the node-client-IP")
	}
	sh("-6 route add fd00:5::ff:fe00:5/128 via fd00:9::3 proto 158")
	if !k.HasRoute(nip) {
		t.Error("host route not found")
	}
	// steering: /128 via the next hop towards the new CLAT address
	sh("-6 route add fd00:1::62:0:0/96 via fd00:9::62")
	dst := netip.MustParseAddr("fd00:1::64:a50:5")
	if err := k.Steer(dst, netip.MustParseAddr("fd00:1::62:a50:5")); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("ip", "-6", "route", "show", "proto", "159").CombinedOutput()
	if !strings.Contains(string(out), "fd00:1::64:a50:5 via fd00:9::62 dev r5ka") || !strings.Contains(string(out), "metric 2048") {
		t.Errorf("steering route: %s", out)
	}
	if err := k.Unsteer(dst); err != nil {
		t.Fatal(err)
	}
	if err := k.Unsteer(dst); err != nil {
		t.Errorf("second Unsteer: %v", err)
	}
	if out, _ := exec.Command("ip", "-6", "route", "show", "proto", "159").CombinedOutput(); len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("route left: %s", out)
	}
}

func TestIfIndex(t *testing.T) {
	l, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip("no lo:", err)
	}
	if idx, err := ifIndex("lo"); err != nil || idx != l.Index {
		t.Errorf("ifIndex(lo) = %d, %v; want %d", idx, err, l.Index)
	}
	if _, err := ifIndex("nonexistent0"); err == nil {
		t.Error("ifIndex of a missing device: no error")
	}
}
