package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// pathBench runs the full-path benchmark (files/scripts/bench.d/20-path.sh):
// the client's IPv4 to the internet host through D's CLAT and C's PLAT,
// against native IPv4 routing and TAYGA over the same hops, alternating the
// three in every run; medians and ratios as a table, with --json (or
// BENCH_JSON) also as the "path" object of a JSON file.
func pathBench(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("xlat-lab path-bench", flag.ContinueOnError)
	bin := fs.String("bin", defaultBinDir(), "directory with gluon-464xlat and its links (make build)")
	runs := fs.Int("runs", 3, "runs (each measures every variant once)")
	secs := fs.Int("time", 5, "seconds per iperf3 measurement")
	jsonPath := fs.String("json", os.Getenv("BENCH_JSON"), `add the medians as "path" to this JSON file`)
	verbose := fs.Bool("v", false, "report the lab's progress and every sample")
	unpinned := fs.Bool("unpinned", false, "let the client node's CLAT choose its PLAT (default: pinned to the nearest, the native and TAYGA paths' PLAT)")
	hold := fs.Duration("hold", 0, "keep the lab up this long before measuring (to look at it)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "xlat-lab path-bench: needs root (network namespaces): sudo make bench")
		return 1
	}
	// Setup ~30 s; per run and variant 4 iperf3 tests and 2 s of ping.
	budget := time.Minute + *hold + time.Duration(*runs*len(meshlab.PathVariants)*(4*(*secs+3)+5))*time.Second
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	res, err := runPathBench(ctx, meshlab.PathOptions{BinDir: *bin, Unpinned: *unpinned}, *runs, *secs, *verbose, *hold)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xlat-lab path-bench:", err)
		return 1
	}
	res.print(os.Stdout)
	if *jsonPath != "" {
		if err := mergeJSON(*jsonPath, "path", res.json()); err != nil {
			fmt.Fprintln(os.Stderr, "xlat-lab path-bench:", err)
			return 1
		}
	}
	return 0
}

