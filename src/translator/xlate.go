package translator

import (
	"sync/atomic"

	"github.com/gluon-464xlat/gluon-464xlat/header"
)

// Steps both directions share; xlate46.go and xlate64.go hold what differs.

// scratchSize is the size of the pooled slow-path buffers.
const scratchSize = 65536 + 2*Headroom

func (t *Translator) drop(c *atomic.Uint64) (int, int, Verdict) {
	c.Add(1)
	return 0, 0, Drop
}

// nextTTL is the TTL / Hop Limit of the translated packet: copied, or in RouterMode
// decremented, where expired reports that it would reach zero (Time Exceeded).
func (t *Translator) nextTTL(ttl uint8) (out uint8, expired bool) {
	if !t.cfg.RouterMode {
		return ttl, false
	}
	if ttl <= 1 {
		return ttl, true
	}
	return ttl - 1, false
}

// transportShort reports a first fragment whose TCP or UDP header is cut short.
func transportShort(proto uint8, l4 []byte) bool {
	switch proto {
	case header.ProtoTCP:
		return len(l4) < header.TCPMinSize
	case header.ProtoUDP:
		return len(l4) < header.UDPSize
	}
	return false
}

// l4HeaderLen is the transport header length for GSO segment sizing (TCP or UDP, checked).
func l4HeaderLen(proto uint8, l4 []byte) int {
	if proto == header.ProtoTCP {
		return header.TCP(l4).HeaderLen()
	}
	return header.UDPSize
}

// fixTransport updates the transport header l4 of the first fragment of a packet (outer, or
// quoted in an ICMP error and then possibly cut short) of protocol proto after its addresses
// changed from old (source and destination together, as in the packet) to src/dst; l4len is
// the transport length the pseudo-header counts. TCP and UDP checksums get the pseudo-header
// difference (RFC 1624), so a wrong checksum stays wrong; a UDP checksum 0 ("none") is left
// alone. ICMP echo types become ICMPv6 ones and back, with the ICMPv6 pseudo-header added or
// removed. partial: the checksum field holds a CHECKSUM_PARTIAL pseudo-header sum.
func fixTransport(l4 []byte, proto uint8, old, src, dst []byte, l4len int, partial bool) {
	switch proto {
	case header.ProtoTCP:
		if len(l4) >= header.TCPChecksumEnd {
			d := header.Delta(header.Sum(src, header.Sum(dst, 0)), header.Sum(old, 0))
			header.AdjustChecksum(header.TCP(l4).ChecksumField(), d, partial, false)
		}
	case header.ProtoUDP:
		if len(l4) >= header.UDPSize && (partial || header.UDP(l4).Checksum() != 0) {
			d := header.Delta(header.Sum(src, header.Sum(dst, 0)), header.Sum(old, 0))
			header.AdjustChecksum(header.UDP(l4).ChecksumField(), d, partial, true)
		}
	case header.ProtoICMP:
		if len(l4) < 4 {
			return
		}
		ic := header.ICMP(l4)
		was := ic.TypeCode()
		if ic.Type() == 8 {
			ic.SetType(128)
		} else {
			ic.SetType(129)
		}
		d := header.PseudoSum6(src, dst, l4len, header.ProtoICMPv6)
		if !partial {
			d = uint64(header.Fold(d+ic.TypeCode())) + uint64(^header.Fold(was))
		}
		header.AdjustChecksum(ic.ChecksumField(), d, partial, false)
	case header.ProtoICMPv6:
		if len(l4) < 4 {
			return
		}
		ic := header.ICMP(l4)
		ps := header.PseudoSum6(old[:16], old[16:32], l4len, header.ProtoICMPv6)
		was := ic.TypeCode()
		if ic.Type() == 128 {
			ic.SetType(8)
		} else {
			ic.SetType(0)
		}
		var d uint64
		if partial {
			d = uint64(^header.Fold(ps))
		} else {
			d = header.Delta(ic.TypeCode(), ps+was)
		}
		header.AdjustChecksum(ic.ChecksumField(), d, partial, false)
	}
}

// fragment emits pay in fragments of at most chunk bytes (a multiple of 8) starting at
// fragment offset fragOff, each behind the hdrs bytes of IP headers that head writes into
// out for the fragment's offset, payload length and more-fragments flag; mf: the payload
// is not the end of the original datagram. c counts the emitted packets.
func (t *Translator) fragment(pay []byte, chunk, hdrs, fragOff int, mf bool, sink Sink, c *atomic.Uint64,
	head func(out []byte, off, l int, more bool)) (int, int, Verdict) {
	sp := t.scratch.Get().(*[]byte)
	defer t.scratch.Put(sp)
	out := *sp
	for o := 0; o < len(pay); o += chunk {
		l := len(pay) - o
		more := mf
		if l > chunk {
			l = chunk
			more = true
		}
		head(out, fragOff+o, l, more)
		copy(out[hdrs:], pay[o:o+l])
		sink.Emit(out[:hdrs+l])
		c.Add(1)
	}
	t.c.fragmented.Add(1)
	return 0, 0, Emitted
}
