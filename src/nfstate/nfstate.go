// Package nfstate keeps l3roamd-xlat's kernel packet-filter state on a node
// that serves roamed clients: ipsets (through vishvananda/netlink) whose
// members are per client and expire with the lease, and ip6tables rules
// (the fixed ones through coreos/go-iptables, the per-prefix ones through
// ip6tables-restore: rules.go) whose number depends only on how many
// distinct CLAT and PLAT prefixes roamed clients came with, never on the
// number of clients.
//
// The mechanism (see files/docs/roaming.md): the node B that serves a
// client which leased its address under CLAT prefix D and PLAT prefix C
// rewrites that client's traffic so that the PLAT sees exactly the
// addresses it saw before the roam (CLATD::ip -> PLATC::server). B's
// conntrack sees these connections for the first time, so B's NAT rules
// apply to them; the PLAT's conntrack entries stay valid.
//
//	raw    PREROUTING  -> L3X-RAW                                            (3 rules)
//	  -i <clat> -m set --match-set l3x-roam src -j CT --zone Z
//	  ! -i <clat> -m set --match-set l3x-in dst -j CT --zone Z
//	  ! -i <clat> -m set --match-set l3x-roam dst -j CT --zone Z
//	nat    PREROUTING  -> L3X-PRE
//	  ! -i <clat> -m set --match-set l3x-in dst -j NETMAP --to CLATB/96      (1 rule)
//	  -i <clat> -m set --match-set l3xp<PLATC> src -j NETMAP --to PLATC/96   (1 per PLAT)
//	nat    POSTROUTING -> L3X-POST
//	  -m set --match-set l3xs<CLATD> src -j NETMAP --to CLATD/96             (1 per origin CLAT)
//	  -o <clat> -m set --match-set l3xp<PLATC> dst -j NETMAP --to PLATB/96   (1 per PLAT)
//	filter FORWARD     -> L3X-FWD
//	  -i <clat> -p tcp ! --syn -m conntrack --ctstate NEW
//	     -m set ! --match-set l3x-roam src -j DROP                           (1 rule)
//
// The second POSTROUTING rule completes the PLAT rewrite for a flow whose
// first packet here is a reply (a download: after the roam the client
// sends nothing until the server's retransmission reaches it). Such an
// entry is created by PLATC::server -> CLATD::ip, NETMAPed to CLATB::ip;
// without the rule its reply tuple would be CLATB::ip -> PLATC::server,
// but the client's CLAT sends to PLATB::server (this node's PLAT): a new
// entry whose rewrite clashes with the first, so NAT changes the source
// port, the PLAT sees a new flow and the server resets it (seen in the
// 8-node walk). With the rule both directions meet in one entry.
//
// The last rule keeps mid-stream TCP segments of a client whose roam is not
// yet set up from creating an un-rewritten conntrack entry here and a new
// NAT binding at the PLAT (whose RST would kill the connection); TCP
// retransmits them once the state is in place.
//
// The raw rules track roamed clients' flows in their own conntrack zone Z:
// a node that forwarded the client's packets before the roam (it was on the
// old node's path to the PLAT) holds transit entries CLATD::ip:port ->
// PLATC::server in zone 0; the rewritten flow has the same tuple, and in
// zone 0 NAT would pick another source port for it (a new flow at the PLAT).
package nfstate

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
)

// Chain names.
const (
	ChainRaw  = "L3X-RAW"
	ChainPre  = "L3X-PRE"
	ChainPost = "L3X-POST"
	ChainFwd  = "L3X-FWD"
)

// DefaultZone is the conntrack zone of roamed clients' flows (see Config.Zone).
const DefaultZone = 158

// Set names; per-prefix sets append 24 hex digits of the /96.
const (
	SetIn       = "l3x-in"
	SetRoam     = "l3x-roam"
	setOrigin   = "l3xs"
	setPLAT     = "l3xp"
	maxTimeout  = 2147483 // ipset's limit in seconds
	baseTimeout = 3600
)

// Config names the node's CLAT.
type Config struct {
	CLATDevice string       // the CLAT's IPv6-side device, e.g. "clat"
	OwnCLAT    netip.Prefix // this node's CLAT /96 (CLATB)
	// Zone is the conntrack zone that roamed clients' flows are tracked
	// in (0: DefaultZone). Zone 0 holds the node's other traffic, also
	// transit packets of the same client from before its roam
	// (CLATD::ip -> PLAT); in their own zone the rewritten flows never
	// clash with those, so NAT keeps their source port.
	Zone uint16
}

