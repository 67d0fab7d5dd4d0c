package meshlab

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// ScaleResult is what RunScale measured (files/docs/scale.md).
type ScaleResult struct {
	Options          ScaleOptions
	Links, Diameter  int
	Degree           float64
	PLATs            []string
	Setup            time.Duration // namespaces, links, roots until the last babeld started
	Converged        time.Duration // last babeld started -> converged
	ConvergedFirst   time.Duration // first babeld started -> converged
	ClientsUp        time.Duration // daemons and clients started (after convergence)
	Leases           time.Duration // clients started -> every client leased
	Reached          int           // clients whose TCP reached the internet host
	Unreached        []string      // clients that did not, with the error
	ClientsByPLAT    map[string]int
	Roams            []RoamResult
	RoamErrors       []string // roamer: what broke
	Streams          int      // roamers' TCP streams
	StreamsKept      int      // that survived every roam with their data intact
	RoamPhase        time.Duration
	Messages         map[string]uint64 // roaming messages sent in the roaming phase, by type
	Counters         map[string]uint64 // l3roamd-xlat's other counters in the roaming phase (drops, handovers), all nodes
	RoutesLeased     map[string]int    // node -> babel's installed routes, clients leased
	RoutesRoamed     map[string]int    // the same right after the roaming phase
	RoamState        map[string]map[string]int
	RouteKinds       map[string]int                // the first node's routes by kind, clients leased
	CPUIdle, CPURoam map[string]map[string]float64 // node -> process -> share of one core
	CPULease         map[string]map[string]float64 // the same while the clients were added and leased (Leases)
	Mem              map[string]map[string]Mem     // node -> process -> memory (clients leased, idle)
	Failover         ScaleFailover
	RouteLoad        *RouteLoad
	Total            time.Duration
}

// ScaleFailover is the PLAT failure in the scale lab.
type ScaleFailover struct {
	PLAT        string                   // the platnode powered off (the one most CLATs use)
	Affected    []string                 // nodes whose CLAT used it
	Switch      map[string]time.Duration // node -> failure to its CLAT's switch
	Reasons     map[string]int           // switch reasons (route lost, probes, ...)
	AllSwitched time.Duration            // failure -> the last affected node switched
	Clients     int                      // clients on the nodes left
	Survived    int                      // of them, reaching the host through another PLAT
	Lost        []string
}

