// Package roamd is the command line of the roamd daemon (placeholder until it lands).
package roamd

import (
	"fmt"
	"os"
)

// Main runs the command with args (without the program name) and returns the exit code.
func Main(args []string) int {
	fmt.Fprintln(os.Stderr, "not implemented yet")
	return 2
}
