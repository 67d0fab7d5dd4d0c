package roamd

import (
	"flag"
	"path/filepath"

	"github.com/gluon-464xlat/gluon-464xlat/roamd"
	"github.com/gluon-464xlat/gluon-464xlat/subcmd"
)

// runStatus is `l3roamd-xlat status [--json]`.
func runStatus(args []string) int {
	fs := flag.NewFlagSet("l3roamd-xlat status", flag.ContinueOnError)
	root := fs.String("root", "/", "root directory of the node's files")
	socket := fs.String("socket", defaultSocket, "control socket below root")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	return subcmd.PrintStatus("l3roamd-xlat", filepath.Join(*root, *socket), *asJSON, &roamd.Status{})
}