// RunScale builds the scale lab, measures it and tears it down. On an error
// the result holds what was measured until then.
func RunScale(ctx context.Context, o ScaleOptions) (res *ScaleResult, err error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	res = &ScaleResult{Options: o}
	start := time.Now()
	defer func() { res.Total = time.Since(start) }()
	plan, err := o.Plan()
	if err != nil {
		return res, err
	}
	res.Links = len(plan.Spec.Links)
	res.Diameter, res.Degree = plan.Spec.Diameter()
	for _, n := range plan.Spec.Nodes {
		if n.PLAT {
			res.PLATs = append(res.PLATs, n.Name)
		}
	}
	logf("scale: %d nodes, %d links (diameter %d, mean degree %.1f), PLATs %v; starting", len(plan.Spec.Nodes), res.Links, res.Diameter, res.Degree, res.PLATs)
	spec := plan.Spec
	spec.Clients = nil // added in batches below
	m, err := Start(ctx, spec)
	if err != nil {
		return res, err
	}
	if o.KeepLogs {
		m.Lab.KeepDir()
		logf("scale: logs in %s", m.Lab.Dir())
	}
	defer func() {
		t := time.Now()
		if err := m.Close(); err != nil {
			logf("scale: teardown: %v", err)
		}
		logf("scale: torn down in %v", time.Since(t).Round(time.Millisecond))
	}()
	res.Setup = m.BabelAllStarted.Sub(start)
	logf("scale: started in %v; waiting for babel", res.Setup.Round(time.Millisecond))
	if err := m.WaitConverged(ctx); err != nil {
		return res, err
	}
	res.Converged, res.ConvergedFirst = time.Since(m.BabelAllStarted), time.Since(m.BabelStarted)
	logf("scale: converged %v after the last babeld started", res.Converged.Round(time.Millisecond))
	t := time.Now()
	if err := m.StartNodes(ctx); err != nil {
		return res, err
	}
	res.ClientsUp = time.Since(t)
	t = time.Now()
	// Clients come in batches, each leased before the next: 200 leases at
	// once (lease hooks, node-client-IPs flooding babel) are a start-up
	// storm no mesh sees.
	batch := o.ClientBatch
	if batch <= 0 {
		batch = len(plan.Spec.Clients)
	}
	res.CPULease, err = m.cpuDuring(ctx, func() error {
		for i := 0; i < len(plan.Spec.Clients); i += batch {
			group := plan.Spec.Clients[i:min(i+batch, len(plan.Spec.Clients))]
			for _, cs := range group {
				if _, err := m.AddClient(ctx, cs); err != nil {
					return err
				}
			}
			for _, cs := range group {
				if _, err := m.Clients[cs.Name].WaitLease(ctx); err != nil {
					return err
				}
			}
			logf("scale: clients %d-%d leased", i+1, i+len(group))
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Leases = time.Since(t)
	logf("scale: daemons started in %v, clients added and leased in %v", res.ClientsUp.Round(time.Millisecond), res.Leases.Round(time.Millisecond))
	if err := scaleReach(ctx, m, plan.Spec.Clients, res); err != nil {
		return res, err
	}
	logf("scale: %d of %d clients reached the host %v", res.Reached, len(plan.Spec.Clients), res.ClientsByPLAT)
	if res.RoutesLeased, err = m.routeCounts(ctx); err != nil {
		return res, err
	}
	if res.RouteKinds, err = m.RouteKinds(ctx, m.NodeList()[0]); err != nil {
		return res, err
	}
	if res.CPUIdle, err = m.cpuDuring(ctx, func() error { return sleepCtx(ctx, o.Idle) }); err != nil {
		return res, err
	}
	res.Mem = m.memory()
	before, err := m.roamCounters(ctx)
	if err != nil {
		return res, err
	}
	t = time.Now()
	res.CPURoam, err = m.cpuDuring(ctx, func() error { return scaleRoam(ctx, m, plan, o, res, logf) })
	if err != nil {
		return res, err
	}
	res.RoamPhase = time.Since(t)
	after, err := m.roamCounters(ctx)
	if err != nil {
		return res, err
	}
	res.Messages, res.Counters = map[string]uint64{}, map[string]uint64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 && strings.HasPrefix(k, "tx_") {
			res.Messages[k] = d
		} else if d > 0 {
			res.Counters[k] = d
		}
	}
	logf("scale: %d roams, %d of %d streams kept, in %v", len(res.Roams), res.StreamsKept, res.Streams, res.RoamPhase.Round(time.Millisecond))
	if res.RoutesRoamed, err = m.routeCounts(ctx); err != nil {
		return res, err
	}
	res.RoamState = map[string]map[string]int{}
	for _, n := range m.NodeList() {
		if res.RoamState[n.Spec.Name], err = n.RoamState(ctx); err != nil {
			return res, err
		}
	}
	if err := scaleFailover(ctx, m, res, logf); err != nil {
		return res, err
	}
	logf("scale: PLAT %s failed: %d affected nodes all switched after %v; %d of %d clients through",
		res.Failover.PLAT, len(res.Failover.Affected), res.Failover.AllSwitched.Round(time.Millisecond), res.Failover.Survived, res.Failover.Clients)
	if o.ExtraRoutes > 0 {
		for _, n := range m.NodeList() {
			if !n.Down && !n.Spec.PLAT {
				rl, err := m.LoadRoutes(ctx, n, o.ExtraRoutes)
				res.RouteLoad = &rl
				if err != nil {
					return res, err
				}
				logf("scale: %d more routes from %s installed everywhere after %v", rl.Routes, rl.Node, rl.Learned.Round(time.Millisecond))
				break
			}
		}
	}
	return res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// forEach runs f for every item with at most workers at once.
func forEach[T any](items []T, workers int, f func(T)) {
	var wg sync.WaitGroup
	ch := make(chan T)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range ch {
				f(it)
			}
		}()
	}
	for _, it := range items {
		ch <- it
	}
	close(ch)
	wg.Wait()
}

// reachVia waits until a new TCP connection from client c reaches the
// internet host and returns the platnode whose WAN address the host saw.
func (m *Mesh) reachVia(ctx context.Context, c *Client, within time.Duration) (string, error) {
	wan := map[string]string{}
	for _, p := range m.PLATNodes() {
		wan[p.WANAddr.String()] = p.Spec.Name
	}
	var via string
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	err := WaitFor(wctx, "TCP from "+c.Spec.Name+" to the internet host", 200*time.Millisecond, func() (bool, error) {
		seen, err := TCPHello(wctx, c.NS, ServerAddr.String(), time.Second)
		if err != nil {
			return false, err
		}
		p, ok := wan[HostOf(seen)]
		if !ok || m.Nodes[p].Down {
			return false, fmt.Errorf("the host saw %s, no live PLAT's WAN address", seen)
		}
		via = p
		return true, nil
	})
	return via, err
}

// scaleReach checks that every client reaches the internet host.
func scaleReach(ctx context.Context, m *Mesh, clients []ClientSpec, res *ScaleResult) error {
	var mu sync.Mutex
	res.ClientsByPLAT = map[string]int{}
	forEach(clients, 8, func(cs ClientSpec) {
		via, err := m.reachVia(ctx, m.Clients[cs.Name], 30*time.Second)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.Unreached = append(res.Unreached, cs.Name+": "+err.Error())
			return
		}
		res.Reached++
		res.ClientsByPLAT[via]++
	})
	sort.Strings(res.Unreached)
	return ctx.Err()
}

