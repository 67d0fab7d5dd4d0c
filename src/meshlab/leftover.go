package meshlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
)

// Leftovers is the roaming state a node still holds for clients: what must
// be zero once every lease has ended.
type Leftovers struct {
	SetMembers int // members of l3roamd-xlat's ipsets (l3x-in, l3x-roam, l3xs*, l3xp*)
	Rules      int // per-origin and per-PLAT rules (matching an l3xs or l3xp set)
	Routes     int // clients' /128 routes in the CLAT range, any protocol and table (announce, release, steering, babel)
	NodeIPs    int // routes to the lab clients' node-client-IPs, any protocol and table (the address's own, release, babel)
}

// Zero reports whether nothing is left.
func (l Leftovers) Zero() bool { return l == Leftovers{} }

func (l Leftovers) String() string {
	return fmt.Sprintf("set members %d, rules %d, client /128 routes %d, node-client-IP routes %d",
		l.SetMembers, l.Rules, l.Routes, l.NodeIPs)
}

// Leftovers counts n's roaming state (see Leftovers).
func (n *Node) Leftovers(ctx context.Context) (Leftovers, error) {
	var l Leftovers
	out, err := n.NS.Run(ctx, "ipset", "save")
	if err != nil {
		return l, err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "add" && strings.HasPrefix(f[1], "l3x") {
			l.SetMembers++
		}
	}
	out, err = n.NS.Run(ctx, "ip6tables-save")
	if err != nil {
		return l, err
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "-A ") && (strings.Contains(line, "--match-set l3xs") || strings.Contains(line, "--match-set l3xp")) {
			l.Rules++
		}
	}
	out, err = n.NS.Run(ctx, "ip", "-6", "-j", "route", "show", "table", "all")
	if err != nil {
		return l, err
	}
	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := json.Unmarshal([]byte(out), &routes); err != nil {
		return l, fmt.Errorf("meshlab: ip -j route on %s: %w", n.Spec.Name, err)
	}
	nodeIPs := map[netip.Addr]bool{} // only the lab's clients: a node also takes stray MACs as clients
	for _, c := range n.mesh.Clients {
		var mac addrmap.MAC
		copy(mac[:], c.MAC)
		if a, err := addrmap.EUI64(n.mesh.Spec.Site.NodeClientPrefix6, mac); err == nil {
			nodeIPs[a] = true
		}
	}
	for _, r := range routes {
		a, err := netip.ParseAddr(r.Dst) // host routes print without /128
		if err == nil && nodeIPs[a] {
			l.NodeIPs++
		}
		if err != nil || !n.mesh.Spec.Site.CLATRange.Contains(a) {
			continue
		}
		// a client's CLATD::ip, not a node's management address (::192.0.0.1)
		b := a.As16()
		if n.mesh.Spec.Site.Prefix4.Contains(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})) {
			l.Routes++
		}
	}
	return l, nil
}

// WaitNoLeftovers waits until no node holds roaming state any more and
// returns the last counts per node (also on timeout).
func (m *Mesh) WaitNoLeftovers(ctx context.Context) (map[string]Leftovers, error) {
	counts := map[string]Leftovers{}
	err := m.Wait(ctx, "no roaming state left on any node", 250*time.Millisecond, func() (bool, error) {
		zero := true
		for _, n := range m.NodeList() {
			if n.Down {
				continue
			}
			l, err := n.Leftovers(ctx)
			if err != nil {
				return false, err
			}
			counts[n.Spec.Name] = l
			zero = zero && l.Zero()
		}
		return zero, nil
	})
	return counts, err
}

// Release makes the client give its DHCP lease back (DHCPRELEASE to the
// node it is on; busybox udhcpc does that on SIGUSR2) and stay without one.
func (c *Client) Release(ctx context.Context) error {
	if c.dhcp == nil || c.dhcp.Exited() {
		return fmt.Errorf("meshlab: client %s has no DHCP client running", c.Spec.Name)
	}
	if err := c.dhcp.Signal(syscall.SIGUSR2); err != nil {
		return err
	}
	return WaitFor(ctx, "client "+c.Spec.Name+" to release its lease", 50*time.Millisecond, func() (bool, error) {
		return !c.IPv4(ctx).IsValid(), nil
	})
}
