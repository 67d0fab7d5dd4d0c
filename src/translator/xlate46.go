package translator

import "encoding/binary"

// scratchSize is the size of the pooled slow-path buffers.
const scratchSize = 65536 + 2*Headroom

var be = binary.BigEndian

// illegal4 reports IPv4 sources a translator should not translate: 0/8, 127/8, 224/4 and up.
func illegal4(first byte) bool { return first == 0 || first == 127 || first >= 224 }

// sourceRouted reports an unexpired LSRR/SSRR option in the IPv4 options opts.
func sourceRouted(opts []byte) bool {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0: // end of options
			return false
		case 1: // NOP
			i++
			continue
		}
		if i+1 >= len(opts) {
			return false
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return false
		}
		if (opts[i] == 131 || opts[i] == 137) && l >= 3 && int(opts[i+2]) <= l {
			return true
		}
		i += l
	}
	return false
}

// l4HeaderLen is the transport header length for GSO segment sizing.
func l4HeaderLen(proto uint8, l4 []byte) int {
	if proto == protoTCP && len(l4) >= 13 {
		return int(l4[12]>>4) * 4
	}
	return 8
}

// writeIPv6Header writes a fixed IPv6 header into h[:40].
func writeIPv6Header(h []byte, tc uint8, plen int, nh, hop uint8, src, dst []byte) {
	h[0] = 0x60 | tc>>4
	h[1] = tc << 4
	h[2], h[3] = 0, 0
	be.PutUint16(h[4:], uint16(plen))
	h[6] = nh
	h[7] = hop
	copy(h[8:24], src[:16])
	copy(h[24:40], dst[:16])
}

// writeFragHeader writes an IPv6 Fragment header into h[:8].
func writeFragHeader(h []byte, nh uint8, offset int, more bool, id uint32) {
	h[0] = nh
	h[1] = 0
	v := uint16(offset) &^ 7
	if more {
		v |= 1
	}
	be.PutUint16(h[2:], v)
	be.PutUint32(h[4:], id)
}

func proto4to6(p uint8) uint8 {
	if p == protoICMP {
		return protoICMPv6
	}
	return p
}

func (t *Translator) drop(c interface{ Add(uint64) uint64 }) (int, int, Verdict) {
	c.Add(1)
	return 0, 0, Drop
}

