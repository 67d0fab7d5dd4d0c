// Package babel is a client for babeld's local control socket (the `-g`/`-G`
// interface): it reads the banner, dumps and monitors the routing state, keeps
// a table of interfaces, neighbours, xroutes and routes, and reconnects when
// babeld restarts. The line formats are those of babeld 1.9 … 1.14 (local.c);
// lines that do not parse are skipped and counted, never fatal.
package babel

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Infinity is babel's infinite metric (route unreachable / retracted).
const Infinity = 0xFFFF

// Kind is the first word of a state line.
type Kind uint8

// The kinds of state lines.
const (
	Add Kind = iota + 1
	Change
	Flush
)

func (k Kind) String() string {
	switch k {
	case Add:
		return "add"
	case Change:
		return "change"
	case Flush:
		return "flush"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Interface is an `interface` line.
type Interface struct {
	Name string
	Up   bool
	IPv6 netip.Addr // link-local, when up
	IPv4 netip.Addr
}

// Neighbour is a `neighbour` line.
type Neighbour struct {
	ID        string // babeld's hexid
	Address   netip.Addr
	Interface string
	Reach     uint16
	UReach    uint16
	RxCost    int
	TxCost    int
	Cost      int
}

// XRoute is an `xroute` line: a route this node redistributes.
type XRoute struct {
	Prefix netip.Prefix
	From   netip.Prefix
	Metric int
}

// Key is the xroute's identity (babeld prints it as <dst>-<src>).
func (x XRoute) Key() string { return x.Prefix.String() + "-" + x.From.String() }

// Route is a `route` line: one route learned from one neighbour.
type Route struct {
	ID        string // babeld's hexid
	Prefix    netip.Prefix
	From      netip.Prefix
	Installed bool
	RouterID  string
	Metric    int
	RefMetric int
	Via       netip.Addr
	Interface string
}

// Event is one parsed state line; exactly one of the pointers is set.
type Event struct {
	Kind      Kind
	Interface *Interface
	Neighbour *Neighbour
	XRoute    *XRoute
	Route     *Route
}

// ErrNotState is returned by ParseLine for lines that are not state lines
// (terminators, banner lines, empty lines).
var ErrNotState = errors.New("not a state line")

// ParseLine parses one add/change/flush line. Unknown keys are ignored, so
// that newer babeld versions with extra fields still parse.
func ParseLine(line string) (Event, error) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return Event{}, ErrNotState
	}
	var ev Event
	switch f[0] {
	case "add":
		ev.Kind = Add
	case "change":
		ev.Kind = Change
	case "flush":
		ev.Kind = Flush
	default:
		return Event{}, ErrNotState
	}
	obj, id := f[1], f[2]
	kv, err := pairs(f[3:])
	if err != nil {
		return Event{}, fmt.Errorf("babel: %s %s: %w", f[0], obj, err)
	}
	switch obj {
	case "interface":
		it := &Interface{Name: id, Up: kv["up"] == "true"}
		if v, ok := kv["ipv6"]; ok {
			if it.IPv6, err = netip.ParseAddr(v); err != nil {
				return Event{}, fmt.Errorf("babel: interface %s: ipv6 %q: %w", id, v, err)
			}
		}
		if v, ok := kv["ipv4"]; ok {
			if it.IPv4, err = netip.ParseAddr(v); err != nil {
				return Event{}, fmt.Errorf("babel: interface %s: ipv4 %q: %w", id, v, err)
			}
		}
		ev.Interface = it
	case "neighbour":
		n := &Neighbour{ID: id, Interface: kv["if"]}
		p := parser{kv: kv, what: "neighbour " + id}
		n.Address = p.addr("address", true)
		n.Reach = p.hex16("reach")
		n.UReach = p.hex16("ureach")
		n.RxCost = p.num("rxcost", false)
		n.TxCost = p.num("txcost", false)
		n.Cost = p.num("cost", ev.Kind != Flush)
		if p.err != nil {
			return Event{}, p.err
		}
		ev.Neighbour = n
	case "xroute":
		p := parser{kv: kv, what: "xroute " + id}
		x := &XRoute{Prefix: p.prefix("prefix", true), From: p.prefix("from", false), Metric: p.num("metric", false)}
		if p.err != nil {
			return Event{}, p.err
		}
		ev.XRoute = x
	case "route":
		p := parser{kv: kv, what: "route " + id}
		r := &Route{ID: id, RouterID: kv["id"], Interface: kv["if"], Installed: kv["installed"] == "yes"}
		r.Prefix = p.prefix("prefix", ev.Kind != Flush)
		r.From = p.prefix("from", false)
		r.Metric = p.num("metric", ev.Kind != Flush)
		r.RefMetric = p.num("refmetric", false)
		r.Via = p.addr("via", false)
		if p.err != nil {
			return Event{}, p.err
		}
		ev.Route = r
	default:
		return Event{}, fmt.Errorf("babel: unknown object %q", obj)
	}
	return ev, nil
}

// pairs turns "k1 v1 k2 v2 ..." into a map; a trailing key without value is an error.
func pairs(f []string) (map[string]string, error) {
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("key %q without value", f[len(f)-1])
	}
	m := make(map[string]string, len(f)/2)
	for i := 0; i+1 < len(f); i += 2 {
		m[f[i]] = f[i+1]
	}
	return m, nil
}

// parser collects the first error of a series of field conversions.
type parser struct {
	kv   map[string]string
	what string
	err  error
}

func (p *parser) get(key string, required bool) (string, bool) {
	v, ok := p.kv[key]
	if !ok && required && p.err == nil {
		p.err = fmt.Errorf("babel: %s: field %q missing", p.what, key)
	}
	return v, ok
}

func (p *parser) fail(key, v string, err error) {
	if p.err == nil {
		p.err = fmt.Errorf("babel: %s: field %s %q: %w", p.what, key, v, err)
	}
}

func (p *parser) num(key string, required bool) int {
	v, ok := p.get(key, required)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		p.fail(key, v, errors.New("not a non-negative integer"))
		return 0
	}
	return n
}

func (p *parser) hex16(key string) uint16 {
	v, ok := p.get(key, false)
	if !ok {
		return 0
	}
	n, err := strconv.ParseUint(v, 16, 16)
	if err != nil {
		p.fail(key, v, err)
	}
	return uint16(n)
}

func (p *parser) addr(key string, required bool) netip.Addr {
	v, ok := p.get(key, required)
	if !ok {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		p.fail(key, v, err)
	}
	return a
}

func (p *parser) prefix(key string, required bool) netip.Prefix {
	v, ok := p.get(key, required)
	if !ok {
		return netip.Prefix{}
	}
	pf, err := netip.ParsePrefix(v)
	if err != nil {
		p.fail(key, v, err)
	}
	return pf
}
