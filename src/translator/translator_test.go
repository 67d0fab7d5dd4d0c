package translator

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/header"
)

func TestCLATMapping(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{clatPair(t)}})
	for _, proto := range []uint8{header.ProtoTCP, header.ProtoUDP, header.ProtoICMP} {
		in := mk4("192.0.0.1", "198.51.100.7", proto, payloadN(100), pktOpt{ttl: 55, tos: 0xb8, df: true})
		out, v := xlate(tr, in, Meta{})
		if v != Forward || len(out) != 1 {
			t.Fatalf("proto %d: verdict %v", proto, v)
		}
		p := out[0]
		if len(p) != len(in)+20 || p[0] != 0x6b || p[1] != 0x80 || p[7] != 55 {
			t.Errorf("proto %d: bad IPv6 header % x", proto, p[:8])
		}
		if s := netip.AddrFrom16([16]byte(p[8:24])); s != netip.MustParseAddr("2001:db8::464") {
			t.Errorf("src %s", s)
		}
		if d := netip.AddrFrom16([16]byte(p[24:40])); d != netip.MustParseAddr("64:ff9b::198.51.100.7") {
			t.Errorf("dst %s", d)
		}
		if !l4CsumOK(t, p) {
			t.Errorf("proto %d: bad transport checksum after 4->6", proto)
		}
		// the reply comes back
		np := proto
		if proto == header.ProtoICMP {
			np = header.ProtoICMPv6
		}
		rep := mk6("64:ff9b::198.51.100.7", "2001:db8::464", np, payloadN(100), pktOpt{ttl: 60, icmpType: 129})
		out, v = xlate(tr, rep, Meta{})
		if v != Forward {
			t.Fatalf("reply proto %d: verdict %v", proto, v)
		}
		q := out[0]
		if !bytes.Equal(q[12:16], []byte{198, 51, 100, 7}) || !bytes.Equal(q[16:20], []byte{192, 0, 0, 1}) || q[8] != 60 {
			t.Errorf("reply header % x", q[:20])
		}
		if header.Fold(header.Sum(q[:20], 0)) != 0xffff || !l4CsumOK(t, q) {
			t.Errorf("reply proto %d: bad checksums", proto)
		}
	}
	// an IPv4 source that is not the CLAT host has no mapping
	if _, v := xlate(tr, mk4("192.0.0.2", "198.51.100.7", header.ProtoUDP, nil, pktOpt{}), Meta{}); v != Drop {
		t.Errorf("unmapped source: %v", v)
	}
	if c := tr.Counters(); c.Translated46 != 3 || c.Translated64 != 3 || c.DropNoMapping != 1 {
		t.Errorf("counters %+v", c)
	}
}

func TestPairGroups(t *testing.T) {
	// Group 1: a /32 host pair closed by an RFC6052 pair; group 2: another prefix.
	p1, _ := ParsePair("local.v4 10.0.0.1/32 local.v6 2001:db8:a::1/128 remote.style NONE remote.v4 10.9.9.9/32 remote.v6 2001:db8:b::9/128")
	p2, _ := ParsePair("local.style RFC6052 local.v6 2001:db8:c::/96 remote.style RFC6052 remote.v6 64:ff9b::/96")
	tr := newT(t, Config{Pairs: []Pair{p1, p2}})
	out, v := xlate(tr, mk4("10.0.0.1", "10.9.9.9", header.ProtoUDP, nil, pktOpt{}), Meta{})
	if v != Forward || netip.AddrFrom16([16]byte(out[0][8:24])).String() != "2001:db8:a::1" ||
		netip.AddrFrom16([16]byte(out[0][24:40])).String() != "2001:db8:b::9" {
		t.Fatalf("first pair: %v % x", v, out)
	}
	out, _ = xlate(tr, mk4("10.0.0.1", "1.2.3.4", header.ProtoUDP, nil, pktOpt{}), Meta{})
	if netip.AddrFrom16([16]byte(out[0][8:24])).String() != "2001:db8:a::1" ||
		netip.AddrFrom16([16]byte(out[0][24:40])).String() != "64:ff9b::102:304" {
		t.Fatalf("mixed pairs in one group: % x", out[0][:40])
	}
	// a second group is only used when the first one did not match both addresses
	p3, _ := ParsePair("local.style RFC6052 local.v6 2001:db8:d::/96 remote.style RFC6052 remote.v6 2001:db8:e::/96")
	tr = newT(t, Config{Pairs: []Pair{p2, p3}})
	out, _ = xlate(tr, mk4("10.0.0.1", "1.2.3.4", header.ProtoUDP, nil, pktOpt{}), Meta{})
	if netip.AddrFrom16([16]byte(out[0][8:24])).String() != "2001:db8:c::a00:1" {
		t.Fatalf("first group wins: % x", out[0][8:40])
	}
	// v6->v4: source must be in remote, destination in local
	out, v = xlate(tr, mk6("2001:db8:e::102:304", "2001:db8:d::a00:1", header.ProtoUDP, nil, pktOpt{}), Meta{})
	if v != Forward || !bytes.Equal(out[0][12:20], []byte{1, 2, 3, 4, 10, 0, 0, 1}) {
		t.Fatalf("second group v6->v4: %v % x", v, out)
	}
}

