package translator

// ext6 is the result of walking an IPv6 extension header chain.
type ext6 struct {
	nh      uint8 // transport protocol (after skipping HBH, DestOpts, Routing SL=0, Fragment)
	l4      int   // offset of the transport header
	frag    bool  // a Fragment header is present
	fragOff int
	mf      bool
	id      uint32
}

type walkErr uint8

const (
	walkOK        walkErr = iota
	walkMalformed         // truncated / inconsistent
	walkSegLeft           // Routing header with Segments Left != 0 (pointer in ptr)
	walkAfterFrag         // extension header after the Fragment header
)

// walk6 skips the extension headers of the IPv6 packet b. With truncated=true (inner
// packets of ICMP errors) a chain running past the end of b is not an error as long as the
// transport header offset is inside it.
func walk6(b []byte, truncated bool) (e ext6, err walkErr, ptr int) {
	nh := b[6]
	p := 40
	for i := 0; i < 8; i++ {
		switch nh {
		case nhHopByHop, nhDestOpts, nhRouting:
			if e.frag {
				return e, walkAfterFrag, 0
			}
			if p+8 > len(b) {
				return e, walkMalformed, 0
			}
			if nh == nhRouting && b[p+3] != 0 {
				return e, walkSegLeft, p + 3
			}
			nh = b[p]
			p += (int(b[p+1]) + 1) * 8
		case nhFragment:
			if e.frag || p+8 > len(b) {
				return e, walkMalformed, 0
			}
			e.frag = true
			v := be.Uint16(b[p+2:])
			e.fragOff = int(v &^ 7)
			e.mf = v&1 != 0
			e.id = be.Uint32(b[p+4:])
			nh = b[p]
			p += 8
			if nh == nhAH {
				return e, walkAfterFrag, 0
			}
		default:
			if p > len(b) {
				return e, walkMalformed, 0
			}
			e.nh, e.l4 = nh, p
			return e, walkOK, 0
		}
	}
	return e, walkMalformed, 0
}

// illegal6 reports IPv6 sources that must not be translated: ::, ::1 and multicast.
func illegal6(a []byte) bool {
	if a[0] == 0xff {
		return true
	}
	for i := 0; i < 15; i++ {
		if a[i] != 0 {
			return false
		}
	}
	return a[15] <= 1
}

func proto6to4(p uint8) uint8 {
	if p == protoICMPv6 {
		return protoICMP
	}
	return p
}

func (t *Translator) nextID() uint16 { return uint16(t.ipID.Add(1)) }

// writeIPv4Header writes a 20-byte IPv4 header with its checksum into h.
func writeIPv4Header(h []byte, tos uint8, tot int, id uint16, flagsOff uint16, ttl, proto uint8, src, dst []byte) {
	h[0] = 0x45
	h[1] = tos
	be.PutUint16(h[2:], uint16(tot))
	be.PutUint16(h[4:], id)
	be.PutUint16(h[6:], flagsOff)
	h[8] = ttl
	h[9] = proto
	copy(h[12:16], src[:4])
	copy(h[16:20], dst[:4])
	ipv4HeaderCsum(h[:20])
}

