// Package roamd is the l3roamd-xlat command: the roaming daemon (run), its
// status, the DHCP lease hook (lease) and the Gluon upgrade step (upgrade).
package roamd

import (
	"fmt"
	"os"
)

const usage = `usage: l3roamd-xlat <command> [options]
commands:
  run      run the roaming daemon
  status   print the daemon's clients and counters (--json for JSON)
  lease    DHCP lease hook (dnsmasq --dhcp-script): lease add|old|del MAC IP [HOST]
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
	case "lease":
		return runLease(args[1:])
	case "upgrade":
		return runUpgrade(args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "l3roamd-xlat: unknown command %q\n%s", args[0], usage)
	return 2
}
