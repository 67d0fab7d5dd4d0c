// Package site loads a Gluon node's site configuration as the node sees it:
// /lib/gluon/site.json deep-merged with the active domain's
// /lib/gluon/domains/<domain>.json (domain wins, like libgluonutil), the
// domain taken from UCI gluon.core.domain (pending deltas included), and the
// primary MAC from /lib/gluon/core/sysconfig/primary_mac. Every path is
// relative to a root directory.
//
// It validates the keys the 464XLAT packages use and returns one clear error
// naming the file and the key for a bad or missing value.
package site

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/uci"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// Node paths, relative to the root.
const (
	SiteFile       = "lib/gluon/site.json"
	DomainsDir     = "lib/gluon/domains"
	PrimaryMACFile = "lib/gluon/core/sysconfig/primary_mac"
)

// Defaults of the optional xlat464 keys.
const (
	DefaultSwitchMargin  = 256
	DefaultProbeInterval = 2 * time.Second
	DefaultProbeFailures = 3
	DefaultRoamPort      = wellknown.RoamPort
)

// Config is the validated site configuration of one node. Optional keys
// that are absent have their zero value (see the Has* fields); the xlat464
// keys have their defaults filled in.
type Config struct {
	Root       string
	Domain     string // "" without multi-domain support
	PrimaryMAC addrmap.MAC

	CLATRange         netip.Prefix // clat_range (/48), zero if absent
	PLATRange         netip.Prefix // plat_range (/48), zero if absent
	Prefix4           netip.Prefix // prefix4, zero if absent
	NextNodeIP4       netip.Addr   // next_node.ip4, zero if absent
	NodePrefix6       netip.Prefix // node_prefix6 (/64), zero if absent
	NodeClientPrefix6 netip.Prefix // node_client_prefix6, or derived from domain_seed; zero if neither
	DomainSeed        string       // domain_seed, "" if absent

	XLAT XLAT464

	objs  [2]map[string]any // site.json, domain .json (nil without domains)
	files [2]string         // their paths
}

// XLAT464 are the project's optional keys, in the table xlat464.
type XLAT464 struct {
	SwitchMargin  int            // switch_margin: babel metric a PLAT must be better by (256)
	ProbeInterval time.Duration  // probe_interval: seconds between probes (2)
	ProbeFailures int            // probe_failures: failed probes before a PLAT counts as failed (3)
	BlockedIPv4   []netip.Prefix // blocked_ipv4: extra IPv4 prefixes the PLAT drops
	UnblockedIPv4 []netip.Prefix // unblocked_ipv4: entries of the PLAT's built-in list it does not drop
	RoamPort      int            // roam_port: UDP port of the roaming messages (5524)
	RoamSecret    string         // roam_secret: HMAC key of the roaming messages ("" = none)
}

// Error is a bad or missing site value.
type Error struct {
	File string // the file the value came from (or should be in)
	Key  string // dotted key, e.g. next_node.ip4
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s: %s", e.File, e.Key, e.Msg) }

// Load reads and validates the site configuration under root.
func Load(root string) (*Config, error) {
	c := &Config{Root: root}
	c.files[0] = filepath.Join(root, SiteFile)
	siteObj, err := readJSON(c.files[0])
	if err != nil {
		return nil, err
	}
	merged := siteObj
	c.objs[0] = siteObj
	domainsDir := filepath.Join(root, DomainsDir)
	if st, err := os.Stat(domainsDir); err == nil && st.IsDir() {
		// libgluonutil: with domains, the active domain is required
		tree := uci.NewTree(root)
		gluonPath := tree.Path("gluon")
		p, err := tree.Load("gluon")
		if err != nil {
			return nil, fmt.Errorf("%w (reading the active domain, gluon.core.domain)", err)
		}
		dom, ok := p.Get("core", "domain")
		if !ok || dom == "" {
			return nil, &Error{File: gluonPath, Key: "core.domain", Msg: "not set (the active domain is required when " + domainsDir + " exists)"}
		}
		if strings.ContainsAny(dom, "/\\") || dom == "." || dom == ".." {
			return nil, &Error{File: gluonPath, Key: "core.domain", Msg: Quote(dom) + " is not a domain code"}
		}
		c.Domain = dom
		c.files[1] = filepath.Join(domainsDir, dom+".json")
		domObj, err := readJSON(c.files[1])
		if err != nil {
			return nil, err
		}
		c.objs[1] = domObj
		merged = mergeJSON(siteObj, domObj).(map[string]any)
	}
	if err := c.parse(merged); err != nil {
		return nil, err
	}
	macPath := filepath.Join(root, PrimaryMACFile)
	b, err := os.ReadFile(macPath)
	if err != nil {
		return nil, fmt.Errorf("primary MAC: %w", err)
	}
	mac, err := addrmap.ParseMAC(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", macPath, err)
	}
	c.PrimaryMAC = mac
	return c, nil
}

func readJSON(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: missing: %w", path, err)
		}
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: invalid JSON: data after the top-level value", path)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: invalid site config: top level is not an object", path)
	}
	return m, nil
}

