package plat

import (
	"fmt"
	"os"
)

// runStatus is a placeholder until its part lands.
func runStatus(args []string) int {
	fmt.Fprintln(os.Stderr, "xlat-plat status: not implemented yet")
	return 2
}