type hook struct{ table, chain, from string }

// hooks lists the chains: table, chain, jumped to from.
func hooks() []hook {
	return []hook{
		{"raw", ChainRaw, "PREROUTING"},
		{"nat", ChainPre, "PREROUTING"}, {"nat", ChainPost, "POSTROUTING"}, {"filter", ChainFwd, "FORWARD"},
	}
}

// State is the packet-filter state of one node (one network namespace).
type State struct {
	cfg Config
	ipt *iptables.IPTables
	// restore is ip6tables-restore's path ("": not found, one ip6tables
	// run per rule change instead)
	restore string
	mu      sync.Mutex
	sets    map[string]bool         // per-prefix sets (and their rule) known to exist
	via     map[string]netip.Prefix // per-PLAT set: the PLATB of its reply rule in place

	// gen counts the calls that may change rules; counted and rules are
	// the gen of the last RuleCount and its result (Rules).
	gen, counted uint64
	rules        int
}

// changing notes that rules may have changed (deferred by every method
// that changes them: a count taken meanwhile is not kept).
func (s *State) changing() {
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
}

// Rules is RuleCount, counted again only when this State changed rules
// since the last count: status asks for it, and listing the five chains
// runs ip6tables five times (under the xtables lock, which all network
// namespaces share; in the 50-node lab status then timed out).
func (s *State) Rules() (int, error) {
	s.mu.Lock()
	gen, ok, n := s.gen, s.counted == s.gen && s.gen != 0, s.rules
	s.mu.Unlock()
	if ok {
		return n, nil
	}
	n, err := s.RuleCount()
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.counted, s.rules = gen, n
	s.mu.Unlock()
	return n, nil
}

// New checks the configuration and finds ip6tables.
func New(cfg Config) (*State, error) {
	if cfg.CLATDevice == "" {
		return nil, errors.New("nfstate: CLAT device name empty")
	}
	if err := check96(cfg.OwnCLAT, "own CLAT prefix"); err != nil {
		return nil, err
	}
	ipt, err := iptables.New(iptables.IPFamily(iptables.ProtocolIPv6), iptables.Timeout(5))
	if err != nil {
		return nil, fmt.Errorf("nfstate: ip6tables: %w", err)
	}
	if cfg.Zone == 0 {
		cfg.Zone = DefaultZone
	}
	restore, _ := exec.LookPath("ip6tables-restore")
	return &State{cfg: cfg, ipt: ipt, restore: restore, sets: map[string]bool{}, via: map[string]netip.Prefix{}}, nil
}

func check96(p netip.Prefix, what string) error {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p.Bits() != 96 || p.Masked() != p {
		return fmt.Errorf("nfstate: %s %v is not an IPv6 /96", what, p)
	}
	return nil
}

// SetName is the ipset for an origin CLAT ("s") or PLAT ("p") prefix.
func SetName(kind string, p netip.Prefix) string {
	a := p.Addr().As16()
	return kind + hex.EncodeToString(a[:12])
}

func createSet(name string) error {
	to := uint32(baseTimeout)
	err := netlink.IpsetCreate(name, "hash:ip", netlink.IpsetCreateOptions{
		Family: unix.AF_INET6, Timeout: &to, Replace: true})
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("nfstate: ipset create %s: %w", name, err)
	}
	return nil
}

