package host

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// stopTimeout bounds how long stop waits for a role to return (procd sends
// SIGKILL after its own timeout; the host cannot kill a goroutine, so it
// reports the role as stuck instead).
const stopTimeout = 10 * time.Second

// supervisor runs roles, each in its own context, and restarts a role that
// returns while it should run.
type supervisor struct {
	ctx   context.Context
	roles map[string]Role
	delay time.Duration
	log   *slog.Logger

	mu      sync.Mutex
	running map[string]*instance
}

// instance is one started role.
type instance struct {
	name     string
	args     []string
	cancel   context.CancelFunc
	done     chan struct{}
	started  time.Time
	mu       sync.Mutex
	restarts int
	lastExit string
	up       bool
}

func newSupervisor(ctx context.Context, roles map[string]Role, delay time.Duration, log *slog.Logger) *supervisor {
	return &supervisor{ctx: ctx, roles: roles, delay: delay, log: log, running: map[string]*instance{}}
}

// start runs role name with args until stop; an instance already running is
// an error (procd starts a role once).
func (s *supervisor) start(name string, args []string) error {
	fn, ok := s.roles[name]
	if !ok {
		return fmt.Errorf("unknown role %q (want %s)", name, strings.Join(s.names(), ", "))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in, ok := s.running[name]; ok {
		if slices.Equal(in.args, args) {
			return nil // the init script and the roles directory both asked
		}
		return fmt.Errorf("role %s is already running with %q (stop or restart it)", name, strings.Join(in.args, " "))
	}
	ctx, cancel := context.WithCancel(s.ctx)
	in := &instance{name: name, args: args, cancel: cancel, done: make(chan struct{}), started: time.Now()}
	s.running[name] = in
	go s.loop(ctx, fn, in)
	s.log.Info("role started", "role", name, "args", strings.Join(args, " "))
	return nil
}

// loop runs the role, restarting it after s.delay whenever it returns while
// ctx is live: a failing role never stops the others, and it is never
// silent (each exit is logged and counted in status).
func (s *supervisor) loop(ctx context.Context, fn Role, in *instance) {
	defer close(in.done)
	for {
		in.set(true, "")
		code, panicked := runGuarded(ctx, fn, in.args)
		if ctx.Err() != nil {
			in.set(false, "stopped")
			return
		}
		exit := fmt.Sprintf("exit code %d", code)
		if panicked != "" {
			exit = "panic: " + panicked
		}
		in.mu.Lock()
		in.restarts++
		in.mu.Unlock()
		in.set(false, exit)
		s.log.Error("role exited, restarting", "role", in.name, "exit", exit, "delay", s.delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.delay):
		}
	}
}

// runGuarded runs fn and turns a panic in the role's own goroutine into an
// exit (a panic in a goroutine the role started still ends the process).
func runGuarded(ctx context.Context, fn Role, args []string) (code int, panicked string) {
	defer func() {
		if r := recover(); r != nil {
			code, panicked = 1, fmt.Sprintf("%v\n%s", r, debug.Stack())
		}
	}()
	return fn(ctx, args), ""
}

func (in *instance) set(up bool, exit string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.up = up
	if exit != "" {
		in.lastExit = exit
	}
}

// stop ends role name and waits for it.
func (s *supervisor) stop(name string) error {
	s.mu.Lock()
	in, ok := s.running[name]
	if ok {
		delete(s.running, name)
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("role %s is not running", name)
	}
	in.cancel()
	select {
	case <-in.done:
		s.log.Info("role stopped", "role", name)
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("role %s did not stop within %v", name, stopTimeout)
	}
}

// restart stops role name and starts it again with its arguments (reload).
func (s *supervisor) restart(name string) error {
	s.mu.Lock()
	in, ok := s.running[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("role %s is not running", name)
	}
	if err := s.stop(name); err != nil {
		return err
	}
	return s.start(name, in.args)
}

// stopAll ends every role (host shutdown).
func (s *supervisor) stopAll() {
	for _, name := range s.runningNames() {
		if err := s.stop(name); err != nil {
			s.log.Error("stop", "err", err)
		}
	}
}

func (s *supervisor) runningNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.running))
	for n := range s.running {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *supervisor) names() []string {
	names := make([]string, 0, len(s.roles))
	for n := range s.roles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// status is one line per role: name, state, restarts, uptime, last exit.
func (s *supervisor) status() string {
	var b strings.Builder
	for _, name := range s.runningNames() {
		s.mu.Lock()
		in := s.running[name]
		s.mu.Unlock()
		if in == nil {
			continue
		}
		in.mu.Lock()
		state := "running"
		if !in.up {
			state = "restarting"
		}
		fmt.Fprintf(&b, "%s %s restarts=%d since=%s", name, state, in.restarts, in.started.UTC().Format(time.RFC3339))
		if in.lastExit != "" {
			fmt.Fprintf(&b, " last_exit=%q", firstLine(in.lastExit))
		}
		in.mu.Unlock()
		b.WriteByte('\n')
	}
	return b.String()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
