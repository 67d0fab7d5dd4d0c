package roamd

import (
	"fmt"
	"os"
)

// runStatus is a placeholder until its part lands.
func runStatus(args []string) int {
	fmt.Fprintln(os.Stderr, "l3roamd-xlat status: not implemented yet")
	return 2
}
