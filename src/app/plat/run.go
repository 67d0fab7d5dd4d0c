package plat

import (
	"fmt"
	"os"
)

// runDaemon is a placeholder until its part lands.
func runDaemon(args []string) int {
	fmt.Fprintln(os.Stderr, "xlat-plat run: not implemented yet")
	return 2
}
