package meshlab

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

// HostProc is the name of a node's `gluon-464xlat host` process in Node.Procs
// when Spec.Hosted is set.
const HostProc = "host"

// hostSocket is the host's control socket below a node's root.
const hostSocket = "var/run/gluon-464xlat.sock"

// startRole starts daemon pkg as a role of n's host process, starting the
// host first if needed.
func (m *Mesh) startRole(n *Node, pkg string, args []string) error {
	sock := filepath.Join(n.Root, hostSocket)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n.Procs[HostProc] == nil {
		p, err := n.NS.Start(HostProc, m.bin, "host", "--root", n.Root)
		if err != nil {
			return err
		}
		n.Procs[HostProc] = p
		if err := WaitFor(ctx, "host socket on "+n.Spec.Name, 20*time.Millisecond, func() (bool, error) {
			if p.Exited() {
				return false, fmt.Errorf("host on %s exited: %s", n.Spec.Name, p.Log())
			}
			// the socket file exists from bind(2) on, before listen(2):
			// wait for an answer, not for the file
			_, err := ctlsock.Call(ctx, sock, "status")
			return err == nil, nil
		}); err != nil {
			return err
		}
	}
	line := "start " + pkg + " " + strings.Join(args, " ")
	if _, err := ctlsock.Call(ctx, sock, line); err != nil {
		return fmt.Errorf("%s on %s: %w", pkg, n.Spec.Name, err)
	}
	return nil
}
