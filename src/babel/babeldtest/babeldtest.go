// Package babeldtest starts Debian's babeld in meshlab namespaces for
// end-to-end tests, with short hello intervals so that it converges in seconds.
package babeldtest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// Daemon is one babeld.
type Daemon struct {
	Proc *meshlab.Proc
	// Unix is its read-only unix socket (reachable from the test process in
	// the host namespace); inside the namespace it also listens read-write
	// on TCP [::1]:33123 like Gluon's babeld.
	Unix string
}

// Available reports whether babeld is installed.
func Available() error {
	_, err := exec.LookPath("babeld")
	return err
}

// Start runs babeld in ns on ifaces with extra config lines (-C) and waits
// until its unix socket answers.
func Start(ctx context.Context, lab *meshlab.Lab, ns *meshlab.NS, ifaces []string, conf ...string) (*Daemon, error) {
	base := filepath.Join(lab.Dir(), ns.Short+"-babeld")
	args := []string{"babeld", "-I", base + ".pid", "-S", base + ".state", "-G", "33123", "-g", base + ".sock",
		"-h", "1", "-H", "1"}
	for _, c := range conf {
		args = append(args, "-C", c)
	}
	args = append(args, ifaces...)
	p, err := ns.Start("babeld", args...)
	if err != nil {
		return nil, err
	}
	d := &Daemon{Proc: p, Unix: base + ".sock"}
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
