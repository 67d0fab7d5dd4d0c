package roamd

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/nfstate/nstest"
)

// TestFlushSteering: 1,000 proto-159 /128s (as a crashed PLAT leaves them)
// go in batches; other routes stay.
func TestFlushSteering(t *testing.T) {
	if !nstest.Inside(t, "r5rt") {
		return
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
		return string(out)
	}
	run("ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	run("ip", "link", "set", "d0", "up")
	run("ip", "-6", "route", "add", "fd00:9::/64", "dev", "d0")
	var batch strings.Builder
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&batch, "route add fd00:1::d:0:%x/128 via fd00:9::1 dev d0 proto 159 metric 2048\n", i)
	}
	run("sh", "-c", "ip -6 -batch - <<'EOF'\n"+batch.String()+"EOF")
	run("ip", "-6", "route", "add", "fd00:1::b:0:1/128", "dev", "d0", "proto", "158")
	cfg := Config{}
	cfg.Defaults()
	k := &NetKernel{cfg: cfg, routed: map[[12]byte]seen{}}
	n, err := k.FlushSteering()
	if err != nil || n != 1000 {
		t.Fatalf("flushed %d, err %v", n, err)
	}
	if out := run("ip", "-6", "route", "show", "proto", "159"); strings.TrimSpace(out) != "" {
		t.Fatalf("left: %s", out)
	}
	if out := run("ip", "-6", "route", "show", "proto", "158"); !strings.Contains(out, "fd00:1::b:0:1") {
		t.Fatal("a route of another protocol went too")
	}
	// Routed: a /96 (another node's CLAT), our own management address,
	// nothing, a shorter route
	run("ip", "-6", "route", "add", "fd00:1::a:0:0/96", "via", "fd00:9::1", "dev", "d0")
	run("ip", "-6", "addr", "add", "fd00:1::c:c000:1/128", "dev", "lo")
	run("ip", "-6", "route", "add", "fd00:1::/48", "via", "fd00:9::1", "dev", "d0")
	for a, want := range map[string]bool{"fd00:1::a:c000:1": true, "fd00:1::c:c000:1": true,
		"fd00:1::e:c000:1": false, "fd00:2::e:c000:1": false} {
		if got := k.Routed(netip.MustParseAddr(a)); got != want {
			t.Errorf("Routed(%s) = %v, want %v", a, got, want)
		}
	}
}
