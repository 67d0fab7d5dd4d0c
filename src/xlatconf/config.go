// Package xlatconf is the daemons' own configuration: what the upgrade step
// derives from the site config and writes to UCI (/etc/config/gluon-464xlat),
// and what xlat-clat, xlat-plat and l3roamd-xlat read at start.
//
// Load (load.go) reads it with the uci package (pending deltas applied) and
// fills in the defaults (Default* constants); WriteCLAT/WritePLAT/WriteRoamd
// write one section each with every option explicit (the upgrade step).
// Errors name the file, the section and the option.
//
// UCI layout (one named section per daemon; absent section = daemon disabled):
//
//	config clat 'clat'
//		option prefix 'fddd:1337:1337:1234:5678:9abc::/96'  # own CLAT /96
//		option plat_range 'fddd:1337:2::/48'
//		option device 'clat'
//		option client_ipv4 '10.80.0.0/16'                     # site prefix4
//		option gateway_ipv4 '10.80.0.1'                       # site next_node.ip4
//		option client_bridge 'br-client'
//		option table '4464'
//		option mtu '1280'                                     # IPv6 path MTU
//		option switch_margin '256'
//		option probe_interval '2'
//		option probe_failures '3'
//		option babel_socket '[::1]:33123'
//		option socket '/var/run/xlat-clat.sock'
//		option plat_prefix 'fddd:...::/96'                    # fixed PLAT (optional; else selected)
//		option source_filter '1'                              # only clients' own addresses enter the CLAT
//		option dhcp_leasefile '/tmp/dhcp.leases'              # where those come from (+ roamd's hosts file)
//
//	config plat 'plat'
//		option prefix 'fddd:1337:2:1234:5678:9abc::/96'       # own PLAT /96
//		option clat_range 'fddd:1337:1337::/48'               # the only IPv6 sources translated
//		option device 'plat'
//		option nat66_address 'fddd:...::c000:8'               # default <prefix>+ipv4_address
//		option ipv4_address '192.0.0.8'
//		option wan_device 'br-wan'
//		list blocked_ipv4 '10.0.0.0/8' ...                    # absent = DefaultBlockedIPv4
//		option mtu '1280'
//		option socket '/var/run/xlat-plat.sock'
//
//	config roamd 'roamd'
//		option node_address 'fdxx::/128 address of the node'
//		option node_client_prefix 'fdxx:...::/64'
//		option port '5524'
//		option secret 'key'                                   # optional HMAC key (absent = none)
//		option socket '/var/run/l3roamd-xlat.sock'
//		option client_bridge 'br-client'
//		option clat_range 'fddd:1337:1337::/48'                # optional (absent = any)
//		option dhcp_hostsfile '/var/run/l3roamd-xlat.hosts'    # absent = default; 'none' = off
//		option dnsmasq_pidfile '/var/run/dnsmasq/dnsmasq.cfg01411c.pid'  # optional
package xlatconf

import (
	"net/netip"
	"time"
)

// File is the UCI package the upgrade step writes and the daemons read.
const File = "gluon-464xlat"

// Config is the whole file; a nil section means that daemon is not configured.
type Config struct {
	CLAT  *CLAT
	PLAT  *PLAT
	Roamd *Roamd
}

// CLAT configures xlat-clat.
type CLAT struct {
	Prefix        netip.Prefix // own CLAT /96
	PLATRange     netip.Prefix // /48 inside which /96 routes are PLATs
	PLATPrefix    netip.Prefix // fixed PLAT; invalid (zero) = select from babel
	Device        string
	ClientIPv4    netip.Prefix // clients' IPv4 network (site prefix4)
	GatewayIPv4   netip.Addr   // next_node.ip4
	ClientBridge  string
	Table         int // policy routing table for client IPv4
	MTU           int // IPv6 path MTU; the IPv4 side uses MTU-20
	SwitchMargin  int // a PLAT must be better by this babel metric to switch
	ProbeInterval time.Duration
	ProbeFailures int // failed probes in a row before the PLAT counts as failed
	BabelSocket   string
	Socket        string
	SourceFilter  bool   // drop client packets whose source is no client of this node
	LeaseFile     string // dnsmasq's lease file (the node's clients)
}

// PLAT configures xlat-plat.
type PLAT struct {
	Prefix       netip.Prefix // own PLAT /96
	CLATRange    netip.Prefix // site clat_range: the only IPv6 sources the PLAT translates
	Device       string
	NAT66Address netip.Addr // every CLAT source is NAT66-ed to this address
	IPv4Address  netip.Addr // ... which the translator maps 1:1 to this IPv4
	WANDevice    string
	BlockedIPv4  []netip.Prefix // IPv4 destinations clients must not reach
	MTU          int
	Socket       string
}

// Roamd configures l3roamd-xlat.
type Roamd struct {
	NodeAddress      netip.Addr   // the node's own mesh address (loopback /128)
	NodeClientPrefix netip.Prefix // /64 for the clients' node-client-IPs
	CLATRange        netip.Prefix // site clat_range: CLAT addresses in messages must lie in it (zero = any)
	Port             int
	Secret           string // per-domain HMAC key; empty = no HMAC
	Socket           string
	ClientBridge     string
	HostsFile        string // dnsmasq dhcp-hostsfile the daemon writes ("" = none)
	DnsmasqPIDFile   string // dnsmasq pid file to SIGHUP after writing HostsFile ("" = none)
}
