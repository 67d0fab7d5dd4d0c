package plat

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gluon-464xlat/gluon-464xlat/platd"
	"github.com/gluon-464xlat/gluon-464xlat/subcmd"
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
	return subcmd.PrintStatus("xlat-plat", filepath.Join(cf.root, cfg.Socket), *asJSON, &platd.Status{})
}
