package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// results holds every sample, by metric and target, in run order.
type results struct {
	s    map[metric]map[string][]sample
	load []float64 // 1-minute load average before the first run and after each
}

func newResults() *results { return &results{s: map[metric]map[string][]sample{}} }

func (r *results) add(k metric, target string, s sample) {
	if r.s[k] == nil {
		r.s[k] = map[string][]sample{}
	}
	r.s[k][target] = append(r.s[k][target], s)
}

// median of a field of the samples of k on target.
func (r *results) median(k metric, target string, f func(sample) float64) float64 {
	var v []float64
	for _, s := range r.s[k][target] {
		v = append(v, f(s))
	}
	return meshlab.Median(v)
}

func value(s sample) float64   { return s.value }
func cpuXlat(s sample) float64 { return s.cpuXlat }
func cpuSend(s sample) float64 { return s.cpuSend }
func cpuSink(s sample) float64 { return s.cpuSink }
func drops(s sample) float64   { return float64(s.drops) }
func busy(s sample) float64    { return s.busy }

// perRun is the ratio a/b of each run (both measured in the same round).
func (r *results) perRun(k metric, a, b string) []float64 {
	x, y := r.s[k][a], r.s[k][b]
	var v []float64
	for i := 0; i < len(x) && i < len(y); i++ {
		v = append(v, ratio(x[i].value, y[i].value))
	}
	return v
}

// goal is a ratio the benchmark checks in every run.
type goal struct {
	metric metric
	a, b   string
	min    float64
}

func goals(o options) []goal {
	g := []goal{{tcp, xlat, tayga, 4}, {tcpRev, xlat, tayga, 4}, {udp64, xlat, tayga, 2}}
	if o.mq > 0 {
		g = append(g, goal{udp8, xlatMQ, xlat, 1.6}, goal{tcp8, xlatMQ, xlat, 1.6})
	}
	return g
}

func (r *results) print(o options) {
	fmt.Printf("translator benchmark: %d runs x %d s, medians (GRO on veths: %v, queues %d, multi-queue target %d)\n",
		o.runs, o.secs, o.gro, o.queues, o.mq)
	fmt.Printf("%-20s %10s %10s %10s %10s %11s %11s\n", "metric", kernel, tayga, xlat, xlatMQ, "xlat/tayga", "xlat/kernel")
	for _, p := range o.plans {
		k := p.metric
		m := func(t string) float64 { return r.median(k, t, value) }
		cell := func(t string) string {
			if len(r.s[k][t]) == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2f", m(t))
		}
		line := fmt.Sprintf("%-20s %10s %10s %10s %10s", k, cell(kernel), cell(tayga), cell(xlat), cell(xlatMQ))
		if len(r.s[k][tayga]) > 0 {
			line += fmt.Sprintf(" %10.2fx %10.0f%%", ratio(m(xlat), m(tayga)), 100*ratio(m(xlat), m(kernel)))
		}
		fmt.Println(line)
	}
	if o.mq > 0 {
		fmt.Printf("multi-queue, 8 flows (medians): %d queues / %d, and the ceiling on this machine, kernel forwarding / %d queue(s):\n", o.mq, o.queues, o.queues)
		for _, k := range []metric{udp8, tcp8} {
			if len(r.s[k][xlatMQ]) > 0 {
				m := func(t string) float64 { return r.median(k, t, value) }
				fmt.Printf("  %-18s %.2fx   ceiling %.2fx\n", k, ratio(m(xlatMQ), m(xlat)), ratio(m(kernel), m(xlat)))
			}
		}
	}
	fmt.Println("translator busy, % of one core (medians):")
	for _, p := range o.plans {
		var s []string
		for _, t := range p.targets {
			if t != kernel {
				s = append(s, fmt.Sprintf("%s %.0f%%", t, r.median(p.metric, t, busy)))
			}
		}
		fmt.Printf("  %-18s %s\n", p.metric, strings.Join(s, ", "))
	}
	fmt.Println("CPU µs per packet received (medians; translator = its process incl. the kernel work in its system calls):")
	for _, k := range []metric{udp64, udp8} {
		for _, t := range []string{tayga, xlat, xlatMQ} {
			if len(r.s[k][t]) == 0 {
				continue
			}
			fmt.Printf("  %-18s %-8s translator %5.2f  sender %5.2f  sink %5.2f  sink socket drops %.0f\n", k, t,
				r.median(k, t, cpuXlat), r.median(k, t, cpuSend), r.median(k, t, cpuSink), r.median(k, t, drops))
		}
	}
	fmt.Println("per-run ratios (same round):")
	for _, g := range goals(o) {
		v := r.perRun(g.metric, g.a, g.b)
		if len(v) == 0 {
			continue
		}
		ok := 0
		var s []string
		for _, x := range v {
			s = append(s, fmt.Sprintf("%.2f", x))
			if x >= g.min {
				ok++
			}
		}
		fmt.Printf("  %-18s %s/%s: %s  (>= %.1f in %d of %d)\n", g.metric, g.a, g.b, strings.Join(s, " "), g.min, ok, len(v))
	}
	var s []string
	for _, l := range r.load {
		s = append(s, fmt.Sprintf("%.2f", l))
	}
	fmt.Printf("load average (1 min) before and after each run: %s\n", strings.Join(s, " "))
}

// writeJSON writes the medians (metric → target → value), the translator
// CPU per packet, the per-run ratios' minimum and median, and the load
// averages; the file is replaced atomically.
func (r *results) writeJSON(path string, o options) error {
	out := map[string]map[string]float64{}
	for _, p := range o.plans {
		out[string(p.metric)] = map[string]float64{}
		for _, t := range p.targets {
			out[string(p.metric)][t] = r.median(p.metric, t, value)
		}
	}
	for _, k := range []metric{udp64, udp8} {
		c := map[string]float64{}
		for _, t := range []string{tayga, xlat, xlatMQ} {
			if len(r.s[k][t]) > 0 {
				c[t] = r.median(k, t, cpuXlat)
			}
		}
		if len(c) > 0 {
			out[strings.TrimSuffix(string(k), "_kpps")+"_cpu_us_per_pkt"] = c
		}
	}
	ratios := map[string]float64{}
	for _, g := range goals(o) {
		v := r.perRun(g.metric, g.a, g.b)
		if len(v) == 0 {
			continue
		}
		name := string(g.metric) + "_" + g.a + "_over_" + g.b
		min := v[0]
		for _, x := range v {
			if x < min {
				min = x
			}
		}
		ratios[name+"_median"] = meshlab.Median(v)
		ratios[name+"_min"] = min
	}
	for _, k := range []metric{udp8, tcp8} {
		if v := r.perRun(k, kernel, xlat); len(v) > 0 {
			ratios[string(k)+"_kernel_over_xlat_median"] = meshlab.Median(v) // the multi-queue ceiling here
		}
	}
	out["ratios"] = ratios
	load := map[string]float64{}
	if n := len(r.load); n > 0 {
		load["first"], load["last"], load["median"] = r.load[0], r.load[n-1], meshlab.Median(r.load)
	}
	out["load_average_1min"] = load
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("BENCH_JSON %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("BENCH_JSON %s: %w", path, err)
	}
	return nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