func (t *Translator) translate64(buf []byte, off, n int, meta Meta, sink Sink) (int, int, Verdict) {
	b := buf[off : off+n]
	if n < 40 {
		return t.drop(&t.c.dropMalformed)
	}
	plen := int(be.Uint16(b[4:]))
	if plen == 0 && b[6] == nhHopByHop || 40+plen > n { // (jumbograms are not supported)
		return t.drop(&t.c.dropMalformed)
	}
	b = b[:40+plen]
	e, werr, ptr := walk6(b, false)
	switch werr {
	case walkMalformed:
		return t.drop(&t.c.dropMalformed)
	case walkSegLeft:
		return t.genErr6(b, 4, 0, uint32(ptr), sink, &t.c.dropSourceRoute)
	case walkAfterFrag:
		return t.genErr6(b, 1, 1, 0, sink, &t.c.dropUnsupported)
	}
	proto := e.nh
	l4 := b[e.l4:]
	l4len := len(l4)
	first := e.fragOff == 0
	if illegal6(b[8:24]) {
		return t.drop(&t.c.dropIllegalSrc)
	}
	switch class, c := t.classify(true, proto, e.fragOff != 0 || e.mf, l4); class {
	case l4Refuse:
		return t.drop(c)
	case l4Error:
		return t.icmpErr64(b, e, sink)
	}
	var s4, d4 [4]byte
	if r := t.map64(b[8:24], b[24:40], s4[:], d4[:], false); r != bothOK {
		return t.drop(t.noMapping(r))
	}
	hop := b[7]
	if t.cfg.RouterMode {
		if hop <= 1 {
			return t.genErr6(b, 3, 0, 0, sink, &t.c.dropTTL)
		}
		hop--
	}
	partial := meta.CsumPartial
	if first {
		switch proto {
		case protoTCP:
			if l4len < 20 {
				return t.drop(&t.c.dropMalformed)
			}
		case protoUDP:
			if l4len < 8 {
				return t.drop(&t.c.dropMalformed)
			}
			// RFC 8200 §8.1: IPv6 receivers discard UDP with checksum 0. Computing one would
			// make an unprotected datagram look protected; see docs/translator.md.
			if l4[6] == 0 && l4[7] == 0 && !partial {
				return t.drop(&t.c.dropUDPZero)
			}
		}
	}
	tot := 20 + l4len
	if tot > 65535 {
		return t.drop(&t.c.dropTooBig)
	}
	df := !e.frag && tot > 1260
	needFrag := false
	if meta.GSOSize > 0 {
		if proto != protoTCP && proto != protoUDP || e.frag {
			return t.drop(&t.c.dropMalformed)
		}
		if 20+l4HeaderLen(proto, l4)+meta.GSOSize > t.cfg.MTU4 {
			return t.genErr6(b, 2, 0, t.ptb6(), sink, &t.c.dropTooBig)
		}
		df = true
	} else if tot > t.cfg.MTU4 {
		if df || e.frag { // Jool: an IPv6 fragment too big for the IPv4 next hop gets a PTB too
			return t.genErr6(b, 2, 0, t.ptb6(), sink, &t.c.dropTooBig)
		}
		needFrag = true
	}

	if first {
		switch proto {
		case protoTCP, protoUDP:
			d := delta(sum16(s4[:], sum16(d4[:], 0)), sum16(b[8:40], 0))
			if proto == protoTCP {
				adjustCsum(l4[16:], d, partial, false)
			} else {
				adjustCsum(l4[6:], d, partial, true)
			}
		case protoICMPv6:
			ps := pseudo6(b[8:24], b[24:40], l4len, protoICMPv6)
			oldw := uint64(l4[0])<<8 | uint64(l4[1])
			if l4[0] == 128 {
				l4[0] = 8
			} else {
				l4[0] = 0
			}
			var d uint64
			if partial {
				d = uint64(^fold(ps))
			} else {
				d = delta(uint64(l4[0])<<8|uint64(l4[1]), ps+oldw)
			}
			adjustCsum(l4[2:], d, partial, false)
		}
	}
	tos := (b[0]&0x0f)<<4 | b[1]>>4
	p4 := proto6to4(proto)
	var id, flags uint16
	if e.frag {
		id = uint16(e.id)
		flags = uint16(e.fragOff >> 3)
		if e.mf {
			flags |= 0x2000
		}
	} else {
		id = t.nextID()
		if df {
			flags = 0x4000
		}
	}
	if needFrag {
		return t.fragment64(l4, tos, id, e.fragOff, e.mf, hop, p4, s4[:], d4[:], sink)
	}
	start := off + e.l4 - 20
	writeIPv4Header(buf[start:start+20], tos, tot, id, flags, hop, p4, s4[:], d4[:])
	t.c.translated64.Add(1)
	return start, tot, Forward
}

