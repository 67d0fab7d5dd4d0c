package translator

import "encoding/binary"

// Internet checksum helpers (RFC 1071, incremental updates per RFC 1624).
// A "sum" is an unfolded ones-complement accumulator of big-endian 16-bit words.

// sum16 adds the 16-bit words of b to acc (an odd trailing byte is padded with zero).
func sum16(b []byte, acc uint64) uint64 {
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

// fold folds an accumulator to 16 bits with end-around carry.
func fold(acc uint64) uint16 {
	for acc>>16 != 0 {
		acc = (acc & 0xffff) + (acc >> 16)
	}
	return uint16(acc)
}

// delta returns the ones-complement difference newSum - oldSum as an accumulator that can
// be added to a checksum sum.
func delta(newSum, oldSum uint64) uint64 {
	return uint64(fold(newSum)) + uint64(^fold(oldSum))
}

// adjustCsum applies d to the checksum field at b[0:2]. A full checksum holds the
// complement of the sum (RFC 1624 eq. 3); a partial one (CHECKSUM_PARTIAL) holds the
// uncomplemented pseudo-header sum. zeroIsNone maps a computed 0 to 0xffff (UDP).
func adjustCsum(b []byte, d uint64, partial, zeroIsNone bool) {
	c := binary.BigEndian.Uint16(b)
	var r uint16
	if partial {
		r = fold(uint64(c) + d)
	} else {
		r = ^fold(uint64(^c) + d)
		if r == 0 && zeroIsNone {
			r = 0xffff
		}
	}
	binary.BigEndian.PutUint16(b, r)
}

// pseudo6 is the sum of an IPv6 pseudo-header.
func pseudo6(src, dst []byte, l4len int, proto uint8) uint64 {
	acc := sum16(src[:16], 0)
	acc = sum16(dst[:16], acc)
	return acc + uint64(uint32(l4len)>>16) + uint64(uint16(l4len)) + uint64(proto)
}

// pseudo4 is the sum of an IPv4 pseudo-header.
func pseudo4(src, dst []byte, l4len int, proto uint8) uint64 {
	acc := sum16(src[:4], 0)
	acc = sum16(dst[:4], acc)
	return acc + uint64(uint16(l4len)) + uint64(proto)
}

// ipv4HeaderCsum computes and stores the header checksum of the IPv4 header h.
func ipv4HeaderCsum(h []byte) {
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], ^fold(sum16(h, 0)))
}
