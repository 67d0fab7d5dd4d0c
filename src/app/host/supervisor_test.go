package host

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSupervisorRolesApart: a failing or panicking role is restarted and
// counted while the other role keeps running; stop and restart act on one
// role only.
func TestSupervisorRolesApart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var steadyStarts, flakyRuns atomic.Int32
	roles := map[string]Role{
		"steady": func(ctx context.Context, args []string) int {
			steadyStarts.Add(1)
			<-ctx.Done()
			return 0
		},
		"flaky": func(ctx context.Context, args []string) int {
			if flakyRuns.Add(1) == 1 {
				panic("boom")
			}
			return 1
		},
	}
	s := newSupervisor(ctx, roles, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer s.stopAll()
	if err := s.start("steady", []string{"run"}); err != nil {
		t.Fatal(err)
	}
	if err := s.start("steady", nil); err == nil {
		t.Error("second start of a running role: want an error")
	}
	if err := s.start("nosuch", nil); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Errorf("unknown role: err = %v", err)
	}
	if err := s.start("flaky", nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "flaky restarted twice", func() bool { return flakyRuns.Load() >= 3 })
	st := s.status()
	if !strings.Contains(st, "steady running restarts=0") || !strings.Contains(st, "flaky") {
		t.Errorf("status:\n%s", st)
	}
	if err := s.stop("flaky"); err != nil {
		t.Fatal(err)
	}
	if err := s.restart("steady"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "steady restarted", func() bool { return steadyStarts.Load() == 2 })
	if got := s.runningNames(); len(got) != 1 || got[0] != "steady" {
		t.Errorf("running after stop flaky: %v", got)
	}
	if err := s.stop("flaky"); err == nil {
		t.Error("stop of a stopped role: want an error")
	}
}

// TestReadRolesDir: the init scripts' declared roles, one file per role,
// dotfiles (their stamps) and a missing directory ignored.
func TestReadRolesDir(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"xlat-clat": "run\n", "l3roamd-xlat": "run --debug\n", ".xlat-clat.stamp": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := readRolesDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"l3roamd-xlat", "run", "--debug"}, {"xlat-clat", "run"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("roles = %q, want %q", got, want)
	}
	if got, err := readRolesDir(filepath.Join(dir, "none")); err != nil || got != nil {
		t.Errorf("missing dir: %q, %v", got, err)
	}
}
