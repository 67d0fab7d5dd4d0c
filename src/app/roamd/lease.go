package roamd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

// runLease is `l3roamd-xlat lease add|old|del MAC IP [HOST]`, dnsmasq's
// --dhcp-script: it forwards the lease and its end (DNSMASQ_LEASE_EXPIRES,
// or now + DNSMASQ_TIME_REMAINING) to the daemon. Other dnsmasq actions
// (init, tftp, arp...) and IPv6 leases are ignored with exit code 0.
// The socket comes from --socket or $L3ROAMD_XLAT_SOCKET.
func runLease(args []string) int {
	fs := flag.NewFlagSet("l3roamd-xlat lease", flag.ContinueOnError)
	root := fs.String("root", "/", "root directory of the node's files")
	socket := fs.String("socket", "", "control socket below root (default $L3ROAMD_XLAT_SOCKET or "+defaultSocket+")")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	a := fs.Args()
	if len(a) < 1 {
		fmt.Fprintln(os.Stderr, "usage: l3roamd-xlat lease add|old|del MAC IP [HOST]")
		return 2
	}
	switch a[0] {
	case "add", "old", "del":
	default:
		return 0
	}
	if len(a) < 3 {
		fmt.Fprintln(os.Stderr, "usage: l3roamd-xlat lease add|old|del MAC IP [HOST]")
		return 2
	}
	if os.Getenv("DNSMASQ_IAID") != "" { // DHCPv6 lease
		return 0
	}
	exp := leaseEnd(os.Getenv("DNSMASQ_LEASE_EXPIRES"), os.Getenv("DNSMASQ_TIME_REMAINING"), time.Now())
	path := *socket
	if path == "" {
		path = os.Getenv("L3ROAMD_XLAT_SOCKET")
	}
	if path == "" {
		path = defaultSocket
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	line := fmt.Sprintf("lease %s %s %s %d", a[0], a[1], a[2], exp)
	if _, err := ctlsock.Call(ctx, filepath.Join(*root, path), line); err != nil {
		fmt.Fprintln(os.Stderr, "l3roamd-xlat lease:", err)
		return 1
	}
	return 0
}

// leaseEnd is the lease end in unix seconds, 0 if unknown (the daemon then
// uses its default lease time).
func leaseEnd(expires, remaining string, now time.Time) int64 {
	if s, err := strconv.ParseInt(expires, 10, 64); err == nil && s > 0 {
		return s
	}
	if s, err := strconv.ParseInt(remaining, 10, 64); err == nil && s > 0 {
		return now.Unix() + s
	}
	return 0
}
