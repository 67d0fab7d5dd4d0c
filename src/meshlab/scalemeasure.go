package meshlab

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// statusTimeout bounds a status call of the scale runner. An idle node
// answers in milliseconds; with 50 nodes on 2 cores (load average 130 while
// clients lease) 3 s were not enough: a waiting daemon goroutine gets a
// core after seconds.
const statusTimeout = 15 * time.Second

// CLATState asks n's CLAT for its state over its control socket.
func (n *Node) CLATState(ctx context.Context) (CLATState, error) {
	var st CLATState
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	out, err := ctlsock.Call(ctx, filepath.Join(n.Root, xlatconf.DefaultCLATSocket), "status")
	if err != nil {
		return st, fmt.Errorf("xlat-clat on %s: %w", n.Spec.Name, err)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("meshlab: xlat-clat status on %s: %w: %.200s", n.Spec.Name, err, out)
	}
	return st, nil
}

// roamCounters sums the roaming daemons' counters (tx_CLAIM, drop_..., ...)
// over the nodes that are up.
func (m *Mesh) roamCounters(ctx context.Context) (map[string]uint64, error) {
	sum := map[string]uint64{}
	for _, n := range m.NodeList() {
		if n.Down {
			continue
		}
		c, err := n.RoamCounters(ctx)
		if err != nil {
			return nil, err
		}
		for k, v := range c {
			sum[k] += v
		}
	}
	return sum, nil
}

// RoamCounters are n's l3roamd-xlat counters (status).
func (n *Node) RoamCounters(ctx context.Context) (map[string]uint64, error) {
	cctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	out, err := ctlsock.Call(cctx, filepath.Join(n.Root, xlatconf.DefaultRoamdSocket), "status")
	if err != nil {
		return nil, fmt.Errorf("l3roamd-xlat on %s: %w", n.Spec.Name, err)
	}
	var st struct {
		Counters map[string]uint64 `json:"counters"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("meshlab: l3roamd-xlat status on %s: %w", n.Spec.Name, err)
	}
	return st.Counters, nil
}

// RouteKinds sorts n's installed babel routes by what they are for (node
// addresses, CLAT and PLAT /96s, management /128s, node-client-IPs,
// roamed clients' /128s, others).
func (m *Mesh) RouteKinds(ctx context.Context, n *Node) (map[string]int, error) {
	r, err := n.BabelRoutes(ctx)
	if err != nil {
		return nil, err
	}
	s := m.Spec.Site
	out := map[string]int{}
	for p := range r {
		k := "other"
		switch {
		case s.NodePrefix6.Contains(p.Addr()) && p.Bits() == 128:
			k = "node address"
		case s.NodeClientPrefix6.Contains(p.Addr()) && p.Bits() == 128:
			k = "node-client-IP"
		case (s.CLATRange.Contains(p.Addr()) || s.PLATRange.Contains(p.Addr())) && p.Bits() == 96:
			k = "CLAT/PLAT /96"
		case (s.CLATRange.Contains(p.Addr()) || s.PLATRange.Contains(p.Addr())) && p.Bits() == 128 && p.Addr().As16()[12] == 192 && p.Addr().As16()[15] == 1:
			k = "management /128"
		case s.CLATRange.Contains(p.Addr()) && p.Bits() == 128:
			k = "roamed client /128"
		default:
			if out["other"] < 3 {
				out["e.g. "+p.String()] = 1
			}
		}
		out[k]++
	}
	return out, nil
}

// routeCounts returns each node's number of installed babel routes.
func (m *Mesh) routeCounts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, n := range m.NodeList() {
		if n.Down {
			continue
		}
		r, err := n.BabelRoutes(ctx)
		if err != nil {
			return nil, err
		}
		out[n.Spec.Name] = len(r)
	}
	return out, nil
}

// cpuDuring runs f and returns the CPU each node's processes used meanwhile,
// as a share of one core: node -> process -> share.
func (m *Mesh) cpuDuring(ctx context.Context, f func() error) (map[string]map[string]float64, error) {
	before, t0 := GroupCPUs(), time.Now()
	if err := f(); err != nil {
		return nil, err
	}
	after, secs := GroupCPUs(), time.Since(t0).Seconds()
	out := map[string]map[string]float64{}
	for _, n := range m.NodeList() {
		if n.Down {
			continue
		}
		out[n.Spec.Name] = map[string]float64{}
		for name, p := range n.Procs {
			out[n.Spec.Name][name] = (after[p.PID()] - before[p.PID()]) / secs
		}
	}
	return out, nil
}

// memory reads the memory of each node's processes.
func (m *Mesh) memory() map[string]map[string]Mem {
	out := map[string]map[string]Mem{}
	for _, n := range m.NodeList() {
		if n.Down {
			continue
		}
		out[n.Spec.Name] = map[string]Mem{}
		for name, p := range n.Procs {
			if mem, err := ReadMem(p.PID()); err == nil {
				out[n.Spec.Name][name] = mem
			}
		}
	}
	return out
}