func (t *Translator) translate46(buf []byte, off, n int, meta Meta, sink Sink) (int, int, Verdict) {
	b := buf[off : off+n]
	if n < 20 {
		return t.drop(&t.c.dropMalformed)
	}
	ihl := int(b[0]&0x0f) * 4
	tot := int(be.Uint16(b[2:]))
	if ihl < 20 || tot < ihl || tot > n {
		return t.drop(&t.c.dropMalformed)
	}
	b = b[:tot]
	proto := b[9]
	fo := be.Uint16(b[6:])
	df := fo&0x4000 != 0
	mf := fo&0x2000 != 0
	fragOff := int(fo&0x1fff) * 8
	isFrag := mf || fragOff != 0
	first := fragOff == 0
	l4 := b[ihl:]
	plen := tot - ihl
	class, c := t.classify(false, proto, isFrag, l4)
	if class == l4Refuse {
		return t.drop(c)
	}
	if ihl > 20 && sourceRouted(b[20:ihl]) {
		return t.genErr4(b, 3, 5, 0, sink, &t.c.dropSourceRoute)
	}
	if class == l4Error {
		return t.icmpErr46(b, ihl, sink)
	}
	if illegal4(b[12]) {
		return t.drop(&t.c.dropIllegalSrc)
	}
	var s6, d6 [16]byte
	if r := t.map46(b[12:16], b[16:20], s6[:], d6[:], false); r != bothOK {
		return t.drop(t.noMapping(r))
	}
	ttl := b[8]
	if t.cfg.RouterMode {
		if ttl <= 1 {
			return t.genErr4(b, 11, 0, 0, sink, &t.c.dropTTL)
		}
		ttl--
	}
	partial := meta.CsumPartial
	zeroUDP := false
	switch proto {
	case protoTCP:
		if first && plen < 20 {
			return t.drop(&t.c.dropMalformed)
		}
	case protoUDP:
		if first {
			if plen < 8 {
				return t.drop(&t.c.dropMalformed)
			}
			if l4[6] == 0 && l4[7] == 0 && !partial {
				if isFrag || t.cfg.DropUDPZeroChecksum {
					return t.genErr4(b, 3, 13, 0, sink, &t.c.dropUDPZero)
				}
				zeroUDP = true
			}
		}
	}
	hdr6 := 40
	if isFrag {
		hdr6 = 48
	}
	needFrag := false
	if meta.GSOSize > 0 {
		if proto != protoTCP && proto != protoUDP || isFrag {
			return t.drop(&t.c.dropMalformed)
		}
		if hdr6+l4HeaderLen(proto, l4)+meta.GSOSize > t.cfg.MTU6 {
			if df {
				return t.genErr4(b, 3, 4, t.fragNeeded4(), sink, &t.c.dropTooBig)
			}
			return t.drop(&t.c.dropTooBig)
		}
	} else if hdr6+plen > t.cfg.MTU6 || !df && hdr6+plen > t.cfg.LowestIPv6MTU {
		if df && hdr6+plen > t.cfg.MTU6 { // also for DF fragments (Jool test ca)
			return t.genErr4(b, 3, 4, t.fragNeeded4(), sink, &t.c.dropTooBig)
		}
		needFrag = true
	}

	// Transport checksum: the pseudo-header changes from the IPv4 to the IPv6 addresses.
	if first {
		switch proto {
		case protoTCP, protoUDP:
			if !zeroUDP {
				d := delta(sum16(s6[:], sum16(d6[:], 0)), sum16(b[12:20], 0))
				if proto == protoTCP {
					adjustCsum(l4[16:], d, partial, false)
				} else {
					adjustCsum(l4[6:], d, partial, true)
				}
			}
		case protoICMP:
			oldw := uint64(l4[0])<<8 | uint64(l4[1])
			if l4[0] == 8 {
				l4[0] = 128
			} else {
				l4[0] = 129
			}
			d := pseudo6(s6[:], d6[:], plen, protoICMPv6)
			if !partial {
				d = uint64(fold(d + (uint64(l4[0])<<8 | uint64(l4[1]))))
				d += uint64(^fold(oldw))
			}
			adjustCsum(l4[2:], d, partial, false)
		}
	}
	if zeroUDP {
		l4[6], l4[7] = 0, 0
		c := ^fold(sum16(l4, pseudo6(s6[:], d6[:], plen, protoUDP)))
		if c == 0 {
			c = 0xffff
		}
		be.PutUint16(l4[6:], c)
	}

	tos := b[1]
	id := uint32(be.Uint16(b[4:]))
	nh := proto4to6(proto)
	if needFrag {
		return t.fragment46(l4, tos, nh, ttl, s6[:], d6[:], fragOff, mf, id, sink)
	}
	start := off + ihl - hdr6
	if start < 0 {
		return t.drop(&t.c.dropMalformed)
	}
	h := buf[start : start+hdr6]
	if isFrag {
		writeIPv6Header(h, tos, plen+8, nhFragment, ttl, s6[:], d6[:])
		writeFragHeader(h[40:], nh, fragOff, mf, id)
	} else {
		writeIPv6Header(h, tos, plen, nh, ttl, s6[:], d6[:])
	}
	t.c.translated46.Add(1)
	return start, hdr6 + plen, Forward
}

// fragNeeded4 is the MTU announced in a translator-generated Frag Needed (Jool: nexthop6-20, ≥576... RFC 7915 §4.1).
func (t *Translator) fragNeeded4() uint32 {
	m := t.cfg.MTU6 - 20
	if m < 576 {
		m = 576
	}
	return uint32(m)
}