func TestRoundTripSymmetric(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{symPair(t)}})
	for _, proto := range []uint8{header.ProtoTCP, header.ProtoUDP, header.ProtoICMP} {
		for _, n := range []int{0, 1, 100, 1200} {
			in := mk4("192.0.2.33", "198.51.100.2", proto, payloadN(n), pktOpt{df: true, tos: 4, ttl: 9})
			out, v := xlate(tr, in, Meta{})
			if v != Forward || !l4CsumOK(t, out[0]) {
				t.Fatalf("proto %d len %d: 4->6 %v", proto, n, v)
			}
			back, v := xlate(tr, out[0], Meta{})
			if v != Forward {
				t.Fatalf("6->4 %v", v)
			}
			b := back[0]
			// ID is generated; DF follows the 1260 rule
			want := append([]byte(nil), in...)
			copy(want[4:6], b[4:6])
			want[6] = b[6]
			header.IPv4(want).SetChecksum()
			if !bytes.Equal(b, want) {
				t.Errorf("proto %d len %d: round trip\n got % x\nwant % x", proto, n, b[:48], want[:48])
			}
		}
	}
}

func TestBadChecksumStaysBad(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{symPair(t)}})
	for _, proto := range []uint8{header.ProtoTCP, header.ProtoUDP, header.ProtoICMP} {
		in := mk4("192.0.2.33", "198.51.100.2", proto, payloadN(50), pktOpt{})
		in[20+csumOffset(proto)] ^= 0x5a
		out, _ := xlate(tr, in, Meta{})
		if l4CsumOK(t, out[0]) {
			t.Errorf("proto %d: a bad checksum became valid", proto)
		}
		back, _ := xlate(tr, out[0], Meta{})
		if !bytes.Equal(back[0][20:], in[20:]) {
			t.Errorf("proto %d: bad checksum not equivalently bad after round trip", proto)
		}
	}
}

func TestUDPZeroChecksum(t *testing.T) {
	in := mk4("192.0.2.33", "198.51.100.2", header.ProtoUDP, payloadN(33), pktOpt{})
	in[26], in[27] = 0, 0
	tr := newT(t, Config{Pairs: []Pair{symPair(t)}})
	out, v := xlate(tr, in, Meta{})
	if v != Forward || !l4CsumOK(t, out[0]) || out[0][46]|out[0][47] == 0 {
		t.Fatalf("amend: %v", v)
	}
	tr = newT(t, Config{Pairs: []Pair{symPair(t)}, DropUDPZeroChecksum: true})
	out, v = xlate(tr, in, Meta{})
	if v != Emitted || len(out) != 1 || out[0][20] != 3 || out[0][21] != 13 {
		t.Fatalf("drop policy: %v %v", v, out)
	}
	frag := append([]byte(nil), in...)
	frag[6] = 0x20 // MF
	header.IPv4(frag).SetChecksum()
	tr = newT(t, Config{Pairs: []Pair{symPair(t)}, NoICMPErrors: true})
	if _, v := xlate(tr, frag, Meta{}); v != Drop || tr.Counters().DropUDPZeroCsum != 1 {
		t.Fatalf("fragment with zero checksum: %v", v)
	}
}

