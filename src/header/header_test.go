package header

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// The IPv4 header of the classic worked example (checksum 0xb861).
func TestIPv4Checksum(t *testing.T) {
	h, _ := hex.DecodeString("450000730000400040110000c0a80001c0a800c7")
	IPv4(h).SetChecksum()
	if h[10] != 0xb8 || h[11] != 0x61 || !IPv4(h).ChecksumValid() {
		t.Fatalf("checksum %x, want b861", h[10:12])
	}
	h[15] ^= 1
	if IPv4(h).ChecksumValid() {
		t.Fatal("corrupt header valid")
	}
}

func TestSumOddAndFold(t *testing.T) {
	if got := Sum([]byte{1, 2, 3}, 0); got != 0x0102+0x0300 {
		t.Fatalf("odd sum %#x", got)
	}
	if got := Fold(0x1_ffff_fffe); got != 0xffff {
		t.Fatalf("fold %#x", got)
	}
}

// An incremental update (RFC 1624) gives what a full recomputation gives, for a full and a
// partial (pseudo-header only) checksum, and keeps UDP's 0 away.
func TestAdjustChecksumMatchesRecompute(t *testing.T) {
	src4, dst4 := []byte{192, 0, 2, 1}, []byte{198, 51, 100, 7}
	src6 := []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x64}
	dst6 := []byte{0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 7}
	seg := make([]byte, 101)
	for i := range seg {
		seg[i] = byte(i*37 + 11)
	}
	seg[6], seg[7] = 0, 0
	full := Checksum(seg, PseudoSum4(src4, dst4, len(seg), ProtoUDP))
	UDP(seg).SetChecksum(full)
	d := Delta(Sum(src6, Sum(dst6, 0)), Sum(src4, Sum(dst4, 0)))
	AdjustChecksum(UDP(seg).ChecksumField(), d, false, true)
	got := UDP(seg).Checksum()
	UDP(seg).SetChecksum(0)
	want := Checksum(seg, PseudoSum6(src6, dst6, len(seg), ProtoUDP))
	if want == 0 {
		want = 0xffff
	}
	if got != want {
		t.Fatalf("incremental %#x, recomputed %#x", got, want)
	}
	// partial: the field holds the folded pseudo-header sum
	UDP(seg).SetChecksum(Fold(PseudoSum4(src4, dst4, len(seg), ProtoUDP)))
	AdjustChecksum(UDP(seg).ChecksumField(), d, true, true)
	if got, want := UDP(seg).Checksum(), Fold(PseudoSum6(src6, dst6, len(seg), ProtoUDP)); got != want {
		t.Fatalf("partial %#x, want %#x", got, want)
	}
}

func TestViewsRoundTrip(t *testing.T) {
	src4, dst4 := []byte{192, 0, 2, 1}, []byte{198, 51, 100, 7}
	h := IPv4(make([]byte, 20))
	h.Encode(0xb8, 1300, 0x4242, IPv4FlagsFrag(1480, true, false), 63, ProtoUDP, src4, dst4)
	if h.HeaderLen() != 20 || h.TOS() != 0xb8 || h.TotalLen() != 1300 || h.ID() != 0x4242 || h.DF() || !h.MF() ||
		h.FragOffset() != 1480 || !h.IsFragment() || h.TTL() != 63 || h.Protocol() != ProtoUDP ||
		!bytes.Equal(h.Src(), src4) || !bytes.Equal(h.Dst(), dst4) || !h.ChecksumValid() {
		t.Fatalf("IPv4 view % x", h)
	}
	if IPv4FlagsFrag(0, false, true) != IPv4DF {
		t.Fatal("DF word")
	}
	src6 := bytes.Repeat([]byte{0x20}, 16)
	dst6 := bytes.Repeat([]byte{0x64}, 16)
	v := IPv6(make([]byte, 48))
	v.Encode(0xb8, 1008, ProtoFragment, 9, src6, dst6)
	f := IPv6Fragment(v[IPv6HeaderSize:])
	f.Encode(ProtoTCP, 2960, true, 0xdeadbeef)
	if v.TrafficClass() != 0xb8 || v.PayloadLen() != 1008 || v.NextHeader() != ProtoFragment || v.HopLimit() != 9 ||
		!bytes.Equal(v.Addrs(), append(src6, dst6...)) || f.NextHeader() != ProtoTCP || f.Offset() != 2960 ||
		!f.More() || f.ID() != 0xdeadbeef {
		t.Fatalf("IPv6 view % x", v)
	}
	ext := IPv6Ext([]byte{ProtoUDP, 1, 0, 2, 0, 0, 0, 0})
	if ext.NextHeader() != ProtoUDP || ext.Len() != 16 || ext.SegmentsLeft() != 2 {
		t.Fatal("extension header view")
	}
}

func TestICMPChecksum(t *testing.T) {
	m := ICMP(make([]byte, 16))
	m.SetTypeCode(8, 0)
	m.SetRest(0x12340007)
	m.SetChecksum(0)
	if !Valid(m, 0) || m.TypeCode() != 0x0800 || m.Rest() != 0x12340007 {
		t.Fatalf("ICMP % x", m)
	}
	if ChecksumOffset(ProtoTCP) != 16 || ChecksumOffset(ProtoUDP) != 6 || ChecksumOffset(ProtoICMPv6) != 2 || ChecksumOffset(ProtoESP) != -1 {
		t.Fatal("checksum offsets")
	}
}
