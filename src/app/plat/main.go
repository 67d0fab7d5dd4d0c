// Package plat is the command line of the plat daemon (placeholder until it lands).
package plat

import (
	"fmt"
	"os"
)

// Main runs the command with args (without the program name) and returns the exit code.
func Main(args []string) int {
	fmt.Fprintln(os.Stderr, "not implemented yet")
	return 2
}
