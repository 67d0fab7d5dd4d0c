package meshlab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PathMetric is one figure of the full-path benchmark.
type PathMetric string

const (
	TCP       PathMetric = "tcp_gbps"         // one TCP stream, client -> internet
	TCPRev    PathMetric = "tcp_reverse_gbps" // one TCP stream, internet -> client (iperf3 -R)
	TCP8      PathMetric = "tcp8_gbps"        // 8 parallel TCP streams, client -> internet
	UDP64     PathMetric = "udp64_kpps"       // 64-byte UDP packets per second received (thousands)
	PingMed   PathMetric = "ping_median_ms"
	PingP99   PathMetric = "ping_p99_ms"
	pingCount            = 1000
)

// PathMetrics in table order; HigherIsBetter tells throughput from latency.
var PathMetrics = []PathMetric{TCP, TCPRev, TCP8, UDP64, PingMed, PingP99}

// HigherIsBetter is false for latencies.
func (k PathMetric) HigherIsBetter() bool { return k != PingMed && k != PingP99 }

// PathSamples are the measured values: metric -> variant -> one per run.
type PathSamples map[PathMetric]map[PathVariant][]float64

// iperfPort is where the internet host's iperf3 servers listen (one per
// target address: UDP replies must leave from the address the client sent to).
const iperfPort = 5201

// StartIperf starts an iperf3 server on the internet host for every variant's
// target and waits until they listen.
func (pl *PathLab) StartIperf(ctx context.Context) error {
	inet := pl.Mesh.Inet
	for _, v := range PathVariants {
		if _, err := inet.Start("iperf3-"+string(v), "iperf3", "-s", "-B", v.Target().String(), "-p", strconv.Itoa(iperfPort)); err != nil {
			return err
		}
	}
	return pl.Mesh.Wait(ctx, "iperf3 servers", 50*time.Millisecond, func() (bool, error) {
		out, err := inet.Runf(ctx, "ss -Hltn sport = :%d", iperfPort)
		return err == nil && strings.Count(out, "\n") >= len(PathVariants), err
	})
}

// Measure runs one iperf3 measurement of k (TCP, TCPRev, TCP8, UDP64) over
// variant v for secs seconds and returns the value, and the CPU share of each
// of the variant's translator processes (with their children) over the
// measurement, by process name.
func (pl *PathLab) Measure(ctx context.Context, v PathVariant, k PathMetric, secs int) (float64, map[string]float64, error) {
	procs := pl.Procs[v]
	cpu0 := make([]float64, len(procs))
	for i, p := range procs {
		cpu0[i] = GroupCPU(p.PID())
	}
	busy0, soft0 := hostCPU()
	t0 := time.Now()
	val, ends, err := pl.iperf(ctx, v, k, secs)
	wall := time.Since(t0).Seconds()
	busy1, soft1 := hostCPU()
	cpu := map[string]float64{
		"iperf3 client": ends.HostTotal / 100, "iperf3 server": ends.RemoteTotal / 100,
		// The whole machine (other jobs included): how close to both cores.
		"host busy": (busy1 - busy0) / wall, "host softirq": (soft1 - soft0) / wall,
	}
	for i, p := range procs {
		cpu[p.Name] = (GroupCPU(p.PID()) - cpu0[i]) / wall
	}
	return val, cpu, err
}

// PingStats sends pingCount echo requests 2 ms apart and returns the median
// and the 99th percentile of the round-trip times in ms.
func (pl *PathLab) PingStats(ctx context.Context, v PathVariant) (median, p99 float64, err error) {
	rtts, err := pl.ping(ctx, v)
	if err != nil {
		return 0, 0, err
	}
	return Quantile(rtts, 0.5), Quantile(rtts, 0.99), nil
}

func (pl *PathLab) ping(ctx context.Context, v PathVariant) ([]float64, error) {
	out, err := pl.Client.NS.Run(ctx, "ping", "-n", "-c", strconv.Itoa(pingCount), "-i", "0.002", "-W", "1", v.Target().String())
	rtts := ParsePingRTTs(out)
	if len(rtts) < pingCount*9/10 {
		return nil, fmt.Errorf("ping %s: %d of %d answers (%v)", v.Target(), len(rtts), pingCount, err)
	}
	return rtts, nil
}

