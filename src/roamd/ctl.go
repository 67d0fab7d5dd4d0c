package roamd

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

// Status is what the status command answers.
type Status struct {
	NodeAddress string            `json:"node_address"`
	CLAT        string            `json:"clat_prefix,omitempty"`
	PLAT        string            `json:"plat_prefix,omitempty"`
	OwnPLAT     string            `json:"own_plat_prefix,omitempty"`
	Port        int               `json:"port"`
	Signed      bool              `json:"hmac"`
	Clients     []ClientView      `json:"clients"`
	Steered     int               `json:"steered_at_plat"`
	Rules       int               `json:"ip6tables_rules"`
	Counters    map[string]uint64 `json:"counters"`
}

// Handlers are the control-socket commands: l3roamd's get_clients,
// add_address, del_address, set_platprefix, del_platprefix, plus lease
// (the DHCP hook) and status. rules, if not nil, counts ip6tables rules.
func Handlers(d *Daemon, rules func() (int, error)) map[string]ctlsock.Handler {
	return map[string]ctlsock.Handler{
		"get_clients": func(context.Context, []string) ([]byte, error) {
			return d.clientsJSON()
		},
		"add_address": func(_ context.Context, a []string) ([]byte, error) {
			if len(a) != 2 {
				return []byte("NOT OK"), nil
			}
			ip, err1 := netip.ParseAddr(a[0])
			mac, err2 := net.ParseMAC(a[1])
			if err1 != nil || err2 != nil || len(mac) != 6 {
				return []byte("NOT OK"), nil
			}
			ip = ip.Unmap()
			if ip.Is4() {
				if err := d.Lease(LeaseAdd, mac, ip, time.Time{}); err != nil {
					return []byte("NOT OK"), nil
				}
			} else if err := d.call(func(m *machine) error { m.Seen(mac, netip.Addr{}); return nil }); err != nil {
				return []byte("NOT OK"), nil
			}
			return []byte("OK"), nil
		},
		"del_address": func(_ context.Context, a []string) ([]byte, error) {
			if len(a) != 2 {
				return []byte("NOT OK"), nil
			}
			ip, err1 := netip.ParseAddr(a[0])
			mac, err2 := net.ParseMAC(a[1])
			if err1 != nil || err2 != nil {
				return []byte("NOT OK"), nil
			}
			ip = ip.Unmap()
			if !ip.Is4() {
				return []byte("OK"), nil // IPv6 addresses are l3roamd's business
			}
			known, err := d.Forget(mac, ip)
			if err != nil {
				return nil, err
			}
			if !known {
				return nil, nil // l3roamd: no reply for an unknown MAC
			}
			return []byte("OK"), nil
		},
		"set_platprefix": func(_ context.Context, a []string) ([]byte, error) {
			p, err := onePrefix("set_platprefix", a)
			if err != nil {
				return nil, err
			}
			if err := d.SetPLAT(p); err != nil {
				return nil, err
			}
			return []byte("OK"), nil
		},
		"del_platprefix": func(_ context.Context, a []string) ([]byte, error) {
			p, err := onePrefix("del_platprefix", a)
			if err != nil {
				return nil, err
			}
			if err := d.DelPLAT(p); err != nil {
				return nil, err
			}
			return []byte("OK"), nil
		},
		"lease": func(_ context.Context, a []string) ([]byte, error) {
			// lease add|old|del MAC IP EXPIRES(unix seconds, 0 = default)
			if len(a) < 3 {
				return nil, fmt.Errorf("usage: lease add|old|del MAC IP [EXPIRES]")
			}
			mac, err := net.ParseMAC(a[1])
			if err != nil {
				return nil, fmt.Errorf("lease: MAC %q: %w", a[1], err)
			}
			ip, err := netip.ParseAddr(a[2])
			if err != nil {
				return nil, fmt.Errorf("lease: IP %q: %w", a[2], err)
			}
			var exp time.Time
			if len(a) > 3 {
				s, err := strconv.ParseInt(a[3], 10, 64)
				if err != nil || s < 0 {
					return nil, fmt.Errorf("lease: EXPIRES %q is not a unix time", a[3])
				}
				if s > 0 {
					exp = time.Unix(s, 0)
				}
			}
			if err := d.Lease(LeaseOp(a[0]), mac, ip.Unmap(), exp); err != nil {
				return nil, err
			}
			return []byte("OK\n"), nil
		},
		"status": func(context.Context, []string) ([]byte, error) {
			v, err := d.view()
			if err != nil {
				return nil, err
			}
			cfg := v.cfg
			st := Status{NodeAddress: cfg.NodeAddress.String(), Port: cfg.Port, Signed: len(cfg.Secret) > 0,
				Clients: v.clients, Steered: v.steered, Counters: v.counters, Rules: -1,
				CLAT: prefixText(cfg.OwnCLAT), PLAT: prefixText(cfg.PLAT), OwnPLAT: prefixText(cfg.OwnPLAT)}
			if rules != nil {
				if n, err := rules(); err == nil {
					st.Rules = n
				}
			}
			b, err := json.MarshalIndent(st, "", "  ")
			return append(b, '\n'), err
		},
	}
}

func onePrefix(cmd string, a []string) (netip.Prefix, error) {
	if len(a) != 1 {
		return netip.Prefix{}, fmt.Errorf("usage: %s <prefix/96>", cmd)
	}
	p, err := netip.ParsePrefix(a[0])
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%s: %w", cmd, err)
	}
	return p, nil
}

// clientsJSON is l3roamd's get_clients reply:
// { "clients": N, "clientlist": { "<mac>": { "interface": "<if>",
// "addresses": { "<ip>": { "state": 1 } } } } }.
func (d *Daemon) clientsJSON() ([]byte, error) {
	type addr struct {
		State int `json:"state"`
	}
	type client struct {
		Interface string          `json:"interface"`
		Addresses map[string]addr `json:"addresses,omitempty"`
	}
	out := struct {
		Clients    int               `json:"clients"`
		Clientlist map[string]client `json:"clientlist,omitempty"`
	}{}
	v, err := d.view()
	if err != nil {
		return nil, err
	}
	br := v.cfg.ClientBridge
	for _, c := range v.clients {
		if out.Clientlist == nil {
			out.Clientlist = map[string]client{}
		}
		cl := client{Interface: br}
		if c.IP != "" {
			cl.Addresses = map[string]addr{c.IP: {State: 1}}
		}
		out.Clientlist[c.MAC] = cl
		out.Clients++
	}
	return json.Marshal(out)
}