// fragment46 splits an IPv4 payload (already checksum-adjusted) into IPv6 fragments.
func (t *Translator) fragment46(pay []byte, tos, nh, ttl uint8, s6, d6 []byte, fragOff int, mf bool, id uint32, sink Sink) (int, int, Verdict) {
	mtu := t.cfg.LowestIPv6MTU
	if t.cfg.MTU6 < mtu {
		mtu = t.cfg.MTU6
	}
	chunk := (mtu - 48) &^ 7
	sp := t.scratch.Get().(*[]byte)
	out := *sp
	for o := 0; o < len(pay); o += chunk {
		l := len(pay) - o
		more := mf
		if l > chunk {
			l = chunk
			more = true
		}
		writeIPv6Header(out, tos, 8+l, nhFragment, ttl, s6, d6)
		writeFragHeader(out[40:], nh, fragOff+o, more, id)
		copy(out[48:], pay[o:o+l])
		sink.Emit(out[:48+l])
		t.c.translated46.Add(1)
	}
	t.scratch.Put(sp)
	t.c.fragmented.Add(1)
	return 0, 0, Emitted
}

// icmpErr46 translates an ICMPv4 error (outer IPv4 packet b, header length ihl) and its
// embedded packet into an ICMPv6 error emitted through sink.
func (t *Translator) icmpErr46(b []byte, ihl int, sink Sink) (int, int, Verdict) {
	icmp := b[ihl:]
	if fold(sum16(icmp, 0)) != 0xffff {
		return t.drop(&t.c.dropBadICMPCsum)
	}
	typ, code := icmp[0], icmp[1]
	t6, c6, isPtr, isMTU, ok := icmpErrMap4to6(typ, code)
	if !ok {
		return t.drop(&t.c.dropUnsupported)
	}
	var rest uint32
	if typ == 3 && code == 2 {
		rest = 6
	}
	if isPtr {
		p6, ok := ptrMap4to6(icmp[4])
		if !ok {
			return t.drop(&t.c.dropUnsupported)
		}
		rest = uint32(p6)
	}
	inner := icmp[8:]
	var ext []byte
	if l := int(icmp[5]) * 4; l != 0 && l <= len(inner) {
		ext = inner[l:]
		inner = inner[:l]
	}
	if len(inner) < 20 || inner[0]>>4 != 4 {
		return t.drop(&t.c.dropMalformed)
	}
	iihl := int(inner[0]&0x0f) * 4
	itot := int(be.Uint16(inner[2:]))
	if iihl < 20 || iihl > len(inner) || itot < iihl {
		return t.drop(&t.c.dropMalformed)
	}
	if itot < len(inner) {
		inner = inner[:itot] // drop RFC 4884 padding / trailing bytes
	}
	iproto := inner[9]
	ifo := be.Uint16(inner[6:])
	imf := ifo&0x2000 != 0
	ifragOff := int(ifo&0x1fff) * 8
	ipay := inner[iihl:]
	switch class, c := t.classify(false, iproto, imf || ifragOff != 0, ipay); class {
	case l4Refuse:
		return t.drop(c)
	case l4Error: // an error about an error
		return t.drop(&t.c.dropUnsupported)
	}
	var is6, id6, s6, d6 [16]byte
	if r := t.map46(inner[12:16], inner[16:20], is6[:], id6[:], true); r != bothOK {
		return t.drop(t.noMapping(r))
	}
	r := t.map46(b[12:16], b[16:20], s6[:], d6[:], false)
	if r&dstOK == 0 {
		return t.drop(t.noMapping(r))
	}
	if r&srcOK == 0 {
		switch {
		case t.cfg.RFC6791v6.IsValid():
			s6 = t.cfg.RFC6791v6.As16()
		case t.cfg.Self6.IsValid():
			s6 = t.cfg.Self6.As16()
		default:
			return t.drop(&t.c.dropNoMapping)
		}
	}
	ttl := b[8]
	if t.cfg.RouterMode {
		if ttl <= 1 {
			return t.drop(&t.c.dropTTL)
		}
		ttl--
	}
	if isMTU {
		rest = t.ptbMTU(int(be.Uint16(icmp[6:])), itot)
	}

	sp := t.scratch.Get().(*[]byte)
	defer t.scratch.Put(sp)
	out := *sp
	out[40], out[41], out[42], out[43] = t6, c6, 0, 0
	be.PutUint32(out[44:], rest)
	p := 48
	ifrag := imf || ifragOff != 0
	inh := proto4to6(iproto)
	if ifrag {
		writeIPv6Header(out[p:], inner[1], itot-iihl+8, nhFragment, inner[8], is6[:], id6[:])
		writeFragHeader(out[p+40:], inh, ifragOff, imf, uint32(be.Uint16(inner[4:])))
		p += 48
	} else {
		writeIPv6Header(out[p:], inner[1], itot-iihl, inh, inner[8], is6[:], id6[:])
		p += 40
	}
	q := out[p : p+len(ipay)]
	copy(q, ipay)
	p += len(ipay)
	if ifragOff == 0 {
		t.innerCsum46(q, iproto, inner[12:20], is6[:], id6[:], itot-iihl)
	}
	lenAt := -1
	if t6 == 1 || t6 == 3 {
		lenAt = 44
	}
	p = layoutICMPErr(out, 48, p-48, ext, 1280, 8, lenAt)
	writeIPv6Header(out, b[1], p-40, protoICMPv6, ttl, s6[:], d6[:])
	be.PutUint16(out[42:], ^fold(sum16(out[40:p], pseudo6(s6[:], d6[:], p-40, protoICMPv6))))
	sink.Emit(out[:p])
	t.c.translated46.Add(1)
	t.c.icmpErr46.Add(1)
	return 0, 0, Emitted
}

