// Command gluon-464xlat is the feed's one multi-call binary: installed once,
// it runs as xlat-clat, xlat-plat or l3roamd-xlat according to the name it is
// called by (the packages ship those names as links), so that the three
// packages share one Go runtime on the router's flash.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/gluon-464xlat/gluon-464xlat/app/clat"
	"github.com/gluon-464xlat/gluon-464xlat/app/host"
	"github.com/gluon-464xlat/gluon-464xlat/app/plat"
	"github.com/gluon-464xlat/gluon-464xlat/app/roamd"
)

func main() {
	// Routers have little memory and the daemons' live heaps are small (the
	// translator's packet path allocates nothing), so a tighter GC target
	// costs little CPU and saves ~1.3 MiB of idle RSS per daemon (measured in
	// the lab: xlat-clat 9.5-10.2 -> 8.3-8.6 MiB). An explicit GOGC wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	name, args := filepath.Base(os.Args[0]), os.Args[1:]
	if name == "gluon-464xlat" && len(args) > 0 {
		name, args = args[0], args[1:]
	}
	os.Exit(run(name, args))
}

func run(name string, args []string) int {
	switch name {
	case "xlat-clat":
		return clat.Main(args)
	case "xlat-plat":
		return plat.Main(args)
	case "l3roamd-xlat":
		return roamd.Main(args)
	case "host":
		return host.Main(map[string]host.Role{
			"xlat-clat":    runOnly(clat.Daemon),
			"xlat-plat":    runOnly(plat.Daemon),
			"l3roamd-xlat": runOnly(roamd.Daemon),
		}, args)
	case "host-ctl":
		return host.Ctl(args)
	}
	fmt.Fprintf(os.Stderr, "gluon-464xlat: unknown command %q (want xlat-clat, xlat-plat, l3roamd-xlat, host or host-ctl)\n", name)
	return 2
}

// runOnly makes a role of a daemon: the host runs a role's "run" subcommand
// with the arguments the separate command gets ("xlat-clat run --root /").
func runOnly(daemon func(context.Context, []string) int) host.Role {
	return func(ctx context.Context, args []string) int {
		if len(args) == 0 || args[0] != "run" {
			fmt.Fprintf(os.Stderr, "gluon-464xlat host: a role runs its \"run\" command, got %q\n", args)
			return 2
		}
		return daemon(ctx, args[1:])
	}
}
