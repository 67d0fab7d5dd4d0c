// Package plat is the xlat-plat command: the PLAT daemon (run), its status and
// the Gluon upgrade step (upgrade).
package plat

import "github.com/gluon-464xlat/gluon-464xlat/subcmd"

// Main runs the command with args (without the program name) and returns the exit code.
func Main(args []string) int {
	return subcmd.Dispatch("xlat-plat", []subcmd.Command{
		{Name: "run", Help: "run the PLAT daemon (NAT66, translator, IPv4 masquerade)", Run: runDaemon},
		{Name: "status", Help: "print the daemon's state (--json for JSON)", Run: runStatus},
		{Name: "upgrade", Help: "write UCI config from the site config (Gluon upgrade step)", Run: runUpgrade},
	}, args)
}
