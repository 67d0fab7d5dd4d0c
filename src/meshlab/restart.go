package meshlab

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// RestartDaemon ends daemon pkg on n and starts it again as procd's
// respawn does: kill true is a crash (SIGKILL to its process group, no
// cleanup), false an init script restart (SIGTERM, then start).
func (m *Mesh) RestartDaemon(n *Node, pkg string, kill bool) error {
	p := n.Procs[pkg]
	if p == nil {
		return fmt.Errorf("meshlab: %s does not run %s", n.Spec.Name, pkg)
	}
	var err error
	if kill {
		err = p.Kill()
	} else {
		err = p.Stop()
	}
	if err != nil {
		return err
	}
	return m.startDaemon(n, pkg)
}

// RoamState counts what the roaming daemon keeps in n's kernel, by kind:
// set members, rules and jumps of its chains, routes of its protocols
// (158 announce, 159 steering, 160 release), node-client-IPs. Two equal
// counts around a restart mean nothing was lost or duplicated.
func (n *Node) RoamState(ctx context.Context) (map[string]int, error) {
	st := map[string]int{}
	out, err := n.NS.Run(ctx, "ipset", "save")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "add" && strings.HasPrefix(f[1], "l3x") {
			st["set members"]++
		}
	}
	out, err = n.NS.Run(ctx, "ip6tables-save")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "-A L3X-"):
			st["rules"]++
		case strings.HasPrefix(line, "-A ") && strings.Contains(line, "-j L3X-"):
			st["jumps"]++
		}
	}
	for _, proto := range []string{"158", "159", "160"} {
		out, err := n.NS.Run(ctx, "ip", "-6", "route", "show", "table", "all", "proto", proto)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(out); s != "" {
			st["routes proto "+proto] = len(strings.Split(s, "\n"))
		}
	}
	out, err = n.NS.Run(ctx, "ip", "-6", "-o", "addr", "show", "dev", "lo")
	if err != nil {
		return nil, err
	}
	for _, f := range strings.Fields(out) {
		if p, err := netip.ParsePrefix(f); err == nil && n.mesh.Spec.Site.NodeClientPrefix6.Contains(p.Addr()) {
			st["node-client-IPs"]++
		}
	}
	return st, nil
}
