// Package plat is the xlat-plat command: the PLAT daemon (run), its status and
// the Gluon upgrade step (upgrade).
package plat

import (
	"fmt"
	"os"
)

const usage = `usage: xlat-plat <command> [options]
commands:
  run      run the PLAT daemon (NAT66, translator, IPv4 masquerade)
  status   print the daemon's state (--json for JSON)
  upgrade  write UCI config from the site config (Gluon upgrade step)
`

// Main runs the command with args (without the program name) and returns the exit code.
func Main(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return runDaemon(args[1:])
	case "status":
		return runStatus(args[1:])
	case "upgrade":
		return runUpgrade(args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "xlat-plat: unknown command %q\n%s", args[0], usage)
	return 2
}
