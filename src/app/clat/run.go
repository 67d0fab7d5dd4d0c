package clat

import (
	"fmt"
	"os"
)

// runDaemon is a placeholder until its part lands.
func runDaemon(args []string) int {
	fmt.Fprintln(os.Stderr, "xlat-clat run: not implemented yet")
	return 2
}
