// Package wellknown holds the addresses and numbers that the design fixes
// and that every node of a mesh must agree on: a node built from another
// release still has to find its PLAT's management address, send roaming
// messages to the same port and filter the same route protocols. They are
// written once here and referred to everywhere else (the Go code; the
// shell scripts and docs quote the values and say where they come from).
//
// Defaults that a site or /etc/config/gluon-464xlat may change (sockets,
// devices, probe timing) live with their option in package xlatconf.
package wellknown

import (
	"net/netip"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
)

// ManagementIPv4 is 192.0.0.1: embedded in a node's CLAT or PLAT /96 it
// forms the node's management address (the seed's plat_prefix:192.0.0.1),
// which a CLAT probes to see its PLAT alive and where l3roamd-xlat sends
// and receives its messages.
func ManagementIPv4() netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 0, 1}) }

// ManagementAddress is the management address of the /96 p: p+192.0.0.1.
func ManagementAddress(p netip.Prefix) netip.Addr { return addrmap.Embed(p, ManagementIPv4()) }

// BabelSocket is Gluon's read-write local socket of babeld (gluon-mesh-babel
// starts it with -G 33123), where a CLAT follows the routes.
const BabelSocket = "[::1]:33123"

// RoamPort is l3roamd-xlat's UDP port (l3roamd itself uses 5523).
const RoamPort = 5524

// Route protocols of l3roamd-xlat's routes (files/docs/roaming.md): a node
// announces a roamed client's old CLAT address CLATD::ip/128 towards its
// CLAT device with RouteProtoAnnounce (l3roamd's 158), and a PLAT steers
// such an address towards the new node with RouteProtoSteer before babel's
// route arrives; a node the client left keeps the /128 (and the client's
// node-client-IP) for a while as a release route with RouteProtoRelease,
// redistributed with ReleaseMetric so that every copy of its old
// announcement loses against the client's new node. The steering routes
// are never redistributed into babel.
const (
	RouteProtoAnnounce = 158
	RouteProtoSteer    = 159
	RouteProtoRelease  = 160
)

// ReleaseMetric is the babel metric of release routes: above any real
// path's metric (wired hop 96, wireless 256 and more) and below INFINITY/2
// (65535/2), where babeld stops asking for alternatives.
const ReleaseMetric = 16384
