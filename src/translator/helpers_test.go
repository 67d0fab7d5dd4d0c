package translator

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/header"
)

// Test packet builders (valid checksums unless corrupted by the caller).

type pktOpt struct {
	tos, ttl uint8
	df       bool
	id       uint16
	icmpType uint8 // for ICMP / ICMPv6
}

func l4Header(proto uint8, payload []byte, o pktOpt) []byte {
	switch proto {
	case header.ProtoTCP:
		h := make([]byte, 20, 20+len(payload))
		binary.BigEndian.PutUint16(h[0:], 40000)
		binary.BigEndian.PutUint16(h[2:], 443)
		binary.BigEndian.PutUint32(h[4:], 0x01020304)
		h[12] = 5 << 4
		h[13] = 0x18
		binary.BigEndian.PutUint16(h[14:], 65000)
		return append(h, payload...)
	case header.ProtoUDP:
		h := make([]byte, 8, 8+len(payload))
		binary.BigEndian.PutUint16(h[0:], 40000)
		binary.BigEndian.PutUint16(h[2:], 53)
		binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
		return append(h, payload...)
	default: // ICMP / ICMPv6 echo
		h := make([]byte, 8, 8+len(payload))
		h[0] = o.icmpType
		binary.BigEndian.PutUint16(h[4:], 0x1234)
		binary.BigEndian.PutUint16(h[6:], 7)
		return append(h, payload...)
	}
}

func csumOffset(proto uint8) int {
	switch proto {
	case header.ProtoTCP:
		return 16
	case header.ProtoUDP:
		return 6
	}
	return 2
}

// mk4 builds an IPv4 packet.
func mk4(src, dst string, proto uint8, payload []byte, o pktOpt) []byte {
	if o.ttl == 0 {
		o.ttl = 64
	}
	if proto == header.ProtoICMP && o.icmpType == 0 {
		o.icmpType = 8
	}
	l4 := l4Header(proto, payload, o)
	b := make([]byte, 20+len(l4))
	b[0] = 0x45
	b[1] = o.tos
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], o.id)
	if o.df {
		b[6] = 0x40
	}
	b[8] = o.ttl
	b[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	header.IPv4(b).SetChecksum()
	copy(b[20:], l4)
	co := 20 + csumOffset(proto)
	var acc uint64
	if proto != header.ProtoICMP {
		acc = header.PseudoSum4(b[12:16], b[16:20], len(l4), proto)
	}
	c := ^header.Fold(header.Sum(b[20:], acc))
	if c == 0 && proto == header.ProtoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[co:], c)
	return b
}

// mk6 builds an IPv6 packet.
func mk6(src, dst string, proto uint8, payload []byte, o pktOpt) []byte {
	if o.ttl == 0 {
		o.ttl = 64
	}
	if proto == header.ProtoICMPv6 && o.icmpType == 0 {
		o.icmpType = 128
	}
	l4 := l4Header(proto, payload, o)
	b := make([]byte, 40+len(l4))
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	header.IPv6(b).Encode(o.tos, len(l4), proto, o.ttl, s[:], d[:])
	copy(b[40:], l4)
	c := ^header.Fold(header.Sum(b[40:], header.PseudoSum6(s[:], d[:], len(l4), proto)))
	if c == 0 && proto == header.ProtoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[40+csumOffset(proto):], c)
	return b
}

// l4CsumOK verifies the transport checksum of an IPv4 or IPv6 packet.
func l4CsumOK(t testing.TB, p []byte) bool {
	t.Helper()
	if p[0]>>4 == 4 {
		ihl := int(p[0]&15) * 4
		var acc uint64
		if p[9] != header.ProtoICMP {
			acc = header.PseudoSum4(p[12:16], p[16:20], len(p)-ihl, p[9])
		}
		return header.Fold(header.Sum(p[ihl:], acc)) == 0xffff
	}
	return header.Fold(header.Sum(p[40:], header.PseudoSum6(p[8:24], p[24:40], len(p)-40, p[6]))) == 0xffff
}

func payloadN(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}

// clatPair is the OpenWrt 464xlat CLAT rule: one IPv4 host <-> one IPv6 address, any IPv4
// destination <-> PLAT /96.
func clatPair(tb testing.TB) Pair {
	p, err := ParsePair("local.style NONE local.v4 192.0.0.1/32 local.v6 2001:db8::464/128 remote.style RFC6052 remote.v6 64:ff9b::/96")
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// symPair maps both sides with the same /96: translating a translated packet back gives the
// original (used by round-trip tests and fuzzing).
func symPair(tb testing.TB) Pair {
	p, err := ParsePair("local.style RFC6052 local.v6 2001:db8:100::/40 remote.style RFC6052 remote.v6 2001:db8:100::/40")
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func newT(tb testing.TB, cfg Config) *Translator {
	tb.Helper()
	tr, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

// xlate translates a copy of pkt with headroom and returns the packets produced.
func xlate(tr *Translator, pkt []byte, meta Meta) ([][]byte, Verdict) {
	buf := make([]byte, Headroom+len(pkt))
	copy(buf[Headroom:], pkt)
	var s collectSink
	start, n, v := tr.Translate(buf, Headroom, len(pkt), meta, &s)
	if v == Forward {
		return [][]byte{append([]byte(nil), buf[start:start+n]...)}, v
	}
	return s.pkts, v
}

type nopSink struct{}

func (nopSink) Emit([]byte) {}

// icmp6Err builds an ICMPv6 error type/code from src to dst quoting inner (valid checksum).
func icmp6Err(src, dst string, typ, code uint8, inner []byte) []byte {
	p := mk6(src, dst, header.ProtoICMPv6, nil, pktOpt{icmpType: typ})
	p[41] = code
	p = append(p, inner...)
	binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
	p[42], p[43] = 0, 0
	binary.BigEndian.PutUint16(p[42:], ^header.Fold(header.Sum(p[40:], header.PseudoSum6(p[8:24], p[24:40], len(p)-40, header.ProtoICMPv6))))
	return p
}

// icmp4Err builds an ICMPv4 error type/code from src to dst quoting inner (valid checksums).
func icmp4Err(src, dst string, typ, code uint8, inner []byte) []byte {
	p := mk4(src, dst, header.ProtoICMP, nil, pktOpt{icmpType: typ})
	p[21] = code
	p = append(p, inner...)
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	header.IPv4(p).SetChecksum()
	p[22], p[23] = 0, 0
	binary.BigEndian.PutUint16(p[22:], ^header.Fold(header.Sum(p[20:], 0)))
	return p
}
