package translator

import "github.com/gluon-464xlat/gluon-464xlat/header"

// ext6 is the result of walking an IPv6 extension header chain.
type ext6 struct {
	nh      uint8 // transport protocol (after skipping HBH, DestOpts, Routing SL=0, Fragment)
	l4      int   // offset of the transport header
	frag    bool  // a Fragment header is present
	fragOff int
	mf      bool
	id      uint32
}

// ipv4Frag is the IPv4 ID and flags/fragment-offset word for a packet with a Fragment
// header (RFC 7915 §5.1.1: the low 16 bits of the ID, DF clear).
func (e *ext6) ipv4Frag() (id, flagsFrag uint16) {
	return uint16(e.id), header.IPv4FlagsFrag(e.fragOff, e.mf, false)
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
func walk6(b header.IPv6, truncated bool) (e ext6, err walkErr, ptr int) {
	nh := b.NextHeader()
	p := header.IPv6HeaderSize
	for i := 0; i < 8; i++ {
		switch nh {
		case header.ProtoHopByHop, header.ProtoDestOpts, header.ProtoRouting:
			if e.frag {
				return e, walkAfterFrag, 0
			}
			if p+header.IPv6ExtMinSize > len(b) {
				return e, walkMalformed, 0
			}
			x := header.IPv6Ext(b[p:])
			if nh == header.ProtoRouting && x.SegmentsLeft() != 0 {
				return e, walkSegLeft, p + header.RoutingSegLeftOffset
			}
			nh = x.NextHeader()
			p += x.Len()
		case header.ProtoFragment:
			if e.frag || p+header.IPv6FragmentSize > len(b) {
				return e, walkMalformed, 0
			}
			f := header.IPv6Fragment(b[p:])
			e.frag = true
			e.fragOff, e.mf, e.id = f.Offset(), f.More(), f.ID()
			nh = f.NextHeader()
			p += header.IPv6FragmentSize
			if nh == header.ProtoAH {
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
	if p == header.ProtoICMPv6 {
		return header.ProtoICMP
	}
	return p
}

func (t *Translator) nextID() uint16 { return uint16(t.ipID.Add(1)) }

func (t *Translator) translate64(buf []byte, off, n int, meta Meta, sink Sink) (int, int, Verdict) {
	if n < header.IPv6HeaderSize {
		return t.drop(&t.c.dropMalformed)
	}
	b := header.IPv6(buf[off : off+n])
	plen := b.PayloadLen()
	if plen == 0 && b.NextHeader() == header.ProtoHopByHop || header.IPv6HeaderSize+plen > n { // (jumbograms are not supported)
		return t.drop(&t.c.dropMalformed)
	}
	b = b[:header.IPv6HeaderSize+plen]
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
	l4 := []byte(b[e.l4:])
	l4len := len(l4)
	first := e.fragOff == 0
	if illegal6(b.Src()) {
		return t.drop(&t.c.dropIllegalSrc)
	}
	switch class := classify(true, proto, e.fragOff != 0 || e.mf, l4); {
	case class >= l4Unsupported:
		return t.drop(t.refused(class))
	case class == l4Error:
		return t.icmpErr64(b, e, sink)
	}
	var s4, d4 [4]byte
	if r := t.mapAddrs(b.Src(), b.Dst(), s4[:], d4[:], true, false); r != bothOK {
		return t.drop(t.noMapping(r))
	}
	hop, expired := t.nextTTL(b.HopLimit())
	if expired {
		return t.genErr6(b, 3, 0, 0, sink, &t.c.dropTTL)
	}
	partial := meta.CsumPartial
	if first {
		if transportShort(proto, l4) {
			return t.drop(&t.c.dropMalformed)
		}
		// RFC 8200 §8.1: IPv6 receivers discard UDP with checksum 0. Computing one would
		// make an unprotected datagram look protected; see docs/translator.md.
		if proto == header.ProtoUDP && header.UDP(l4).Checksum() == 0 && !partial {
			return t.drop(&t.c.dropUDPZero)
		}
	}
	tot := header.IPv4MinSize + l4len
	if tot > 65535 {
		return t.drop(&t.c.dropTooBig)
	}
	df := !e.frag && tot > 1260
	needFrag := false
	if meta.GSOSize > 0 {
		if proto != header.ProtoTCP && proto != header.ProtoUDP || e.frag {
			return t.drop(&t.c.dropMalformed)
		}
		if header.IPv4MinSize+l4HeaderLen(proto, l4)+meta.GSOSize > t.cfg.MTU4 {
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
		fixTransport(l4, proto, b.Addrs(), s4[:], d4[:], l4len, partial)
	}
	tos := b.TrafficClass()
	p4 := proto6to4(proto)
	var id, flags uint16
	if e.frag {
		id, flags = e.ipv4Frag()
	} else {
		id = t.nextID()
		flags = header.IPv4FlagsFrag(0, false, df)
	}
	if needFrag {
		return t.fragment64(l4, tos, id, e.fragOff, e.mf, hop, p4, s4[:], d4[:], sink)
	}
	start := off + e.l4 - header.IPv4MinSize
	header.IPv4(buf[start:start+header.IPv4MinSize]).Encode(tos, tot, id, flags, hop, p4, s4[:], d4[:])
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
	const hdrs = header.IPv4MinSize
	return t.fragment(pay, (t.cfg.MTU4-hdrs)&^7, hdrs, fragOff, mf, sink, &t.c.translated64, func(out []byte, off, l int, more bool) {
		header.IPv4(out).Encode(tos, hdrs+l, id, header.IPv4FlagsFrag(off, more, false), ttl, proto, s4, d4)
	})
}

// icmpErr64 translates an ICMPv6 error and its embedded packet into an ICMPv4 error.
func (t *Translator) icmpErr64(b header.IPv6, e ext6, sink Sink) (int, int, Verdict) {
	icmp := header.ICMP(b[e.l4:])
	if !header.Valid(icmp, header.PseudoSum6(b.Src(), b.Dst(), len(icmp), header.ProtoICMPv6)) {
		return t.drop(&t.c.dropBadICMPCsum)
	}
	typ := icmp.Type()
	t4, c4, isPtr, isMTU, ok := icmpErrMap6to4(typ, icmp.Code())
	if !ok {
		return t.drop(&t.c.dropUnsupported)
	}
	var rest uint32
	if isPtr {
		p4, ok := ptrMap6to4(icmp.Rest())
		if !ok {
			return t.drop(&t.c.dropUnsupported)
		}
		rest = uint32(p4) << 24
	}
	if isMTU {
		rest = uint32(t.fragNeededMTU(icmp.Rest()))
	}
	inner := icmp.Payload()
	var ext []byte
	if typ == 1 || typ == 3 {
		if l := int(icmp[header.ICMP6LengthOffset]) * 8; l != 0 && l <= len(inner) {
			ext = inner[l:]
			inner = inner[:l]
		}
	}
	if len(inner) < header.IPv6HeaderSize || header.Version(inner) != 6 {
		return t.drop(&t.c.dropMalformed)
	}
	in := header.IPv6(inner)
	if il := header.IPv6HeaderSize + in.PayloadLen(); il < len(in) {
		in = in[:il] // drop RFC 4884 padding / trailing bytes
	}
	ie, werr, _ := walk6(in, true)
	if werr != walkOK {
		return t.drop(&t.c.dropMalformed)
	}
	ipay := []byte(in[ie.l4:])
	if c := t.refuseQuoted(true, ie.nh, ie.fragOff != 0 || ie.mf, ipay); c != nil {
		return t.drop(c)
	}
	var is4, id4, s4, d4 [4]byte
	if r := t.mapAddrs(in.Src(), in.Dst(), is4[:], id4[:], true, true); r != bothOK {
		return t.drop(t.noMapping(r))
	}
	r := t.mapAddrs(b.Src(), b.Dst(), s4[:], d4[:], true, false)
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
	hop, expired := t.nextTTL(b.HopLimit())
	if expired {
		return t.drop(&t.c.dropTTL)
	}

	sp := t.scratch.Get().(*[]byte)
	defer t.scratch.Put(sp)
	out := *sp
	const hdrs = header.IPv4MinSize + header.ICMPMinSize // outer IPv4 + ICMP header
	icmp4 := header.ICMP(out[header.IPv4MinSize:hdrs])
	icmp4.SetTypeCode(t4, c4)
	icmp4.SetRest(rest)
	// the quoted packet's IPv4 header
	il4 := in.PayloadLen() - (ie.l4 - header.IPv6HeaderSize) // its transport length
	itot := header.IPv4MinSize + il4
	if itot < header.IPv4MinSize {
		itot = header.IPv4MinSize
	}
	var iid, ifl uint16
	if ie.frag {
		iid, ifl = ie.ipv4Frag()
	} else {
		ifl = header.IPv4FlagsFrag(0, false, itot > 1260)
	}
	header.IPv4(out[hdrs:]).Encode(in.TrafficClass(), itot, iid, ifl, in.HopLimit(), proto6to4(ie.nh), is4[:], id4[:])
	p := hdrs + header.IPv4MinSize
	q := out[p : p+len(ipay)]
	copy(q, ipay)
	p += len(ipay)
	if ie.fragOff == 0 {
		fixTransport(q, ie.nh, in.Addrs(), is4[:], id4[:], il4, false)
	}
	lenAt := -1
	if t4 == 3 || t4 == 11 || t4 == 12 {
		lenAt = header.IPv4MinSize + header.ICMP4LengthOffset
	}
	p = layoutICMPErr(out, hdrs, p-hdrs, ext, 576, 4, lenAt)
	header.ICMP(out[header.IPv4MinSize:p]).SetChecksum(0)
	oid := t.nextID()
	if e.frag { // atomic fragment (fragmented ICMP was refused above)
		oid = uint16(e.id)
	}
	header.IPv4(out).Encode(b.TrafficClass(), p, oid, 0, hop, header.ProtoICMP, s4[:], d4[:])
	sink.Emit(out[:p])
	t.c.translated64.Add(1)
	t.c.icmpErr64.Add(1)
	return 0, 0, Emitted
}
