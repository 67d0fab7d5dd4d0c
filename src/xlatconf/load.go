package xlatconf

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/site"
	"github.com/gluon-464xlat/gluon-464xlat/uci"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// Section names (and types) in /etc/config/gluon-464xlat.
const (
	SectionCLAT  = "clat"
	SectionPLAT  = "plat"
	SectionRoamd = "roamd"
)

// Defaults filled in by Load for options that are absent.
const (
	DefaultCLATDevice    = "clat"
	DefaultPLATDevice    = "plat"
	DefaultClientBridge  = "br-client"
	DefaultWANDevice     = "br-wan"
	DefaultTable         = 4464
	DefaultMTU           = 1280
	DefaultSwitchMargin  = site.DefaultSwitchMargin // the site's xlat464 defaults
	DefaultProbeInterval = site.DefaultProbeInterval
	DefaultProbeFailures = site.DefaultProbeFailures
	DefaultBabelSocket   = wellknown.BabelSocket
	DefaultCLATSocket    = "/var/run/xlat-clat.sock"
	DefaultPLATSocket    = "/var/run/xlat-plat.sock"
	DefaultLeaseFile     = "/tmp/dhcp.leases" // OpenWrt's dhcp.@dnsmasq[0].leasefile
	DefaultRoamdSocket   = "/var/run/l3roamd-xlat.sock"
	DefaultRoamPort      = wellknown.RoamPort
	// DefaultRoamdHostsFile is l3roamd-xlat's dnsmasq dhcp-hostsfile.
	DefaultRoamdHostsFile = "/var/run/l3roamd-xlat.hosts"
)

// DefaultBlockedIPv4 are the IPv4 destinations a PLAT never forwards mesh
// clients to: the entries of IANA's IPv4 special-purpose address registry
// (RFC 6890) that are not globally reachable: "this network", RFC 1918,
// shared address space, loopback, link-local, IETF protocol assignments
// (192.0.0.0/24: the design's 192.0.0.1 and 192.0.0.8 are never a
// destination), the deprecated 6to4 relay anycast, benchmarking, multicast
// and reserved (which holds the limited broadcast). Not blocked: the
// documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24),
// which no internet route leads to anyway and which labs and examples use
// as "the internet"; a site adds them with xlat464.blocked_ipv4.
func DefaultBlockedIPv4() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
		"169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.88.99.0/24", "192.168.0.0/16",
		"198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// DefaultPLATIPv4 is the IPv4 address the PLAT maps its NAT66 address to
// (192.0.0.8, the IPv4 dummy address of RFC 7600, as in the 2018 package).
var DefaultPLATIPv4 = netip.AddrFrom4([4]byte{192, 0, 0, 8})

// DefaultNAT66Address is the PLAT's NAT66 address for its /96: the /96 with
// the IPv4 address embedded (<plat /96>+192.0.0.8), xlat-plat's default.
func DefaultNAT66Address(prefix netip.Prefix, ipv4 netip.Addr) netip.Addr {
	return addrmap.Embed(prefix, ipv4)
}

// ErrNotConfigured is returned (wrapped) by Load when the config file is missing.
var ErrNotConfigured = uci.ErrNotFound

// Load reads <root>/etc/config/gluon-464xlat (with pending uci deltas) and
// returns it with defaults filled in. Errors name the file, section and option.
func Load(root string) (*Config, error) {
	tree := uci.NewTree(root)
	p, err := tree.Load(File)
	if err != nil {
		return nil, err
	}
	return FromPackage(p, tree.Path(File))
}

// optErr is a bad option value.
type optErr struct {
	file, section, option, msg string
}

func (e *optErr) Error() string {
	return fmt.Sprintf("%s: section %s: option %s: %s", e.file, e.section, e.option, e.msg)
}

type reader struct {
	file string
	s    *uci.Section
	errs []error
}

func (r *reader) fail(opt, format string, a ...any) {
	r.errs = append(r.errs, &optErr{r.file, r.s.Name, opt, fmt.Sprintf(format, a...)})
}

func (r *reader) str(opt, def string) string {
	if v, ok := r.s.Get(opt); ok {
		return v
	}
	return def
}

// path reads an absolute path (below the daemon's root); "" and, if
// allowed, the word none pass.
func (r *reader) path(opt, def string, none bool) string {
	v := r.str(opt, def)
	if v != "" && !(none && v == "none") && (!strings.HasPrefix(v, "/") || strings.ContainsAny(v, "\n\x00")) {
		r.fail(opt, "%s is not an absolute path", site.Quote(v))
	}
	return v
}

// secret reads an HMAC key: absent is "" (unsigned), present must not be
// empty (an empty key would silently turn signing off). The value is never
// quoted in an error.
func (r *reader) secret(opt string) string {
	v, ok := r.s.Get(opt)
	if ok && v == "" {
		r.fail(opt, "is empty (remove the option to send unsigned roaming messages)")
	}
	return v
}

func (r *reader) ifname(opt, def string) string {
	v := r.str(opt, def)
	if v == "" || len(v) > 15 || strings.ContainsAny(v, "/ \t\n:") {
		r.fail(opt, "%s is not an interface name (1..15 characters, no '/', ':' or space)", site.Quote(v))
	}
	return v
}