func TestCsumPartial(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{clatPair(t)}})
	for _, proto := range []uint8{header.ProtoTCP, header.ProtoUDP} {
		in := mk4("192.0.0.1", "198.51.100.7", proto, payloadN(300), pktOpt{df: true})
		co := 20 + csumOffset(proto)
		binary.BigEndian.PutUint16(in[co:], header.Fold(header.PseudoSum4(in[12:16], in[16:20], len(in)-20, proto)))
		out, v := xlate(tr, in, Meta{CsumPartial: true})
		if v != Forward {
			t.Fatal(v)
		}
		p := out[0]
		want := header.Fold(header.PseudoSum6(p[8:24], p[24:40], len(p)-40, proto))
		if got := binary.BigEndian.Uint16(p[40+csumOffset(proto):]); got != want {
			t.Errorf("proto %d: partial csum %04x, want %04x", proto, got, want)
		}
	}
}

func TestGSO(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{clatPair(t)}, MTU6: 1500})
	in := mk4("192.0.0.1", "198.51.100.7", header.ProtoTCP, payloadN(65535-40), pktOpt{df: true})
	out, v := xlate(tr, in, Meta{GSOSize: 1400, CsumPartial: true})
	if v != Forward || len(out[0]) != len(in)+20 {
		t.Fatalf("GSO 46: %v", v)
	}
	back, v := xlate(tr, mk6("64:ff9b::198.51.100.7", "2001:db8::464", header.ProtoTCP, payloadN(65535-40-20), pktOpt{}), Meta{GSOSize: 1420, CsumPartial: true})
	if v != Forward || len(back[0]) != 65535-20 {
		t.Fatalf("GSO 64: %v %d", v, len(back))
	}
	// an IPv6 super-packet whose IPv4 form would exceed 65535 bytes cannot be translated
	if _, v := xlate(tr, mk6("64:ff9b::198.51.100.7", "2001:db8::464", header.ProtoTCP, payloadN(65535-20), pktOpt{}), Meta{GSOSize: 1420, CsumPartial: true}); v != Drop {
		t.Fatalf("GSO 64 oversize: %v", v)
	}
	// segments too large for the IPv6 MTU: Frag Needed, never fragmentation
	out, v = xlate(tr, in, Meta{GSOSize: 1460, CsumPartial: true})
	if v != Emitted || len(out) != 1 || out[0][20] != 3 || out[0][21] != 4 || binary.BigEndian.Uint16(out[0][26:]) != 1480 {
		t.Fatalf("GSO too big: %v % x", v, out)
	}
}

func TestFragmentAndTooBig(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{symPair(t)}, MTU4: 1400})
	in := mk4("192.0.2.33", "198.51.100.2", header.ProtoUDP, payloadN(3000), pktOpt{id: 0x4242})
	out, v := xlate(tr, in, Meta{})
	if v != Emitted || len(out) != 3 {
		t.Fatalf("fragment 46: %v %d", v, len(out))
	}
	total := 0
	for _, f := range out {
		if len(f) > 1280 || f[6] != header.ProtoFragment || binary.BigEndian.Uint32(f[44:]) != 0x4242 {
			t.Errorf("fragment % x", f[:48])
		}
		total += len(f) - 48
	}
	if total != len(in)-20 {
		t.Errorf("fragments carry %d bytes, want %d", total, len(in)-20)
	}
	// the translated fragments translate back to IPv4 fragments with the same ID
	for _, f := range out {
		b, v := xlate(tr, f, Meta{})
		if v != Forward || binary.BigEndian.Uint16(b[0][4:]) != 0x4242 {
			t.Errorf("fragment back: %v", v)
		}
	}
	// IPv6 packet larger than MTU4 -> PTB with MTU4+20
	big := mk6("2001:db8:1c0:2:21::", "2001:db8:1c6:3364:2::", header.ProtoUDP, payloadN(1500), pktOpt{})
	out, v = xlate(tr, big, Meta{})
	if v != Emitted || out[0][40] != 2 || binary.BigEndian.Uint32(out[0][44:]) != 1420 || len(out[0]) != 1280 {
		t.Fatalf("PTB: %v % x", v, out[0][:48])
	}
}

func TestRouterModeTTL(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{symPair(t)}, RouterMode: true})
	out, v := xlate(tr, mk4("192.0.2.33", "198.51.100.2", header.ProtoUDP, nil, pktOpt{ttl: 1}), Meta{})
	if v != Emitted || out[0][20] != 11 {
		t.Fatalf("TTL 1: %v", v)
	}
	out, _ = xlate(tr, mk4("192.0.2.33", "198.51.100.2", header.ProtoUDP, nil, pktOpt{ttl: 2}), Meta{})
	if out[0][7] != 1 {
		t.Fatalf("hop limit %d", out[0][7])
	}
}

