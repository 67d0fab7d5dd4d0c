package dataplane

import (
	"github.com/gluon-464xlat/gluon-464xlat/header"
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
	if len(p) < header.IPv4MinSize+header.UDPSize {
		return 0, 0, false
	}
	switch header.Version(p) {
	case 4:
		h := header.IPv4(p)
		if h.HeaderLen() != header.IPv4MinSize || h.Protocol() != header.ProtoUDP || h.IsFragment() ||
			h.TotalLen() != len(p) {
			return 0, 0, false
		}
		hl = header.IPv4MinSize
	case 6:
		h := header.IPv6(p)
		if len(p) < header.IPv6HeaderSize+header.UDPSize || h.NextHeader() != header.ProtoUDP ||
			header.IPv6HeaderSize+h.PayloadLen() != len(p) {
			return 0, 0, false
		}
		hl = header.IPv6HeaderSize
	default:
		return 0, 0, false
	}
	if header.UDP(p[hl:]).Length() != len(p)-hl {
		return 0, 0, false
	}
	return hl, len(p) - hl - header.UDPSize, true
}

// sameFlow reports whether p (with IP header length hl) continues the batch:
// same version, addresses, ports and the IP fields the kernel copies to
// every segment.
func (b *udpBatch) sameFlow(p []byte, hl int) bool {
	q := b.buf[tun.VirtioNetHdrLen:]
	if hl != b.hl || p[0] != q[0] {
		return false
	}
	ports := func(p []byte) string { return string(p[hl : hl+4]) }
	if hl == header.IPv4MinSize {
		// TOS, DF, TTL, protocol, addresses; then ports
		a, c := header.IPv4(p), header.IPv4(q)
		return a.TOS() == c.TOS() && a.DF() == c.DF() && a.TTL() == c.TTL() &&
			string(a.Addrs()) == string(c.Addrs()) && ports(p) == ports(q)
	}
	// traffic class, flow label, hop limit, addresses; then ports
	a, c := header.IPv6(p), header.IPv6(q)
	return string(p[1:4]) == string(q[1:4]) && a.HopLimit() == c.HopLimit() &&
		string(a.Addrs()) == string(c.Addrs()) && ports(p) == ports(q)
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
	b.n += copy(b.buf[tun.VirtioNetHdrLen+b.n:], p[hl+header.UDPSize:])
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
	u := header.UDP(p[b.hl:])
	u.SetLength(udpLen)
	var sum uint64
	if b.hl == header.IPv4MinSize {
		h := header.IPv4(p)
		h.SetTotalLen(b.n)
		h.SetChecksum()
		sum = header.PseudoSum4(h.Src(), h.Dst(), udpLen, header.ProtoUDP)
	} else {
		h := header.IPv6(p)
		h.SetPayloadLen(udpLen)
		sum = header.PseudoSum6(h.Src(), h.Dst(), udpLen, header.ProtoUDP)
	}
	// CHECKSUM_PARTIAL convention: the field holds the folded, uncomplemented
	// pseudo-header sum; the kernel completes it per segment.
	u.SetChecksum(header.Fold(sum))
	h := tun.VirtioNetHdr{Flags: tun.FlagNeedsCsum, CsumStart: uint16(b.hl), CsumOffset: uint16(header.ChecksumOffset(header.ProtoUDP))}
	if b.segs > 1 {
		h.GSOType, h.HdrLen, h.GSOSize = tun.GSOUDPL4, uint16(b.hl+header.UDPSize), uint16(b.segSize)
	}
	_ = h.Encode(f)
	return f
}

func (b *udpBatch) reset() { b.segs, b.n, b.closed = 0, 0, false }
