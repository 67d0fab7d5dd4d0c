package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// rss starts the seed mesh (with the roaming helper when it is
// implemented), lets traffic pass once, waits idle, and prints each
// daemon's resident set size.
func rss(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("xlat-lab rss", flag.ContinueOnError)
	bin := fs.String("bin", defaultBinDir(), "directory with gluon-464xlat and its links (make build)")
	idle := fs.Duration("idle", 5*time.Second, "idle time before measuring")
	goalMiB := fs.Float64("goal", 10, "goal per daemon in MiB (reported)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "xlat-lab rss: needs root (network namespaces)")
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	spec := meshlab.SeedSpec("rss", *bin)
	spec.Roaming = meshlab.RoamingImplemented(*bin)
	spec.Optional = map[string]bool{"l3roamd-xlat": true}
	m, err := meshlab.Start(ctx, spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xlat-lab rss:", err)
		return 1
	}
	defer m.Close()
	if err := m.Up(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "xlat-lab rss:", err)
		return 1
	}
	// Some traffic first, so that the data planes have done work.
	if c := m.Clients["cl"]; c != nil {
		if _, err := c.WaitLease(ctx); err == nil {
			_, _ = meshlab.TCPHello(ctx, c.NS, meshlab.ServerAddr.String(), 3*time.Second)
		}
	}
	select {
	case <-ctx.Done():
		return 1
	case <-time.After(*idle):
	}
	type row struct {
		daemon, node string
		kib          int
		err          error
	}
	var rows []row
	for _, n := range m.NodeList() {
		for name, p := range n.Procs {
			if name == "babeld" || name == "dnsmasq" {
				continue
			}
			r := row{daemon: name, node: n.Spec.Name}
			if p.Exited() {
				r.err = fmt.Errorf("exited")
			} else {
				r.kib, r.err = meshlab.RSS(p.PID())
			}
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].daemon != rows[j].daemon {
			return rows[i].daemon < rows[j].daemon
		}
		return rows[i].node < rows[j].node
	})
	fmt.Printf("idle RSS (VmRSS) of each daemon in the lab after %v idle (goal <= %.0f MiB each)\n", *idle, *goalMiB)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "daemon\tnode\tRSS KiB\tRSS MiB\tgoal")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t%v\n", r.daemon, r.node, r.err)
			continue
		}
		mib := float64(r.kib) / 1024
		verdict := "ok"
		if mib > *goalMiB {
			verdict = "OVER"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%s\n", r.daemon, r.node, r.kib, mib, verdict)
	}
	tw.Flush()
	return 0
}