func (r *reader) integer(opt string, def, lo, hi int) int {
	v, ok := r.s.Get(opt)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(opt, "%s is not a whole number in [%d, %d]", site.Quote(v), lo, hi)
		return def
	}
	return n
}

// seconds reads a duration: a whole number of seconds or a Go duration ("500ms").
func (r *reader) seconds(opt string, def time.Duration) time.Duration {
	v, ok := r.s.Get(opt)
	if !ok {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(opt, "%s is not a positive number of seconds or a duration like 500ms", site.Quote(v))
		return def
	}
	return d
}

func (r *reader) prefix(opt string, required bool, check func(netip.Prefix) string) netip.Prefix {
	v, ok := r.s.Get(opt)
	if !ok {
		if required {
			r.fail(opt, "missing")
		}
		return netip.Prefix{}
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		r.fail(opt, "%s is not a prefix", site.Quote(v))
		return netip.Prefix{}
	}
	if msg := check(p); msg != "" {
		r.fail(opt, "%s %s", site.Quote(v), msg)
		return netip.Prefix{}
	}
	return p
}

func (r *reader) addr(opt string, required bool, want4 bool) netip.Addr {
	v, ok := r.s.Get(opt)
	if !ok {
		if required {
			r.fail(opt, "missing")
		}
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Is4() != want4 || a.Is4In6() || a.Zone() != "" {
		fam := "IPv6"
		if want4 {
			fam = "IPv4"
		}
		r.fail(opt, "%s is not an %s address", site.Quote(v), fam)
		return netip.Addr{}
	}
	return a
}

func v6Len(bits int) func(netip.Prefix) string {
	return func(p netip.Prefix) string {
		switch {
		case !p.Addr().Is6() || p.Addr().Is4In6():
			return "is not an IPv6 prefix"
		case p.Bits() != bits:
			return fmt.Sprintf("is not a /%d", bits)
		case p.Masked() != p:
			return "has host bits set"
		}
		return ""
	}
}

func v4Prefix(p netip.Prefix) string {
	switch {
	case !p.Addr().Is4():
		return "is not an IPv4 prefix"
	case p.Masked() != p:
		return "has host bits set"
	}
	return ""
}

// FromPackage converts a loaded package (file is used in errors).
func FromPackage(p *uci.Package, file string) (*Config, error) {
	c := &Config{}
	var errs []error
	for _, s := range p.Sections {
		if s.Name != s.Type {
			continue
		}
		r := &reader{file: file, s: s}
		switch s.Name {
		case SectionCLAT:
			c.CLAT = readCLAT(r)
		case SectionPLAT:
			c.PLAT = readPLAT(r)
		case SectionRoamd:
			c.Roamd = readRoamd(r)
		}
		errs = append(errs, r.errs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func readCLAT(r *reader) *CLAT {
	c := &CLAT{
		Prefix:        r.prefix("prefix", true, v6Len(96)),
		PLATRange:     r.prefix("plat_range", true, v6Len(48)),
		PLATPrefix:    r.prefix("plat_prefix", false, v6Len(96)),
		Device:        r.ifname("device", DefaultCLATDevice),
		ClientIPv4:    r.prefix("client_ipv4", true, v4Prefix),
		GatewayIPv4:   r.addr("gateway_ipv4", false, true),
		ClientBridge:  r.ifname("client_bridge", DefaultClientBridge),
		Table:         r.integer("table", DefaultTable, 1, 0x7fffffff),
		MTU:           r.integer("mtu", DefaultMTU, 1280, 65535),
		SwitchMargin:  r.integer("switch_margin", DefaultSwitchMargin, 0, 65535),
		ProbeInterval: r.seconds("probe_interval", DefaultProbeInterval),
		ProbeFailures: r.integer("probe_failures", DefaultProbeFailures, 1, 100),
		BabelSocket:   r.str("babel_socket", DefaultBabelSocket),
		Socket:        r.str("socket", DefaultCLATSocket),
		SourceFilter:  r.integer("source_filter", 1, 0, 1) == 1,
		LeaseFile:     r.path("dhcp_leasefile", DefaultLeaseFile, false),
	}
	if c.GatewayIPv4.IsValid() && c.ClientIPv4.IsValid() && !c.ClientIPv4.Contains(c.GatewayIPv4) {
		r.fail("gateway_ipv4", "%s is not inside client_ipv4 %s", c.GatewayIPv4, c.ClientIPv4)
	}
	return c
}

func readPLAT(r *reader) *PLAT {
	c := &PLAT{
		Prefix:      r.prefix("prefix", true, v6Len(96)),
		CLATRange:   r.prefix("clat_range", true, v6Len(48)),
		Device:      r.ifname("device", DefaultPLATDevice),
		IPv4Address: r.addr("ipv4_address", false, true),
		WANDevice:   r.ifname("wan_device", DefaultWANDevice),
		MTU:         r.integer("mtu", DefaultMTU, 1280, 65535),
		Socket:      r.str("socket", DefaultPLATSocket),
	}
	if !c.IPv4Address.IsValid() {
		c.IPv4Address = DefaultPLATIPv4
	}
	c.NAT66Address = r.addr("nat66_address", false, false)
	if !c.NAT66Address.IsValid() && c.Prefix.IsValid() {
		c.NAT66Address = DefaultNAT66Address(c.Prefix, c.IPv4Address)
	}
	if o := r.s.Option("blocked_ipv4"); o == nil {
		c.BlockedIPv4 = DefaultBlockedIPv4()
	} else {
		c.BlockedIPv4 = []netip.Prefix{}
		for _, v := range o.Values {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				r.fail("blocked_ipv4", "%s is not a prefix", site.Quote(v))
				continue
			}
			if msg := v4Prefix(p); msg != "" {
				r.fail("blocked_ipv4", "%s %s", site.Quote(v), msg)
				continue
			}
			c.BlockedIPv4 = append(c.BlockedIPv4, p)
		}
	}
	return c
}

func readRoamd(r *reader) *Roamd {
	c := &Roamd{
		NodeAddress:      r.addr("node_address", true, false),
		NodeClientPrefix: r.prefix("node_client_prefix", true, v6Len(64)),
		Port:             r.integer("port", DefaultRoamPort, 1, 65535),
		Secret:           r.secret("secret"),
		Socket:           r.str("socket", DefaultRoamdSocket),
		ClientBridge:     r.ifname("client_bridge", DefaultClientBridge),
		CLATRange:        r.prefix("clat_range", false, v6Len(48)),
		HostsFile:        r.path("dhcp_hostsfile", DefaultRoamdHostsFile, true),
		DnsmasqPIDFile:   r.path("dnsmasq_pidfile", "", false),
	}
	if c.HostsFile == "none" {
		c.HostsFile = ""
	}
	return c
}

// WriteCLAT writes c as section clat of p, every option explicit (defaults
// included), replacing the section's previous options in place.
func WriteCLAT(p *uci.Package, c *CLAT) error {
	s, err := p.ResetSection(SectionCLAT, SectionCLAT)
	if err != nil {
		return err
	}
	s.Set("prefix", c.Prefix.String())
	s.Set("plat_range", c.PLATRange.String())
	if c.PLATPrefix.IsValid() {
		s.Set("plat_prefix", c.PLATPrefix.String())
	}
	s.Set("device", c.Device)
	s.Set("client_ipv4", c.ClientIPv4.String())
	if c.GatewayIPv4.IsValid() {
		s.Set("gateway_ipv4", c.GatewayIPv4.String())
	}
	s.Set("client_bridge", c.ClientBridge)
	s.Set("table", strconv.Itoa(c.Table))
	s.Set("mtu", strconv.Itoa(c.MTU))
	s.Set("switch_margin", strconv.Itoa(c.SwitchMargin))
	s.Set("probe_interval", durationString(c.ProbeInterval))
	s.Set("probe_failures", strconv.Itoa(c.ProbeFailures))
	s.Set("babel_socket", c.BabelSocket)
	s.Set("socket", c.Socket)
	s.Set("source_filter", map[bool]string{true: "1", false: "0"}[c.SourceFilter])
	s.Set("dhcp_leasefile", c.LeaseFile)
	return nil
}

// WritePLAT writes c as section plat of p (see WriteCLAT).
func WritePLAT(p *uci.Package, c *PLAT) error {
	s, err := p.ResetSection(SectionPLAT, SectionPLAT)
	if err != nil {
		return err
	}
	s.Set("prefix", c.Prefix.String())
	s.Set("clat_range", c.CLATRange.String())
	s.Set("device", c.Device)
	s.Set("nat66_address", c.NAT66Address.String())
	s.Set("ipv4_address", c.IPv4Address.String())
	s.Set("wan_device", c.WANDevice)
	var bl []string
	for _, b := range c.BlockedIPv4 {
		bl = append(bl, b.String())
	}
	s.SetList("blocked_ipv4", bl)
	s.Set("mtu", strconv.Itoa(c.MTU))
	s.Set("socket", c.Socket)
	return nil
}

// WriteRoamd writes c as section roamd of p (see WriteCLAT).
func WriteRoamd(p *uci.Package, c *Roamd) error {
	s, err := p.ResetSection(SectionRoamd, SectionRoamd)
	if err != nil {
		return err
	}
	s.Set("node_address", c.NodeAddress.String())
	s.Set("node_client_prefix", c.NodeClientPrefix.String())
	s.Set("port", strconv.Itoa(c.Port))
	s.Set("secret", c.Secret)
	s.Set("socket", c.Socket)
	s.Set("client_bridge", c.ClientBridge)
	if c.CLATRange.IsValid() {
		s.Set("clat_range", c.CLATRange.String())
	}
	hosts := c.HostsFile
	if hosts == "" {
		hosts = "none"
	}
	s.Set("dhcp_hostsfile", hosts)
	if c.DnsmasqPIDFile != "" {
		s.Set("dnsmasq_pidfile", c.DnsmasqPIDFile)
	}
	return nil
}

func durationString(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return d.String()
}
