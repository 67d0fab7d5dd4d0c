package clatd

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/dataplane"
)

// Status is what `xlat-clat status` shows (JSON on the control socket).
type Status struct {
	CLATPrefix string            `json:"clat_prefix"`
	Device     string            `json:"device"`
	PLAT       string            `json:"plat"` // "" = none (clients' IPv4 unreachable)
	Since      time.Time         `json:"since,omitempty"`
	Fixed      bool              `json:"fixed"`
	OwnPLAT    string            `json:"own_plat,omitempty"`
	Margin     int               `json:"switch_margin"`
	Candidates []StatusCandidate `json:"candidates"`
	Avoided    []string          `json:"avoided"` // failed PLATs held down
	Switches   int               `json:"switches"`
	LastSwitch *StatusSwitch     `json:"last_switch,omitempty"`
	Probe      ProbeStatus       `json:"probe"`
	Babel      BabelStatus       `json:"babel"`
	Translator *dataplane.Stats  `json:"translator,omitempty"`
}

// StatusCandidate is one PLAT candidate.
type StatusCandidate struct {
	Prefix    string `json:"prefix"`
	Metric    int    `json:"metric"`
	Own       bool   `json:"own,omitempty"`
	Installed bool   `json:"installed"`
	Via       string `json:"via,omitempty"`
	Interface string `json:"interface,omitempty"`
	RouterID  string `json:"router_id,omitempty"`
}

// StatusSwitch is the last PLAT change.
type StatusSwitch struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
}

// BabelStatus is the state of the babeld connection.
type BabelStatus struct {
	Socket     string    `json:"socket"`
	Connected  bool      `json:"connected"`
	Version    string    `json:"version,omitempty"`
	Synced     time.Time `json:"synced,omitempty"`
	Routes     int       `json:"routes"`
	Reconnects int64     `json:"reconnects"`
	BadLines   int64     `json:"bad_lines"`
}

func pstr(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// Status returns the daemon's state.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.sel.State()
	s := Status{
		CLATPrefix: d.setup.CLATPrefix.String(),
		Device:     d.setup.Device,
		PLAT:       pstr(st.Current),
		Since:      st.Since,
		Fixed:      d.o.CLAT.PLATPrefix.IsValid(),
		OwnPLAT:    pstr(d.o.OwnPLAT),
		Margin:     d.o.CLAT.SwitchMargin,
		Candidates: []StatusCandidate{},
		Avoided:    []string{},
		Switches:   st.Switches,
		Probe:      d.probe,
		Babel: BabelStatus{Socket: d.o.CLAT.BabelSocket, Connected: d.babelSnap.Connected, Version: d.babelSnap.Version,
			Synced: d.babelSnap.Synced, Routes: len(d.babelSnap.Routes)},
	}
	for _, c := range st.Candidates {
		sc := StatusCandidate{Prefix: c.Prefix.String(), Metric: c.Metric, Own: c.Own, Installed: c.Installed,
			Interface: c.Interface, RouterID: c.RouterID}
		if c.Via.IsValid() {
			sc.Via = c.Via.String()
		}
		s.Candidates = append(s.Candidates, sc)
	}
	for _, p := range st.Failed {
		s.Avoided = append(s.Avoided, p.String())
	}
	if st.Switches > 0 {
		s.LastSwitch = &StatusSwitch{At: st.Last.At, From: pstr(st.Last.From), To: pstr(st.Last.To), Reason: string(st.Last.Reason)}
	}
	if d.bc != nil {
		bs := d.bc.Stats()
		s.Babel.Reconnects, s.Babel.BadLines = bs.Reconnects, bs.BadLines
	}
	if d.dp != nil {
		c := d.dp.Counters()
		s.Translator = &c
	}
	return s
}

// WriteText prints the status for humans.
func (s Status) WriteText(w io.Writer) error {
	var b strings.Builder
	plat := s.PLAT
	if plat == "" {
		plat = "none (clients' IPv4 unreachable)"
	}
	mode := "selected from babel"
	if s.Fixed {
		mode = "fixed by config"
	}
	fmt.Fprintf(&b, "CLAT prefix:  %s (device %s)\n", s.CLATPrefix, s.Device)
	fmt.Fprintf(&b, "PLAT:         %s, %s", plat, mode)
	if !s.Since.IsZero() && s.PLAT != "" {
		fmt.Fprintf(&b, ", since %s", s.Since.UTC().Format(time.RFC3339))
	}
	b.WriteString("\n")
	if s.OwnPLAT != "" {
		fmt.Fprintf(&b, "own PLAT:     %s\n", s.OwnPLAT)
	}
	fmt.Fprintf(&b, "switches:     %d (margin %d)", s.Switches, s.Margin)
	if ls := s.LastSwitch; ls != nil {
		from, to := ls.From, ls.To
		if from == "" {
			from = "none"
		}
		if to == "" {
			to = "none"
		}
		fmt.Fprintf(&b, ", last %s -> %s (%s) at %s", from, to, ls.Reason, ls.At.UTC().Format(time.RFC3339))
	}
	b.WriteString("\n")
	bab := "disconnected"
	if s.Babel.Connected {
		bab = "connected " + s.Babel.Version
	}
	fmt.Fprintf(&b, "babel:        %s at %s, %d routes, %d reconnects, %d bad lines\n",
		bab, s.Babel.Socket, s.Babel.Routes, s.Babel.Reconnects, s.Babel.BadLines)
	fmt.Fprintf(&b, "probes:       target %s, sent %d, failed %d, %d failed in a row\n",
		orDash(s.Probe.Target), s.Probe.Sent, s.Probe.Failed, s.Probe.Consecutive)
	if len(s.Avoided) > 0 {
		fmt.Fprintf(&b, "avoided:      %s\n", strings.Join(s.Avoided, " "))
	}
	if t := s.Translator; t != nil {
		fmt.Fprintf(&b, "translator:   %s on %s: rx %d pkts/%d bytes, tx %d pkts/%d bytes, dropped %d, emitted %d, errors %d\n",
			t.Backend, t.Device, t.RxPackets, t.RxBytes, t.TxPackets, t.TxBytes, t.Dropped, t.Emitted, t.Errors)
	} else {
		b.WriteString("translator:   not running\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCANDIDATE\tMETRIC\tVIA\tIF\tNOTE")
	cands := append([]StatusCandidate(nil), s.Candidates...)
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].Metric < cands[j].Metric })
	for _, c := range cands {
		var notes []string
		if c.Prefix == s.PLAT {
			notes = append(notes, "selected")
		}
		if c.Own {
			notes = append(notes, "own")
		}
		if !c.Installed {
			notes = append(notes, "not installed")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", c.Prefix, c.Metric, orDash(c.Via), orDash(c.Interface), strings.Join(notes, ","))
	}
	if len(cands) == 0 {
		fmt.Fprintln(tw, "(none)\t\t\t\t")
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
