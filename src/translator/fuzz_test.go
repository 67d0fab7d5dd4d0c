package translator

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/header"
)

// fuzzTranslator maps both sides with the Jool vectors' pool6 and EAM entries, so that a
// translated packet translated back gives the original (the mapping is symmetric).
func fuzzTranslator(tb testing.TB) *Translator {
	cfg, err := confConfig(confState{
		Pool6: strPtr("2001:db8:100::/40"),
		EAMT:  [][2]string{{"2001:db8:3::/120", "1.0.0.0/24"}, {"2001:db8:2::/120", "10.0.0.0/24"}},
		MTU6:  1280, MTU4: 1500, LowestIPv6MTU: 1280, AmendUDPZero: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	cfg.RouterMode = false
	cfg.RFC6791 = netip.MustParseAddr("203.0.113.8")
	return newT(tb, cfg)
}

func strPtr(s string) *string { return &s }

// fuzzSeeds adds the conformance packets of IP version v (read from ../shared at fuzz time)
// or, when they are absent, a few hand-built packets.
func fuzzSeeds(f *testing.F, v byte) {
	n := 0
	if data, err := os.ReadFile(filepath.Join(conformanceDir, "cases.json")); err == nil {
		var cf struct {
			Cases []confCase `json:"cases"`
		}
		if json.Unmarshal(data, &cf) == nil {
			for _, c := range cf.Cases {
				for _, name := range append([]string{c.Input}, c.Expected...) {
					p, err := os.ReadFile(filepath.Join(conformanceDir, "pkts", name))
					if err == nil && len(p) > 0 && p[0]>>4 == v {
						f.Add(p)
						n++
					}
				}
			}
		}
	}
	if n > 0 {
		return
	}
	for _, proto := range []uint8{header.ProtoTCP, header.ProtoUDP, header.ProtoICMP} {
		if v == 4 {
			f.Add(mk4("192.0.2.33", "198.51.100.2", proto, payloadN(40), pktOpt{df: true}))
			f.Add(mk4("1.0.0.5", "10.0.0.9", proto, payloadN(1300), pktOpt{}))
		} else {
			if proto == header.ProtoICMP {
				proto = header.ProtoICMPv6
			}
			f.Add(mk6("2001:db8:1c0:2:21::", "2001:db8:1c6:3364:2::", proto, payloadN(40), pktOpt{}))
			f.Add(mk6("2001:db8:3::5", "2001:db8:2::9", proto, payloadN(1300), pktOpt{}))
		}
	}
}

// boundsSink checks every emitted packet.
type boundsSink struct {
	t          *testing.T
	mtu4, mtu6 int
}

func (s boundsSink) Emit(p []byte) {
	if len(p) < 20 {
		s.t.Fatalf("emitted %d-byte packet", len(p))
	}
	switch p[0] >> 4 {
	case 4:
		if len(p) > s.mtu4 || int(binary.BigEndian.Uint16(p[2:])) != len(p) || header.Fold(header.Sum(p[:20], 0)) != 0xffff {
			s.t.Fatalf("emitted bad IPv4 packet (%d bytes) % x", len(p), p[:20])
		}
	case 6:
		if len(p) > s.mtu6 || len(p) < 40 || int(binary.BigEndian.Uint16(p[4:]))+40 != len(p) {
			s.t.Fatalf("emitted bad IPv6 packet (%d bytes) % x", len(p), p[:40])
		}
	default:
		s.t.Fatalf("emitted packet of version %d", p[0]>>4)
	}
}

// fuzzOne translates pkt and checks the invariants; it returns the forwarded packet.
func fuzzOne(t *testing.T, tr *Translator, pkt []byte) ([]byte, bool) {
	buf := make([]byte, Headroom+len(pkt))
	copy(buf[Headroom:], pkt)
	start, n, v := tr.Translate(buf, Headroom, len(pkt), Meta{}, boundsSink{t, tr.cfg.MTU4, tr.cfg.MTU6})
	if v != Forward {
		return nil, false
	}
	if start < 0 || n < 20 || start+n > len(buf) || n > len(pkt)+28 {
		t.Fatalf("forwarded buf[%d:%d+%d] of %d-byte buffer (input %d bytes)", start, start, n, len(buf), len(pkt))
	}
	out := buf[start : start+n]
	switch out[0] >> 4 {
	case 4:
		if pkt[0]>>4 != 6 || int(binary.BigEndian.Uint16(out[2:])) != n || n > tr.cfg.MTU4 || header.Fold(header.Sum(out[:20], 0)) != 0xffff {
			t.Fatalf("bad IPv4 output % x", out[:20])
		}
	case 6:
		if pkt[0]>>4 != 4 || int(binary.BigEndian.Uint16(out[4:]))+40 != n || n > tr.cfg.MTU6 {
			t.Fatalf("bad IPv6 output % x", out[:40])
		}
	default:
		t.Fatalf("output version %d", out[0]>>4)
	}
	return append([]byte(nil), out...), true
}

// sameExceptCsum compares two transport segments, allowing the checksum field at co to
// differ only between the two ones-complement zeros.
func sameExceptCsum(a, b []byte, co int) bool {
	if len(a) != len(b) {
		return false
	}
	if co+2 > len(a) {
		return bytes.Equal(a, b)
	}
	ca, cb := binary.BigEndian.Uint16(a[co:]), binary.BigEndian.Uint16(b[co:])
	if ca != cb && !(ca == 0 && cb == 0xffff || ca == 0xffff && cb == 0) {
		return false
	}
	return bytes.Equal(a[:co], b[:co]) && bytes.Equal(a[co+2:], b[co+2:])
}

func FuzzTranslate46(f *testing.F) {
	fuzzSeeds(f, 4)
	tr := fuzzTranslator(f)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) == 0 {
			return
		}
		pkt[0] = 0x40 | pkt[0]&0x0f
		out6, ok := fuzzOne(t, tr, pkt)
		if !ok {
			return
		}
		back4, ok := fuzzOne(t, tr, out6)
		if !ok {
			// too big for MTU4, or AH behind a Fragment header (RFC 7915 §5.1: drop)
			if len(out6)-20 <= tr.cfg.MTU4 && !(pkt[9] == header.ProtoAH && out6[6] == header.ProtoFragment) {
				t.Fatalf("translated packet not translatable back: % x", out6[:48])
			}
			return
		}
		again6, ok := fuzzOne(t, tr, back4)
		if !ok || !bytes.Equal(again6, out6) && !sameExceptCsum(again6[40:], out6[40:], l4CsumAt(again6)) {
			t.Fatalf("4->6->4->6 not a fixed point:\n% x\n% x", out6, again6)
		}
		// the round trip restores addresses, TOS, TTL, protocol and the transport bytes
		ihl := int(pkt[0]&15) * 4
		tot := int(binary.BigEndian.Uint16(pkt[2:]))
		if !bytes.Equal(back4[12:20], pkt[12:20]) || back4[1] != pkt[1] || back4[8] != pkt[8] || back4[9] != pkt[9] {
			t.Fatalf("round trip header % x, want % x", back4[:20], pkt[:20])
		}
		udpZero := pkt[9] == header.ProtoUDP && tot >= ihl+8 && pkt[ihl+6] == 0 && pkt[ihl+7] == 0
		if !udpZero && !sameExceptCsum(back4[20:], pkt[ihl:tot], l4CsumAt(back4)) {
			t.Fatalf("round trip payload differs")
		}
	})
}

