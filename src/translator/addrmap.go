package translator

import "encoding/binary"

// cside is a Side compiled for the fast path.
type cside struct {
	style  Style
	active bool     // NONE side with usable prefixes
	v4     uint32   // masked IPv4 prefix
	v4mask uint32   // network mask
	v4len  int      //
	v6     [16]byte // masked IPv6 prefix
	v6hi   uint64   // v6 as two words
	v6lo   uint64
	m6hi   uint64 // IPv6 mask
	m6lo   uint64
	v6len  int
}

type cpair struct {
	local, remote cside
	groupEnd      bool // both styles non-NONE: closes a group (nat46 is_last_pair_in_group)
}

func compilePair(p Pair) cpair {
	return cpair{
		local:    compileSide(p.Local),
		remote:   compileSide(p.Remote),
		groupEnd: p.Local.Style != StyleNone && p.Remote.Style != StyleNone,
	}
}

func mask128(bits int) (hi, lo uint64) {
	switch {
	case bits <= 0:
		return 0, 0
	case bits < 64:
		return ^uint64(0) << (64 - bits), 0
	case bits == 64:
		return ^uint64(0), 0
	case bits < 128:
		return ^uint64(0), ^uint64(0) << (128 - bits)
	}
	return ^uint64(0), ^uint64(0)
}

func compileSide(s Side) cside {
	c := cside{style: s.Style}
	if s.V6.IsValid() {
		c.v6len = s.V6.Bits()
		c.m6hi, c.m6lo = mask128(c.v6len)
		a := s.V6.Addr().As16()
		c.v6hi = binary.BigEndian.Uint64(a[:8]) & c.m6hi
		c.v6lo = binary.BigEndian.Uint64(a[8:]) & c.m6lo
		binary.BigEndian.PutUint64(c.v6[:8], c.v6hi)
		binary.BigEndian.PutUint64(c.v6[8:], c.v6lo)
	}
	if s.V4.IsValid() {
		c.v4len = s.V4.Bits()
		if c.v4len > 0 {
			c.v4mask = ^uint32(0) << (32 - c.v4len)
		}
		a := s.V4.Addr().As4()
		c.v4 = binary.BigEndian.Uint32(a[:]) & c.v4mask
	}
	switch s.Style {
	case StyleNone:
		// nat46's all-zero pair (0.0.0.0/0, ::/0) must match nothing.
		c.active = s.V4.IsValid() && s.V6.IsValid() && !(c.v4len == 0 && c.v6len == 0) &&
			32-c.v4len <= 128-c.v6len
	case StyleRFC6052:
		c.active = s.V6.IsValid() && c.v6len >= 32 && c.v6len <= 96 && c.v6len%8 == 0
	}
	return c
}

// to6 maps the IPv4 address a into out. It reports whether this side covers a.
func (c *cside) to6(a []byte, out []byte) bool {
	if !c.active {
		return false
	}
	switch c.style {
	case StyleRFC6052:
		copy(out[:16], c.v6[:])
		p := c.v6len / 8
		for i := 0; i < 4; i++ {
			if p == 8 && c.v6len != 96 {
				p++
			}
			out[p] = a[i]
			p++
		}
		return true
	case styleWKPStrict: // 64:ff9b::/96, RFC 6052 §3.1
		if !global4(a) {
			return false
		}
		copy(out[:12], c.v6[:12])
		copy(out[12:16], a[:4])
		return true
	default:
		v := binary.BigEndian.Uint32(a[:4])
		if v&c.v4mask != c.v4 {
			return false
		}
		host := uint64(v &^ c.v4mask)
		hb := 32 - c.v4len // host bits, inserted at bit position v6len
		hi, lo := c.v6hi, c.v6lo
		if hb > 0 {
			shift := 128 - c.v6len - hb // position of the lowest host bit from the LSB
			if shift >= 64 {
				hi |= host << (shift - 64)
			} else {
				lo |= host << shift // bits shifted out of lo spill into hi
				if shift > 0 {
					hi |= host >> (64 - shift)
				}
			}
		}
		binary.BigEndian.PutUint64(out[:8], hi)
		binary.BigEndian.PutUint64(out[8:16], lo)
		return true
	}
}

// to4 maps the IPv6 address a into out. It reports whether this side covers a.
func (c *cside) to4(a []byte, out []byte) bool {
	if !c.active {
		return false
	}
	hi := binary.BigEndian.Uint64(a[:8])
	lo := binary.BigEndian.Uint64(a[8:16])
	if hi&c.m6hi != c.v6hi || lo&c.m6lo != c.v6lo {
		return false
	}
	switch c.style {
	case StyleRFC6052:
		p := c.v6len / 8
		for i := 0; i < 4; i++ {
			if p == 8 && c.v6len != 96 {
				p++
			}
			out[i] = a[p]
			p++
		}
		return true
	case styleWKPStrict:
		copy(out[:4], a[12:16])
		return global4(out)
	default:
		hb := 32 - c.v4len
		var host uint64
		if hb > 0 {
			shift := 128 - c.v6len - hb
			if shift >= 64 {
				host = hi >> (shift - 64)
			} else {
				host = lo >> shift
				if shift > 0 {
					host |= hi << (64 - shift)
				}
			}
			host &= (uint64(1) << hb) - 1
		}
		binary.BigEndian.PutUint32(out[:4], c.v4|uint32(host))
		return true
	}
}

// mapResult tells which of the two addresses were translated.
type mapResult uint8

const (
	srcOK mapResult = 1 << iota
	dstOK
	srcWKP // refused by a strict Well-Known-Prefix side (see wkp.go)
	dstWKP
	bothOK = srcOK | dstOK
)

// mapAddrs maps the source and destination of a packet with nat46's pair scanning: IPv4
// (v6 false: src/dst 4 bytes, srcOut/dstOut 16) or IPv6 (16 bytes into 4). Outer IPv4
// packets map src with local and dst with remote, outer IPv6 packets the other way round;
// the inner packets of ICMP errors (swap) travelled the other way, so the roles swap.
func (t *Translator) mapAddrs(src, dst, srcOut, dstOut []byte, v6, swap bool) mapResult {
	var got, ever mapResult
	var tmp [16]byte
	for i := range t.pairs {
		p := &t.pairs[i]
		ss, ds := &p.local, &p.remote
		if v6 != swap {
			ss, ds = ds, ss
		}
		// (to4 / to6 called directly: a helper choosing between them is not inlined)
		if v6 {
			if got&srcOK == 0 && ss.to4(src, srcOut) {
				got |= srcOK
			}
			if got&dstOK == 0 && ds.to4(dst, dstOut) {
				got |= dstOK
			}
		} else {
			if got&srcOK == 0 && ss.to6(src, srcOut) {
				got |= srcOK
			}
			if got&dstOK == 0 && ds.to6(dst, dstOut) {
				got |= dstOK
			}
		}
		if got == bothOK {
			return bothOK
		}
		if ever&dstOK == 0 && got&dstOK != 0 {
			ever |= dstOK
			copy(tmp[:], dstOut)
		}
		if p.groupEnd {
			got = 0
		}
	}
	// partial result: report the first destination match (needed for RFC 6791 handling)
	if ever&dstOK != 0 {
		copy(dstOut, tmp[:])
		return dstOK | t.wkpRefused(src, dst, v6, swap)
	}
	return t.wkpRefused(src, dst, v6, swap)
}
