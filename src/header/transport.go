package header

import "encoding/binary"

// IP protocol / IPv6 next-header numbers.
const (
	ProtoHopByHop = 0
	ProtoICMP     = 1
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoRouting  = 43
	ProtoFragment = 44
	ProtoESP      = 50
	ProtoAH       = 51
	ProtoICMPv6   = 58
	ProtoNone     = 59
	ProtoDestOpts = 60
)

// Transport header sizes and checksum offsets.
const (
	TCPMinSize  = 20
	UDPSize     = 8
	ICMPMinSize = 8 // type, code, checksum, 4 bytes that depend on the type

	// TCPChecksumEnd is how much of a TCP header holds its checksum (a quoted header may
	// be cut short).
	TCPChecksumEnd = tcpChecksum + 2

	tcpDataOff   = 12
	tcpChecksum  = 16
	udpLength    = 4
	udpChecksum  = 6
	icmpChecksum = 2
)

// ChecksumOffset is where the checksum of transport proto (TCP, UDP, ICMP, ICMPv6) stands
// in its header; -1 for other protocols.
func ChecksumOffset(proto uint8) int {
	switch proto {
	case ProtoTCP:
		return tcpChecksum
	case ProtoUDP:
		return udpChecksum
	case ProtoICMP, ProtoICMPv6:
		return icmpChecksum
	}
	return -1
}

// TCP is a view of a TCP header.
type TCP []byte

// HeaderLen is the data offset in bytes.
func (h TCP) HeaderLen() int { return int(h[tcpDataOff]>>4) * 4 }

// ChecksumField is the checksum's two bytes.
func (h TCP) ChecksumField() []byte { return h[tcpChecksum : tcpChecksum+2] }

// UDP is a view of a UDP header.
type UDP []byte

func (h UDP) Length() int          { return int(binary.BigEndian.Uint16(h[udpLength:])) }
func (h UDP) SetLength(n int)      { binary.BigEndian.PutUint16(h[udpLength:], uint16(n)) }
func (h UDP) Checksum() uint16     { return binary.BigEndian.Uint16(h[udpChecksum:]) }
func (h UDP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(h[udpChecksum:], c) }

// ChecksumField is the checksum's two bytes.
func (h UDP) ChecksumField() []byte { return h[udpChecksum : udpChecksum+2] }

// ICMP is a view of an ICMPv4 or ICMPv6 header (same layout for the first 8 bytes).
type ICMP []byte

func (h ICMP) Type() uint8            { return h[0] }
func (h ICMP) Code() uint8            { return h[1] }
func (h ICMP) SetType(t uint8)        { h[0] = t }
func (h ICMP) SetTypeCode(t, c uint8) { h[0], h[1] = t, c }

// TypeCode is type and code as the 16-bit word the checksum sees.
func (h ICMP) TypeCode() uint64 { return uint64(h[0])<<8 | uint64(h[1]) }

// ChecksumField is the checksum's two bytes.
func (h ICMP) ChecksumField() []byte { return h[icmpChecksum : icmpChecksum+2] }

// SetChecksum computes and stores the checksum over all of h with acc (the ICMPv6
// pseudo-header sum; 0 for ICMPv4).
func (h ICMP) SetChecksum(acc uint64) {
	h[icmpChecksum], h[icmpChecksum+1] = 0, 0
	binary.BigEndian.PutUint16(h[icmpChecksum:], Checksum(h, acc))
}

// Rest is bytes 4-7 (pointer, MTU, ...).
func (h ICMP) Rest() uint32     { return binary.BigEndian.Uint32(h[4:]) }
func (h ICMP) SetRest(v uint32) { binary.BigEndian.PutUint32(h[4:], v) }

// MTU4 is the next-hop MTU of an ICMPv4 Fragmentation Needed (bytes 6-7).
func (h ICMP) MTU4() int { return int(binary.BigEndian.Uint16(h[6:])) }

// Pointer4 is the pointer of an ICMPv4 Parameter Problem (byte 4).
func (h ICMP) Pointer4() uint8 { return h[4] }

// RFC 4884 length attribute of the original datagram: ICMPv4 byte 5 in 32-bit words,
// ICMPv6 byte 4 in 64-bit words.
const (
	ICMP4LengthOffset = 5
	ICMP6LengthOffset = 4
)

// Payload is the quoted packet (of an error) or the echo data.
func (h ICMP) Payload() []byte { return h[ICMPMinSize:] }