// ptb6 is the MTU announced in a translator-generated PTB (Jool: max(1280, nexthop4+20)).
func (t *Translator) ptb6() uint32 {
	m := t.cfg.MTU4 + 20
	if m < 1280 {
		m = 1280
	}
	return uint32(m)
}

// fragment64 splits a translated payload into IPv4 fragments of at most MTU4 bytes.
func (t *Translator) fragment64(pay []byte, tos uint8, id uint16, fragOff int, mf bool, ttl, proto uint8, s4, d4 []byte, sink Sink) (int, int, Verdict) {
	chunk := (t.cfg.MTU4 - 20) &^ 7
	sp := t.scratch.Get().(*[]byte)
	out := *sp
	for o := 0; o < len(pay); o += chunk {
		l := len(pay) - o
		more := mf
		if l > chunk {
			l = chunk
			more = true
		}
		fl := uint16((fragOff + o) >> 3)
		if more {
			fl |= 0x2000
		}
		writeIPv4Header(out, tos, 20+l, id, fl, ttl, proto, s4, d4)
		copy(out[20:], pay[o:o+l])
		sink.Emit(out[:20+l])
		t.c.translated64.Add(1)
	}
	t.scratch.Put(sp)
	t.c.fragmented.Add(1)
	return 0, 0, Emitted
}

