package translator

import "github.com/gluon-464xlat/gluon-464xlat/header"

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

func proto4to6(p uint8) uint8 {
	if p == header.ProtoICMP {
		return header.ProtoICMPv6
	}
	return p
}

func (t *Translator) translate46(buf []byte, off, n int, meta Meta, sink Sink) (int, int, Verdict) {
	if n < header.IPv4MinSize {
		return t.drop(&t.c.dropMalformed)
	}
	b := header.IPv4(buf[off : off+n])
	ihl, tot := b.HeaderLen(), b.TotalLen()
	if ihl < header.IPv4MinSize || tot < ihl || tot > n {
		return t.drop(&t.c.dropMalformed)
	}
	b = b[:tot]
	proto := b.Protocol()
	df, mf, fragOff := b.DF(), b.MF(), b.FragOffset()
	isFrag := mf || fragOff != 0
	first := fragOff == 0
	l4 := []byte(b[ihl:])
	plen := tot - ihl
	class := classify(false, proto, isFrag, l4)
	if class >= l4Unsupported {
		return t.drop(t.refused(class))
	}
	if ihl > header.IPv4MinSize && sourceRouted(b.Options()) {
		return t.genErr4(b, 3, 5, 0, sink, &t.c.dropSourceRoute)
	}
	if class == l4Error {
		return t.icmpErr46(b, ihl, sink)
	}
	if illegal4(b.Src()[0]) {
		return t.drop(&t.c.dropIllegalSrc)
	}
	var s6, d6 [16]byte
	if r := t.mapAddrs(b.Src(), b.Dst(), s6[:], d6[:], false, false); r != bothOK {
		return t.drop(t.noMapping(r))
	}
	ttl, expired := t.nextTTL(b.TTL())
	if expired {
		return t.genErr4(b, 11, 0, 0, sink, &t.c.dropTTL)
	}
	partial := meta.CsumPartial
	zeroUDP := false
	if first {
		if transportShort(proto, l4) {
			return t.drop(&t.c.dropMalformed)
		}
		if proto == header.ProtoUDP && header.UDP(l4).Checksum() == 0 && !partial {
			if isFrag || t.cfg.DropUDPZeroChecksum {
				return t.genErr4(b, 3, 13, 0, sink, &t.c.dropUDPZero)
			}
			zeroUDP = true
		}
	}
	hdr6 := header.IPv6HeaderSize
	if isFrag {
		hdr6 += header.IPv6FragmentSize
	}
	needFrag := false
	if meta.GSOSize > 0 {
		if proto != header.ProtoTCP && proto != header.ProtoUDP || isFrag {
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

	if first {
		// the pseudo-header changes from the IPv4 to the IPv6 addresses
		fixTransport(l4, proto, b.Addrs(), s6[:], d6[:], plen, partial)
		if zeroUDP {
			u := header.UDP(l4)
			c := header.Checksum(l4, header.PseudoSum6(s6[:], d6[:], plen, header.ProtoUDP))
			if c == 0 {
				c = 0xffff
			}
			u.SetChecksum(c)
		}
	}

	tos := b.TOS()
	id := uint32(b.ID())
	nh := proto4to6(proto)
	if needFrag {
		return t.fragment46(l4, tos, nh, ttl, s6[:], d6[:], fragOff, mf, id, sink)
	}
	start := off + ihl - hdr6
	if start < 0 {
		return t.drop(&t.c.dropMalformed)
	}
	h := header.IPv6(buf[start : start+hdr6])
	if isFrag {
		h.Encode(tos, plen+header.IPv6FragmentSize, header.ProtoFragment, ttl, s6[:], d6[:])
		header.IPv6Fragment(h[header.IPv6HeaderSize:]).Encode(nh, fragOff, mf, id)
	} else {
		h.Encode(tos, plen, nh, ttl, s6[:], d6[:])
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
	const hdrs = header.IPv6HeaderSize + header.IPv6FragmentSize
	return t.fragment(pay, (mtu-hdrs)&^7, hdrs, fragOff, mf, sink, &t.c.translated46, func(out []byte, off, l int, more bool) {
		header.IPv6(out).Encode(tos, header.IPv6FragmentSize+l, header.ProtoFragment, ttl, s6, d6)
		header.IPv6Fragment(out[header.IPv6HeaderSize:]).Encode(nh, off, more, id)
	})
}

// icmpErr46 translates an ICMPv4 error (outer IPv4 packet b, header length ihl) and its
// embedded packet into an ICMPv6 error emitted through sink.
func (t *Translator) icmpErr46(b header.IPv4, ihl int, sink Sink) (int, int, Verdict) {
	icmp := header.ICMP(b[ihl:])
	if !header.Valid(icmp, 0) {
		return t.drop(&t.c.dropBadICMPCsum)
	}
	t6, c6, isPtr, isMTU, ok := icmpErrMap4to6(icmp.Type(), icmp.Code())
	if !ok {
		return t.drop(&t.c.dropUnsupported)
	}
	var rest uint32
	if icmp.Type() == 3 && icmp.Code() == 2 {
		rest = 6 // protocol unreachable -> parameter problem pointing at Next Header
	}
	if isPtr {
		p6, ok := ptrMap4to6(icmp.Pointer4())
		if !ok {
			return t.drop(&t.c.dropUnsupported)
		}
		rest = uint32(p6)
	}
	inner := icmp.Payload()
	var ext []byte
	if l := int(icmp[header.ICMP4LengthOffset]) * 4; l != 0 && l <= len(inner) {
		ext = inner[l:]
		inner = inner[:l]
	}
	if len(inner) < header.IPv4MinSize || header.Version(inner) != 4 {
		return t.drop(&t.c.dropMalformed)
	}
	in := header.IPv4(inner)
	iihl, itot := in.HeaderLen(), in.TotalLen()
	if iihl < header.IPv4MinSize || iihl > len(in) || itot < iihl {
		return t.drop(&t.c.dropMalformed)
	}
	if itot < len(in) {
		in = in[:itot] // drop RFC 4884 padding / trailing bytes
	}
	iproto := in.Protocol()
	ipay := []byte(in[iihl:])
	if c := t.refuseQuoted(false, iproto, in.IsFragment(), ipay); c != nil {
		return t.drop(c)
	}
	var is6, id6, s6, d6 [16]byte
	if r := t.mapAddrs(in.Src(), in.Dst(), is6[:], id6[:], false, true); r != bothOK {
		return t.drop(t.noMapping(r))
	}
	r := t.mapAddrs(b.Src(), b.Dst(), s6[:], d6[:], false, false)
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
	ttl, expired := t.nextTTL(b.TTL())
	if expired {
		return t.drop(&t.c.dropTTL)
	}
	if isMTU {
		rest = t.ptbMTU(icmp.MTU4(), itot)
	}

	sp := t.scratch.Get().(*[]byte)
	defer t.scratch.Put(sp)
	out := *sp
	const hdrs = header.IPv6HeaderSize + header.ICMPMinSize // outer IPv6 + ICMPv6 header
	icmp6 := header.ICMP(out[header.IPv6HeaderSize:hdrs])
	icmp6.SetTypeCode(t6, c6)
	icmp6.SetRest(rest)
	p := hdrs
	ih := header.IPv6(out[p:])
	if in.IsFragment() {
		ih.Encode(in.TOS(), itot-iihl+header.IPv6FragmentSize, header.ProtoFragment, in.TTL(), is6[:], id6[:])
		header.IPv6Fragment(ih[header.IPv6HeaderSize:]).Encode(proto4to6(iproto), in.FragOffset(), in.MF(), uint32(in.ID()))
		p += header.IPv6HeaderSize + header.IPv6FragmentSize
	} else {
		ih.Encode(in.TOS(), itot-iihl, proto4to6(iproto), in.TTL(), is6[:], id6[:])
		p += header.IPv6HeaderSize
	}
	q := out[p : p+len(ipay)]
	copy(q, ipay)
	p += len(ipay)
	if in.FragOffset() == 0 {
		fixTransport(q, iproto, in.Addrs(), is6[:], id6[:], itot-iihl, false)
	}
	lenAt := -1
	if t6 == 1 || t6 == 3 {
		lenAt = header.IPv6HeaderSize + header.ICMP6LengthOffset
	}
	p = layoutICMPErr(out, hdrs, p-hdrs, ext, 1280, 8, lenAt)
	header.IPv6(out).Encode(b.TOS(), p-header.IPv6HeaderSize, header.ProtoICMPv6, ttl, s6[:], d6[:])
	header.ICMP(out[header.IPv6HeaderSize:p]).SetChecksum(header.PseudoSum6(s6[:], d6[:], p-header.IPv6HeaderSize, header.ProtoICMPv6))
	sink.Emit(out[:p])
	t.c.translated46.Add(1)
	t.c.icmpErr46.Add(1)
	return 0, 0, Emitted
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