// mergeJSON merges b into a as libgluonutil's merge_json does: objects are
// merged key by key, anything else from b replaces a (arrays included).
func mergeJSON(a, b any) any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return b
	}
	out := make(map[string]any, len(am)+len(bm))
	for k, v := range am {
		out[k] = v
	}
	for k, v := range bm {
		if old, ok := out[k]; ok {
			out[k] = mergeJSON(old, v)
		} else {
			out[k] = v
		}
	}
	return out
}

// FileOf returns the file a dotted key's value came from: the domain file
// if the domain sets it (the domain wins), else site.json if that sets it;
// for an absent key the domain file when domains are in use (the 464XLAT
// keys are domain keys), else site.json. A list index suffix ("[2]") is ignored.
func (c *Config) FileOf(key string) string {
	if i := strings.IndexByte(key, '['); i >= 0 {
		key = key[:i]
	}
	for _, i := range []int{1, 0} {
		if c.objs[i] != nil {
			if _, ok := lookup(c.objs[i], key); ok {
				return c.files[i]
			}
		}
	}
	if c.files[1] != "" {
		return c.files[1]
	}
	return c.files[0]
}

// Missing returns the error for a required key that is not set.
func (c *Config) Missing(key, why string) error {
	msg := "missing"
	if why != "" {
		msg += " (" + why + ")"
	}
	if c.files[1] != "" {
		msg += "; set in neither this domain nor " + c.files[0]
	}
	return &Error{File: c.FileOf(key), Key: key, Msg: msg}
}

func (c *Config) errf(key, format string, a ...any) error {
	return &Error{File: c.FileOf(key), Key: key, Msg: fmt.Sprintf(format, a...)}
}

// lookup returns the value at a dotted path.
func lookup(m map[string]any, key string) (any, bool) {
	var cur any = m
	for _, part := range strings.Split(key, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = mm[part]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

func (c *Config) str(m map[string]any, key string) (string, bool, error) {
	v, ok := lookup(m, key)
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, c.errf(key, "%s is not a string", show(v))
	}
	return s, true, nil
}

// MaxQuoted is how many bytes of a bad value an error message quotes: a
// site value can be megabytes long, a log line should not be.
const MaxQuoted = 200

// show renders a non-string value (JSON, at most MaxQuoted bytes of it).
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprint(v))
	}
	if len(b) > MaxQuoted {
		return fmt.Sprintf("%s... (%d bytes)", b[:MaxQuoted], len(b))
	}
	return string(b)
}

// Quote quotes a string value for an error message, at most MaxQuoted
// bytes of it.
func Quote(s string) string {
	if len(s) > MaxQuoted {
		return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:MaxQuoted]), len(s))
	}
	return strconv.Quote(s)
}

