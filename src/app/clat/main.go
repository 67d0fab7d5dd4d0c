// Package clat is the xlat-clat command: the CLAT daemon (run), its status,
// the Gluon upgrade step (upgrade) and the standalone translator (translate).
package clat

import "github.com/gluon-464xlat/gluon-464xlat/subcmd"

// Main runs the command with args (without the program name) and returns the exit code.
func Main(args []string) int {
	return subcmd.Dispatch("xlat-clat", []subcmd.Command{
		{Name: "run", Help: "run the CLAT daemon (PLAT selection and translator)", Run: runDaemon},
		{Name: "status", Help: "print the daemon's state (--json for JSON)", Run: runStatus},
		{Name: "upgrade", Help: "write UCI config from the site config (Gluon upgrade step)", Run: runUpgrade},
		{Name: "translate", Help: "run the userspace translator alone: translate --tun DEV --rule 'RULE' [--rule ...]", Run: runTranslate},
	}, args)
}
