package roamd

import (
	"fmt"
	"os"
)

// runLease is a placeholder until its part lands.
func runLease(args []string) int {
	fmt.Fprintln(os.Stderr, "l3roamd-xlat lease: not implemented yet")
	return 2
}
