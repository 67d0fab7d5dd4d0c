package plat

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/platd"
)

// runStatus is `xlat-plat status [--json]`: asks the running daemon.
func runStatus(args []string) int {
	fs := flag.NewFlagSet("xlat-plat status", flag.ContinueOnError)
	var cf configFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := cf.config()
	if err != nil {
		fmt.Fprintln(os.Stderr, "xlat-plat status:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := ctlsock.Call(ctx, filepath.Join(cf.root, cfg.Socket), "status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "xlat-plat status: daemon not reachable:", err)
		return 1
	}
	if *asJSON {
		os.Stdout.Write(reply)
		return 0
	}
	var st platd.Status
	if err := json.Unmarshal(reply, &st); err != nil {
		fmt.Fprintln(os.Stderr, "xlat-plat status: bad reply:", err)
		return 1
	}
	st.WriteText(os.Stdout)
	return 0
}
