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
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/subcmd"
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
	rolesDir := fs.String("roles-dir", "", "directory below root whose files NAME hold a role's ARGS (the init scripts' roles, started when the host starts)")
	var initial roleFlags
	fs.Var(&initial, "role", "role to start: 'NAME ARGS' as given to the separate command, e.g. 'xlat-clat run' (repeatable)")
	var lf subcmd.LogFlag
	lf.Register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := lf.Logger("daemon", "gluon-464xlat host")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	s := newSupervisor(ctx, roles, *delay, log)
	defer s.stopAll()
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
	// Listening first, then the roles: an init script that declares a role
	// while the host starts either finds the socket or is read below.
	if *rolesDir != "" {
		declared, err := readRolesDir(filepath.Join(*root, *rolesDir))
		if err != nil {
			log.Error("roles", "err", err)
		}
		initial = append(initial, declared...)
	}
	for _, r := range initial {
		if err := s.start(r[0], r[1:]); err != nil {
			log.Error("start", "err", err)
		}
	}
	log.Info("running", "socket", path, "roles", len(initial))
	if err := srv.Serve(ctx); err != nil {
		log.Error("control socket", "err", err)
		return 1
	}
	return 0
}

// readRolesDir reads the roles the init scripts declared: one file per role,
// named after it, holding the arguments ("run"). A missing directory is no
// role.
func readRolesDir(dir string) ([][]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("roles directory %s: %w", dir, err)
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	var roles [][]string
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return roles, fmt.Errorf("roles directory %s: %w", dir, err)
		}
		roles = append(roles, append([]string{e.Name()}, strings.Fields(string(b))...))
	}
	return roles, nil
}
