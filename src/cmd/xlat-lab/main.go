// Command xlat-lab runs the simulated mesh on a development host: the demo,
// the end-to-end scenarios and the benchmarks (placeholder until it lands).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "xlat-lab: not implemented yet")
	os.Exit(2)
}
