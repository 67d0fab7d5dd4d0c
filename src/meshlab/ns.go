package meshlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// NS is one network namespace of a lab.
type NS struct {
	Name  string // full name, as `ip netns` knows it
	Short string // name given to AddNS
	lab   *Lab
}

// Command returns a command that runs inside the namespace.
func (n *NS) Command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Run runs a command inside the namespace and returns its combined output;
// the error carries the command and its output.
func (n *NS) Run(ctx context.Context, args ...string) (string, error) {
	out, err := n.Command(ctx, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s: %v: %s", n.Short, strings.Join(args, " "), err, bytesTrim(out))
	}
	return string(out), nil
}

// Runf runs a shell-like command line split on spaces (no quoting).
func (n *NS) Runf(ctx context.Context, format string, a ...any) (string, error) {
	return n.Run(ctx, strings.Fields(fmt.Sprintf(format, a...))...)
}

// Sysctl sets a sysctl inside the namespace.
func (n *NS) Sysctl(key, value string) error {
	_, err := n.Run(context.Background(), "sysctl", "-qw", key+"="+value)
	return err
}

// Start starts a long-running process inside the namespace, with its output
// in the lab's log file <ns>-<name>.log. The lab stops it on Close.
func (n *NS) Start(name string, args ...string) (*Proc, error) {
	return n.StartEnv(name, nil, args...)
}

// StartEnv is Start with extra environment variables (KEY=VALUE).
func (n *NS) StartEnv(name string, env []string, args ...string) (*Proc, error) {
	logPath := n.lab.LogPath(n.Short + "-" + name)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("meshlab: %w", err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	// Own process group, so that Ctrl-C on the demo reaches the lab's
	// cleanup first and not every child at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("meshlab: start %s in %s: %w", name, n.Short, err)
	}
	p := &Proc{Name: n.Short + "/" + name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	n.lab.mu.Lock()
	n.lab.procs = append(n.lab.procs, p)
	n.lab.mu.Unlock()
	return p, nil
}

// Proc is a process started in a namespace.
type Proc struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// PID is the process id (ip netns exec execs the command, so it is the
// command's own PID).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to 3 s, then SIGKILL. Stopping an exited
// process is not an error.
func (p *Proc) Stop() error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(3 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(3 * time.Second):
		return fmt.Errorf("meshlab: %s (pid %d) did not stop", p.Name, p.PID())
	}
}

// Log returns the process's output so far (for error messages).
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}
