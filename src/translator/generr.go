package translator

import (
	"sync/atomic"

	"github.com/gluon-464xlat/gluon-464xlat/header"
)

// Translator-generated ICMP errors (RFC 7915 §4.4, §5.4): the offending packet is dropped
// and counted in c; an error goes back to its source through the sink unless disabled or
// the packet must not be answered (ICMP errors, non-first fragments, multicast sources).

func isICMP4Error(typ uint8) bool { return typ == 3 || typ == 4 || typ == 5 || typ == 11 || typ == 12 }

// genErr4 answers the IPv4 packet b with an ICMPv4 error type/code; rest fills bytes 4-7
// (Frag Needed: the MTU in bytes 6-7, Parameter Problem: pointer in byte 4).
func (t *Translator) genErr4(b header.IPv4, typ, code uint8, rest uint32, sink Sink, c *atomic.Uint64) (int, int, Verdict) {
	c.Add(1)
	if t.cfg.NoICMPErrors || sink == nil || illegal4(b.Src()[0]) || b.Src()[0] == 255 || b.FragOffset() != 0 {
		return 0, 0, Drop
	}
	if ihl := b.HeaderLen(); b.Protocol() == header.ProtoICMP && len(b) > ihl && isICMP4Error(header.ICMP(b[ihl:]).Type()) {
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
		copy(src[:], b.Dst())
	}
	const hdrs = header.IPv4MinSize + header.ICMPMinSize
	return t.emitError(sink, b, hdrs, 576, typ, code, rest, func(out []byte, p int) {
		header.ICMP(out[header.IPv4MinSize:p]).SetChecksum(0)
		header.IPv4(out).Encode(0, p, t.nextID(), 0, 64, header.ProtoICMP, src[:], b.Src())
	})
}

// genErr6 answers the IPv6 packet b with an ICMPv6 error type/code; rest fills bytes 4-7
// (PTB: MTU, Parameter Problem: pointer).
func (t *Translator) genErr6(b header.IPv6, typ, code uint8, rest uint32, sink Sink, c *atomic.Uint64) (int, int, Verdict) {
	c.Add(1)
	if t.cfg.NoICMPErrors || sink == nil || illegal6(b.Src()) {
		return 0, 0, Drop
	}
	if e, werr, _ := walk6(b, true); werr == walkOK {
		if e.fragOff != 0 {
			return 0, 0, Drop
		}
		if e.nh == header.ProtoICMPv6 && e.l4 < len(b) && header.ICMP(b[e.l4:]).Type() < 128 {
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
		copy(src[:], b.Dst())
	}
	const hdrs = header.IPv6HeaderSize + header.ICMPMinSize
	return t.emitError(sink, b, hdrs, 1280, typ, code, rest, func(out []byte, p int) {
		l := p - header.IPv6HeaderSize
		header.ICMP(out[header.IPv6HeaderSize:p]).SetChecksum(header.PseudoSum6(src[:], b.Src(), l, header.ProtoICMPv6))
		header.IPv6(out).Encode(0, l, header.ProtoICMPv6, 64, src[:], b.Src())
	})
}

// emitError builds an ICMP error quoting pkt in a scratch buffer: the ICMP header at
// hdrs-8, as much of pkt as fits into limit bytes after it; finish writes the checksum and
// the IP header around it (out, total length). It emits and counts the error.
func (t *Translator) emitError(sink Sink, pkt []byte, hdrs, limit int, typ, code uint8, rest uint32, finish func(out []byte, p int)) (int, int, Verdict) {
	sp := t.scratch.Get().(*[]byte)
	defer t.scratch.Put(sp)
	out := *sp
	p := hdrs + copy(out[hdrs:limit], pkt)
	ic := header.ICMP(out[hdrs-header.ICMPMinSize : hdrs])
	ic.SetTypeCode(typ, code)
	ic.SetRest(rest)
	finish(out, p)
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