// ParsePingRTTs returns the "time=X ms" values of ping's output.
func ParsePingRTTs(out string) []float64 {
	var rtts []float64
	for _, f := range strings.Fields(out) {
		if s, ok := strings.CutPrefix(f, "time="); ok {
			if x, err := strconv.ParseFloat(s, 64); err == nil {
				rtts = append(rtts, x)
			}
		}
	}
	return rtts
}

// Quantile returns the q-quantile of v (nearest rank), 0 for none.
func Quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(q*float64(len(s))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

// Median of v (the mean of the middle two for an even count), 0 for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// IperfSummary is the part of iperf3's JSON output (-J) the benchmarks read.
type IperfSummary struct {
	End struct {
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
		Sum struct {
			Seconds     float64 `json:"seconds"`
			Packets     float64 `json:"packets"`
			LostPackets float64 `json:"lost_packets"`
		} `json:"sum"`
		CPU iperfCPU `json:"cpu_utilization_percent"`
	} `json:"end"`
	Error string `json:"error"`
}

// iperfCPU is the CPU use of iperf3's two ends in percent of one core.
type iperfCPU struct {
	HostTotal   float64 `json:"host_total"`
	RemoteTotal float64 `json:"remote_total"`
}

func (pl *PathLab) iperf(ctx context.Context, v PathVariant, k PathMetric, secs int) (float64, iperfCPU, error) {
	args := []string{"iperf3", "-c", v.Target().String(), "-p", strconv.Itoa(iperfPort),
		"-t", strconv.Itoa(secs), "-J", "--connect-timeout", "3000"}
	switch k {
	case TCPRev:
		args = append(args, "-R")
	case TCP8:
		args = append(args, "-P", "8")
	case UDP64:
		args = append(args, "-u", "-l", "64", "-b", "0")
	}
	cctx, cancel := context.WithTimeout(ctx, time.Duration(secs+20)*time.Second)
	defer cancel()
	out, err := pl.Client.NS.Command(cctx, args...).Output()
	var r IperfSummary
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return 0, iperfCPU{}, fmt.Errorf("iperf3 %s: %v (%v): %.300s", v, jerr, err, out)
	}
	if r.Error != "" {
		return 0, iperfCPU{}, fmt.Errorf("iperf3 %s: %s", v, r.Error)
	}
	if k == UDP64 {
		if r.End.Sum.Seconds == 0 {
			return 0, iperfCPU{}, fmt.Errorf("iperf3 %s: no UDP summary", v)
		}
		return (r.End.Sum.Packets - r.End.Sum.LostPackets) / r.End.Sum.Seconds / 1000, r.End.CPU, nil
	}
	return r.End.SumReceived.BitsPerSecond / 1e9, r.End.CPU, nil
}

// hostCPU returns the machine's busy CPU seconds (all but idle and iowait)
// and its softirq seconds so far, summed over all cores.
func hostCPU() (busy, softirq float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	for i := 1; i < len(f) && i <= 8; i++ {
		x, _ := strconv.ParseFloat(f[i], 64)
		if i != 4 && i != 5 {
			busy += x
		}
		if i == 7 {
			softirq = x
		}
	}
	return busy / 100, softirq / 100 // USER_HZ
}

// GroupCPU returns the CPU seconds so far (user + system, all threads) of
// the processes in process group pgid: a lab process and the children it
// started (the lab starts each in its own group), 0 if none can be read.
func GroupCPU(pgid int) float64 { return GroupCPUs()[pgid] }

// GroupCPUs returns the CPU seconds so far of every process group, from one
// pass over /proc. Children that have exited count once their parent has
// waited for them (cutime, cstime): the iptables commands a daemon runs are
// its cost.
func GroupCPUs() map[int]float64 {
	dirs, _ := os.ReadDir("/proc")
	sum := map[int]float64{}
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		if group, cpu, ok := parseStatCPU(string(b)); ok {
			sum[group] += cpu
		}
	}
	return sum
}

// parseStatCPU reads the process group and utime + stime + cutime + cstime
// (seconds) of a /proc/PID/stat line.
func parseStatCPU(s string) (pgrp int, cpu float64, ok bool) {
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // f[0] is field 3 (state); pgrp is 5, utime, stime, cutime, cstime 14-17
	if len(f) < 15 {
		return 0, 0, false
	}
	pgrp, err := strconv.Atoi(f[2])
	if err != nil {
		return 0, 0, false
	}
	sum := 0.0
	for _, x := range f[11:15] {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, 0, false
		}
		sum += v
	}
	return pgrp, sum / 100, true // USER_HZ
}