// Setup creates the base sets, chains, static rules and jumps (idempotent).
func (s *State) Setup() error {
	defer s.changing()
	for _, n := range []string{SetIn, SetRoam} {
		if err := createSet(n); err != nil {
			return err
		}
	}
	for _, c := range hooks() {
		if ok, err := s.ipt.ChainExists(c.table, c.chain); err != nil {
			return fmt.Errorf("nfstate: %s/%s: %w", c.table, c.chain, err)
		} else if !ok {
			if err := s.ipt.NewChain(c.table, c.chain); err != nil {
				return fmt.Errorf("nfstate: new chain %s/%s: %w", c.table, c.chain, err)
			}
		}
		if err := s.ipt.InsertUnique(c.table, c.from, 1, "-j", c.chain); err != nil {
			return fmt.Errorf("nfstate: jump %s/%s -> %s: %w", c.table, c.from, c.chain, err)
		}
	}
	dev := s.cfg.CLATDevice
	zone := fmt.Sprint(s.cfg.Zone)
	for _, r := range [][]string{
		{"-i", dev, "-m", "set", "--match-set", SetRoam, "src"},      // the roamed client's packets
		{"!", "-i", dev, "-m", "set", "--match-set", SetIn, "dst"},   // replies to CLATD::ip
		{"!", "-i", dev, "-m", "set", "--match-set", SetRoam, "dst"}, // replies to CLATB::ip (PLAT rewrite only)
	} {
		if err := s.ipt.AppendUnique("raw", ChainRaw, append(r, "-j", "CT", "--zone", zone)...); err != nil {
			return fmt.Errorf("nfstate: raw/%s zone rule: %w", ChainRaw, err)
		}
	}
	if err := s.ipt.AppendUnique("nat", ChainPre, "!", "-i", dev, "-m", "set", "--match-set", SetIn, "dst",
		"-j", "NETMAP", "--to", s.cfg.OwnCLAT.String()); err != nil {
		return fmt.Errorf("nfstate: nat/%s incoming rule: %w", ChainPre, err)
	}
	if err := s.ipt.AppendUnique("filter", ChainFwd, "-i", dev, "-p", "tcp", "!", "--syn", "-m", "conntrack",
		"--ctstate", "NEW", "-m", "set", "!", "--match-set", SetRoam, "src", "-j", "DROP"); err != nil {
		return fmt.Errorf("nfstate: filter/%s mid-stream rule: %w", ChainFwd, err)
	}
	return s.load() // per-prefix rules of an earlier run
}

// Teardown removes jumps, chains and every l3x set.
func (s *State) Teardown() error {
	defer s.changing()
	var errs []error
	for _, c := range hooks() {
		if err := s.ipt.DeleteIfExists(c.table, c.from, "-j", c.chain); err != nil {
			errs = append(errs, err)
		}
		if ok, _ := s.ipt.ChainExists(c.table, c.chain); ok {
			if err := s.ipt.ClearAndDeleteChain(c.table, c.chain); err != nil {
				errs = append(errs, err)
			}
		}
	}
	all, err := netlink.IpsetListAll()
	if err != nil {
		errs = append(errs, err)
	}
	for _, set := range all {
		if strings.HasPrefix(set.SetName, "l3x") {
			if err := netlink.IpsetDestroy(set.SetName); err != nil {
				errs = append(errs, fmt.Errorf("ipset destroy %s: %w", set.SetName, err))
			}
		}
	}
	s.mu.Lock()
	s.sets, s.via = map[string]bool{}, map[string]netip.Prefix{}
	s.mu.Unlock()
	return errors.Join(errs...)
}

// embed is addrmap.Embed as the net.IP that netlink takes.
func embed(p netip.Prefix, v4 netip.Addr) net.IP {
	return addrmap.Embed(p, v4).AsSlice()
}

func timeoutOf(d time.Duration) *uint32 {
	sec := int64(d / time.Second)
	if sec < 1 {
		sec = 1
	}
	if sec > maxTimeout {
		sec = maxTimeout
	}
	v := uint32(sec)
	return &v
}

func add(set string, ip net.IP, d time.Duration) error {
	if err := netlink.IpsetAdd(set, &netlink.IPSetEntry{IP: ip, Timeout: timeoutOf(d), Replace: true}); err != nil {
		return fmt.Errorf("nfstate: ipset add %s %s: %w", set, ip, err)
	}
	return nil
}

func del(set string, ip net.IP) error {
	err := netlink.IpsetDel(set, &netlink.IPSetEntry{IP: ip})
	if err == nil || errors.Is(err, nl.IPSetError(nl.IPSET_ERR_EXIST)) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("nfstate: ipset del %s %s: %w", set, ip, err)
}

// Roamed is one client served here under another node's CLAT/PLAT prefixes.
type Roamed struct {
	CLAT     netip.Prefix // CLATD, where the client leased its address
	PLAT     netip.Prefix // PLATC; zero = keep this node's PLAT
	ClientIP netip.Addr
	// Via is this node's PLAT (PLATB, the one its CLAT sends to) when
	// PLAT is set: the target of PLATC's reply rule (zero: none known, no
	// reply rule). Not part of the client's identity: RemoveRoamed and
	// Reconcile ignore it.
	Via netip.Prefix
}

