package subcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

// Status is a daemon's status reply that prints itself for people.
type Status interface {
	WriteText(w io.Writer) error
}

// PrintStatus is the status subcommand of every daemon: it asks the daemon
// on the control socket at path for "status" and prints the reply to
// stdout, as indented JSON with asJSON, else decoded into st (a pointer)
// and written as text. It returns the exit code.
func PrintStatus(prog, path string, asJSON bool, st Status) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := ctlsock.Call(ctx, path, "status")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s status: %v (is %s running?)\n", prog, err, prog)
		return 1
	}
	if err := json.Unmarshal(reply, st); err != nil {
		fmt.Fprintf(os.Stderr, "%s status: bad reply from %s: %v\n", prog, path, err)
		return 1
	}
	if asJSON {
		var b bytes.Buffer
		_ = json.Indent(&b, bytes.TrimSpace(reply), "", "  ") // valid: it decoded
		b.WriteByte('\n')
		_, err = b.WriteTo(os.Stdout)
	} else {
		err = st.WriteText(os.Stdout)
	}
	if err != nil {
		return 1
	}
	return 0
}
