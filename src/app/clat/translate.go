package clat

import (
	"fmt"
	"os"
)

// runTranslate is a placeholder until its part lands.
func runTranslate(args []string) int {
	fmt.Fprintln(os.Stderr, "xlat-clat translate: not implemented yet")
	return 2
}
