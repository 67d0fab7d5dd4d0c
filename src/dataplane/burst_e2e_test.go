//go:build e2e

package dataplane

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/dataplane/xlatlab"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// TestE2EUDPBurst sends unpaced UDP bursts through xlat-clat translate in both
// directions, so that the engine coalesces datagrams into UDP GSO
// super-packets, and checks that every datagram that arrives is intact and
// that most arrive (bursts of 50 back to back: some loss in the device and
// socket queues of a loaded machine is not the translator's fault).
func TestE2EUDPBurst(t *testing.T) {
	ctx, bin, lab := startLab(t, "x2u", 2*time.Minute)
	x, err := xlatlab.Build(ctx, lab, "u", xlatlab.Options{Mode: xlatlab.Xlat, XlatBin: bin})
	if err != nil {
		t.Fatal(err)
	}
	if err := meshlab.WaitFor(ctx, "path up", 50*time.Millisecond, func() (bool, error) {
		_, err := x.Cli.Runf(ctx, "ping -c1 -W1 %s", x.Target())
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
	const count = 3000
	re := regexp.MustCompile(`received=(\d+) intact=(\d+)`)
	for _, dir := range []struct {
		name           string
		rx, tx         *meshlab.NS
		bind, dst, src string
		size           int
	}{
		{"v4-to-v6 64B", x.Srv, x.Cli, x.ServerBind(), x.Target(), "-", 64},
		{"v4-to-v6 1200B", x.Srv, x.Cli, x.ServerBind(), x.Target(), "-", 1200},
		{"v6-to-v4 64B", x.Cli, x.Srv, xlatlab.Client4, x.ClientSeenAs(), x.ServerBind(), 64},
		{"v6-to-v4 1000B", x.Cli, x.Srv, xlatlab.Client4, x.ClientSeenAs(), x.ServerBind(), 1000},
	} {
		sink := startHelper(t, ctx, dir.rx, "udpcount", dir.bind, "5100", strconv.Itoa(count), "3s")
		runHelperNS(t, ctx, dir.tx, "udpburst", dir.dst, "5100", strconv.Itoa(dir.size), strconv.Itoa(count), dir.src)
		out := sink.wait(t)
		m := re.FindStringSubmatch(fmt.Sprint(out))
		if m == nil {
			t.Fatalf("%s: sink said %q", dir.name, out)
		}
		got, _ := strconv.Atoi(m[1])
		intact, _ := strconv.Atoi(m[2])
		t.Logf("%s: %s", dir.name, out)
		if intact != got {
			t.Errorf("%s: %d of %d datagrams corrupted", dir.name, got-intact, got)
		}
		if got < count*8/10 {
			t.Errorf("%s: only %d of %d datagrams arrived", dir.name, got, count)
		}
	}
	_ = x.Xlat.Stop()
	log := x.Xlat.Log()
	t.Logf("xlat-clat log:\n%s", log)
	if m := regexp.MustCompile(`errors=(\d+)`).FindStringSubmatch(log); m == nil || m[1] != "0" {
		t.Errorf("engine errors: %v", m)
	}
}
