// Package header holds typed views of the IPv4, IPv6 and transport headers the translator and
// the data plane read and write (a view is the packet's own bytes: `IPv4(b).TTL()` reads b[8];
// nothing is copied or allocated), and the one Internet checksum implementation (RFC 1071,
// incremental updates per RFC 1624). Field offsets are written only here. The model is gVisor's
// pkg/tcpip/header; callers check lengths before they take a view, the accessors do not.
package header

import "encoding/binary"

// A sum is an unfolded ones-complement accumulator of big-endian 16-bit words.

// Sum adds the 16-bit words of b to acc (an odd trailing byte is padded with zero).
func Sum(b []byte, acc uint64) uint64 {
	for len(b) >= 8 {
		acc += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// Fold folds an accumulator to 16 bits with end-around carry.
func Fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = (acc & 0xffff) + (acc >> 16)
	}
	return uint16(acc)
}

// Checksum is the Internet checksum of b with acc (e.g. a pseudo-header sum) added.
func Checksum(b []byte, acc uint64) uint16 { return ^Fold(Sum(b, acc)) }

// Valid reports whether b, checksum field included, sums (with acc) to all ones.
func Valid(b []byte, acc uint64) bool { return Fold(Sum(b, acc)) == 0xffff }

// Delta is the ones-complement difference newSum - oldSum as an accumulator that can be
// added to a checksum sum (RFC 1624).
func Delta(newSum, oldSum uint64) uint64 {
	return uint64(Fold(newSum)) + uint64(^Fold(oldSum))
}

// AdjustChecksum applies the difference d to the checksum field at b[0:2]. A full checksum
// holds the complement of the sum (RFC 1624 eq. 3); a partial one (CHECKSUM_PARTIAL / virtio
// NEEDS_CSUM) holds the uncomplemented pseudo-header sum. zeroIsNone maps a computed 0 to
// 0xffff (UDP, where 0 means "no checksum").
func AdjustChecksum(b []byte, d uint64, partial, zeroIsNone bool) {
	c := binary.BigEndian.Uint16(b)
	var r uint16
	if partial {
		r = Fold(uint64(c) + d)
	} else {
		r = ^Fold(uint64(^c) + d)
		if r == 0 && zeroIsNone {
			r = 0xffff
		}
	}
	binary.BigEndian.PutUint16(b, r)
}

// PseudoSum6 is the sum of an IPv6 pseudo-header (RFC 8200 §8.1); src and dst are 16 bytes.
func PseudoSum6(src, dst []byte, l4len int, proto uint8) uint64 {
	acc := Sum(src[:16], 0)
	acc = Sum(dst[:16], acc)
	return acc + uint64(uint32(l4len)>>16) + uint64(uint16(l4len)) + uint64(proto)
}

// PseudoSum4 is the sum of an IPv4 pseudo-header; src and dst are 4 bytes.
func PseudoSum4(src, dst []byte, l4len int, proto uint8) uint64 {
	acc := Sum(src[:4], 0)
	acc = Sum(dst[:4], acc)
	return acc + uint64(uint16(l4len)) + uint64(proto)
}
