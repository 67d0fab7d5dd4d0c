// Package addrmap derives the node's addresses and prefixes from the site
// config and the primary MAC, the way Gluon and the 2018 xlat464 packages
// do, and embeds IPv4 addresses in RFC 6052 /96 prefixes.
//
// All functions are pure and work on net/netip values.
package addrmap

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
)

// MAC is a 48-bit Ethernet address.
type MAC [6]byte

// ParseMAC parses "12:34:56:78:9a:bc" (also with '-' separators or none,
// any case, surrounding whitespace ignored).
func ParseMAC(s string) (MAC, error) {
	var m MAC
	t := strings.TrimSpace(s)
	t = strings.NewReplacer(":", "", "-", "").Replace(t)
	if len(t) != 12 {
		return m, fmt.Errorf("invalid MAC address %q", s)
	}
	b, err := hex.DecodeString(t)
	if err != nil {
		return m, fmt.Errorf("invalid MAC address %q", s)
	}
	copy(m[:], b)
	return m, nil
}

// String formats the MAC as lower-case colon-separated hex.
func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// CheckRange48 reports whether p is a valid IPv6 /48 range for NodePrefix96:
// an IPv6 (not IPv4-mapped) prefix of length 48 with no host bits set.
func CheckRange48(p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
		return fmt.Errorf("%q is not an IPv6 prefix", p.String())
	}
	if p.Bits() != 48 {
		return fmt.Errorf("%q is not a /48", p.String())
	}
	if p.Masked() != p {
		return fmt.Errorf("%q has host bits set (want %s)", p.String(), p.Masked())
	}
	return nil
}

// NodePrefix96 appends the MAC to a /48 range, giving the node's own /96
// (the seed's clat/plat prefix): fddd:1337:1337::/48 + 12:34:56:78:9a:bc ->
// fddd:1337:1337:1234:5678:9abc::/96.
func NodePrefix96(range48 netip.Prefix, mac MAC) (netip.Prefix, error) {
	if err := CheckRange48(range48); err != nil {
		return netip.Prefix{}, err
	}
	a := range48.Addr().As16()
	copy(a[6:12], mac[:])
	for i := 12; i < 16; i++ {
		a[i] = 0
	}
	return netip.PrefixFrom(netip.AddrFrom16(a), 96), nil
}

// EUI64 returns the address in the /64 of prefix whose interface identifier
// is the modified EUI-64 of mac (mac[0]^0x02, ff:fe inserted). This is how
// l3roamd derives a client's node-client-IP from the node-client prefix and
// how Gluon's iputil.mac_to_ip derives the node address from node_prefix6.
// Only the upper 64 bits of prefix are used; prefix longer than /64 is an error.
func EUI64(prefix netip.Prefix, mac MAC) (netip.Addr, error) {
	if !prefix.IsValid() || !prefix.Addr().Is6() || prefix.Addr().Is4In6() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv6 prefix", prefix.String())
	}
	if prefix.Bits() > 64 {
		return netip.Addr{}, fmt.Errorf("%q is longer than /64", prefix.String())
	}
	a := prefix.Addr().As16()
	a[8] = mac[0] ^ 0x02
	a[9] = mac[1]
	a[10] = mac[2]
	a[11] = 0xff
	a[12] = 0xfe
	a[13] = mac[3]
	a[14] = mac[4]
	a[15] = mac[5]
	return netip.AddrFrom16(a), nil
}

// NodeClientIP is l3roamd-xlat's node-client-IP for a client MAC: the
// node-client /64 plus the client's modified EUI-64 with the ff:fe in its
// middle replaced by nodeClientMarker (aa:bb:cc:dd:ee:ff ->
// <prefix>:a8bb:cc04:64dd:eeff).
//
// Gluon's l3roamd puts the plain EUI-64 (ff:fe) of the same MAC in the same
// /64 on lo (clientmgr.c mac2ipv6), and drops it, with its routes, the moment
// another node CLAIMs the client on its port 5523 — before l3roamd-xlat's
// own CLAIM on its port can reach it — while l3roamd-xlat drops it on its ACK
// or at lease end, when l3roamd may still serve the client. Sharing the
// address made each daemon cut the other's claims (seen in the lab with the
// real l3roamd: after a roam the old node still held the address), so the
// two daemons use disjoint addresses. Both lie in node_client_prefix6, which
// Gluon's babel configuration already redistributes as /128s.
func NodeClientIP(nodeClientPrefix netip.Prefix, clientMAC MAC) (netip.Addr, error) {
	a, err := EUI64(nodeClientPrefix, clientMAC)
	if err != nil {
		return netip.Addr{}, err
	}
	b := a.As16()
	b[11], b[12] = nodeClientMarker>>8, nodeClientMarker&0xff
	return netip.AddrFrom16(b), nil
}

// nodeClientMarker replaces the EUI-64's ff:fe in l3roamd-xlat's
// node-client-IPs ("464"); an EUI-64 always has ff:fe there, so no l3roamd
// node-client-IP can equal one of ours.
const nodeClientMarker = 0x0464

// NodeAddress is Gluon's node (loopback) address: mac_to_ip(node_prefix6,
// primary_mac), as 250-layer3-ip6 sets network.loopback.ip6addr.
func NodeAddress(nodePrefix6 netip.Prefix, primaryMAC MAC) (netip.Addr, error) {
	return EUI64(nodePrefix6, primaryMAC)
}

// Check96 reports whether p is an IPv6 (not IPv4-mapped) /96, the prefix
// length the project embeds IPv4 addresses with.
func Check96(p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() || p.Bits() != 96 {
		return fmt.Errorf("%q is not an IPv6 /96", p.String())
	}
	return nil
}

// Embed returns the IPv6 address of the IPv4 address v4 inside the /96 p
// (RFC 6052 §2.2, prefix length 96: the IPv4 address is the last 32 bits).
// It is the one place the project builds such an address. The caller has
// checked p (Check96, or a config check); host bits of p are ignored.
// v4 must be an IPv4 address.
func Embed(p netip.Prefix, v4 netip.Addr) netip.Addr {
	a := p.Masked().Addr().As16()
	b := v4.As4()
	copy(a[12:], b[:])
	return netip.AddrFrom16(a)
}

// Extract returns the IPv4 address embedded in v6 if v6 lies in the /96 p.
func Extract(p netip.Prefix, v6 netip.Addr) (netip.Addr, bool) {
	if Check96(p) != nil || !p.Contains(v6) {
		return netip.Addr{}, false
	}
	a := v6.As16()
	return netip.AddrFrom4([4]byte{a[12], a[13], a[14], a[15]}), true
}

// EmbedPrefix maps an IPv4 prefix into the /96 p: 10.0.0.0/8 in
// fddd::/96 -> fddd::a00:0/104. Used for the PLAT's drop rules.
func EmbedPrefix(p netip.Prefix, v4 netip.Prefix) (netip.Prefix, error) {
	if !v4.IsValid() || !v4.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 prefix", v4.String())
	}
	if err := Check96(p); err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(Embed(p, v4.Masked().Addr()), 96+v4.Bits()), nil
}
