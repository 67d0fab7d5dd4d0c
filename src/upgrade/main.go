package upgrade

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Main is the `upgrade` subcommand of xlat-clat, xlat-plat and
// l3roamd-xlat: `<prog> upgrade [--root DIR]`. It returns the exit code:
// 0 on success, 1 when the step failed (nothing written), 2 on bad usage.
func Main(prog string, step Step, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog+" upgrade", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "/", "root directory of the node's files")
	quiet := fs.Bool("quiet", false, "print nothing on success")
	save := fs.Bool("save", false, "record UCI changes as deltas in <root>/tmp/.uci (uci save) instead of committing them")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s upgrade [--root DIR] [--save] [--quiet]\n"+
			"Writes the %s configuration (UCI network, firewall, dhcp, gluon-464xlat and\n"+
			"the babeld redistribution) from the Gluon site config; run by\n"+
			"/lib/gluon/upgrade. Idempotent.\n", prog, packageName[step])
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "%s upgrade: unexpected argument %q\n", prog, fs.Arg(0))
		fs.Usage()
		return 2
	}
	res, err := RunWith(*root, step, Options{Save: *save})
	if err != nil {
		fmt.Fprintf(stderr, "%s upgrade: %v\n", prog, err)
		if res != nil && len(res.Written) > 0 {
			fmt.Fprintf(stderr, "%s upgrade: written before the error: %s\n", prog, strings.Join(res.Written, " "))
		} else {
			fmt.Fprintf(stderr, "%s upgrade: nothing written\n", prog)
		}
		return 1
	}
	if !*quiet {
		if len(res.Written) == 0 {
			fmt.Fprintf(stdout, "%s upgrade: up to date\n", prog)
		} else {
			fmt.Fprintf(stdout, "%s upgrade: wrote %s\n", prog, strings.Join(res.Written, " "))
		}
	}
	return 0
}
