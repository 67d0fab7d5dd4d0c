package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/dataplane/xlatlab"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// sample is one measurement of one metric on one target.
type sample struct {
	value float64 // Gbit/s or kpps received
	// UDP only: CPU µs per packet received, of the translator process (0 for
	// the kernel), the sender and the sink; and the sink's socket drops.
	cpuXlat, cpuSend, cpuSink float64
	drops                     uint64
	// busy is the translator's CPU time over the test's wall time (% of one
	// core), for every metric.
	busy float64
}

func (s sample) String() string {
	if s.cpuSend == 0 {
		return fmt.Sprintf("%8.2f  translator busy %3.0f%%", s.value, s.busy)
	}
	return fmt.Sprintf("%8.2f  translator busy %3.0f%%, cpu µs/pkt translator %.2f sender %.2f sink %.2f, sink drops %d",
		s.value, s.busy, s.cpuXlat, s.cpuSend, s.cpuSink, s.drops)
}

// measure runs one test of metric k on target tg.
func measure(ctx context.Context, self string, tg *target, k metric, secs int) (sample, error) {
	cpu0, t0 := procCPU(tg.topo), time.Now()
	s, err := measure1(ctx, self, tg.topo, k, secs)
	if cpu1 := procCPU(tg.topo); cpu1 > 0 {
		s.busy = 100 * (cpu1 - cpu0) / time.Since(t0).Seconds()
	}
	return s, err
}

func measure1(ctx context.Context, self string, t *xlatlab.Topo, k metric, secs int) (sample, error) {
	if k == udp64 || k == udp8 {
		flows := 1
		if k == udp8 {
			flows = 8
		}
		cpu0 := procCPU(t)
		r, err := blast(ctx, self, t, flows, secs)
		if err != nil {
			return sample{}, err
		}
		s := sample{value: r.kpps(), drops: r.sink.RcvbufErrors}
		if n := float64(r.sink.Packets); n > 0 {
			if cpu1 := procCPU(t); cpu1 > 0 {
				s.cpuXlat = (cpu1 - cpu0) * 1e6 / n
			}
			s.cpuSend = r.send.CPU * 1e6 / n
			s.cpuSink = r.sink.CPU * 1e6 / n
		}
		return s, nil
	}
	args := []string{"iperf3", "-c", t.Target(), "-t", strconv.Itoa(secs), "-J", "--connect-timeout", "3000"}
	switch k {
	case tcpRev:
		args = append(args, "-R")
	case tcp8:
		args = append(args, "-P", "8")
	}
	cctx, cancel := context.WithTimeout(ctx, time.Duration(secs+20)*time.Second)
	defer cancel()
	out, err := t.Cli.Command(cctx, args...).Output()
	var r meshlab.IperfSummary
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return sample{}, fmt.Errorf("iperf3: %v (%v): %s", jerr, err, out)
	}
	if r.Error != "" {
		return sample{}, fmt.Errorf("iperf3: %s", r.Error)
	}
	return sample{value: r.End.SumReceived.BitsPerSecond / 1e9}, nil
}

// translatorPID is the translator process's PID, or 0 (kernel mode).
func translatorPID(t *xlatlab.Topo) int {
	switch {
	case t.Xlat != nil:
		return t.Xlat.PID()
	case t.Tayga != nil:
		return t.Tayga.PID()
	}
	return 0
}

// procCPU returns the translator process's CPU seconds (user+system, all
// threads), or 0 when there is none (kernel mode).
func procCPU(t *xlatlab.Topo) float64 {
	pid := translatorPID(t)
	if pid == 0 {
		return 0
	}
	return statCPU(fmt.Sprintf("/proc/%d/stat", pid))
}

// statCPU reads utime+stime (seconds) from a /proc stat file.
func statCPU(path string) float64 {
	b, err := os.ReadFile(path)
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