// AddRoamed installs (or refreshes) a roamed client's members for lease d
// (see FlushConntrack). Every rule the client needs is in place before
// its first member, and l3x-in, which draws the server's packets to
// CLATD::ip into the rewrite, is added last: a reply that arrives while
// the rules are still being made (each ip6tables command takes 0.1-1 s on
// a busy node, and a wave of roams makes several) must not create a
// conntrack entry without the PLAT's reply rule. Its reply tuple would be
// CLATB::ip -> PLATC::server, which the client's next segment (to
// PLATB::server) cannot match; NAT would give that segment another source
// port and the server reset the stream (12-node scale lab, three roamers at
// once: one or two streams reset per run before the reply rule).
func (s *State) AddRoamed(r Roamed, d time.Duration) error {
	if err := check96(r.CLAT, "CLAT"); err != nil {
		return err
	}
	if !r.ClientIP.Is4() {
		return fmt.Errorf("nfstate: client %v is not IPv4", r.ClientIP)
	}
	if r.PLAT.IsValid() {
		if err := check96(r.PLAT, "PLAT"); err != nil {
			return err
		}
	}
	so, sp, err := s.ensureRules(r)
	if err != nil {
		return err
	}
	own := embed(s.cfg.OwnCLAT, r.ClientIP)
	for _, set := range []string{so, sp, SetRoam} {
		if set == "" {
			continue
		}
		if err := add(set, own, d); err != nil {
			return err
		}
	}
	if r.CLAT != s.cfg.OwnCLAT {
		return add(SetIn, embed(r.CLAT, r.ClientIP), d)
	}
	return nil
}

// FlushConntrack deletes the conntrack entries that predate the rewrite of
// these clients: flows from their own-CLAT addresses (created un-rewritten,
// e.g. UDP before the roam was set up) and flows towards their old
// addresses. One table dump serves all clients (a dump costs milliseconds,
// so callers batch); call it after AddRoamed.
func (s *State) FlushConntrack(rs ...Roamed) (uint, error) {
	var fs []netlink.CustomConntrackFilter
	for _, r := range rs {
		if !r.ClientIP.Is4() || check96(r.CLAT, "CLAT") != nil {
			continue
		}
		f1 := &netlink.ConntrackFilter{}
		_ = f1.AddIP(netlink.ConntrackOrigSrcIP, embed(s.cfg.OwnCLAT, r.ClientIP))
		fs = append(fs, f1)
		if r.CLAT != s.cfg.OwnCLAT {
			f2 := &netlink.ConntrackFilter{}
			_ = f2.AddIP(netlink.ConntrackOrigDstIP, embed(r.CLAT, r.ClientIP))
			fs = append(fs, f2)
		}
	}
	if len(fs) == 0 {
		return 0, nil
	}
	n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET6, fs...)
	if err != nil {
		return n, fmt.Errorf("nfstate: conntrack flush: %w", err)
	}
	return n, nil
}

// RemoveRoamed deletes a roamed client's members (absent ones are fine),
// in the reverse order of AddRoamed: l3x-in and l3x-roam first, so that
// no packet enters the rewrite half undone.
func (s *State) RemoveRoamed(r Roamed) error {
	if !r.ClientIP.Is4() || check96(r.CLAT, "CLAT") != nil {
		return fmt.Errorf("nfstate: bad client %v/%v", r.CLAT, r.ClientIP)
	}
	own := embed(s.cfg.OwnCLAT, r.ClientIP)
	var errs []error
	if r.CLAT != s.cfg.OwnCLAT {
		errs = append(errs, del(SetIn, embed(r.CLAT, r.ClientIP)))
	}
	errs = append(errs, del(SetRoam, own))
	if r.PLAT.IsValid() {
		errs = append(errs, del(SetName(setPLAT, r.PLAT), own))
	}
	if r.CLAT != s.cfg.OwnCLAT {
		errs = append(errs, del(SetName(setOrigin, r.CLAT), own))
	}
	return errors.Join(errs...)
}

// RuleCount is the number of rules in l3roamd-xlat's chains.
func (s *State) RuleCount() (int, error) {
	n := 0
	for _, c := range hooks() {
		rules, err := s.ipt.List(c.table, c.chain)
		if err != nil {
			return 0, fmt.Errorf("nfstate: list %s/%s: %w", c.table, c.chain, err)
		}
		n += len(rules) - 1 // first line is -N
	}
	return n, nil
}

// Members lists a set's addresses (for status and tests).
func Members(set string) ([]netip.Addr, error) {
	res, err := netlink.IpsetList(set)
	if err != nil {
		return nil, fmt.Errorf("nfstate: ipset list %s: %w", set, err)
	}
	var out []netip.Addr
	for _, e := range res.Entries {
		if a, ok := netip.AddrFromSlice(e.IP); ok {
			out = append(out, a.Unmap())
		}
	}
	return out, nil
}
