// Package babeldtest starts Debian's babeld in meshlab namespaces for
// end-to-end tests, with short hello intervals so that it converges in seconds.
package babeldtest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// Daemon is one babeld.
type Daemon struct {
	Proc *meshlab.Proc
	// Unix is its read-write local socket, a unix socket so that the test
	// process in the host namespace reaches it too (babeld 1.12 opens only
	// one local socket: the last -g/-G wins, so there is no TCP port).
	Unix string
}

// Available reports whether babeld is installed.
func Available() error {
	_, err := exec.LookPath("babeld")
	return err
}

// Start runs babeld in ns on ifaces with extra config lines (-C) and waits
// until its local socket answers. sock is the unix socket path ("" = in the
// lab directory).
func Start(ctx context.Context, lab *meshlab.Lab, ns *meshlab.NS, sock string, ifaces []string, conf ...string) (*Daemon, error) {
	base := filepath.Join(lab.Dir(), ns.Short+"-babeld")
	if sock == "" {
		sock = base + ".sock"
	}
	args := []string{"babeld", "-I", base + ".pid", "-S", base + ".state", "-G", sock, "-h", "1", "-H", "1"}
	for _, c := range conf {
		args = append(args, "-C", c)
	}
	args = append(args, ifaces...)
	p, err := ns.Start("babeld", args...)
	if err != nil {
		return nil, err
	}
	d := &Daemon{Proc: p, Unix: sock}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = meshlab.WaitFor(wctx, "babeld socket in "+ns.Short, 50*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("babeld exited: %s", p.Log())
		}
		c, err := net.Dial("unix", d.Unix)
		if err != nil {
			return false, err
		}
		c.Close()
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Send sends one request to babeld's local socket and returns the reply
// lines (without the terminator); a "no"/"bad" terminator is an error.
func Send(ctx context.Context, sock, line string) ([]string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	r := bufio.NewReader(c)
	readUntilTerm := func() ([]string, string, error) {
		var lines []string
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return lines, "", err
			}
			l = strings.TrimRight(l, "\n")
			if l == "ok" || l == "bad" || l == "no" || strings.HasPrefix(l, "no ") {
				return lines, l, nil
			}
			lines = append(lines, l)
		}
	}
	if _, _, err := readUntilTerm(); err != nil { // banner
		return nil, fmt.Errorf("babeld %s: banner: %w", sock, err)
	}
	if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
		return nil, err
	}
	lines, term, err := readUntilTerm()
	if err != nil {
		return nil, fmt.Errorf("babeld %s: %q: %w", sock, line, err)
	}
	if term != "ok" {
		return lines, fmt.Errorf("babeld %s: %q: %s", sock, line, term)
	}
	return lines, nil
}
