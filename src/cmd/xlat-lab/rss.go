package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// rssSockets are the daemons' control sockets below a node's root; each
// answers ctlsock.MemStatsCommand with the Go runtime's view of its memory.
var rssSockets = map[string]string{
	"xlat-clat":      "var/run/xlat-clat.sock",
	"xlat-plat":      "var/run/xlat-plat.sock",
	"l3roamd-xlat":   "var/run/l3roamd-xlat.sock",
	meshlab.HostProc: "var/run/gluon-464xlat.sock",
}

// rssSample is one daemon's memory in one run, in KiB.
type rssSample struct {
	meshlab.Mem
	Heap, Stack int // Go heap in use, goroutine stacks (-1: not answered)
}

// rss starts the seed mesh (with the roaming helper when it is
// implemented), lets traffic pass once, waits idle, and prints each
// daemon's resident set size, split, and the sum per node; with --runs N
// it starts the mesh N times and prints medians.
func rss(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("xlat-lab rss", flag.ContinueOnError)
	bin := fs.String("bin", defaultBinDir(), "directory with gluon-464xlat and its links (make build)")
	idle := fs.Duration("idle", 5*time.Second, "idle time before measuring")
	runs := fs.Int("runs", 3, "lab starts; the table shows medians")
	goalMiB := fs.Float64("goal", 12, "goal for the sum of a node's daemons in MiB (reported)")
	hosted := fs.Bool("hosted", false, "run each node's daemons as roles of one gluon-464xlat host process")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "xlat-lab rss: needs root (network namespaces)")
		return 1
	}
	samples := map[[2]string][]rssSample{} // {daemon, node}
	for r := 0; r < *runs; r++ {
		if err := rssRun(ctx, *bin, *idle, *hosted, samples); err != nil {
			fmt.Fprintln(os.Stderr, "xlat-lab rss:", err)
			return 1
		}
	}
	mode := "separate processes"
	if *hosted {
		mode = "one gluon-464xlat host process per node"
	}
	printRSS(samples, mode, *runs, *idle, *goalMiB)
	return 0
}

// rssRun starts the mesh once and adds each daemon's sample.
func rssRun(ctx context.Context, bin string, idle time.Duration, hosted bool, samples map[[2]string][]rssSample) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	spec := meshlab.SeedSpec("rss", bin)
	spec.Roaming = meshlab.RoamingImplemented(bin)
	spec.Optional = map[string]bool{"l3roamd-xlat": true}
	spec.Hosted = hosted
	m, err := meshlab.Start(ctx, spec)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Up(ctx); err != nil {
		return err
	}
	// Some traffic first, so that the data planes have done work.
	if c := m.Clients["cl"]; c != nil {
		if _, err := c.WaitLease(ctx); err == nil {
			_, _ = meshlab.TCPHello(ctx, c.NS, meshlab.ServerAddr.String(), 3*time.Second)
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(idle):
	}
	for _, n := range m.NodeList() {
		for name, p := range n.Procs {
			sock, ok := rssSockets[name]
			if !ok {
				continue // babeld, dnsmasq
			}
			if p.Exited() {
				return fmt.Errorf("%s on %s exited: %s", name, n.Spec.Name, p.Log())
			}
			mem, err := meshlab.ReadMem(p.PID())
			if err != nil {
				return fmt.Errorf("%s on %s: %w", name, n.Spec.Name, err)
			}
			s := rssSample{Mem: mem, Heap: -1, Stack: -1}
			if reply, err := ctlsock.Call(ctx, filepath.Join(n.Root, sock), ctlsock.MemStatsCommand); err == nil {
				var ms ctlsock.MemStats
				if json.Unmarshal(reply, &ms) == nil {
					s.Heap, s.Stack = int(ms.HeapInuse/1024), int(ms.StackInuse/1024)
				}
			}
			k := [2]string{name, n.Spec.Name}
			samples[k] = append(samples[k], s)
		}
	}
	return nil
}

func median(xs []int) int {
	x := append([]int(nil), xs...)
	sort.Ints(x)
	return x[len(x)/2]
}

// printRSS prints the medians per daemon and the sums per node.
func printRSS(samples map[[2]string][]rssSample, mode string, runs int, idle time.Duration, goalMiB float64) {
	keys := make([][2]string, 0, len(samples))
	for k := range samples {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][1] != keys[j][1] {
			return keys[i][1] < keys[j][1]
		}
		return keys[i][0] < keys[j][0]
	})
	pick := func(ss []rssSample, f func(rssSample) int) int {
		xs := make([]int, len(ss))
		for i, s := range ss {
			xs[i] = f(s)
		}
		return median(xs)
	}
	mib := func(kib int) string {
		if kib < 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(kib)/1024)
	}
	fmt.Printf("idle memory of each daemon in the lab (%s) after %v idle, MiB, median of %d runs\n", mode, idle, runs)
	fmt.Println("(RSS counts the shared text of the one binary once per process; PSS splits it between them)")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "node\tdaemon\tRSS\tPSS\tanon\tfile\tGo heap\tstacks")
	type sum struct{ rss, pss, n int }
	sums := map[string]*sum{}
	var nodes []string
	for _, k := range keys {
		ss := samples[k]
		r, p := pick(ss, func(s rssSample) int { return s.RSS }), pick(ss, func(s rssSample) int { return s.PSS })
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k[1], k[0], mib(r), mib(p),
			mib(pick(ss, func(s rssSample) int { return s.Anon })), mib(pick(ss, func(s rssSample) int { return s.File })),
			mib(pick(ss, func(s rssSample) int { return s.Heap })), mib(pick(ss, func(s rssSample) int { return s.Stack })))
		if sums[k[1]] == nil {
			sums[k[1]] = &sum{}
			nodes = append(nodes, k[1])
		}
		sums[k[1]].rss += r
		sums[k[1]].pss += p
		sums[k[1]].n++
	}
	tw.Flush()
	fmt.Printf("sum per node (goal: RSS sum <= %.0f MiB on a node that runs all three)\n", goalMiB)
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "node\tprocesses\tRSS sum\tPSS sum\tgoal")
	for _, n := range nodes {
		s := sums[n]
		verdict := "ok"
		if float64(s.rss)/1024 > goalMiB {
			verdict = "OVER"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", n, s.n, mib(s.rss), mib(s.pss), verdict)
	}
	tw.Flush()
}