// icmpErr64 translates an ICMPv6 error and its embedded packet into an ICMPv4 error.
func (t *Translator) icmpErr64(b []byte, e ext6, sink Sink) (int, int, Verdict) {
	icmp := b[e.l4:]
	if fold(sum16(icmp, pseudo6(b[8:24], b[24:40], len(icmp), protoICMPv6))) != 0xffff {
		return t.drop(&t.c.dropBadICMPCsum)
	}
	typ, code := icmp[0], icmp[1]
	t4, c4, isPtr, isMTU, ok := icmpErrMap6to4(typ, code)
	if !ok {
		return t.drop(&t.c.dropUnsupported)
	}
	var rest uint32
	if isPtr {
		p4, ok := ptrMap6to4(be.Uint32(icmp[4:]))
		if !ok {
			return t.drop(&t.c.dropUnsupported)
		}
		rest = uint32(p4) << 24
	}
	if isMTU {
		rest = uint32(t.fragNeededMTU(be.Uint32(icmp[4:])))
	}
	inner := icmp[8:]
	var ext []byte
	if typ == 1 || typ == 3 {
		if l := int(icmp[4]) * 8; l != 0 && l <= len(inner) {
			ext = inner[l:]
			inner = inner[:l]
		}
	}
	if len(inner) < 40 || inner[0]>>4 != 6 {
		return t.drop(&t.c.dropMalformed)
	}
	if il := 40 + int(be.Uint16(inner[4:])); il < len(inner) {
		inner = inner[:il] // drop RFC 4884 padding / trailing bytes
	}
	ie, werr, _ := walk6(inner, true)
	if werr != walkOK {
		return t.drop(&t.c.dropMalformed)
	}
	ipay := inner[ie.l4:]
	switch class, c := t.classify(true, ie.nh, ie.fragOff != 0 || ie.mf, ipay); class {
	case l4Refuse:
		return t.drop(c)
	case l4Error: // an error about an error
		return t.drop(&t.c.dropUnsupported)
	}
	var is4, id4, s4, d4 [4]byte
	if r := t.map64(inner[8:24], inner[24:40], is4[:], id4[:], true); r != bothOK {
		return t.drop(t.noMapping(r))
	}
	r := t.map64(b[8:24], b[24:40], s4[:], d4[:], false)
	if r&dstOK == 0 {
		return t.drop(t.noMapping(r))
	}
	if r&srcWKP != 0 { // RFC 6052 §3.1: drop, not RFC 6791
		return t.drop(&t.c.dropWKP)
	}
	if r&srcOK == 0 {
		if t.cfg.RFC6791.IsValid() {
			s4 = t.cfg.RFC6791.As4()
		} else if t.cfg.Self4.IsValid() {
			s4 = t.cfg.Self4.As4()
		} else {
			s4 = d4 // nat46: "putting in a bogus address helps"
		}
	}
	hop := b[7]
	if t.cfg.RouterMode {
		if hop <= 1 {
			return t.drop(&t.c.dropTTL)
		}
		hop--
	}

	sp := t.scratch.Get().(*[]byte)
	defer t.scratch.Put(sp)
	out := *sp
	out[20], out[21], out[22], out[23] = t4, c4, 0, 0
	be.PutUint32(out[24:], rest)
	// inner IPv4 header
	iplen := int(be.Uint16(inner[4:]))
	itot := 20 + iplen - (ie.l4 - 40)
	if itot < 20 {
		itot = 20
	}
	var iid, ifl uint16
	if ie.frag {
		iid = uint16(ie.id)
		ifl = uint16(ie.fragOff >> 3)
		if ie.mf {
			ifl |= 0x2000
		}
	} else if itot > 1260 {
		ifl = 0x4000
	}
	itos := (inner[0]&0x0f)<<4 | inner[1]>>4
	writeIPv4Header(out[28:], itos, itot, iid, ifl, inner[7], proto6to4(ie.nh), is4[:], id4[:])
	p := 48
	q := out[p : p+len(ipay)]
	copy(q, ipay)
	p += len(ipay)
	if ie.fragOff == 0 {
		innerCsum64(q, ie.nh, inner[8:40], is4[:], id4[:], iplen-(ie.l4-40))
	}
	lenAt := -1
	if t4 == 3 || t4 == 11 || t4 == 12 {
		lenAt = 25
	}
	p = layoutICMPErr(out, 28, p-28, ext, 576, 4, lenAt)
	be.PutUint16(out[22:], ^fold(sum16(out[20:p], 0)))
	oid, ofl := t.nextID(), uint16(0)
	if e.frag { // atomic fragment (fragmented ICMP was refused above)
		oid = uint16(e.id)
	}
	writeIPv4Header(out, (b[0]&0x0f)<<4|b[1]>>4, p, oid, ofl, hop, protoICMP, s4[:], d4[:])
	sink.Emit(out[:p])
	t.c.translated64.Add(1)
	t.c.icmpErr64.Add(1)
	return 0, 0, Emitted
}

// innerCsum64 adjusts the transport checksum of an inner packet's payload q after its
// addresses changed from a6 (src,dst; 32 bytes) to s4/d4.
func innerCsum64(q []byte, proto uint8, a6, s4, d4 []byte, l4len int) {
	switch proto {
	case protoTCP:
		if len(q) >= 18 {
			adjustCsum(q[16:], delta(sum16(s4, sum16(d4, 0)), sum16(a6, 0)), false, false)
		}
	case protoUDP: // a quoted zero stays zero: "no checksum" in IPv4, not a wrong one
		if len(q) >= 8 && (q[6] != 0 || q[7] != 0) {
			adjustCsum(q[6:], delta(sum16(s4, sum16(d4, 0)), sum16(a6, 0)), false, true)
		}
	case protoICMPv6:
		if len(q) >= 4 {
			ps := pseudo6(a6[:16], a6[16:32], l4len, protoICMPv6)
			oldw := uint64(q[0])<<8 | uint64(q[1])
			if q[0] == 128 {
				q[0] = 8
			} else {
				q[0] = 0
			}
			adjustCsum(q[2:], delta(uint64(q[0])<<8|uint64(q[1]), ps+oldw), false, false)
		}
	}
}
