package meshlab

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// PLATState is what a node still holds of one PLAT in its roaming state
// (l3roamd-xlat's per-PLAT set, its members and rule, routes of the
// roaming protocols into the PLAT's /96, and the daemon's clients whose
// flows it still sends to that PLAT): all zero once a dead PLAT is
// forgotten everywhere.
type PLATState struct {
	Sets       int // the PLAT's ipset (l3xp<PLAT>) exists
	SetMembers int // its members
	Rules      int // ip6tables rules matching the set or NETMAP-ing to the /96
	Routes     int // routes of protocols 158/159/160 into the /96
	Clients    int // l3roamd-xlat's clients whose PLAT is it (status)
}

// Zero reports whether nothing of the PLAT is left.
func (s PLATState) Zero() bool { return s == PLATState{} }

func (s PLATState) String() string {
	return fmt.Sprintf("set %d, set members %d, rules %d, routes %d, daemon clients %d",
		s.Sets, s.SetMembers, s.Rules, s.Routes, s.Clients)
}

// PLATState counts what n holds of plat (see PLATState).
func (n *Node) PLATState(ctx context.Context, plat netip.Prefix) (PLATState, error) {
	var st PLATState
	a := plat.Addr().As16() // nfstate.SetName (nfstate's tests import meshlab)
	set := "l3xp" + hex.EncodeToString(a[:12])
	out, err := n.NS.Run(ctx, "ipset", "save")
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "create" && f[1] == set:
			st.Sets++
		case len(f) >= 3 && f[0] == "add" && f[1] == set:
			st.SetMembers++
		}
	}
	out, err = n.NS.Run(ctx, "ip6tables-save")
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "-A ") && (strings.Contains(line, "--match-set "+set+" ") ||
			strings.Contains(line, "--to "+plat.String())) {
			st.Rules++
		}
	}
	for _, proto := range []string{"158", "159", "160"} {
		out, err := n.NS.Run(ctx, "ip", "-6", "route", "show", "table", "all", "proto", proto)
		if err != nil {
			return st, err
		}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			dst := f[0]
			if (dst == "unreachable" || dst == "blackhole" || dst == "prohibit") && len(f) > 1 {
				dst = f[1]
			}
			p, err := netip.ParsePrefix(dst)
			if err != nil {
				a, aerr := netip.ParseAddr(dst)
				if aerr != nil {
					continue
				}
				p = netip.PrefixFrom(a, 128)
			}
			if plat.Overlaps(p) {
				st.Routes++
			}
		}
	}
	if n.Procs["l3roamd-xlat"] != nil {
		out, err := n.NS.Run(ctx, n.mesh.Cmd("l3roamd-xlat", "status", "--json", "--root", n.Root)...)
		if err != nil {
			return st, err
		}
		var s struct {
			Clients []struct {
				PLAT string `json:"plat"`
			} `json:"clients"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			return st, fmt.Errorf("meshlab: l3roamd-xlat status on %s: %w", n.Spec.Name, err)
		}
		for _, c := range s.Clients {
			if c.PLAT == plat.String() {
				st.Clients++
			}
		}
	}
	return st, nil
}