func TestMalformedNoPanic(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{symPair(t)}})
	good4 := mk4("192.0.2.33", "198.51.100.2", header.ProtoTCP, payloadN(20), pktOpt{})
	good6 := mk6("2001:db8:1c0:2:21::", "2001:db8:1c6:3364:2::", header.ProtoTCP, payloadN(20), pktOpt{})
	for _, g := range [][]byte{good4, good6} {
		for n := 0; n < len(g); n++ {
			buf := make([]byte, Headroom+n)
			copy(buf[Headroom:], g[:n])
			if _, _, v := tr.Translate(buf, Headroom, n, Meta{}, nopSink{}); v == Forward && n < len(g) && n < 40 {
				t.Errorf("truncated to %d bytes: forwarded", n)
			}
		}
	}
	// no headroom: dropped, not panicking
	if _, _, v := tr.Translate(append([]byte(nil), good4...), 0, len(good4), Meta{}, nopSink{}); v != Drop {
		t.Errorf("no headroom: %v", v)
	}
	if _, _, v := tr.Translate(good4, 10, len(good4), Meta{}, nopSink{}); v != Drop {
		t.Errorf("n beyond buffer: %v", v)
	}
}

func TestConcurrent(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{clatPair(t)}})
	in := mk4("192.0.0.1", "198.51.100.7", header.ProtoUDP, payloadN(200), pktOpt{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, Headroom+len(in))
			for i := 0; i < 1000; i++ {
				copy(buf[Headroom:], in)
				tr.Translate(buf, Headroom, len(in), Meta{}, nopSink{})
			}
		}()
	}
	wg.Wait()
	if c := tr.Counters(); c.Translated46 != 4000 {
		t.Fatalf("counters %+v", c)
	}
}

func TestZeroAllocs(t *testing.T) {
	for _, bc := range benchCases(t) {
		bc := bc
		buf := make([]byte, Headroom+len(bc.pkt))
		allocs := testing.AllocsPerRun(200, func() {
			copy(buf[Headroom:], bc.pkt)
			if _, _, v := bc.tr.Translate(buf, Headroom, len(bc.pkt), bc.meta, nopSink{}); v != Forward {
				t.Fatalf("%s: %v", bc.name, v)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per packet", bc.name, allocs)
		}
	}
}

func TestICMPErrorsCLAT(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{clatPair(t)}})
	// ICMPv6 Port Unreachable from a remote host about a packet the CLAT sent
	inner := mk6("2001:db8::464", "64:ff9b::198.51.100.7", header.ProtoUDP, payloadN(20), pktOpt{ttl: 3})
	errPkt := icmp6Err("64:ff9b::203.0.113.1", "2001:db8::464", 1, 4, inner) // port unreachable
	out, v := xlate(tr, errPkt, Meta{})
	if v != Emitted || len(out) != 1 {
		t.Fatalf("ICMPv6 error: %v", v)
	}
	p := out[0]
	if p[20] != 3 || p[21] != 3 || !bytes.Equal(p[12:20], []byte{203, 0, 113, 1, 192, 0, 0, 1}) ||
		!bytes.Equal(p[28+12:28+20], []byte{192, 0, 0, 1, 198, 51, 100, 7}) || p[28+8] != 3 {
		t.Fatalf("translated error % x", p[:48])
	}
	if header.Fold(header.Sum(p[20:], 0)) != 0xffff || !l4CsumOK(t, p[28:]) {
		t.Errorf("checksums of translated error / inner packet")
	}
	// ICMPv4 Port Unreachable from the CLAT host about a packet from the remote side
	in4 := mk4("198.51.100.7", "192.0.0.1", header.ProtoUDP, payloadN(20), pktOpt{ttl: 50})
	e4 := icmp4Err("192.0.0.1", "198.51.100.7", 3, 3, in4)
	out, v = xlate(tr, e4, Meta{})
	if v != Emitted {
		t.Fatalf("ICMPv4 error: %v", v)
	}
	p = out[0]
	if p[40] != 1 || p[41] != 4 || netip.AddrFrom16([16]byte(p[48+8:48+24])).String() != "64:ff9b::c633:6407" ||
		netip.AddrFrom16([16]byte(p[48+24:48+40])).String() != "2001:db8::464" {
		t.Fatalf("translated ICMPv4 error % x", p[:88])
	}
	if !l4CsumOK(t, p) || !l4CsumOK(t, p[48:]) {
		t.Errorf("checksums of translated ICMPv4 error / inner packet")
	}
	// a corrupt error is dropped, not made valid
	e4[30] ^= 1
	if _, v := xlate(tr, e4, Meta{}); v != Drop || tr.Counters().DropBadICMPCsum != 1 {
		t.Errorf("corrupt ICMPv4 error: %v", v)
	}
}