func FuzzTranslate64(f *testing.F) {
	fuzzSeeds(f, 6)
	tr := fuzzTranslator(f)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) == 0 {
			return
		}
		pkt[0] = 0x60 | pkt[0]&0x0f
		out4, ok := fuzzOne(t, tr, pkt)
		if !ok {
			return
		}
		if len(out4)+28 > tr.cfg.MTU6 { // would need Frag Needed / fragmentation on the way back
			return
		}
		back6, ok := fuzzOne(t, tr, out4)
		if !ok {
			t.Fatalf("translated packet not translatable back: % x", out4[:20])
		}
		again4, ok := fuzzOne(t, tr, back6)
		if !ok {
			t.Fatalf("6->4->6->4 failed")
		}
		// equal except the generated IPv4 ID and the header checksum
		a, b := append([]byte(nil), again4...), append([]byte(nil), out4...)
		copy(a[4:6], b[4:6])
		copy(a[10:12], b[10:12])
		if !bytes.Equal(a, b) && !(bytes.Equal(a[:20], b[:20]) && sameExceptCsum(a[20:], b[20:], l4CsumAt(a))) {
			t.Fatalf("6->4->6->4 not a fixed point:\n% x\n% x", out4, again4)
		}
	})
}

// l4CsumAt is the offset of the transport checksum within the transport segment of p
// (only meaningful for first fragments; a large value disables the exception).
func l4CsumAt(p []byte) int {
	var proto uint8
	if p[0]>>4 == 4 {
		proto = p[9]
		if binary.BigEndian.Uint16(p[6:])&0x1fff != 0 {
			return 1 << 20
		}
	} else {
		proto = p[6]
		if proto == header.ProtoFragment {
			return 1 << 20
		}
	}
	switch proto {
	case header.ProtoTCP:
		return 16
	case header.ProtoUDP:
		return 6
	case header.ProtoICMP, header.ProtoICMPv6:
		return 2
	}
	return 1 << 20
}
