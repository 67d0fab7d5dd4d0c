package roamd

import (
	"net/netip"
	"sort"
	"time"
)

// The status views of the machine (the control socket's status and
// get_clients), taken by the event loop in one transition (Daemon.view).

// counters returns a copy of the counters.
func (d *machine) counters() map[string]uint64 {
	m := make(map[string]uint64, len(d.cnt))
	for k, v := range d.cnt {
		m[k] = v
	}
	return m
}

// ClientView is a client as status shows it.
type ClientView struct {
	MAC      string `json:"mac"`
	IP       string `json:"ip,omitempty"`
	CLAT     string `json:"clat,omitempty"`
	PLAT     string `json:"plat,omitempty"`
	Roamed   bool   `json:"roamed"`
	LeaseSec int64  `json:"lease_remaining,omitempty"`
	NodeIP   string `json:"node_client_ip"`
}

// clients lists the served clients sorted by MAC.
func (d *machine) clients() []ClientView {
	out := make([]ClientView, 0, len(d.cl))
	for _, c := range d.cl {
		v := ClientView{MAC: c.MAC.String(), Roamed: c.Roamed, NodeIP: c.NodeIP.String(),
			CLAT: prefixText(c.Origin), PLAT: prefixText(c.PLAT)}
		if c.IP.IsValid() {
			v.IP = c.IP.String()
		}
		if !c.Expires.IsZero() {
			v.LeaseSec = int64(d.remaining(c) / time.Second)
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC < out[j].MAC })
	return out
}

// prefixText is p for status views; "" when unset.
func prefixText(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}
