package clatd

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/translator"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
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
	d, err := New(Options{
		CLAT: xlatconf.CLAT{Prefix: netip.MustParsePrefix("fddd:1:0:9::/96"), PLATRange: netip.MustParsePrefix("fddd:2::/48"),
			Device: "b4clat", ClientBridge: "b4br", Table: 4464, MTU: 1280, SwitchMargin: 100,
			ProbeInterval: time.Hour, ProbeFailures: 3, BabelSocket: "test"},
		Socket:      filepath.Join(dir, "clat.sock"),
		RoamdSocket: roamSock,
		RoamdResend: 20 * time.Millisecond,
		NoProbe:     true,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Kernel:      rec,
		Open: func(ctx context.Context, dev string, mtu int, cfg translator.Config) (DataPlane, error) {
			return fakeDP{rec}, nil
		},
		Babel: func(ctx context.Context, out chan babel.Snapshot) error {
			out <- babel.Snapshot{Connected: true, Routes: []babel.Route{route("a", plat, 200)}}
			<-ctx.Done()
			return ctx.Err()
		},
	})
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
