package clat

import (
	"os"

	"github.com/gluon-464xlat/gluon-464xlat/upgrade"
)

// runUpgrade is `xlat-clat upgrade [--root DIR]`: the Gluon upgrade step of
// the package (see package upgrade and files/docs/site.md).
func runUpgrade(args []string) int {
	return upgrade.Main("xlat-clat", upgrade.CLAT, args, os.Stdout, os.Stderr)
}
