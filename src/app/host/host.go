// Package host is `gluon-464xlat host`: one process that hosts the roles a
// node runs (xlat-clat, xlat-plat, l3roamd-xlat), so that the Go runtime and
// the binary's pages are resident once instead of once per daemon (the
// memory design: files/docs/memory.md).
//
// Each role keeps its own life: the role's init script starts, stops and
// restarts (reloads) it through the host's control socket, with the same
// arguments it would give the separate daemon; a role that fails is logged
// and restarted after a delay, as procd respawns a daemon, while the other
// roles go on. A panic that escapes a role's own goroutines ends the process;
// procd then respawns the host and the init scripts' roles come back (see the
// package doc of gluon-464xlat-bin).
package host

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

// DefaultSocket is the host's control socket (below --root).
const DefaultSocket = "/var/run/gluon-464xlat.sock"

// Role runs one role's daemon until ctx ends and returns its exit code; args
// are what follows the command name (e.g. "run --root /").
type Role func(ctx context.Context, args []string) int

// roleFlags collects repeated --role 'NAME ARGS...' flags.
type roleFlags [][]string

func (r *roleFlags) String() string { return fmt.Sprint(*r) }

func (r *roleFlags) Set(v string) error {
	f := strings.Fields(v)
	if len(f) == 0 {
		return errors.New("empty role")
	}
	*r = append(*r, f)
	return nil
}

// Main is `gluon-464xlat host [--root DIR] [--socket PATH] [--restart-delay D]
// [--role 'NAME ARGS'...]`: it starts the given roles, then serves start,
// stop, restart and status on its socket until SIGTERM or SIGINT, which
// stop every role.
func Main(roles map[string]Role, args []string) int {
	fs := flag.NewFlagSet("gluon-464xlat host", flag.ContinueOnError)
	root := fs.String("root", "/", "root directory of the node's files (the socket lies below it)")
	socket := fs.String("socket", DefaultSocket, "control socket, below root")
	delay := fs.Duration("restart-delay", 5*time.Second, "wait before restarting a role that exited (procd's respawn delay)")
	var initial roleFlags
	fs.Var(&initial, "role", "role to start: 'NAME ARGS' as given to the separate command, e.g. 'xlat-clat run' (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("daemon", "gluon-464xlat host")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	s := newSupervisor(ctx, roles, *delay, log)
	defer s.stopAll()
	for _, r := range initial {
		if err := s.start(r[0], r[1:]); err != nil {
			log.Error("start", "err", err)
			return 2
		}
	}
	path := filepath.Join(*root, *socket)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		log.Error("control socket", "err", err)
		return 1
	}
	srv, err := ctlsock.Listen(path, s.handlers())
	if err != nil {
		log.Error("control socket", "err", err)
		return 1
	}
	log.Info("running", "socket", path, "roles", len(initial))
	if err := srv.Serve(ctx); err != nil {
		log.Error("control socket", "err", err)
		return 1
	}
	return 0
}
