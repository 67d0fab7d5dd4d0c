package clat

import (
	"fmt"
	"os"
)

// runUpgrade is a placeholder until its part lands.
func runUpgrade(args []string) int {
	fmt.Fprintln(os.Stderr, "xlat-clat upgrade: not implemented yet")
	return 2
}