// innerCsum46 adjusts the transport checksum of a (possibly truncated) inner packet's
// payload q after its addresses changed from a4 (src,dst) to s6/d6.
func (t *Translator) innerCsum46(q []byte, proto uint8, a4, s6, d6 []byte, l4len int) {
	switch proto {
	case protoTCP:
		if len(q) >= 18 {
			adjustCsum(q[16:], delta(sum16(s6, sum16(d6, 0)), sum16(a4, 0)), false, false)
		}
	case protoUDP:
		if len(q) >= 8 && (q[6] != 0 || q[7] != 0) {
			adjustCsum(q[6:], delta(sum16(s6, sum16(d6, 0)), sum16(a4, 0)), false, true)
		}
	case protoICMP:
		if len(q) >= 4 {
			oldw := uint64(q[0])<<8 | uint64(q[1])
			if q[0] == 8 {
				q[0] = 128
			} else {
				q[0] = 129
			}
			d := uint64(fold(pseudo6(s6, d6, l4len, protoICMPv6) + (uint64(q[0])<<8 | uint64(q[1]))))
			adjustCsum(q[2:], d+uint64(^fold(oldw)), false, false)
		}
	}
}

// layoutICMPErr finishes the body of a translated ICMP error in out: the translated inner
// packet is out[hdrs:hdrs+innerLen]; ext is an RFC 4884 extension structure (nil: none).
// Like Jool it keeps, in order of priority, the first 128 bytes of the inner packet, the
// whole extension (never cut: dropped if it does not fit), then as much of the inner packet
// as fits into limit bytes; the inner part is padded / cut to a multiple of unit (and at
// least 128 bytes) and its length stored in out[lenAt] (lenAt<0: the type has no length
// attribute, the extension is dropped). It returns the total length.
func layoutICMPErr(out []byte, hdrs, innerLen int, ext []byte, limit, unit, lenAt int) int {
	if ext != nil && lenAt >= 0 {
		part := innerLen &^ (unit - 1)
		if innerLen < 128 {
			part = 128
		}
		fits := true
		if hdrs+part+len(ext) > limit {
			if hdrs+128+len(ext) <= limit {
				part = (limit - hdrs - len(ext)) &^ (unit - 1)
			} else {
				fits = false
			}
		}
		if fits {
			for i := innerLen; i < part; i++ {
				out[hdrs+i] = 0
			}
			out[lenAt] = uint8(part / unit)
			copy(out[hdrs+part:], ext)
			return hdrs + part + len(ext)
		}
	}
	if lenAt >= 0 {
		out[lenAt] = 0
	}
	if hdrs+innerLen > limit {
		return limit
	}
	return hdrs + innerLen
}
