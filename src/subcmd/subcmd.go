// Package subcmd dispatches a command line to one of a program's
// subcommands ("xlat-clat run", "xlat-plat status", ...) and prints the
// usage, so that the three commands share one way of doing it.
package subcmd

import (
	"fmt"
	"io"
	"os"
)

// Command is one subcommand.
type Command struct {
	Name string
	Help string
	Run  func(args []string) int
}

// Dispatch runs the subcommand named by args[0] with the remaining args and
// returns its exit code; without a name or with an unknown one it prints the
// usage to stderr and returns 2 ("-h", "--help" and "help" print it to stdout
// and return 0).
func Dispatch(prog string, cmds []Command, args []string) int {
	if len(args) == 0 {
		usage(os.Stderr, prog, cmds)
		return 2
	}
	for _, c := range cmds {
		if c.Name == args[0] {
			return c.Run(args[1:])
		}
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(os.Stdout, prog, cmds)
		return 0
	}
	fmt.Fprintf(os.Stderr, "%s: unknown command %q\n", prog, args[0])
	usage(os.Stderr, prog, cmds)
	return 2
}

func usage(w io.Writer, prog string, cmds []Command) {
	fmt.Fprintf(w, "usage: %s <command> [options]\ncommands:\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Help)
	}
}