func (c *Config) prefix(m map[string]any, key string, check func(netip.Prefix) string) (netip.Prefix, error) {
	s, ok, err := c.str(m, key)
	if err != nil || !ok {
		return netip.Prefix{}, err
	}
	p, perr := netip.ParsePrefix(s)
	if perr != nil {
		return netip.Prefix{}, c.errf(key, "%s is not a prefix", Quote(s))
	}
	if msg := check(p); msg != "" {
		return netip.Prefix{}, c.errf(key, "%s %s", Quote(s), msg)
	}
	return p, nil
}

// Where a CLAT or PLAT range may lie: global unicast, unique local, or the
// RFC 8215 local-use translation prefix. Anything else (::/48, link-local,
// multicast, ...) would make the nodes announce and route addresses that
// mean something else.
var (
	globalUnicast = netip.MustParsePrefix("2000::/3")
	uniqueLocal   = netip.MustParsePrefix("fc00::/7")
	rfc8215       = netip.MustParsePrefix("64:ff9b:1::/48")
)

func range48(p netip.Prefix) string {
	switch {
	case !p.Addr().Is6() || p.Addr().Is4In6():
		return "is not an IPv6 prefix"
	case p.Bits() != 48:
		return "is not a /48"
	case p.Masked() != p:
		return "has host bits set (want " + p.Masked().String() + ")"
	case !globalUnicast.Contains(p.Addr()) && !uniqueLocal.Contains(p.Addr()) && p != rfc8215:
		return "is neither global unicast (2000::/3) nor unique local (fc00::/7) nor 64:ff9b:1::/48"
	}
	return ""
}

func prefix64(p netip.Prefix) string {
	switch {
	case !p.Addr().Is6() || p.Addr().Is4In6():
		return "is not an IPv6 prefix"
	case p.Bits() != 64:
		return "is not a /64"
	case p.Masked() != p:
		return "has host bits set (want " + p.Masked().String() + ")"
	}
	return ""
}

func ipv4Prefix(p netip.Prefix) string {
	switch {
	case !p.Addr().Is4():
		return "is not an IPv4 prefix"
	case p.Masked() != p:
		return "has host bits set (want " + p.Masked().String() + ")"
	}
	return ""
}

func (c *Config) integer(m map[string]any, key string, def, lo, hi int) (int, error) {
	v, ok := lookup(m, key)
	if !ok {
		return def, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return 0, c.errf(key, "%s is not a number", show(v))
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, c.errf(key, "%s is not a whole number in [%d, %d]", show(n), lo, hi)
	}
	return int(f), nil
}

func (c *Config) parse(m map[string]any) error {
	var err error
	if c.CLATRange, err = c.prefix(m, "clat_range", range48); err != nil {
		return err
	}
	if c.PLATRange, err = c.prefix(m, "plat_range", range48); err != nil {
		return err
	}
	if c.Prefix4, err = c.prefix(m, "prefix4", ipv4Prefix); err != nil {
		return err
	}
	if c.Prefix4.IsValid() && c.Prefix4.Bits() > 30 {
		return c.errf("prefix4", "%s is longer than /30", Quote(c.Prefix4.String()))
	}
	if v, ok := lookup(m, "next_node"); ok {
		if _, isObj := v.(map[string]any); !isObj {
			return c.errf("next_node", "%s is not a table", show(v))
		}
	}
	if s, ok, err := c.str(m, "next_node.ip4"); err != nil {
		return err
	} else if ok {
		a, perr := netip.ParseAddr(s)
		if perr != nil || !a.Is4() {
			return c.errf("next_node.ip4", "%s is not an IPv4 address", Quote(s))
		}
		if c.Prefix4.IsValid() && !c.Prefix4.Contains(a) {
			return c.errf("next_node.ip4", "%s is not inside prefix4 %s", Quote(s), c.Prefix4)
		}
		c.NextNodeIP4 = a
	}
	if c.NodePrefix6, err = c.prefix(m, "node_prefix6", prefix64); err != nil {
		return err
	}
	if s, ok, err := c.str(m, "domain_seed"); err != nil {
		return err
	} else if ok {
		if len(s) != 64 || !isHex(s) {
			return c.errf("domain_seed", "%s is not 64 hex digits", Quote(s))
		}
		c.DomainSeed = s
	}
	if c.NodeClientPrefix6, err = c.prefix(m, "node_client_prefix6", prefix64); err != nil {
		return err
	}
	if !c.NodeClientPrefix6.IsValid() && c.DomainSeed != "" {
		c.NodeClientPrefix6 = NodeClientPrefixFromSeed(c.DomainSeed)
	}
	if err := c.checkOverlaps(m); err != nil {
		return err
	}
	return c.parseXLAT(m)
}