type pathResult struct {
	runs, secs  int
	path        string
	loadBefore  string
	loadAfter   string
	clat        string // the CLAT's PLAT, switches and probes at the end
	samples     meshlab.PathSamples
	cpu         map[meshlab.PathVariant]map[meshlab.PathMetric]map[string][]float64
	med         map[meshlab.PathMetric]map[meshlab.PathVariant]float64
	cpuMed      map[meshlab.PathVariant]map[meshlab.PathMetric]map[string]float64
	variantsCPU map[meshlab.PathVariant][]string // process names in hop order
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func runPathBench(ctx context.Context, o meshlab.PathOptions, runs, secs int, verbose bool, hold time.Duration) (*pathResult, error) {
	logf := func(string, ...any) {}
	if verbose {
		logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	}
	o.Logf = logf
	pl, err := meshlab.StartPathLab(ctx, o)
	if err != nil {
		return nil, err
	}
	defer pl.Mesh.Close()
	if err := pl.StartIperf(ctx); err != nil {
		return nil, err
	}
	pl.Describe(os.Stderr)
	if hold > 0 {
		fmt.Fprintf(os.Stderr, "holding the lab (%s) for %v; lab dir %s\n", pl.Mesh.Lab.Dir(), hold, pl.Mesh.Lab.Dir())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(hold):
		}
	}
	r := &pathResult{runs: runs, secs: secs, path: pl.HopNames(), loadBefore: loadAvg(),
		samples:     meshlab.PathSamples{},
		cpu:         map[meshlab.PathVariant]map[meshlab.PathMetric]map[string][]float64{},
		variantsCPU: map[meshlab.PathVariant][]string{}}
	for _, k := range meshlab.PathMetrics {
		r.samples[k] = map[meshlab.PathVariant][]float64{}
	}
	for _, v := range meshlab.PathVariants {
		r.cpu[v] = map[meshlab.PathMetric]map[string][]float64{}
		for _, p := range pl.Procs[v] {
			r.variantsCPU[v] = append(r.variantsCPU[v], p.Name)
		}
	}
	for run := 1; run <= runs; run++ {
		for _, v := range meshlab.PathVariants {
			for _, k := range meshlab.PathMetrics {
				switch k {
				case meshlab.PingP99:
					continue // from the same pings as the median
				case meshlab.PingMed:
					med, p99, err := pl.PingStats(ctx, v)
					if err != nil {
						return nil, fmt.Errorf("run %d, %s, ping: %w", run, v, err)
					}
					r.samples[meshlab.PingMed][v] = append(r.samples[meshlab.PingMed][v], med)
					r.samples[meshlab.PingP99][v] = append(r.samples[meshlab.PingP99][v], p99)
					logf("run %d %-6s ping median %.3f ms p99 %.3f ms", run, v, med, p99)
					continue
				}
				val, cpu, err := pl.Measure(ctx, v, k, secs)
				if err != nil {
					return nil, fmt.Errorf("run %d, %s, %s: %w", run, v, k, err)
				}
				r.samples[k][v] = append(r.samples[k][v], val)
				if r.cpu[v][k] == nil {
					r.cpu[v][k] = map[string][]float64{}
				}
				for name, share := range cpu {
					r.cpu[v][k][name] = append(r.cpu[v][k][name], share)
				}
				logf("run %d %-6s %-16s %8.3f  cpu %v", run, v, k, val, cpu)
			}
		}
	}
	r.loadAfter = loadAvg()
	if st, err := pl.CLATState(ctx); err != nil {
		r.clat = "CLAT state: " + err.Error()
	} else {
		r.clat = fmt.Sprintf("CLAT on %s: PLAT %s (fixed %v), %d switches, probes %d sent %d failed",
			pl.Hops[0].Spec.Name, st.PLAT, st.Fixed, st.Switches, st.Probe.Sent, st.Probe.Failed)
		if ls := st.LastSwitch; ls != nil {
			r.clat += fmt.Sprintf("; last switch %s -> %s (%s) at %s", ls.From, ls.To, ls.Reason, ls.At.UTC().Format("15:04:05"))
		}
		if st.Probe.LastError != "" {
			r.clat += "; last probe error: " + st.Probe.LastError
		}
	}
	r.med = map[meshlab.PathMetric]map[meshlab.PathVariant]float64{}
	for _, k := range meshlab.PathMetrics {
		r.med[k] = map[meshlab.PathVariant]float64{}
		for _, v := range meshlab.PathVariants {
			r.med[k][v] = meshlab.Median(r.samples[k][v])
		}
	}
	r.cpuMed = map[meshlab.PathVariant]map[meshlab.PathMetric]map[string]float64{}
	for v, byMetric := range r.cpu {
		r.cpuMed[v] = map[meshlab.PathMetric]map[string]float64{}
		for k, byProc := range byMetric {
			r.cpuMed[v][k] = map[string]float64{}
			for name, s := range byProc {
				r.cpuMed[v][k][name] = meshlab.Median(s)
			}
		}
	}
	return r, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (r *pathResult) print(w io.Writer) {
	fmt.Fprintf(w, "full path: %s; %d runs x %d s, medians; load average before %s, after %s\n",
		r.path, r.runs, r.secs, r.loadBefore, r.loadAfter)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\tnative\ttayga\txlat\txlat/native\txlat/tayga\t")
	for _, k := range meshlab.PathMetrics {
		m := r.med[k]
		n, t, x := m[meshlab.PathNative], m[meshlab.PathTayga], m[meshlab.PathXlat]
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.0f%%\t%.2fx\t\n", k, n, t, x, 100*ratio(x, n), ratio(x, t))
	}
	tw.Flush()
	fmt.Fprintln(w, "(latency rows: lower is better; xlat/native above 100% is the translation's added delay)")
	fmt.Fprintf(w, "CPU during each measurement, median, 100%% = one core (host: the whole %d-core machine, other jobs included):\n", runtime.NumCPU())
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range []meshlab.PathVariant{meshlab.PathXlat, meshlab.PathTayga} {
		for _, k := range []meshlab.PathMetric{meshlab.TCP, meshlab.TCPRev, meshlab.TCP8, meshlab.UDP64} {
			var parts []string
			names := append(append([]string(nil), r.variantsCPU[v]...), "iperf3 client", "iperf3 server", "host busy", "host softirq")
			for _, name := range names {
				parts = append(parts, fmt.Sprintf("%s %.0f%%", name, 100*r.cpuMed[v][k][name]))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", v, k, strings.Join(parts, ", "))
		}
	}
	tw.Flush()
	fmt.Fprintln(w, r.clat)
	fwd, rev := r.med[meshlab.TCP], r.med[meshlab.TCPRev]
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "SHORT"
	}
	fmt.Fprintf(w, "goal single TCP >= 50%% of native: forward %.0f%% (%s), reverse %.0f%% (%s)\n",
		100*ratio(fwd[meshlab.PathXlat], fwd[meshlab.PathNative]), verdict(fwd[meshlab.PathXlat] >= 0.5*fwd[meshlab.PathNative]),
		100*ratio(rev[meshlab.PathXlat], rev[meshlab.PathNative]), verdict(rev[meshlab.PathXlat] >= 0.5*rev[meshlab.PathNative]))
	fmt.Fprintf(w, "goal single TCP >= 4x TAYGA:       forward %.2fx (%s), reverse %.2fx (%s)\n",
		ratio(fwd[meshlab.PathXlat], fwd[meshlab.PathTayga]), verdict(fwd[meshlab.PathXlat] >= 4*fwd[meshlab.PathTayga]),
		ratio(rev[meshlab.PathXlat], rev[meshlab.PathTayga]), verdict(rev[meshlab.PathXlat] >= 4*rev[meshlab.PathTayga]))
}

func (r *pathResult) json() map[string]any {
	metrics := map[string]map[string]float64{}
	samples := map[string]map[string][]float64{}
	for _, k := range meshlab.PathMetrics {
		metrics[string(k)] = map[string]float64{}
		samples[string(k)] = map[string][]float64{}
		for _, v := range meshlab.PathVariants {
			metrics[string(k)][string(v)] = r.med[k][v]
			samples[string(k)][string(v)] = r.samples[k][v]
		}
	}
	cpu := map[string]map[string]map[string]float64{}
	for v, byMetric := range r.cpuMed {
		cpu[string(v)] = map[string]map[string]float64{}
		for k, byProc := range byMetric {
			cpu[string(v)][string(k)] = byProc
		}
	}
	return map[string]any{
		"path": r.path, "runs": r.runs, "seconds": r.secs,
		"load_before": r.loadBefore, "load_after": r.loadAfter, "clat": r.clat,
		"medians": metrics, "samples": samples, "cpu_share": cpu,
	}
}

// mergeJSON sets key in the JSON object in file path (created if missing)
// and writes it back atomically; other keys stay as they are.
func mergeJSON(path, key string, value any) error {
	obj := map[string]json.RawMessage{}
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &obj); err != nil {
			return fmt.Errorf("%s: not a JSON object: %w", path, err)
		}
	} else if err != nil && !os.IsNotExist(err) {
		return err
	}
	v, err := json.Marshal(value)
	if err != nil {
		return err
	}
	obj[key] = v
	b, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
