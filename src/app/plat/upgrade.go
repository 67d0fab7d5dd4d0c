package plat

import (
	"fmt"
	"os"
)

// runUpgrade is a placeholder until its part lands.
func runUpgrade(args []string) int {
	fmt.Fprintln(os.Stderr, "xlat-plat upgrade: not implemented yet")
	return 2
}