// checkOverlaps: the CLAT and PLAT ranges must be disjoint from each other
// and from the site's other IPv6 prefixes, or a /96 route would capture
// clients' or nodes' addresses (and the PLAT's source filter would admit them).
func (c *Config) checkOverlaps(m map[string]any) error {
	// prefix6 is Gluon's (checked by gluon-core); only its value matters here.
	var prefix6 netip.Prefix
	if s, ok, _ := c.str(m, "prefix6"); ok {
		prefix6, _ = netip.ParsePrefix(s)
	}
	others := []struct {
		key string
		p   netip.Prefix
	}{{"plat_range", c.PLATRange}, {"prefix6", prefix6}, {"node_prefix6", c.NodePrefix6},
		{"node_client_prefix6", c.NodeClientPrefix6}}
	for _, r := range []struct {
		key string
		p   netip.Prefix
	}{{"clat_range", c.CLATRange}, {"plat_range", c.PLATRange}} {
		if !r.p.IsValid() {
			continue
		}
		for _, o := range others {
			if o.key != r.key && o.p.IsValid() && r.p.Overlaps(o.p) {
				return c.errf(r.key, "%s overlaps %s %s (the CLAT and PLAT /48s must be disjoint from each other and from the site's other prefixes)",
					Quote(r.p.String()), o.key, o.p)
			}
		}
	}
	return nil
}

func (c *Config) parseXLAT(m map[string]any) error {
	x := &c.XLAT
	if v, ok := lookup(m, "xlat464"); ok {
		// an empty Lua table becomes [] in site.json
		if arr, isArr := v.([]any); isArr && len(arr) == 0 {
			delete(m, "xlat464")
		} else if _, isObj := v.(map[string]any); !isObj {
			return c.errf("xlat464", "%s is not a table", show(v))
		}
	}
	var err error
	if x.SwitchMargin, err = c.integer(m, "xlat464.switch_margin", DefaultSwitchMargin, 0, 65535); err != nil {
		return err
	}
	secs, err := c.integer(m, "xlat464.probe_interval", int(DefaultProbeInterval/time.Second), 1, 3600)
	if err != nil {
		return err
	}
	x.ProbeInterval = time.Duration(secs) * time.Second
	if x.ProbeFailures, err = c.integer(m, "xlat464.probe_failures", DefaultProbeFailures, 1, 100); err != nil {
		return err
	}
	if x.RoamPort, err = c.integer(m, "xlat464.roam_port", DefaultRoamPort, 1, 65535); err != nil {
		return err
	}
	if s, ok, err := c.str(m, "xlat464.roam_secret"); err != nil {
		return err
	} else if ok {
		if s == "" {
			// an empty key would silently turn signing off
			return c.errf("xlat464.roam_secret", "is empty (remove the key to send unsigned roaming messages)")
		}
		x.RoamSecret = s
	}
	if x.BlockedIPv4, err = c.ipv4List(m, "xlat464.blocked_ipv4"); err != nil {
		return err
	}
	x.UnblockedIPv4, err = c.ipv4List(m, "xlat464.unblocked_ipv4")
	return err
}

