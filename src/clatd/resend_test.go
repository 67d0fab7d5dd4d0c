package clatd

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

// A restarted l3roamd-xlat learns the current PLAT again: the daemon repeats
// set_platprefix although the PLAT did not change.
func TestDaemonRepeatsPLATToRoamd(t *testing.T) {
	dir := t.TempDir()
	plat := netip.MustParsePrefix("fddd:2:0:1::/96")
	var mu sync.Mutex
	var lines []string
	roamSock := filepath.Join(dir, "roamd.sock")
	srv, err := ctlsock.Listen(roamSock, map[string]ctlsock.Handler{
		"set_platprefix": func(_ context.Context, a []string) ([]byte, error) {
			mu.Lock()
			lines = append(lines, strings.Join(a, " "))
			mu.Unlock()
			return []byte("ok\n"), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx)
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
		mu.Lock()
		n, got := len(lines), append([]string(nil), lines...)
		mu.Unlock()
		if n >= 3 {
			for _, l := range got {
				if l != plat.String() {
					t.Fatalf("set_platprefix lines %q, want only %v", got, plat)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("set_platprefix sent %d times in 5 s, want it repeated: %q", n, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
