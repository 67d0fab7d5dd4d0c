package meshlab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
)

// L3roamdSocket is where Gluon's l3roamd has its control socket (below a
// node's root in the lab).
const L3roamdSocket = "var/run/l3roamd.sock"

// GluonL3roamdArgs is the command line Gluon v2023.2's /etc/init.d/gluon-l3roamd
// (package gluon-l3roamd) gives l3roamd on node n:
//
//	l3roamd -s /var/run/l3roamd.sock [-p <prefix4>] -p <prefix6> -m <meshif>... \
//	        [-i local-node] -t 254 -a <node address> -b br-client -P <node_client_prefix6>
//
// The lab has no local-node device: br-client carries next_node's addresses
// (see buildNetwork), so it is also the client interface (-i).
func (m *Mesh) GluonL3roamdArgs(n *Node) []string {
	s := m.Spec.Site
	args := []string{"-s", filepath.Join(n.Root, L3roamdSocket), "-p", s.Prefix4.String(), "-p", s.Prefix6.String()}
	for _, i := range n.MeshIfs {
		args = append(args, "-m", i)
	}
	return append(args, "-i", "br-client", "-t", "254", "-a", n.Address.String(), "-b", "br-client",
		"-P", s.NodeClientPrefix6.String())
}

// StartGluonL3roamd starts Gluon's l3roamd (the C daemon, binary bin) on n as
// Gluon's init script does (START=55, after l3roamd-xlat's 51) and waits for
// its control socket. Its process is n.Procs["l3roamd"]. (The init script's
// neigh gc_thresh1 sysctls exist only in the host's first namespace: not set.)
func (m *Mesh) StartGluonL3roamd(ctx context.Context, n *Node, bin string) error {
	if err := os.MkdirAll(filepath.Join(n.Root, filepath.Dir(L3roamdSocket)), 0o755); err != nil {
		return fmt.Errorf("meshlab: %w", err)
	}
	args := append([]string{bin}, m.GluonL3roamdArgs(n)...)
	if v := os.Getenv("L3ROAMD_DEBUG"); v != "" {
		args = append(args, "-d") // -d late still sets debug logging
	}
	p, err := n.NS.Start("l3roamd", args...)
	if err != nil {
		return err
	}
	n.Procs["l3roamd"] = p
	return m.Wait(ctx, "l3roamd's socket on "+n.Spec.Name, 50*time.Millisecond, func() (bool, error) {
		_, err := L3roamdCommand(n, "get_clients")
		return err == nil, nil
	})
}

