package roamd

import (
	"os"

	"github.com/gluon-464xlat/gluon-464xlat/upgrade"
)

// runUpgrade is `l3roamd-xlat upgrade [--root DIR]`: the Gluon upgrade step of
// the package (see package upgrade and files/docs/site.md).
func runUpgrade(args []string) int {
	return upgrade.Main("l3roamd-xlat", upgrade.Roamd, args, os.Stdout, os.Stderr)
}
