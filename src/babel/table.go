package babel

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Table is babeld's state as seen through the local socket.
type Table struct {
	Interfaces map[string]Interface
	Neighbours map[string]Neighbour
	XRoutes    map[string]XRoute
	Routes     map[string]Route

	// The sorted lists of the last Snapshot, per kind; nil when the kind
	// changed since (Apply; the maps are changed through Apply only).
	// Snapshots share them: they are never modified once built.
	ifaces  []Interface
	neighs  []Neighbour
	xroutes []XRoute
	routes  []Route

	// lines holds, per route and neighbour ("route <id>"), the text after
	// the verb of the line last applied to it (ApplyLine).
	lines map[string]string
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{
		Interfaces: map[string]Interface{},
		Neighbours: map[string]Neighbour{},
		XRoutes:    map[string]XRoute{},
		Routes:     map[string]Route{},
	}
}

// set stores v under k and reports whether that changed m.
func set[K comparable, V comparable](m map[K]V, k K, v V) bool {
	if old, ok := m[k]; ok && old == v {
		return false
	}
	m[k] = v
	return true
}

// unset deletes k and reports whether it was there.
func unset[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	delete(m, k)
	return ok
}

// Apply applies one event: add and change insert or replace (babeld reuses
// hexids after free, and a change for an unknown id is treated as an add),
// flush removes. It reports whether the table changed: babeld reports
// every route of every update it receives as a change, also when nothing
// in the line differs (in a quiet mesh, nearly all of its lines).
func (t *Table) Apply(ev Event) bool {
	flush := ev.Kind == Flush
	switch {
	case ev.Interface != nil:
		k := ev.Interface.Name
		if flush && unset(t.Interfaces, k) || !flush && set(t.Interfaces, k, *ev.Interface) {
			t.ifaces = nil
			return true
		}
	case ev.Neighbour != nil:
		k := ev.Neighbour.ID
		if flush && unset(t.Neighbours, k) || !flush && set(t.Neighbours, k, *ev.Neighbour) {
			t.neighs = nil
			return true
		}
	case ev.XRoute != nil:
		k := ev.XRoute.Key()
		if flush && unset(t.XRoutes, k) || !flush && set(t.XRoutes, k, *ev.XRoute) {
			t.xroutes = nil
			return true
		}
	case ev.Route != nil:
		k := ev.Route.ID
		if flush && unset(t.Routes, k) || !flush && set(t.Routes, k, *ev.Route) {
			t.routes = nil
			return true
		}
	}
	return false
}

// Snapshot is an immutable copy of the table, sorted for deterministic use.
type Snapshot struct {
	Connected  bool      // false: babeld is not reachable (the lists are empty)
	Synced     time.Time // when the table was last complete (dump finished)
	Version    string    // babeld's version line from the banner
	RouterID   string    // my-id from the banner
	Interfaces []Interface
	Neighbours []Neighbour
	XRoutes    []XRoute
	Routes     []Route
}

// Repeats reports whether line, an add or change line of a route or a
// neighbour, repeats the last one ApplyLine applied to that object word
// for word (applying it would change nothing); it allocates nothing, and
// babeld repeats every route through a neighbour at each of its hellos.
func (t *Table) Repeats(line []byte) bool {
	verb, rest, _ := bytes.Cut(line, []byte(" "))
	if string(verb) != "add" && string(verb) != "change" {
		return false
	}
	obj, tail, _ := bytes.Cut(rest, []byte(" "))
	if string(obj) != "route" && string(obj) != "neighbour" {
		return false
	}
	id, _, _ := bytes.Cut(tail, []byte(" "))
	last, ok := t.lines[string(rest[:len(obj)+1+len(id)])]
	return ok && last == string(rest)
}

// ApplyLine parses line and applies it (Apply), and keeps it for Repeats.
// It returns the event and whether the table changed; lines that are not
// state lines or do not parse change nothing (the error says why).
func (t *Table) ApplyLine(line string) (Event, bool, error) {
	ev, err := ParseLine(line)
	if err != nil {
		return ev, false, err
	}
	var key string
	switch {
	case ev.Route != nil:
		key = "route " + ev.Route.ID
	case ev.Neighbour != nil:
		key = "neighbour " + ev.Neighbour.ID
	}
	if key != "" {
		if t.lines == nil {
			t.lines = map[string]string{}
		}
		if _, rest, _ := strings.Cut(line, " "); ev.Kind != Flush {
			t.lines[key] = rest
		} else {
			delete(t.lines, key)
		}
	}
	return ev, t.Apply(ev), nil
}

// Snapshot returns the table as sorted lists. A kind that did not change
// since the last Snapshot is not copied again: its list is shared with that
// snapshot (readers must not modify a snapshot's lists).
func (t *Table) Snapshot() Snapshot {
	if t.ifaces == nil {
		t.ifaces = sorted(t.Interfaces, func(a, b Interface) int { return strings.Compare(a.Name, b.Name) })
	}
	if t.neighs == nil {
		t.neighs = sorted(t.Neighbours, func(a, b Neighbour) int { return strings.Compare(a.ID, b.ID) })
	}
	if t.xroutes == nil {
		t.xroutes = sorted(t.XRoutes, func(a, b XRoute) int {
			if c := comparePrefix(a.Prefix, b.Prefix); c != 0 {
				return c
			}
			return comparePrefix(a.From, b.From)
		})
	}
	if t.routes == nil {
		t.routes = sorted(t.Routes, func(a, b Route) int {
			if c := comparePrefix(a.Prefix, b.Prefix); c != 0 {
				return c
			}
			if a.Metric != b.Metric {
				return a.Metric - b.Metric
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	return Snapshot{Connected: true, Interfaces: t.ifaces, Neighbours: t.neighs, XRoutes: t.xroutes, Routes: t.routes}
}

// sorted returns m's values sorted by cmp, in a list of exactly their
// number (never nil, so that an empty kind is cached too; a reader's
// append copies).
func sorted[K comparable, V any](m map[K]V, cmp func(a, b V) int) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, cmp)
	return out
}

// comparePrefix orders prefixes by address, then length; no allocation
// (the snapshot is sorted after every change of a route).
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
