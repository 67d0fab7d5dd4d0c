// Command xlat-lab runs the simulated mesh on a development host:
//
//	xlat-lab demo [--bin DIR] [--keep-logs] [--roaming auto|on|off]
//	    the seed's mesh: IPv4 client behind D, PLAT C, failover to E
//	    (what `sudo make demo` runs)
//	xlat-lab rss [--bin DIR] [--idle 5s]
//	    idle RSS of each daemon in the lab (files/scripts/bench.d/50-rss.sh)
//	xlat-lab path-bench [--bin DIR] [--runs 3] [--time 5] [--json FILE]
//	    client IPv4 through CLAT and PLAT vs native IPv4 and TAYGA over the
//	    same hops (files/scripts/bench.d/20-path.sh)
//	xlat-lab scale [--bin DIR] [--seed 1] [--nodes 50] [--plats 3] [--clients 200] [--roamers 50] [--json FILE]
//	    a random mesh: convergence, roams, a PLAT failure, routes, CPU and
//	    RSS per node (files/scripts/bench.d/60-scale.sh, files/docs/scale.md)
//
// It builds nothing: it uses the binaries of `make build` in --bin (default:
// the directory xlat-lab itself is in).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

const usage = `usage: xlat-lab <command> [options]
commands:
  demo   run the demo: CLAT/PLAT across the babel mesh, failover (sudo make demo)
  rss    print the idle RSS of each daemon in the lab (sudo make bench)
  path-bench  full-path throughput and latency: xlat vs native IPv4 vs TAYGA (sudo make bench)
  scale  50-node mesh: convergence, roams, PLAT failure, routes, CPU and RSS per node (sudo make bench)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	// Ctrl-C and SIGTERM end the context: the lab then stops every process
	// and removes every namespace before xlat-lab exits.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var code int
	switch os.Args[1] {
	case "demo":
		code = demo(ctx, os.Args[2:])
	case "rss":
		code = rss(ctx, os.Args[2:])
	case "path-bench":
		code = pathBench(ctx, os.Args[2:])
	case "scale":
		code = scale(ctx, os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "xlat-lab: unknown command %q\n%s", os.Args[1], usage)
		code = 2
	}
	stop()
	os.Exit(code)
}

func defaultBinDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "bin"
	}
	return filepath.Dir(exe)
}

func demo(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("xlat-lab demo", flag.ContinueOnError)
	bin := fs.String("bin", defaultBinDir(), "directory with gluon-464xlat and its links (make build)")
	keep := fs.Bool("keep-logs", false, "keep the lab's logs after success")
	roaming := fs.String("roaming", "auto", "roaming sequence: auto (when l3roamd-xlat is implemented), on or off")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "xlat-lab demo: needs root (network namespaces): sudo make demo")
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err := meshlab.RunDemo(ctx, meshlab.DemoOptions{BinDir: *bin, Prefix: "demo", Out: os.Stdout,
		KeepLogs: *keep, Roaming: *roaming})
	if err != nil {
		return 1
	}
	return 0
}
