package translator

import "sync/atomic"

// RFC 6052 §3.1: the Well-Known Prefix 64:ff9b::/96 must not embed non-global IPv4
// addresses, and translators must drop packets with such an address. Config.StrictWKP
// enforces it (off by default, like nat46 and Jool; TAYGA's wkpf-strict).

// wkp is 64:ff9b::/96.
var wkp = [12]byte{0x00, 0x64, 0xff, 0x9b}

// styleWKPStrict is the compiled style of an RFC6052 side with the Well-Known Prefix under
// StrictWKP: it does not cover non-global IPv4 addresses (a style of its own, so that other
// RFC6052 sides pay nothing for the check).
const styleWKPStrict Style = 255

// strictWKP turns an RFC6052 side with the Well-Known Prefix into a strict one.
func (c *cside) strictWKP() {
	if c.style == StyleRFC6052 && c.active && c.v6len == 96 && [12]byte(c.v6[:12]) == wkp {
		c.style = styleWKPStrict
	}
}

// global4 reports whether the IPv4 address a[:4] is global in the sense of RFC 6052 §3.1:
// not in a block of the IANA IPv4 Special-Purpose Address Registry (RFC 6890) that is not
// globally reachable, nor multicast (listed in RFC 5735 §3). Not global: 0/8, 10/8,
// 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24 (but 192.0.0.9 and .10 are),
// 192.0.2/24, 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24, 224/4, 240/4.
func global4(a []byte) bool {
	switch a[0] {
	case 0, 10, 127:
		return false
	case 100:
		return a[1]&0xc0 != 64
	case 169:
		return a[1] != 254
	case 172:
		return a[1]&0xf0 != 16
	case 192:
		switch {
		case a[1] == 168:
			return false
		case a[1] == 0 && a[2] == 0:
			return a[3] == 9 || a[3] == 10
		case a[1] == 0 && a[2] == 2:
			return false
		}
		return true
	case 198:
		return a[1]&0xfe != 18 && !(a[1] == 51 && a[2] == 100)
	case 203:
		return !(a[1] == 0 && a[2] == 113)
	}
	return a[0] < 224
}

// wkpRefused tells which of the addresses src/dst (IPv4 when 4 bytes long, IPv6 when 16;
// v6: of an IPv6 packet) a strict Well-Known-Prefix side in the role mapAddrs would map
// them with refused: srcWKP, dstWKP; 0 when StrictWKP is off.
func (t *Translator) wkpRefused(src, dst []byte, v6, swap bool) mapResult {
	if !t.cfg.StrictWKP {
		return 0
	}
	var r mapResult
	for i := range t.pairs {
		ss, ds := &t.pairs[i].local, &t.pairs[i].remote // roles for IPv4 -> IPv6
		if v6 != swap {
			ss, ds = ds, ss
		}
		if ss.style == styleWKPStrict && wkpNonGlobal(src) {
			r |= srcWKP
		}
		if ds.style == styleWKPStrict && wkpNonGlobal(dst) {
			r |= dstWKP
		}
	}
	return r
}

// wkpNonGlobal reports an IPv4 address (4 bytes) that is not global, or an IPv6 address (16
// bytes) of 64:ff9b::/96 that embeds one.
func wkpNonGlobal(a []byte) bool {
	if len(a) == 16 {
		return [12]byte(a[:12]) == wkp && !global4(a[12:16])
	}
	return !global4(a)
}

// noMapping is the counter for a packet whose addresses map gave r (not bothOK).
func (t *Translator) noMapping(r mapResult) *atomic.Uint64 {
	if r&(srcWKP|dstWKP) != 0 {
		return &t.c.dropWKP
	}
	return &t.c.dropNoMapping
}
