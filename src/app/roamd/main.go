// Package roamd is the l3roamd-xlat command: the roaming daemon (run), its
// status, the DHCP lease hook (lease) and the Gluon upgrade step (upgrade).
package roamd

import "github.com/gluon-464xlat/gluon-464xlat/subcmd"

// Main runs the command with args (without the program name) and returns the exit code.
func Main(args []string) int {
	return subcmd.Dispatch("l3roamd-xlat", []subcmd.Command{
		{Name: "run", Help: "run the roaming daemon", Run: runDaemon},
		{Name: "status", Help: "print the daemon's clients and counters (--json for JSON)", Run: runStatus},
		{Name: "lease", Help: "DHCP lease hook (dnsmasq --dhcp-script): lease add|old|del MAC IP [HOST]", Run: runLease},
		{Name: "upgrade", Help: "write UCI config from the site config (Gluon upgrade step)", Run: runUpgrade},
	}, args)
}