// L3roamdCommand sends one command to l3roamd's control socket on n and
// returns the reply (l3roamd answers and closes; some commands answer nothing).
func L3roamdCommand(n *Node, cmd string) (string, error) {
	c, err := net.DialTimeout("unix", filepath.Join(n.Root, L3roamdSocket), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\n")); err != nil {
		return "", err
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		k, err := c.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return b.String(), nil
}

// L3roamdEmulation does to a lab node what Gluon's l3roamd does to the
// resources it shares with l3roamd-xlat, with ip commands, for tests where
// the real daemon (C, built from freifunk-gluon/l3roamd) is not available.
// It is a fake of l3roamd's kernel side only: no messages, no socket. What it
// does follows l3roamd 7c8bced (the commit Gluon's packages feed builds):
//
//   - Start: a TUN l3roam0 (ipmgr.c ipmgr_init) and a proto-158 route for each
//     client prefix to it, NLM_F_REPLACE at metric 0 (routemgr.c
//     routemgr_init, routemgr_insert_route[4]): prefix4 (Gluon passes it with
//     -p; the replace takes the place of the clients' connected route),
//     prefix6 and fe80::/64 (main.c). No flush of other proto-158 routes.
//   - Learn: a client's IPv4 /32, proto 158, metric 0 (clientmgr.c
//     client_add_route) and its node-client-IP, the EUI-64 of its MAC in the
//     node-client /64 (clientmgr.c mac2ipv6, add_special_ip), on lo.
//   - Drop (on the old node, when the new node's l3roamd CLAIMs the client,
//     clientmgr.c clientmgr_handle_claim -> clientmgr_delete_client): the
//     node-client-IP's /128 in table 254 replaced by a throw route and then
//     deleted without protocol or metric, the address deleted from lo
//     (remove_special_ip, routemgr_remove_route, rtnl_remove_address); the
//     /32 deleted without protocol or metric, i.e. the lowest metric first
//     (routemgr_remove_route4; its throw step writes past the address,
//     routemgr.c:713, and is left out), the neighbour set to NUD_NONE.
//
// After a roam the new node's l3roamd learns the client's IPv4 address only
// through its SEEK/ARP (ipmgr.c), which the emulation leaves out: the new
// node never gets l3roamd's /32 unless Learn is called, the worst case for
// traffic to the client.
type L3roamdEmulation struct {
	m *Mesh
	// holds: node -> client IPv4 addresses whose /32 the emulated l3roamd installed
	holds map[string]map[string]bool
}

// NewL3roamdEmulation returns the emulation for m.
func NewL3roamdEmulation(m *Mesh) *L3roamdEmulation {
	return &L3roamdEmulation{m: m, holds: map[string]map[string]bool{}}
}

// L3roamdNodeClientIP is Gluon l3roamd's node-client-IP of mac (the EUI-64 in
// the node-client /64).
func (m *Mesh) L3roamdNodeClientIP(mac net.HardwareAddr) netip.Addr {
	a, _ := addrmap.EUI64(m.Spec.Site.NodeClientPrefix6, addrmap.MAC(mac)) // plain EUI-64, not addrmap.NodeClientIP (l3roamd-xlat's); zero without a /64
	return a
}

func run(ctx context.Context, n *Node, cmds ...string) error {
	for _, c := range cmds {
		if _, err := n.NS.Runf(ctx, "%s", c); err != nil {
			return err
		}
	}
	return nil
}

// Start is l3roamd's start on n.
func (e *L3roamdEmulation) Start(ctx context.Context, n *Node) error {
	s := e.m.Spec.Site
	return run(ctx, n,
		"ip tuntap add dev l3roam0 mode tun",
		"ip link set l3roam0 mtu 9000 up",
		"ip -4 route replace "+s.Prefix4.String()+" dev l3roam0 proto 158 table 254",
		"ip -6 route replace "+s.Prefix6.String()+" dev l3roam0 proto 158 table 254",
		"ip -6 route replace fe80::/64 dev l3roam0 proto 158 table 254")
}

// Learn is l3roamd learning client c (IPv4 ip) on n.
func (e *L3roamdEmulation) Learn(ctx context.Context, n *Node, c *Client, ip netip.Addr) error {
	if e.holds[n.Spec.Name] == nil {
		e.holds[n.Spec.Name] = map[string]bool{}
	}
	e.holds[n.Spec.Name][ip.String()] = true
	// NLM_F_CREATE|NLM_F_EXCL: an existing address stays as it is.
	_, _ = n.NS.Runf(ctx, "ip -6 addr add %s/128 dev lo", e.m.L3roamdNodeClientIP(c.MAC))
	return run(ctx, n, fmt.Sprintf("ip -4 route replace %s/32 dev br-client proto 158 table 254", ip))
}

// Drop is l3roamd on n giving client c (IPv4 ip) up to a CLAIM.
func (e *L3roamdEmulation) Drop(ctx context.Context, n *Node, c *Client, ip netip.Addr) error {
	nci := e.m.L3roamdNodeClientIP(c.MAC).String()
	// Each step is a separate netlink request whose answer l3roamd ignores.
	_, _ = n.NS.Runf(ctx, "ip -6 route replace throw %s/128 table 254", nci)
	_, _ = n.NS.Runf(ctx, "ip -6 route del %s/128 table 254", nci)
	_, _ = n.NS.Runf(ctx, "ip -6 addr del %s/128 dev lo", nci)
	if e.holds[n.Spec.Name][ip.String()] {
		delete(e.holds[n.Spec.Name], ip.String())
		_, _ = n.NS.Runf(ctx, "ip -4 route del %s/32 table 254", ip)
		_, _ = n.NS.Runf(ctx, "ip -4 neigh replace %s dev br-client lladdr %s nud none", ip, c.MAC)
	}
	return nil
}

// OnMove is the emulated l3roamds' reaction to a roam of client from -> to:
// the old node drops the client at once (the new node's CLAIM takes a few
// ms), the new node takes its node-client-IP (l3roamd's INFO handler,
// clientmgr_handle_info -> add_special_ip) but not yet its /32.
func (e *L3roamdEmulation) OnMove(ctx context.Context, client, from, to string) error {
	c := e.m.Clients[client]
	ip := c.IPv4(ctx)
	if old := e.m.Nodes[from]; old != nil {
		if err := e.Drop(ctx, old, c, ip); err != nil {
			return err
		}
	}
	_, _ = e.m.Nodes[to].NS.Runf(ctx, "ip -6 addr add %s/128 dev lo", e.m.L3roamdNodeClientIP(c.MAC))
	return nil
}
