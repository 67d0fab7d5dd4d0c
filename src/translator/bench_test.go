package translator

import (
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/header"
)

type benchCase struct {
	name string
	tr   *Translator
	pkt  []byte
	meta Meta
}

// benchCases are the fast-path packets: a CLAT (NONE /32 <-> /128 + RFC 6052 /96) with
// 1000-byte payloads, and a 64 KB TCP GSO super-packet with a partial checksum.
func benchCases(tb testing.TB) []benchCase {
	tr := newT(tb, Config{Pairs: []Pair{clatPair(tb)}, MTU6: 1500})
	p := payloadN(1000)
	return []benchCase{
		{"46TCP", tr, mk4("192.0.0.1", "198.51.100.7", header.ProtoTCP, p, pktOpt{df: true}), Meta{}},
		{"64TCP", tr, mk6("64:ff9b::198.51.100.7", "2001:db8::464", header.ProtoTCP, p, pktOpt{}), Meta{}},
		{"46UDP", tr, mk4("192.0.0.1", "198.51.100.7", header.ProtoUDP, p, pktOpt{df: true}), Meta{}},
		{"64UDP", tr, mk6("64:ff9b::198.51.100.7", "2001:db8::464", header.ProtoUDP, p, pktOpt{}), Meta{}},
		{"46ICMPEcho", tr, mk4("192.0.0.1", "198.51.100.7", header.ProtoICMP, p, pktOpt{df: true}), Meta{}},
		{"64ICMPEcho", tr, mk6("64:ff9b::198.51.100.7", "2001:db8::464", header.ProtoICMPv6, p, pktOpt{icmpType: 129}), Meta{}},
		{"46GSOTCP64K", tr, mk4("192.0.0.1", "198.51.100.7", header.ProtoTCP, payloadN(65535-40), pktOpt{df: true}), Meta{GSOSize: 1400, CsumPartial: true}},
		{"64GSOTCP64K", tr, mk6("64:ff9b::198.51.100.7", "2001:db8::464", header.ProtoTCP, payloadN(65535-20-40), pktOpt{}), Meta{GSOSize: 1400, CsumPartial: true}},
	}
}

// benchTranslate restores only the bytes the fast path rewrites (headers and the transport
// checksum) between iterations, so the figure is the translation itself, not a 64 KB copy.
func benchTranslate(b *testing.B, name string) {
	var bc benchCase
	for _, c := range benchCases(b) {
		if c.name == name {
			bc = c
		}
	}
	buf := make([]byte, Headroom+len(bc.pkt))
	copy(buf[Headroom:], bc.pkt)
	orig := append([]byte(nil), buf[:Headroom+64]...)
	b.SetBytes(int64(len(bc.pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(buf, orig)
		if _, _, v := bc.tr.Translate(buf, Headroom, len(bc.pkt), bc.meta, nopSink{}); v != Forward {
			b.Fatal(v)
		}
	}
}

func BenchmarkTranslate46TCP(b *testing.B)       { benchTranslate(b, "46TCP") }
func BenchmarkTranslate64TCP(b *testing.B)       { benchTranslate(b, "64TCP") }
func BenchmarkTranslate46UDP(b *testing.B)       { benchTranslate(b, "46UDP") }
func BenchmarkTranslate64UDP(b *testing.B)       { benchTranslate(b, "64UDP") }
func BenchmarkTranslate46ICMPEcho(b *testing.B)  { benchTranslate(b, "46ICMPEcho") }
func BenchmarkTranslate64ICMPEcho(b *testing.B)  { benchTranslate(b, "64ICMPEcho") }
func BenchmarkTranslate46GSOTCP64K(b *testing.B) { benchTranslate(b, "46GSOTCP64K") }
func BenchmarkTranslate64GSOTCP64K(b *testing.B) { benchTranslate(b, "64GSOTCP64K") }

// BenchmarkCopyBaseline is the cost of copying a 1040-byte packet: a baseline for ratios.
func BenchmarkCopyBaseline(b *testing.B) {
	src := make([]byte, 1040)
	dst := make([]byte, 1040+Headroom)
	b.SetBytes(1040)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		copy(dst[Headroom:], src)
	}
}
