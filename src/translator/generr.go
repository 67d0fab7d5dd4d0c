package translator

// Translator-generated ICMP errors (RFC 7915 §4.4, §5.4): the offending packet is dropped
// and counted in c; an error goes back to its source through the sink unless disabled or
// the packet must not be answered (ICMP errors, non-first fragments, multicast sources).

func isICMP4Error(typ uint8) bool { return typ == 3 || typ == 4 || typ == 5 || typ == 11 || typ == 12 }

// genErr4 answers the IPv4 packet b with an ICMPv4 error type/code; rest fills bytes 4-7
// (Frag Needed: the MTU in bytes 6-7, Parameter Problem: pointer in byte 4).
func (t *Translator) genErr4(b []byte, typ, code uint8, rest uint32, sink Sink, c interface{ Add(uint64) uint64 }) (int, int, Verdict) {
	c.Add(1)
	if t.cfg.NoICMPErrors || sink == nil || illegal4(b[12]) || b[12] == 255 {
		return 0, 0, Drop
	}
	ihl := int(b[0]&0x0f) * 4
	if be.Uint16(b[6:])&0x1fff != 0 {
		return 0, 0, Drop
	}
	if b[9] == protoICMP && len(b) > ihl && isICMP4Error(b[ihl]) {
		return 0, 0, Drop
	}
	if !t.allowErr() {
		return 0, 0, Drop
	}
	var src [4]byte
	switch {
	case t.cfg.Self4.IsValid():
		src = t.cfg.Self4.As4()
	case t.cfg.RFC6791.IsValid():
		src = t.cfg.RFC6791.As4()
	default:
		copy(src[:], b[16:20])
	}
	sp := t.scratch.Get().(*[]byte)
	defer t.scratch.Put(sp)
	out := *sp
	p := 28 + copy(out[28:576], b)
	out[20], out[21], out[22], out[23] = typ, code, 0, 0
	be.PutUint32(out[24:], rest)
	be.PutUint16(out[22:], ^fold(sum16(out[20:p], 0)))
	writeIPv4Header(out, 0, p, t.nextID(), 0, 64, protoICMP, src[:], b[12:16])
	sink.Emit(out[:p])
	t.c.generatedErr.Add(1)
	return 0, 0, Emitted
}

// genErr6 answers the IPv6 packet b with an ICMPv6 error type/code; rest fills bytes 4-7
// (PTB: MTU, Parameter Problem: pointer).
func (t *Translator) genErr6(b []byte, typ, code uint8, rest uint32, sink Sink, c interface{ Add(uint64) uint64 }) (int, int, Verdict) {
	c.Add(1)
	if t.cfg.NoICMPErrors || sink == nil || illegal6(b[8:24]) {
		return 0, 0, Drop
	}
	if e, werr, _ := walk6(b, true); werr == walkOK {
		if e.fragOff != 0 {
			return 0, 0, Drop
		}
		if e.nh == protoICMPv6 && e.l4 < len(b) && b[e.l4] < 128 {
			return 0, 0, Drop
		}
	}
	if !t.allowErr() {
		return 0, 0, Drop
	}
	var src [16]byte
	if t.cfg.Self6.IsValid() {
		src = t.cfg.Self6.As16()
	} else {
		copy(src[:], b[24:40])
	}
	sp := t.scratch.Get().(*[]byte)
	defer t.scratch.Put(sp)
	out := *sp
	p := 48 + copy(out[48:1280], b)
	out[40], out[41], out[42], out[43] = typ, code, 0, 0
	be.PutUint32(out[44:], rest)
	be.PutUint16(out[42:], ^fold(sum16(out[40:p], pseudo6(src[:], b[8:24], p-40, protoICMPv6))))
	writeIPv6Header(out, 0, p-40, protoICMPv6, 64, src[:], b[8:24])
	sink.Emit(out[:p])
	t.c.generatedErr.Add(1)
	return 0, 0, Emitted
}

func (t *Translator) allowErr() bool {
	if t.cfg.ICMPErrorsPerSecond == 0 {
		return true
	}
	if !t.errLim.allow(t.now()) {
		t.c.rateLimited.Add(1)
		return false
	}
	return true
}
