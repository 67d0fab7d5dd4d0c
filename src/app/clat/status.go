package clat

import (
	"fmt"
	"os"
)

// runStatus is a placeholder until its part lands.
func runStatus(args []string) int {
	fmt.Fprintln(os.Stderr, "xlat-clat status: not implemented yet")
	return 2
}
