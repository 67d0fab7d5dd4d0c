package dataplane

import (
	"encoding/binary"

	"github.com/gluon-464xlat/gluon-464xlat/tun"
)

// udpBatch coalesces consecutive translated UDP datagrams of one flow into
// one UDP GSO super-packet (virtio gso_type UDP_L4), so that the kernel
// forwards one skb where it would forward up to maxSegs: the TUN write and
// the routing decision are paid once per batch. Only datagrams whose checksum
// the kernel will not need to preserve are coalesced (CHECKSUM_PARTIAL or
// already verified on input), because the super-packet's checksum is
// recomputed by the kernel per segment.
type udpBatch struct {
	buf     []byte // virtio header + super-packet
	n       int    // bytes of packet in buf (after the virtio header)
	hl      int    // IP header length
	segSize int    // payload bytes of each segment
	segs    int
	closed  bool // a shorter last segment ended the batch
}

const (
	maxSegs     = 64
	maxSuperLen = 65535 - 8
)

func newUDPBatch() *udpBatch { return &udpBatch{buf: make([]byte, tun.VirtioNetHdrLen+65535)} }

func (b *udpBatch) empty() bool { return b.segs == 0 }

// udpShape returns the IP header length and the UDP payload length of a
// packet that may be coalesced (plain IPv4 without options or fragmentation,
// or IPv6 with UDP as next header), or ok=false.
func udpShape(p []byte) (hl, payload int, ok bool) {
	if len(p) < 28 {
		return 0, 0, false
	}
	switch p[0] >> 4 {
	case 4:
		if p[0] != 0x45 || p[9] != 17 || binary.BigEndian.Uint16(p[6:])&0x3fff != 0 ||
			int(binary.BigEndian.Uint16(p[2:])) != len(p) {
			return 0, 0, false
		}
		hl = 20
	case 6:
		if len(p) < 48 || p[6] != 17 || int(binary.BigEndian.Uint16(p[4:]))+40 != len(p) {
			return 0, 0, false
		}
		hl = 40
	default:
		return 0, 0, false
	}
	if int(binary.BigEndian.Uint16(p[hl+4:])) != len(p)-hl {
		return 0, 0, false
	}
	return hl, len(p) - hl - 8, true
}

// sameFlow reports whether p (with IP header length hl) continues the batch:
// same version, addresses, ports and the IP fields the kernel copies to
// every segment.
func (b *udpBatch) sameFlow(p []byte, hl int) bool {
	q := b.buf[tun.VirtioNetHdrLen:]
	if hl != b.hl || p[0] != q[0] {
		return false
	}
	if hl == 20 {
		// TOS, DF, TTL, protocol, addresses; then ports
		return p[1] == q[1] && p[6] == q[6] && p[8] == q[8] && string(p[12:20]) == string(q[12:20]) &&
			string(p[20:24]) == string(q[20:24])
	}
	// traffic class, flow label, hop limit, addresses; then ports
	return string(p[1:4]) == string(q[1:4]) && p[7] == q[7] && string(p[8:40]) == string(q[8:40]) &&
		string(p[40:44]) == string(q[40:44])
}

// add appends p if it continues the batch (or starts an empty one) and
// reports whether it did.
func (b *udpBatch) add(p []byte) bool {
	hl, pl, ok := udpShape(p)
	if !ok || pl == 0 {
		return false
	}
	if b.segs == 0 {
		b.n = copy(b.buf[tun.VirtioNetHdrLen:], p)
		b.hl, b.segSize, b.segs, b.closed = hl, pl, 1, false
		return true
	}
	if b.closed || b.segs >= maxSegs || pl > b.segSize || b.n+pl > maxSuperLen || !b.sameFlow(p, hl) {
		return false
	}
	b.n += copy(b.buf[tun.VirtioNetHdrLen+b.n:], p[hl+8:])
	b.segs++
	if pl < b.segSize {
		b.closed = true
	}
	return true
}

// frame finishes the batch and returns the frame to write (virtio header
// included). The UDP checksum is always left to the kernel (NEEDS_CSUM); a
// single datagram goes out without GSO.
func (b *udpBatch) frame() []byte {
	f := b.buf[:tun.VirtioNetHdrLen+b.n]
	p := f[tun.VirtioNetHdrLen:]
	udpLen := b.n - b.hl
	binary.BigEndian.PutUint16(p[b.hl+4:], uint16(udpLen))
	var sum uint32
	if b.hl == 20 {
		binary.BigEndian.PutUint16(p[2:], uint16(b.n))
		p[10], p[11] = 0, 0
		binary.BigEndian.PutUint16(p[10:], ^fold(sumBytes(p[:20], 0)))
		sum = sumBytes(p[12:20], 17+uint32(udpLen))
	} else {
		binary.BigEndian.PutUint16(p[4:], uint16(udpLen))
		sum = sumBytes(p[8:40], 17+uint32(udpLen))
	}
	// CHECKSUM_PARTIAL convention: the field holds the folded, uncomplemented
	// pseudo-header sum; the kernel completes it per segment.
	binary.BigEndian.PutUint16(p[b.hl+6:], fold(sum))
	h := tun.VirtioNetHdr{Flags: tun.FlagNeedsCsum, CsumStart: uint16(b.hl), CsumOffset: 6}
	if b.segs > 1 {
		h.GSOType, h.HdrLen, h.GSOSize = tun.GSOUDPL4, uint16(b.hl+8), uint16(b.segSize)
	}
	_ = h.Encode(f)
	return f
}

func (b *udpBatch) reset() { b.segs, b.n, b.closed = 0, 0, false }

func sumBytes(p []byte, sum uint32) uint32 {
	for i := 0; i+1 < len(p); i += 2 {
		sum += uint32(p[i])<<8 | uint32(p[i+1])
	}
	if len(p)%2 == 1 {
		sum += uint32(p[len(p)-1]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}
