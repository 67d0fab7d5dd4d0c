package clatd

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
)

// A restarted l3roamd-xlat learns the current PLAT again: the daemon repeats
// set_platprefix although the PLAT did not change.
func TestDaemonRepeatsPLATToRoamd(t *testing.T) {
	dir := t.TempDir()
	plat := netip.MustParsePrefix("fddd:2:0:1::/96")
	roamSock, lines := fakeRoamd(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	snaps := make(chan babel.Snapshot, 1)
	snaps <- babel.Snapshot{Connected: true, Routes: []babel.Route{route("a", plat, 200)}}
	o := testOptions(rec, snaps)
	o.CLAT.ProbeInterval, o.CLAT.ProbeFailures, o.CLAT.BabelSocket = time.Hour, 3, "test"
	o.Socket, o.RoamdSocket, o.RoamdResend, o.NoProbe = filepath.Join(dir, "clat.sock"), roamSock, 20*time.Millisecond, true
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := lines()
		if n := len(got); n >= 3 {
			for _, l := range got {
				if l != "set "+plat.String() {
					t.Fatalf("set_platprefix lines %q, want only %v", got, plat)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("set_platprefix sent %d times in 5 s, want it repeated: %q", len(got), got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
