package plat

import (
	"os"

	"github.com/gluon-464xlat/gluon-464xlat/upgrade"
)

// runUpgrade is `xlat-plat upgrade [--root DIR]`: the Gluon upgrade step of
// the package (see package upgrade and files/docs/site.md).
func runUpgrade(args []string) int {
	return upgrade.Main("xlat-plat", upgrade.PLAT, args, os.Stdout, os.Stderr)
}
