// Package roamd is l3roamd-xlat's daemon logic: it learns clients on the
// client bridge and from DHCP leases, keeps each served client's
// node-client-IP, runs the CLAIM/INFO/ACK exchange with the client's
// previous node and sends ROAM to the client's PLAT, and installs the state
// at the new node (B), the PLAT (C) and releases it at the old node (A).
// See files/docs/roaming.md for the mechanism and the security rules.
package roamd

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// Config is the daemon's configuration; zero values get defaults from
// Defaults.
type Config struct {
	NodeAddress      netip.Addr   // this node's mesh address (header sender)
	NodeClientPrefix netip.Prefix // /64 of the node-client-IPs
	NodeClientDevice string       // where node-client-IPs go as /128 (default "lo")
	Port             int          // UDP port (default 5524)
	Secret           []byte       // per-domain HMAC key; empty = unsigned

	ClientBridge string       // client bridge (neighbour learning, ARP entries)
	ClientIPv4   netip.Prefix // clients' IPv4 network; CLIENTIP must lie in it
	CLATDevice   string       // IPv6 side of the CLAT (default "clat")
	OwnCLAT      netip.Prefix // this node's CLAT /96; zero = not a clatnode
	CLATRange    netip.Prefix // CLATD/CLATB must lie in it (zero = any)
	PLAT         netip.Prefix // PLAT used for new leases (set_platprefix changes it)
	PLATRange    netip.Prefix // PLATC must lie in it (zero = any)
	OwnPLAT      netip.Prefix // this node's PLAT /96; zero = not a platnode
	MgmtIPv4     netip.Addr   // management address inside CLAT/PLAT /96 (192.0.0.1)

	LeaseMin     time.Duration // shortest accepted LEASETIME (default 60 s)
	LeaseMax     time.Duration // longest accepted LEASETIME (default 7 days)
	DefaultLease time.Duration // for add_address without a lease time (default 1 h)
	ReplayWindow time.Duration // accepted clock skew of a message (default 30 s)
	RatePerSec   float64       // per-source messages per second (default 2000)
	RateBurst    int           // per-source burst (default 4000)

	// Bounds under a flood (see limit.go, plat.go): handovers the PLAT
	// starts (a VERIFY each) per second in total and per NEWCLAT, pending
	// VERIFYs, steering entries in total and per NEWCLAT, and at every node
	// outstanding CLAIMs and INFO/ROAM retransmissions.
	HandoverRate     float64 // per second, all NEWCLATs together (default 1000, burst 2x)
	HandoverRateCLAT float64 // per second and NEWCLAT (default 100, burst 2x)
	MaxVerify        int     // pending VERIFYs (default 1024)
	MaxVerifyCLAT    int     // pending VERIFYs per NEWCLAT (default 256)
	MaxSteer         int     // steering entries (default 16384)
	MaxSteerCLAT     int     // steering entries per NEWCLAT (default 4096)
	MaxClaims        int     // outstanding CLAIMs (default 256)
	MaxPending       int     // outstanding INFOs and ROAMs (default 2048)

	VerifyInterval   time.Duration // PLAT: VERIFY retransmission (default 200 ms)
	VerifyMax        int           // tries (default 5)
	PresenceProbes   int           // old node: ARP probes before a client counts as gone (default 3)
	PresenceInterval time.Duration // between them; the last one waits as long (default 80 ms)

	ClaimInterval time.Duration // 300 ms
	ClaimMax      int           // 15
	InfoInterval  time.Duration // 500 ms (also ROAM retries)
	InfoMax       int           // 15

	HostsFile     string // dnsmasq --dhcp-hostsfile written for roamed clients ("" = none)
	DnsmasqPID    string // pid file of dnsmasq to SIGHUP after writing HostsFile
	SteerMetric   int    // kernel metric of the PLAT's steering /128s (default 2048)
	AnnounceProto int    // route protocol of B's announced /128s (default 158, l3roamd's)
	SteerProto    int    // route protocol of C's steering /128s (default 159; never redistribute)
	// ClientRouteMetric is the metric of the IPv4 /32 route to each client the
	// node serves, on the client bridge (default 1024). Gluon's l3roamd, run
	// with -p <prefix4>, replaces the clients' connected route with one to
	// its TUN device and adds /32s of its own at metric 0: ours must not
	// depend on it nor be replaced by it (files/docs/roaming.md).
	ClientRouteMetric int
	// ReleaseProto is the route protocol of a /128 this node announced and
	// has released (default 160): babel redistributes it with a high
	// metric, so that every copy of the old announcement loses against the
	// client's new node (files/docs/roaming.md, "Release routes").
	ReleaseProto  int
	ReleaseHold   time.Duration // how long a release route stays (default 60 s)
	ReleaseMetric int           // babel metric the upgrade step gives release routes (default 16384)
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.NodeClientDevice == "" {
		c.NodeClientDevice = "lo"
	}
	if c.Port == 0 {
		c.Port = wellknown.RoamPort
	}
	if c.CLATDevice == "" {
		c.CLATDevice = "clat"
	}
	if !c.MgmtIPv4.IsValid() {
		c.MgmtIPv4 = wellknown.ManagementIPv4()
	}
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.LeaseMin, 60*time.Second)
	set(&c.LeaseMax, 7*24*time.Hour)
	set(&c.DefaultLease, time.Hour)
	set(&c.ReplayWindow, 30*time.Second)
	set(&c.ClaimInterval, 300*time.Millisecond)
	set(&c.InfoInterval, 500*time.Millisecond)
	if c.ClaimMax == 0 {
		c.ClaimMax = 15
	}
	if c.InfoMax == 0 {
		c.InfoMax = 15
	}
	if c.RatePerSec == 0 {
		c.RatePerSec = 2000
	}
	if c.RateBurst == 0 {
		c.RateBurst = 4000
	}
	setf := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	seti := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setf(&c.HandoverRate, 1000)
	setf(&c.HandoverRateCLAT, 100)
	seti(&c.MaxVerify, 1024)
	seti(&c.MaxVerifyCLAT, 256)
	seti(&c.MaxSteer, 16384)
	seti(&c.MaxSteerCLAT, 4096)
	seti(&c.MaxClaims, 256)
	seti(&c.MaxPending, 2048)
	seti(&c.VerifyMax, 5)
	seti(&c.PresenceProbes, 3)
	set(&c.VerifyInterval, 200*time.Millisecond)
	set(&c.PresenceInterval, 80*time.Millisecond)
	if c.SteerMetric == 0 {
		c.SteerMetric = 2048
	}
	if c.AnnounceProto == 0 {
		c.AnnounceProto = wellknown.RouteProtoAnnounce
	}
	if c.ClientRouteMetric == 0 {
		c.ClientRouteMetric = 1024
	}
	if c.SteerProto == 0 {
		c.SteerProto = wellknown.RouteProtoSteer
	}
	if c.ReleaseProto == 0 {
		c.ReleaseProto = wellknown.RouteProtoRelease
	}
	set(&c.ReleaseHold, 60*time.Second)
	if c.ReleaseMetric == 0 {
		c.ReleaseMetric = 16384 // upgrade.ReleaseMetric
	}
}

