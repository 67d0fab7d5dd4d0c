package roamd

import (
	"fmt"
	"os"
)

// runDaemon is a placeholder until its part lands.
func runDaemon(args []string) int {
	fmt.Fprintln(os.Stderr, "l3roamd-xlat run: not implemented yet")
	return 2
}
