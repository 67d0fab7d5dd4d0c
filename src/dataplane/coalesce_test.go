package dataplane

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/header"
	"github.com/gluon-464xlat/gluon-464xlat/tun"
)

func udp6(payload int, sport uint16) []byte {
	p := make([]byte, 48+payload)
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(8+payload))
	p[6], p[7] = 17, 64
	src, dst := netip.MustParseAddr("2001:db8::1").As16(), netip.MustParseAddr("2001:db8::2").As16()
	copy(p[8:], src[:])
	copy(p[24:], dst[:])
	binary.BigEndian.PutUint16(p[40:], sport)
	binary.BigEndian.PutUint16(p[42:], 5201)
	binary.BigEndian.PutUint16(p[44:], uint16(8+payload))
	for i := 48; i < len(p); i++ {
		p[i] = byte(i)
	}
	return p
}

func udp4(payload int) []byte {
	p := make([]byte, 28+payload)
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[6:], 0x4000) // DF
	copy(p[12:], []byte{192, 168, 0, 2, 198, 51, 100, 1})
	binary.BigEndian.PutUint16(p[20:], 4000)
	binary.BigEndian.PutUint16(p[22:], 53)
	binary.BigEndian.PutUint16(p[24:], uint16(8+payload))
	return p
}

func TestUDPBatch(t *testing.T) {
	b := newUDPBatch()
	for i := 0; i < 3; i++ {
		if !b.add(udp6(64, 1000)) {
			t.Fatalf("segment %d not added", i)
		}
	}
	if !b.add(udp6(10, 1000)) {
		t.Fatal("shorter last segment not added")
	}
	if b.add(udp6(64, 1000)) {
		t.Error("segment after a shorter one added")
	}
	f := b.frame()
	var h tun.VirtioNetHdr
	_ = h.Decode(f)
	want := tun.VirtioNetHdr{Flags: tun.FlagNeedsCsum, GSOType: tun.GSOUDPL4, HdrLen: 48, GSOSize: 64, CsumStart: 40, CsumOffset: 6}
	if h != want {
		t.Errorf("header %+v, want %+v", h, want)
	}
	p := f[tun.VirtioNetHdrLen:]
	if len(p) != 48+3*64+10 || int(binary.BigEndian.Uint16(p[4:])) != len(p)-40 || int(binary.BigEndian.Uint16(p[44:])) != len(p)-40 {
		t.Errorf("lengths: packet %d, payload %d, udp %d", len(p), binary.BigEndian.Uint16(p[4:]), binary.BigEndian.Uint16(p[44:]))
	}
	// pseudo-header sum, uncomplemented
	wantSum := header.Fold(header.PseudoSum6(p[8:24], p[24:40], len(p)-40, header.ProtoUDP))
	if got := binary.BigEndian.Uint16(p[46:]); got != wantSum {
		t.Errorf("checksum field %#x, want %#x", got, wantSum)
	}
	b.reset()
	if !b.empty() {
		t.Error("not empty after reset")
	}

	// other flow, other family, non-UDP, fragments: not coalesced
	b.add(udp6(64, 1000))
	if b.add(udp6(64, 1001)) {
		t.Error("other source port coalesced")
	}
	if b.add(udp4(64)) {
		t.Error("IPv4 coalesced into IPv6 batch")
	}
	b.reset()
	frag := udp4(64)
	binary.BigEndian.PutUint16(frag[6:], 0x2000) // MF
	if b.add(frag) {
		t.Error("fragment accepted")
	}
	tcp := udp4(64)
	tcp[9] = 6
	if b.add(tcp) {
		t.Error("TCP accepted")
	}

	// IPv4: header checksum valid, single datagram without GSO
	b.reset()
	b.add(udp4(64))
	f = b.frame()
	_ = h.Decode(f)
	if h.GSOType != tun.GSONone || h.Flags != tun.FlagNeedsCsum || h.CsumStart != 20 {
		t.Errorf("single datagram header %+v", h)
	}
	b.reset()
	b.add(udp4(64))
	b.add(udp4(64))
	f = b.frame()
	if !header.IPv4(f[tun.VirtioNetHdrLen:]).ChecksumValid() {
		t.Error("IPv4 header checksum wrong")
	}
}

func TestUDPBatchLimits(t *testing.T) {
	b := newUDPBatch()
	n := 0
	for b.add(udp6(1000, 7)) {
		n++
	}
	if n > maxSegs || 48+n*1000 > maxSuperLen {
		t.Errorf("%d segments of 1000 bytes accepted", n)
	}
}
