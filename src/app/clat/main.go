// Package clat is the xlat-clat command: the CLAT daemon (run), its status,
// the Gluon upgrade step (upgrade) and the standalone translator (translate).
package clat

import (
	"fmt"
	"os"
)

const usage = `usage: xlat-clat <command> [options]
commands:
  run        run the CLAT daemon (PLAT selection and translator)
  status     print the daemon's state (--json for JSON)
  upgrade    write UCI config from the site config (Gluon upgrade step)
  translate  run the userspace translator alone: translate --tun DEV --rule 'RULE' [--rule ...]
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
	case "translate":
		return runTranslate(args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "xlat-clat: unknown command %q\n%s", args[0], usage)
	return 2
}
