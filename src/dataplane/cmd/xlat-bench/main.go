// Command xlat-bench measures the translator against plain kernel IPv6
// forwarding and TAYGA in the same run: single-stream TCP both directions and
// 64-byte UDP packets per second through the client — translator — server
// topology of package xlatlab. Several runs each, medians and ratios as a
// table; with BENCH_JSON=FILE also JSON. Needs root, iperf3 and tayga.
//
//	xlat-bench [-bin PATH] [-runs 3] [-time 5] [-gro] [-queues 1]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
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
	// cpuPerPkt is the translator process's CPU time per received 64-byte
	// UDP packet (µs), which the endpoints' own limits do not mask.
	cpuPerPkt metric = "udp64_cpu_us_per_pkt"
)

var (
	metrics = []metric{tcp, tcpRev, udp64}
	modes   = []xlatlab.Mode{xlatlab.Kernel, xlatlab.Tayga, xlatlab.Xlat}
)

func main() {
	bin := flag.String("bin", "", "xlat-clat binary (default: go build from the source tree)")
	src := flag.String("src", ".", "Go module directory for building the binary")
	runs := flag.Int("runs", 3, "runs per measurement")
	secs := flag.Int("time", 5, "seconds per run")
	gro := flag.Bool("gro", false, "enable GRO on the veths")
	queues := flag.Int("queues", 1, "TUN queues for xlat-clat")
	diag := flag.Bool("diag", false, "print drop counters of the server and the translator device at the end")
	only := flag.String("only", "", "measure only this metric (tcp_gbps, tcp_reverse_gbps, udp64_kpps)")
	flag.Parse()
	if *only != "" {
		metrics = []metric{metric(*only)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *src, *runs, *secs, *gro, *queues, *diag); err != nil {
		fmt.Fprintln(os.Stderr, "xlat-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, src string, runs, secs int, gro bool, queues int, diag bool) error {
	lab, err := meshlab.New("x2b")
	if err != nil {
		return err
	}
	defer lab.Close()
	if bin == "" {
		if bin, err = xlatlab.BuildBinary(ctx, src, lab.Dir()); err != nil {
			return err
		}
	} else if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	topos := map[xlatlab.Mode]*xlatlab.Topo{}
	for i, m := range modes {
		t, err := xlatlab.Build(ctx, lab, fmt.Sprintf("%c", "ktx"[i]), xlatlab.Options{
			Mode: m, XlatBin: bin, GRO: gro, XlatArgs: []string{"--queues", strconv.Itoa(queues)}})
		if err != nil {
			return fmt.Errorf("%s topology: %w", m, err)
		}
		if _, err := t.Srv.Start("iperf3", "iperf3", "-s", "-B", t.ServerBind()); err != nil {
			return err
		}
		topos[m] = t
	}
	for _, m := range modes {
		t := topos[m]
		if err := meshlab.WaitFor(ctx, string(m)+" iperf3 server", 50*time.Millisecond, func() (bool, error) {
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
	res := map[metric]map[xlatlab.Mode][]float64{}
	for _, k := range append(metrics, cpuPerPkt) {
		res[k] = map[xlatlab.Mode][]float64{}
	}
	for r := 0; r < runs; r++ {
		for _, m := range modes {
			for _, k := range metrics {
				cpu0 := procCPU(topos[m])
				v, pkts, err := measure(ctx, topos[m], k, secs)
				if err != nil {
					return fmt.Errorf("%s %s run %d: %w", m, k, r+1, err)
				}
				fmt.Fprintf(os.Stderr, "run %d %-6s %-16s %8.2f\n", r+1, m, k, v)
				res[k][m] = append(res[k][m], v)
				if cpu1 := procCPU(topos[m]); k == udp64 && cpu1 > 0 && pkts > 0 {
					res[cpuPerPkt][m] = append(res[cpuPerPkt][m], (cpu1-cpu0)*1e6/pkts)
				}
			}
		}
	}
	med := map[metric]map[xlatlab.Mode]float64{}
	for _, k := range append(metrics, cpuPerPkt) {
		med[k] = map[xlatlab.Mode]float64{}
		for _, m := range modes {
			med[k][m] = meshlab.Median(res[k][m])
		}
	}
	fmt.Printf("translator benchmark: %d runs x %d s, medians (GRO on veths: %v, queues %d)\n", runs, secs, gro, queues)
	fmt.Printf("%-18s %10s %10s %10s %12s %12s\n", "metric", "kernel", "tayga", "xlat", "xlat/tayga", "xlat/kernel")
	for _, k := range metrics {
		x := med[k]
		fmt.Printf("%-18s %10.2f %10.2f %10.2f %11.2fx %11.0f%%\n", k, x[xlatlab.Kernel], x[xlatlab.Tayga], x[xlatlab.Xlat],
			ratio(x[xlatlab.Xlat], x[xlatlab.Tayga]), 100*ratio(x[xlatlab.Xlat], x[xlatlab.Kernel]))
	}
	if diag {
		for _, m := range modes {
			t := topos[m]
			out, _ := t.Srv.Runf(ctx, "nstat -az UdpRcvbufErrors Udp6RcvbufErrors UdpInErrors Udp6InErrors")
			fmt.Fprintf(os.Stderr, "== %s server:\n%s", m, out)
			if m != xlatlab.Kernel {
				out, _ = t.XL.Runf(ctx, "ip -s link show %s", xlatlab.TunName)
				fmt.Fprintf(os.Stderr, "== %s translator device:\n%s", m, out)
			}
		}
	}
	if c := med[cpuPerPkt]; c[xlatlab.Xlat] > 0 {
		fmt.Printf("%-18s %10s %10.2f %10.2f %11.2fx   (translator process CPU incl. its syscalls, per UDP packet received; lower is better)\n",
			cpuPerPkt, "-", c[xlatlab.Tayga], c[xlatlab.Xlat], ratio(c[xlatlab.Tayga], c[xlatlab.Xlat]))
	}
	if st := topos[xlatlab.Xlat].Xlat; st != nil {
		_ = st.Stop() // logs its counters on exit
		fmt.Fprintf(os.Stderr, "xlat-clat log:\n%s", st.Log())
	}
	if path := os.Getenv("BENCH_JSON"); path != "" {
		out := map[string]map[string]float64{}
		for _, k := range metrics {
			out[string(k)] = map[string]float64{}
			for _, m := range modes {
				out[string(k)][string(m)] = med[k][m]
			}
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return nil
}

// iperfResult is the part of iperf3's JSON output the benchmark reads.
type iperfResult = meshlab.IperfSummary

// procCPU returns the translator process's CPU seconds (user+system, all
// threads), or 0 when there is none (kernel mode).
func procCPU(t *xlatlab.Topo) float64 {
	p := t.Xlat
	if p == nil {
		p = t.Tayga
	}
	if p == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID()))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // f[0] is field 3 (state); utime, stime are fields 14, 15
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// measure runs one iperf3 test and returns the metric's value and, for UDP,
// the number of packets received.
func measure(ctx context.Context, t *xlatlab.Topo, k metric, secs int) (float64, float64, error) {
	args := []string{"iperf3", "-c", t.Target(), "-t", strconv.Itoa(secs), "-J", "--connect-timeout", "3000"}
	switch k {
	case tcpRev:
		args = append(args, "-R")
	case udp64:
		args = append(args, "-u", "-l", "64", "-b", "0")
	}
	cctx, cancel := context.WithTimeout(ctx, time.Duration(secs+20)*time.Second)
	defer cancel()
	out, err := t.Cli.Command(cctx, args...).Output()
	var r iperfResult
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return 0, 0, fmt.Errorf("iperf3: %v (%v): %s", jerr, err, out)
	}
	if r.Error != "" {
		return 0, 0, fmt.Errorf("iperf3: %s", r.Error)
	}
	if k == udp64 {
		if r.End.Sum.Seconds == 0 {
			return 0, 0, fmt.Errorf("iperf3: no UDP summary: %s", out)
		}
		rx := r.End.Sum.Packets - r.End.Sum.LostPackets
		return rx / r.End.Sum.Seconds / 1000, rx, nil
	}
	return r.End.SumReceived.BitsPerSecond / 1e9, 0, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
