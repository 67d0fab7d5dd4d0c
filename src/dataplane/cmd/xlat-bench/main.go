// Command xlat-bench measures the translator against plain kernel IPv6
// forwarding and TAYGA in the same run: single-stream TCP both directions
// (iperf3) and 64-byte UDP packets per second (the benchmark's own batched
// generator and sink, package udpblast) through the client — translator —
// server topology of package xlatlab; and `--queues 2` against one queue with
// 8 flows. Several runs, interleaved per round; medians, per-run ratios and
// CPU time per packet as a table; with BENCH_JSON=FILE also JSON. Needs root,
// iperf3 and tayga.
//
//	xlat-bench [-bin PATH] [-runs 3] [-time 5] [-gro] [-queues 1] [-mq 2]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/dataplane/xlatlab"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

type metric string

const (
	tcp    metric = "tcp_gbps"
	tcpRev metric = "tcp_reverse_gbps"
	udp64  metric = "udp64_kpps"
	// 8 flows, for the multi-queue comparison
	udp8 metric = "udp64_8flows_kpps"
	tcp8 metric = "tcp8_gbps"
)

// target is one topology: a data plane and its queue count.
type target struct {
	name   string
	mode   xlatlab.Mode
	queues int
	topo   *xlatlab.Topo
}

const (
	kernel = "kernel"
	tayga  = "tayga"
	xlat   = "xlat"
	xlatMQ = "xlat_mq" // xlat with -mq queues
)

// plan says which metric is measured on which targets.
type plan struct {
	metric  metric
	targets []string
}

func main() {
	if ok, err := helper(os.Args[1:]); ok {
		if err != nil {
			fmt.Fprintln(os.Stderr, "xlat-bench:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.bin, "bin", "", "xlat-clat binary (default: go build from the source tree)")
	flag.StringVar(&o.src, "src", ".", "Go module directory for building the binary")
	flag.IntVar(&o.runs, "runs", 3, "runs per measurement")
	flag.IntVar(&o.secs, "time", 5, "seconds per run")
	flag.BoolVar(&o.gro, "gro", false, "enable GRO on the veths")
	flag.IntVar(&o.queues, "queues", 1, "TUN queues of the xlat target")
	flag.IntVar(&o.mq, "mq", 2, "TUN queues of the multi-queue target, compared with -queues at 8 flows (0: skip)")
	flag.BoolVar(&o.diag, "diag", false, "print drop counters of the server and the translator device at the end")
	only := flag.String("only", "", "measure only this metric (tcp_gbps, tcp_reverse_gbps, udp64_kpps, udp64_8flows_kpps, tcp8_gbps)")
	flag.Parse()
	o.plans = []plan{
		{tcp, []string{kernel, tayga, xlat}},
		{tcpRev, []string{kernel, tayga, xlat}},
		{udp64, []string{kernel, tayga, xlat}},
	}
	if o.mq > 0 {
		o.plans = append(o.plans, plan{udp8, []string{kernel, xlat, xlatMQ}}, plan{tcp8, []string{kernel, xlat, xlatMQ}})
	}
	if *only != "" {
		var p []plan
		for _, x := range o.plans {
			if string(x.metric) == *only {
				p = append(p, x)
			}
		}
		o.plans = p
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "xlat-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, src               string
	runs, secs, queues, mq int
	gro, diag              bool
	plans                  []plan
}

func run(ctx context.Context, o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	lab, err := meshlab.New("x2b")
	if err != nil {
		return err
	}
	defer lab.Close()
	if o.bin == "" {
		if o.bin, err = xlatlab.BuildBinary(ctx, o.src, lab.Dir()); err != nil {
			return err
		}
	} else if o.bin, err = filepath.Abs(o.bin); err != nil {
		return err
	}
	targets := []*target{{name: kernel, mode: xlatlab.Kernel}, {name: tayga, mode: xlatlab.Tayga},
		{name: xlat, mode: xlatlab.Xlat, queues: o.queues}}
	if o.mq > 0 {
		targets = append(targets, &target{name: xlatMQ, mode: xlatlab.Xlat, queues: o.mq})
	}
	byName := map[string]*target{}
	for i, tg := range targets {
		byName[tg.name] = tg
		opts := xlatlab.Options{Mode: tg.mode, XlatBin: o.bin, GRO: o.gro}
		if tg.mode == xlatlab.Xlat {
			opts.XlatArgs = []string{"--queues", strconv.Itoa(tg.queues)}
		}
		if tg.topo, err = xlatlab.Build(ctx, lab, string("ktxq"[i]), opts); err != nil {
			return fmt.Errorf("%s topology: %w", tg.name, err)
		}
		if _, err := tg.topo.Srv.Start("iperf3", "iperf3", "-s", "-B", tg.topo.ServerBind()); err != nil {
			return err
		}
	}
	for _, tg := range targets {
		t := tg.topo
		if err := meshlab.WaitFor(ctx, tg.name+" iperf3 server", 50*time.Millisecond, func() (bool, error) {
			_, err := t.Cli.Runf(ctx, "ping -c1 -W1 %s", t.Target())
			if err != nil {
				return false, err
			}
			out, err := t.Srv.Runf(ctx, "ss -Hltn sport = :5201")
			return err == nil && len(out) > 0, err
		}); err != nil {
			return err
		}
	}
	res := newResults()
	res.load = append(res.load, loadAvg())
	for r := 0; r < o.runs; r++ {
		for _, p := range o.plans {
			for _, name := range p.targets {
				s, err := measure(ctx, self, byName[name], p.metric, o.secs)
				if err != nil {
					return fmt.Errorf("%s %s run %d: %w", name, p.metric, r+1, err)
				}
				fmt.Fprintf(os.Stderr, "run %d %-8s %-18s %s\n", r+1, name, p.metric, s)
				res.add(p.metric, name, s)
			}
		}
		res.load = append(res.load, loadAvg())
	}
	res.print(o)
	if o.diag {
		for _, tg := range targets {
			t := tg.topo
			out, _ := t.Srv.Runf(ctx, "nstat -az UdpRcvbufErrors Udp6RcvbufErrors UdpInErrors Udp6InErrors")
			fmt.Fprintf(os.Stderr, "== %s server:\n%s", tg.name, out)
			if tg.mode != xlatlab.Kernel {
				out, _ = t.XL.Runf(ctx, "ip -s link show %s", xlatlab.TunName)
				fmt.Fprintf(os.Stderr, "== %s translator device:\n%s", tg.name, out)
			}
		}
	}
	for _, tg := range targets {
		if st := tg.topo.Xlat; st != nil {
			_ = st.Stop() // logs its counters on exit
			fmt.Fprintf(os.Stderr, "%s: xlat-clat log:\n%s", tg.name, st.Log())
		}
	}
	if path := os.Getenv("BENCH_JSON"); path != "" {
		return res.writeJSON(path, o)
	}
	return nil
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscan(string(b), &l)
	return l
}
