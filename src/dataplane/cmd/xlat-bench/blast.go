package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/dataplane/xlatlab"
	"github.com/gluon-464xlat/gluon-464xlat/dataplane/xlatlab/udpblast"
)

// The UDP measurement uses the benchmark's own generator and sink
// (package udpblast), run as this program re-executed in the client and
// server namespaces: `xlat-bench udp-send ...` and `xlat-bench udp-sink ...`.
const blastPort = 5301

// sinkReport is what `udp-sink` prints: the count and the server's
// socket-buffer drops while it ran (a sink that drops is a bottleneck).
type sinkReport struct {
	udpblast.SinkResult
	RcvbufErrors uint64 `json:"rcvbuf_errors"`
}

// helper runs the udp-send / udp-sink subcommand if args name one.
func helper(args []string) (bool, error) {
	if len(args) == 0 || (args[0] != "udp-send" && args[0] != "udp-sink") {
		return false, nil
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	addr := fs.String("addr", "", "destination (udp-send) or bind address (udp-sink), ADDR:PORT")
	size := fs.Int("len", 64, "UDP payload bytes")
	flows := fs.Int("flows", 1, "source ports")
	secs := fs.Float64("time", 5, "seconds to send; the sink waits for at most this plus 10 s")
	if err := fs.Parse(args[1:]); err != nil {
		return true, err
	}
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil {
		return true, fmt.Errorf("-addr: %w", err)
	}
	ctx := context.Background()
	d := time.Duration(*secs * float64(time.Second))
	var out any
	if args[0] == "udp-send" {
		out, err = udpblast.Send(ctx, udpblast.SendConfig{Dst: ap, Len: *size, Flows: *flows, Duration: d})
	} else {
		s, lerr := udpblast.Listen(ap, 4<<20)
		if lerr != nil {
			return true, lerr
		}
		defer s.Close()
		fmt.Println("ready")
		e0 := rcvbufErrors()
		var r sinkReport
		r.SinkResult, err = s.Count(ctx, 500*time.Millisecond, d+10*time.Second)
		r.RcvbufErrors = rcvbufErrors() - e0
		out = r
	}
	if err != nil {
		return true, err
	}
	return true, json.NewEncoder(os.Stdout).Encode(out)
}

// rcvbufErrors sums UDP and UDPv6 receive-buffer drops of this network
// namespace.
func rcvbufErrors() uint64 {
	var n uint64
	if b, err := os.ReadFile("/proc/net/snmp6"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "Udp6RcvbufErrors" {
				v, _ := strconv.ParseUint(f[1], 10, 64)
				n += v
			}
		}
	}
	if b, err := os.ReadFile("/proc/net/snmp"); err == nil {
		var names []string
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) < 2 || f[0] != "Udp:" {
				continue
			}
			if names == nil {
				names = f
				continue
			}
			for i := range f {
				if i < len(names) && names[i] == "RcvbufErrors" {
					v, _ := strconv.ParseUint(f[i], 10, 64)
					n += v
				}
			}
		}
	}
	return n
}

// blastResult is one UDP measurement.
type blastResult struct {
	send udpblast.SendResult
	sink sinkReport
}

// kpps is the received rate in thousands of packets per second.
func (r blastResult) kpps() float64 {
	if r.sink.Seconds <= 0 {
		return 0
	}
	return float64(r.sink.Packets) / r.sink.Seconds / 1000
}

// blast sends 64-byte datagrams from the client to the server's sink over
// flows source ports for secs seconds.
func blast(ctx context.Context, self string, t *xlatlab.Topo, flows, secs int) (blastResult, error) {
	var r blastResult
	cctx, cancel := context.WithTimeout(ctx, time.Duration(secs+20)*time.Second)
	defer cancel()
	bind := netip.AddrPortFrom(netip.MustParseAddr(t.ServerBind()), blastPort).String()
	dst := netip.AddrPortFrom(netip.MustParseAddr(t.Target()), blastPort).String()
	sink := t.Srv.Command(cctx, self, "udp-sink", "-addr", bind, "-time", strconv.Itoa(secs))
	sink.Stderr = os.Stderr
	out, err := sink.StdoutPipe()
	if err != nil {
		return r, err
	}
	if err := sink.Start(); err != nil {
		return r, err
	}
	defer sink.Wait()
	rd := bufio.NewReader(out)
	if l, err := rd.ReadString('\n'); err != nil || l != "ready\n" {
		return r, fmt.Errorf("udp-sink: %q %v", l, err)
	}
	send, err := t.Cli.Command(cctx, self, "udp-send", "-addr", dst, "-flows", strconv.Itoa(flows), "-time", strconv.Itoa(secs)).Output()
	if err != nil {
		return r, fmt.Errorf("udp-send: %v: %s", err, send)
	}
	if err := json.Unmarshal(send, &r.send); err != nil {
		return r, fmt.Errorf("udp-send: %v: %s", err, send)
	}
	if err := json.NewDecoder(rd).Decode(&r.sink); err != nil {
		return r, fmt.Errorf("udp-sink: %w", err)
	}
	return r, nil
}
