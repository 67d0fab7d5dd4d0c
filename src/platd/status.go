package platd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// Status is what `xlat-plat status` shows.
type Status struct {
	State             string            `json:"state"`
	Prefix            string            `json:"prefix"`
	ManagementAddress string            `json:"management_address"`
	Device            string            `json:"device"`
	Backend           string            `json:"backend"`
	NAT66Address      string            `json:"nat66_address"`
	IPv4Address       string            `json:"ipv4_address"`
	WANDevice         string            `json:"wan_device"`
	BlockedIPv4       []string          `json:"blocked_ipv4"`
	BlockedDrops      uint64            `json:"blocked_drops"`
	CLATRange         string            `json:"clat_range"`
	SourceDrops       uint64            `json:"source_drops"`
	UptimeSeconds     int64             `json:"uptime_seconds"`
	Counters          map[string]uint64 `json:"counters,omitempty"`
}

// Status reports the daemon's current state.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	state, started, b, fw := d.state, d.started, d.backend, d.fw
	d.mu.Unlock()
	st := Status{
		State:             state,
		Prefix:            d.cfg.Prefix.String(),
		ManagementAddress: wellknown.ManagementAddress(d.cfg.Prefix).String(),
		Device:            d.cfg.Device,
		Backend:           d.opts.BackendName,
		NAT66Address:      d.cfg.NAT66Address.String(),
		IPv4Address:       d.cfg.IPv4Address.String(),
		WANDevice:         d.cfg.WANDevice,
		CLATRange:         d.cfg.CLATRange.String(),
	}
	for _, p := range d.cfg.BlockedIPv4 {
		st.BlockedIPv4 = append(st.BlockedIPv4, p.String())
	}
	if !started.IsZero() {
		st.UptimeSeconds = int64(time.Since(started) / time.Second)
	}
	if c, ok := b.(Counted); ok {
		st.Counters = c.Counters()
	}
	if fw != nil && state == "running" {
		if n, err := fw.blockedDrops(); err == nil {
			st.BlockedDrops = n
		}
		if n, err := fw.sourceDrops(); err == nil {
			st.SourceDrops = n
		}
	}
	return st
}

// WriteText prints st for people.
func (st Status) WriteText(out io.Writer) error {
	w := &strings.Builder{}
	fmt.Fprintf(w, "state:              %s\n", st.State)
	fmt.Fprintf(w, "PLAT prefix:        %s\n", st.Prefix)
	fmt.Fprintf(w, "management address: %s\n", st.ManagementAddress)
	fmt.Fprintf(w, "translator:         %s (%s)\n", st.Device, st.Backend)
	fmt.Fprintf(w, "NAT66 address:      %s -> IPv4 %s, masqueraded on %s\n", st.NAT66Address, st.IPv4Address, st.WANDevice)
	fmt.Fprintf(w, "blocked IPv4:       %d prefixes, %d packets dropped\n", len(st.BlockedIPv4), st.BlockedDrops)
	fmt.Fprintf(w, "IPv6 sources:       %s only, %d packets of others dropped\n", st.CLATRange, st.SourceDrops)
	fmt.Fprintf(w, "uptime:             %ds\n", st.UptimeSeconds)
	if len(st.Counters) > 0 {
		keys := make([]string, 0, len(st.Counters))
		for k := range st.Counters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(w, "counters:")
		for _, k := range keys {
			fmt.Fprintf(w, "  %-24s %d\n", k, st.Counters[k])
		}
	}
	_, err := io.WriteString(out, w.String())
	return err
}

// serve answers the control socket until ctx ends. Commands: "status"
// (JSON) and "ping".
func (d *Daemon) serve(ctx context.Context) error {
	srv, err := ctlsock.Listen(d.opts.SocketPath, map[string]ctlsock.Handler{
		"status": func(context.Context, []string) ([]byte, error) {
			b, err := json.Marshal(d.Status())
			return append(b, '\n'), err
		},
		"ping": func(context.Context, []string) ([]byte, error) { return []byte("pong\n"), nil },
	})
	if err != nil {
		<-ctx.Done()
		return err
	}
	return srv.Serve(ctx)
}
