//go:build e2e

package dataplane

import (
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/dataplane/xlatlab"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// TestE2ETranslateLifecycle runs `xlat-clat translate` as a process: it must
// create a missing device and remove it on SIGTERM, and use an existing
// (persistent) device without removing it.
func TestE2ETranslateLifecycle(t *testing.T) {
	ctx, bin, lab := startLab(t, "x2l", time.Minute)
	ns, err := lab.AddNS("l")
	if err != nil {
		t.Fatal(err)
	}
	linkUp := func(dev string) (bool, error) {
		out, err := ns.Runf(ctx, "ip -o link show %s up", dev)
		return err == nil && strings.Contains(out, dev), err
	}
	if _, err := ns.Runf(ctx, "ip tuntap add dev x2pre mode tun"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dev      string
		existing bool
	}{{"x2new", false}, {"x2pre", true}} {
		p, err := ns.Start("translate-"+tc.dev, bin, "translate", "--tun", tc.dev, "--mtu", "1280", "--rule", xlatlab.XlatRule)
		if err != nil {
			t.Fatal(err)
		}
		if err := meshlab.WaitFor(ctx, tc.dev+" up", 20*time.Millisecond, func() (bool, error) {
			if p.Exited() {
				t.Fatalf("xlat-clat exited: %s", p.Log())
			}
			return linkUp(tc.dev)
		}); err != nil {
			t.Fatal(err)
		}
		if out, _ := ns.Runf(ctx, "ip -o link show %s", tc.dev); !strings.Contains(out, "mtu 1260") {
			t.Errorf("%s: want mtu 1260 (IPv6 MTU 1280 - 20): %s", tc.dev, out)
		}
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.Log(), "msg=stopped") {
			t.Errorf("%s: no clean stop in the log: %s", tc.dev, p.Log())
		}
		_, err = ns.Runf(ctx, "ip link show %s", tc.dev)
		if tc.existing && err != nil {
			t.Errorf("existing device %s removed: %v", tc.dev, err)
		}
		if !tc.existing && err == nil {
			t.Errorf("created device %s left behind", tc.dev)
		}
	}
}