func TestPairApply(t *testing.T) {
	p, err := ParsePair("local.style NONE local.v4 192.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply("local.v6 2001:db8::464/128 remote.style RFC6052 remote.v6 64:ff9b::/96"); err != nil {
		t.Fatal(err)
	}
	if p.Local.V4.String() != "192.0.0.1/32" || p.Remote.Style != StyleRFC6052 {
		t.Fatalf("Apply lost fields: %s", p)
	}
	before := p
	if err := p.Apply("remote.style MAP"); err == nil || p != before {
		t.Fatalf("invalid Apply: err %v, pair changed %v", err, p != before)
	}
	// nat46 clients build a pair with several commands; intermediate states are accepted
	var q Pair
	for _, c := range []string{"local.style NONE", "local.v4 192.0.0.1/32", "local.v6 2001:db8::464/128", "remote.style RFC6052", "remote.v6 64:ff9b::/96"} {
		if err := q.Apply(c); err != nil {
			t.Fatalf("Apply(%q): %v", c, err)
		}
	}
	if q.String() != clatPair(t).String() {
		t.Fatalf("incremental pair %s", q)
	}
	if _, err := New(Config{Pairs: []Pair{{Local: Side{Style: StyleRFC6052, V6: netip.MustParsePrefix("2001:db8::/33")}}}}); err == nil {
		t.Fatal("New accepted an RFC6052 /33")
	}
}

func TestLimiter(t *testing.T) {
	const s = int64(1e9)
	l := newLimiter(2, 0)
	got := []bool{l.allow(0), l.allow(0), l.allow(0), l.allow(s / 4), l.allow(s / 2), l.allow(s / 2), l.allow(10 * s), l.allow(10 * s), l.allow(10 * s)}
	want := []bool{true, true, false, false, true, false, true, true, false}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("allow sequence %v, want %v", got, want)
		}
	}
	if !newLimiter(0, 0).allow(0) {
		t.Fatal("unlimited limiter refused")
	}
	tr := newT(t, Config{Pairs: []Pair{symPair(t)}, ICMPErrorsPerSecond: 1})
	tr.now = func() int64 { return 0 }
	tr.errLim = newLimiter(1, 0)
	big := mk4("192.0.2.33", "198.51.100.2", header.ProtoUDP, payloadN(1300), pktOpt{df: true})
	_, v1 := xlate(tr, big, Meta{})
	_, v2 := xlate(tr, big, Meta{})
	if v1 != Emitted || v2 != Drop || tr.Counters().RateLimited != 1 || tr.Counters().DropTooBig != 2 {
		t.Fatalf("rate limit: %v %v %+v", v1, v2, tr.Counters())
	}
}

// Regression (found by FuzzTranslate46): IPv4 protocol numbers that denote IPv6 extension
// headers or ICMPv6 must not be translated, they would change meaning on the IPv6 side.
func TestExtensionHeaderProtocolsDropped(t *testing.T) {
	tr := newT(t, Config{Pairs: []Pair{symPair(t)}})
	for _, proto := range []uint8{header.ProtoHopByHop, header.ProtoRouting, header.ProtoFragment, header.ProtoDestOpts, header.ProtoICMPv6} {
		in := mk4("192.0.2.33", "198.51.100.2", header.ProtoUDP, payloadN(16), pktOpt{})
		in[9] = proto
		header.IPv4(in).SetChecksum()
		if _, v := xlate(tr, in, Meta{}); v != Drop {
			t.Errorf("IPv4 protocol %d: %v", proto, v)
		}
	}
	in := mk6("2001:db8:1c0:2:21::", "2001:db8:1c6:3364:2::", header.ProtoUDP, payloadN(16), pktOpt{})
	in[6] = header.ProtoICMP
	if _, v := xlate(tr, in, Meta{}); v != Drop {
		t.Errorf("IPv6 next header 1: %v", v)
	}
}
