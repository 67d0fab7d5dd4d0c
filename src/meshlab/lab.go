// Package meshlab builds simulated networks on one Linux host: network
// namespaces joined by veth links, processes started inside them, and a
// cleanup that stops every process by its PID and deletes every namespace,
// also after a failure or Ctrl-C. The demo, the end-to-end tests and the
// benchmarks all build their topologies on it.
//
// Namespaces are named <prefix>-<pid>-<name>, so that labs of concurrent test
// binaries never collide and leftovers of a killed run can be recognised and
// removed by the next one.
package meshlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Lab owns namespaces and processes and removes them on Close.
type Lab struct {
	prefix string
	dir    string
	keep   bool // keep dir (logs) after Close

	mu         sync.Mutex
	namespaces []*NS
	procs      []*Proc
	closed     bool
}

// New starts a lab whose namespaces are named prefix-<pid>-<name>. It needs
// root and iproute2, and first removes namespaces that a killed earlier run
// with the same prefix left behind.
func New(prefix string) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("meshlab: needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("meshlab: iproute2 missing: %w", err)
	}
	removeStale(prefix)
	dir, err := os.MkdirTemp("", "meshlab-"+prefix+"-")
	if err != nil {
		return nil, fmt.Errorf("meshlab: %w", err)
	}
	return &Lab{prefix: fmt.Sprintf("%s-%d-", prefix, os.Getpid()), dir: dir}, nil
}

// removeStale deletes namespaces prefix-<pid>-* whose pid is no longer alive.
func removeStale(prefix string) {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix+"-")
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if syscall.Kill(pid, 0) == nil {
			continue // its owner still runs
		}
		_ = exec.Command("ip", "netns", "pids", e.Name()).Run()
		killNetnsPids(e.Name())
		_ = exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}

// killNetnsPids kills every process left in a namespace (used only for
// leftovers of a dead run, whose PIDs we no longer know).
func killNetnsPids(ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Dir is a per-lab directory for configuration files and logs.
func (l *Lab) Dir() string { return l.dir }

// KeepDir leaves Dir in place after Close (to read logs after a failure).
func (l *Lab) KeepDir() { l.keep = true }

// AddNS creates namespace <prefix>-<pid>-<name> with loopback up.
func (l *Lab) AddNS(name string) (*NS, error) {
	n := &NS{Name: l.prefix + name, Short: name, lab: l}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("meshlab: ip netns add %s: %v: %s", n.Name, err, bytesTrim(out))
	}
	l.mu.Lock()
	l.namespaces = append(l.namespaces, n)
	l.mu.Unlock()
	nl, err := openNL(n)
	if err != nil {
		return nil, err
	}
	defer nl.Close()
	if err := nl.up("lo"); err != nil {
		return nil, err
	}
	return n, nil
}

// Veth links namespace a (interface aIf) with namespace b (interface bIf) and
// brings both ends up. Names must be at most 15 characters.
func (l *Lab) Veth(a *NS, aIf string, b *NS, bIf string) error {
	out, err := exec.Command("ip", "link", "add", aIf, "netns", a.Name, "type", "veth",
		"peer", "name", bIf, "netns", b.Name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("meshlab: veth %s/%s - %s/%s: %v: %s", a.Short, aIf, b.Short, bIf, err, bytesTrim(out))
	}
	if _, err := a.Run(context.Background(), "ip", "link", "set", aIf, "up"); err != nil {
		return err
	}
	_, err = b.Run(context.Background(), "ip", "link", "set", bIf, "up")
	return err
}

// Close stops every process (SIGTERM, then SIGKILL after 3 s) and deletes
// every namespace, in reverse order of creation. It is safe to call twice.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs, namespaces := l.procs, l.namespaces
	l.mu.Unlock()

	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(namespaces) - 1; i >= 0; i-- {
		if out, err := exec.Command("ip", "netns", "del", namespaces[i].Name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("meshlab: ip netns del %s: %v: %s", namespaces[i].Name, err, bytesTrim(out)))
		}
	}
	if !l.keep {
		os.RemoveAll(l.dir)
	}
	return errors.Join(errs...)
}

// WaitFor polls cond every interval until it returns true, returns an error,
// or ctx ends; on timeout the error says what was awaited and the last
// condition error seen.
func WaitFor(ctx context.Context, what string, interval time.Duration, cond func() (bool, error)) error {
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(interval):
		}
	}
}

func bytesTrim(b []byte) string { return strings.TrimSpace(string(b)) }

// LogPath is where a process named name logs inside the lab directory.
func (l *Lab) LogPath(name string) string { return filepath.Join(l.dir, name+".log") }
