package host

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

// Ctl is `gluon-464xlat host-ctl [--root DIR] [--socket PATH] COMMAND ARGS...`:
// it sends one command (start, stop, restart, status) to the host and
// prints the reply. Without a running host it says so and exits 3, so that
// an init script can tell "not running" from a refused command (1).
func Ctl(args []string) int {
	fs := flag.NewFlagSet("gluon-464xlat host-ctl", flag.ContinueOnError)
	root := fs.String("root", "/", "root directory of the node's files")
	socket := fs.String("socket", DefaultSocket, "the host's control socket, below root")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: gluon-464xlat host-ctl [--root DIR] start NAME ARGS... | stop NAME | restart NAME | status")
		return 2
	}
	path := filepath.Join(*root, *socket)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "gluon-464xlat host-ctl: host not running (no %s)\n", path)
		return 3
	}
	// stop and restart wait for the role (stopTimeout) before the reply
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout+5*time.Second)
	defer cancel()
	reply, err := ctlsock.Call(ctx, path, strings.Join(fs.Args(), " "))
	if errors.Is(err, syscall.ECONNREFUSED) {
		// a socket left by a host that died: procd is respawning it
		fmt.Fprintf(os.Stderr, "gluon-464xlat host-ctl: host not running (%s refuses)\n", path)
		return 3
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gluon-464xlat host-ctl:", err)
		return 1
	}
	os.Stdout.Write(reply)
	return 0
}