// scaleRoam lets the roamers walk, Wave of them at a time, each with its
// TCP stream and UDP flow running through all its roams.
func scaleRoam(ctx context.Context, m *Mesh, plan ScalePlan, o ScaleOptions, res *ScaleResult, logf func(string, ...any)) error {
	var mu sync.Mutex
	wave := max(o.Wave, 1)
	for i := 0; i < len(plan.Roamers); i += wave {
		group := plan.Roamers[i:min(i+wave, len(plan.Roamers))]
		forEach(group, len(group), func(name string) {
			rs, err := scaleWalk(ctx, m, m.Clients[name], plan.Walks[name], o.Settle)
			mu.Lock()
			defer mu.Unlock()
			res.Streams++
			res.Roams = append(res.Roams, rs...)
			if err != nil {
				res.RoamErrors = append(res.RoamErrors, name+": "+err.Error())
				return
			}
			res.StreamsKept++
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.CheckRunning(); err != nil {
			return err
		}
		logf("scale: roamers %d-%d done: %d of %d streams kept", i+1, i+len(group), res.StreamsKept, res.Streams)
	}
	sort.Strings(res.RoamErrors)
	return nil
}

// scaleWalk is one roamer's walk with its flows running.
func scaleWalk(ctx context.Context, m *Mesh, c *Client, walk []string, settle time.Duration) ([]RoamResult, error) {
	f, err := c.StartFlows()
	if err != nil {
		return nil, err
	}
	var out []RoamResult
	for _, to := range walk {
		r, err := m.hop(ctx, c, f, to, settle, time.Minute, 10*time.Second)
		out = append(out, r)
		if err != nil {
			f.Stop()
			return out, fmt.Errorf("%s -> %s: %w", r.From, to, err)
		}
	}
	return out, f.Stop()
}

// scaleFailover powers off the platnode most CLATs use and measures, from
// each affected CLAT's own switch time, when every one of them had moved to
// another PLAT; then every client on the nodes left must reach the host
// again.
func scaleFailover(ctx context.Context, m *Mesh, res *ScaleResult, logf func(string, ...any)) error {
	f := &res.Failover
	byPLAT := map[string][]string{}
	prefixOf := map[string]string{}
	for _, p := range m.PLATNodes() {
		prefixOf[p.PLATPrefix.String()] = p.Spec.Name
	}
	for _, n := range m.NodeList() {
		st, err := n.CLATState(ctx)
		if err != nil {
			return err
		}
		p := prefixOf[st.PLAT]
		if p == "" {
			return fmt.Errorf("meshlab: %s's CLAT uses %q, no platnode's prefix", n.Spec.Name, st.PLAT)
		}
		if p != n.Spec.Name {
			byPLAT[p] = append(byPLAT[p], n.Spec.Name)
		}
	}
	for _, p := range m.PLATNodes() {
		if f.PLAT == "" || len(byPLAT[p.Spec.Name]) > len(byPLAT[f.PLAT]) {
			f.PLAT = p.Spec.Name
		}
	}
	f.Affected = byPLAT[f.PLAT]
	failed := m.Nodes[f.PLAT]
	logf("scale: powering off %s (PLAT of %d nodes)", f.PLAT, len(f.Affected))
	t0 := time.Now()
	if err := failed.PowerOff(ctx); err != nil {
		return err
	}
	f.Switch, f.Reasons = map[string]time.Duration{}, map[string]int{}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := m.Wait(wctx, "every affected CLAT to leave PLAT "+f.PLAT, 100*time.Millisecond, func() (bool, error) {
		for _, name := range f.Affected {
			if _, done := f.Switch[name]; done {
				continue
			}
			st, err := m.Nodes[name].CLATState(wctx)
			if err != nil {
				return false, err
			}
			if st.PLAT == failed.PLATPrefix.String() || st.PLAT == "" {
				return false, fmt.Errorf("%s's CLAT still uses %s", name, st.PLAT)
			}
			at := time.Now()
			if ls := st.LastSwitch; ls != nil && ls.At.After(t0) {
				at = ls.At
				f.Reasons[ls.Reason]++
			}
			f.Switch[name] = at.Sub(t0)
			f.AllSwitched = max(f.AllSwitched, f.Switch[name])
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	var left []*Client
	for _, c := range m.Clients {
		if !m.Nodes[c.Node].Down {
			left = append(left, c)
		}
	}
	sort.Slice(left, func(i, j int) bool { return left[i].Spec.Name < left[j].Spec.Name })
	f.Clients = len(left)
	var mu sync.Mutex
	forEach(left, 8, func(c *Client) {
		_, err := m.reachVia(ctx, c, 30*time.Second)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			f.Lost = append(f.Lost, c.Spec.Name+": "+err.Error())
			return
		}
		f.Survived++
	})
	sort.Strings(f.Lost)
	return ctx.Err()
}
