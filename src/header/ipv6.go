package header

import "encoding/binary"

// IPv6 is a view of a fixed IPv6 header (RFC 8200) at the start of a packet.
type IPv6 []byte

// IPv6 field offsets and sizes.
const (
	IPv6HeaderSize = 40

	ipv6VersTC     = 0
	ipv6PayloadLen = 4
	ipv6NextHeader = 6
	ipv6HopLimit   = 7
	ipv6Src        = 8
	ipv6Dst        = 24
	ipv6AddrsEnd   = 40
)

// TrafficClass is the 8-bit traffic class across bytes 0 and 1.
func (h IPv6) TrafficClass() uint8 { return (h[0]&0x0f)<<4 | h[1]>>4 }
func (h IPv6) PayloadLen() int     { return int(binary.BigEndian.Uint16(h[ipv6PayloadLen:])) }
func (h IPv6) NextHeader() uint8   { return h[ipv6NextHeader] }
func (h IPv6) HopLimit() uint8     { return h[ipv6HopLimit] }
func (h IPv6) Src() []byte         { return h[ipv6Src:ipv6Dst] }
func (h IPv6) Dst() []byte         { return h[ipv6Dst:ipv6AddrsEnd] }

// Addrs are source and destination together.
func (h IPv6) Addrs() []byte { return h[ipv6Src:ipv6AddrsEnd] }

func (h IPv6) SetPayloadLen(n int) { binary.BigEndian.PutUint16(h[ipv6PayloadLen:], uint16(n)) }

// Encode writes the fixed header: flow label 0.
func (h IPv6) Encode(tc uint8, payloadLen int, nh, hop uint8, src, dst []byte) {
	h[0] = 0x60 | tc>>4
	h[1] = tc << 4
	h[2], h[3] = 0, 0
	binary.BigEndian.PutUint16(h[ipv6PayloadLen:], uint16(payloadLen))
	h[ipv6NextHeader] = nh
	h[ipv6HopLimit] = hop
	copy(h[ipv6Src:ipv6Dst], src[:16])
	copy(h[ipv6Dst:ipv6AddrsEnd], dst[:16])
}

// IPv6Ext is a view of an extension header with the common layout (Hop-by-Hop, Routing,
// Destination Options): next header, length in 8-byte units not counting the first 8.
type IPv6Ext []byte

// IPv6ExtMinSize is the smallest extension header (and the Fragment header's size).
const IPv6ExtMinSize = 8

// RoutingSegLeftOffset is where a Routing header holds Segments Left.
const RoutingSegLeftOffset = 3

func (e IPv6Ext) NextHeader() uint8 { return e[0] }
func (e IPv6Ext) Len() int          { return (int(e[1]) + 1) * 8 }

// SegmentsLeft of a Routing header.
func (e IPv6Ext) SegmentsLeft() uint8 { return e[RoutingSegLeftOffset] }

// IPv6Fragment is a view of a Fragment header.
type IPv6Fragment []byte

// IPv6FragmentSize is the size of a Fragment header.
const IPv6FragmentSize = 8

func (f IPv6Fragment) NextHeader() uint8 { return f[0] }

// Offset is the fragment offset in bytes.
func (f IPv6Fragment) Offset() int { return int(binary.BigEndian.Uint16(f[2:]) &^ 7) }
func (f IPv6Fragment) More() bool  { return f[3]&1 != 0 }
func (f IPv6Fragment) ID() uint32  { return binary.BigEndian.Uint32(f[4:]) }

// Encode writes the Fragment header: offset in bytes (a multiple of 8).
func (f IPv6Fragment) Encode(nh uint8, offset int, more bool, id uint32) {
	f[0] = nh
	f[1] = 0
	v := uint16(offset) &^ 7
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(f[2:], v)
	binary.BigEndian.PutUint32(f[4:], id)
}
