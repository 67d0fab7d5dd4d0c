package babel

import (
	"sort"
	"time"
)

// Table is babeld's state as seen through the local socket.
type Table struct {
	Interfaces map[string]Interface
	Neighbours map[string]Neighbour
	XRoutes    map[string]XRoute
	Routes     map[string]Route
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

// Apply applies one event: add and change insert or replace (babeld reuses
// hexids after free, and a change for an unknown id is treated as an add),
// flush removes.
func (t *Table) Apply(ev Event) {
	switch {
	case ev.Interface != nil:
		if ev.Kind == Flush {
			delete(t.Interfaces, ev.Interface.Name)
		} else {
			t.Interfaces[ev.Interface.Name] = *ev.Interface
		}
	case ev.Neighbour != nil:
		if ev.Kind == Flush {
			delete(t.Neighbours, ev.Neighbour.ID)
		} else {
			t.Neighbours[ev.Neighbour.ID] = *ev.Neighbour
		}
	case ev.XRoute != nil:
		if ev.Kind == Flush {
			delete(t.XRoutes, ev.XRoute.Key())
		} else {
			t.XRoutes[ev.XRoute.Key()] = *ev.XRoute
		}
	case ev.Route != nil:
		if ev.Kind == Flush {
			delete(t.Routes, ev.Route.ID)
		} else {
			t.Routes[ev.Route.ID] = *ev.Route
		}
	}
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

// Snapshot copies the table.
func (t *Table) Snapshot() Snapshot {
	s := Snapshot{Connected: true}
	for _, v := range t.Interfaces {
		s.Interfaces = append(s.Interfaces, v)
	}
	sort.Slice(s.Interfaces, func(i, j int) bool { return s.Interfaces[i].Name < s.Interfaces[j].Name })
	for _, v := range t.Neighbours {
		s.Neighbours = append(s.Neighbours, v)
	}
	sort.Slice(s.Neighbours, func(i, j int) bool { return s.Neighbours[i].ID < s.Neighbours[j].ID })
	for _, v := range t.XRoutes {
		s.XRoutes = append(s.XRoutes, v)
	}
	sort.Slice(s.XRoutes, func(i, j int) bool { return s.XRoutes[i].Key() < s.XRoutes[j].Key() })
	for _, v := range t.Routes {
		s.Routes = append(s.Routes, v)
	}
	sort.Slice(s.Routes, func(i, j int) bool {
		a, b := s.Routes[i], s.Routes[j]
		if a.Prefix != b.Prefix {
			return a.Prefix.String() < b.Prefix.String()
		}
		if a.Metric != b.Metric {
			return a.Metric < b.Metric
		}
		return a.ID < b.ID
	})
	return s
}
