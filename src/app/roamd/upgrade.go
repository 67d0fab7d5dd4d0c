package roamd

import (
	"fmt"
	"os"
)

// runUpgrade is a placeholder until its part lands.
func runUpgrade(args []string) int {
	fmt.Fprintln(os.Stderr, "l3roamd-xlat upgrade: not implemented yet")
	return 2
}