func is96(p netip.Prefix) bool {
	return p.IsValid() && p.Addr().Is6() && !p.Addr().Is4In6() && p.Bits() == 96 && p.Masked() == p
}

// Check reports configuration errors, naming the field.
func (c *Config) Check() error {
	var errs []error
	if !c.NodeAddress.Is6() || c.NodeAddress.Is4In6() {
		errs = append(errs, fmt.Errorf("node_address %v: not an IPv6 address", c.NodeAddress))
	}
	if !c.NodeClientPrefix.IsValid() || !c.NodeClientPrefix.Addr().Is6() || c.NodeClientPrefix.Bits() != 64 {
		errs = append(errs, fmt.Errorf("node_client_prefix %v: not an IPv6 /64", c.NodeClientPrefix))
	}
	for _, p := range []struct {
		name string
		p    netip.Prefix
	}{{"clat prefix", c.OwnCLAT}, {"plat_prefix", c.PLAT}, {"plat prefix (own)", c.OwnPLAT}} {
		if p.p.IsValid() && !is96(p.p) {
			errs = append(errs, fmt.Errorf("%s %v: not an IPv6 /96", p.name, p.p))
		}
	}
	if c.ClientIPv4.IsValid() && !c.ClientIPv4.Addr().Is4() {
		errs = append(errs, fmt.Errorf("client_ipv4 %v: not IPv4", c.ClientIPv4))
	}
	if !c.MgmtIPv4.Is4() {
		errs = append(errs, fmt.Errorf("management IPv4 %v: not IPv4", c.MgmtIPv4))
	}
	if c.LeaseMin > c.LeaseMax {
		errs = append(errs, fmt.Errorf("lease_min %v > lease_max %v", c.LeaseMin, c.LeaseMax))
	}
	if c.Port <= 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range", c.Port))
	}
	return errors.Join(errs...)
}