// ipv4List reads an optional list of IPv4 prefixes without host bits.
func (c *Config) ipv4List(m map[string]any, key string) ([]netip.Prefix, error) {
	v, ok := lookup(m, key)
	if !ok {
		return nil, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, c.errf(key, "%s is not a list", show(v))
	}
	var out []netip.Prefix
	for i, e := range arr {
		ikey := key + "[" + strconv.Itoa(i+1) + "]"
		s, isStr := e.(string)
		if !isStr {
			return nil, c.errf(ikey, "%s is not a string", show(e))
		}
		p, perr := netip.ParsePrefix(s)
		if perr != nil {
			return nil, c.errf(ikey, "%s is not a prefix", Quote(s))
		}
		if msg := ipv4Prefix(p); msg != "" {
			return nil, c.errf(ikey, "%s %s", Quote(s), msg)
		}
		out = append(out, p)
	}
	return out, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// NodeClientPrefixFromSeed derives the node-client /64 from the domain seed
// as Gluon's gluon/l3.lua does: "fd" + domain_seed_bytes(
// "gluon-l3roamd.node_client_prefix6", 7) as four groups.
func NodeClientPrefixFromSeed(seed string) netip.Prefix {
	h := "fd" + DomainSeedBytes(seed, "gluon-l3roamd.node_client_prefix6", 7)
	p, err := netip.ParsePrefix(h[0:4] + ":" + h[4:8] + ":" + h[8:12] + ":" + h[12:16] + "::/64")
	if err != nil {
		panic(err) // 16 hex digits always parse
	}
	return p
}

// DomainSeedBytes is Gluon's util.domain_seed_bytes(key, n): 2n hex digits
// from iterated MD5 over (previous, key, lower-case seed, counter).
func DomainSeedBytes(seed, key string, n int) string {
	var ret, v string
	for i := 1; len(ret) < 2*n; i++ {
		sum := md5.Sum([]byte(v + key + strings.ToLower(seed) + strconv.Itoa(i)))
		v = hex.EncodeToString(sum[:])
		ret += v
	}
	return ret[:2*n]
}

// Require returns an error for the first of the dotted keys that is unset.
// Known keys: clat_range, plat_range, prefix4, next_node.ip4, node_prefix6,
// node_client_prefix6 (set, or derived from domain_seed).
func (c *Config) Require(pkg string, keys ...string) error {
	for _, k := range keys {
		set := false
		why := "required by " + pkg
		switch k {
		case "clat_range":
			set = c.CLATRange.IsValid()
		case "plat_range":
			set = c.PLATRange.IsValid()
		case "prefix4":
			set = c.Prefix4.IsValid()
		case "next_node.ip4":
			set = c.NextNodeIP4.IsValid()
		case "node_prefix6":
			set = c.NodePrefix6.IsValid()
		case "node_client_prefix6":
			set = c.NodeClientPrefix6.IsValid()
			why += "; or set domain_seed"
		default:
			panic("site.Require: unknown key " + k)
		}
		if !set {
			return c.Missing(k, why)
		}
	}
	return nil
}

// CLATPrefix is the node's own CLAT /96 (clat_range + primary MAC).
func (c *Config) CLATPrefix() (netip.Prefix, error) {
	if err := c.Require("the CLAT", "clat_range"); err != nil {
		return netip.Prefix{}, err
	}
	return addrmap.NodePrefix96(c.CLATRange, c.PrimaryMAC)
}

// PLATPrefix is the node's own PLAT /96 (plat_range + primary MAC).
func (c *Config) PLATPrefix() (netip.Prefix, error) {
	if err := c.Require("the PLAT", "plat_range"); err != nil {
		return netip.Prefix{}, err
	}
	return addrmap.NodePrefix96(c.PLATRange, c.PrimaryMAC)
}

// NodeAddress is the node's loopback address (mac_to_ip of node_prefix6).
func (c *Config) NodeAddress() (netip.Addr, error) {
	if err := c.Require("the node address", "node_prefix6"); err != nil {
		return netip.Addr{}, err
	}
	return addrmap.NodeAddress(c.NodePrefix6, c.PrimaryMAC)
}
