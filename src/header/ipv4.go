package header

import "encoding/binary"

// Version is the IP version in the first nibble of a packet (4 or 6).
func Version(b []byte) uint8 { return b[0] >> 4 }

// IPv4 is a view of an IPv4 header (RFC 791) at the start of a packet.
type IPv4 []byte

// IPv4 field offsets and sizes.
const (
	IPv4MinSize = 20

	ipv4VersIHL    = 0
	ipv4TOS        = 1
	ipv4TotalLen   = 2
	ipv4ID         = 4
	ipv4FlagsFrag  = 6
	ipv4TTL        = 8
	ipv4Protocol   = 9
	ipv4Checksum   = 10
	ipv4Src        = 12
	ipv4Dst        = 16
	ipv4AddrsEnd   = 20
	ipv4FlagDF     = 0x4000
	ipv4FlagMF     = 0x2000
	ipv4OffsetMask = 0x1fff
)

// IPv4 flag bits as they stand in the flags/fragment-offset word.
const (
	IPv4DF = ipv4FlagDF
	IPv4MF = ipv4FlagMF
)

func (h IPv4) HeaderLen() int    { return int(h[ipv4VersIHL]&0x0f) * 4 }
func (h IPv4) TOS() uint8        { return h[ipv4TOS] }
func (h IPv4) TotalLen() int     { return int(binary.BigEndian.Uint16(h[ipv4TotalLen:])) }
func (h IPv4) ID() uint16        { return binary.BigEndian.Uint16(h[ipv4ID:]) }
func (h IPv4) FlagsFrag() uint16 { return binary.BigEndian.Uint16(h[ipv4FlagsFrag:]) }
func (h IPv4) DF() bool          { return h.FlagsFrag()&ipv4FlagDF != 0 }
func (h IPv4) MF() bool          { return h.FlagsFrag()&ipv4FlagMF != 0 }

// FragOffset is the fragment offset in bytes.
func (h IPv4) FragOffset() int { return int(h.FlagsFrag()&ipv4OffsetMask) * 8 }

// IsFragment reports a fragment: offset or more-fragments set.
func (h IPv4) IsFragment() bool { return h.FlagsFrag()&(ipv4FlagMF|ipv4OffsetMask) != 0 }

func (h IPv4) TTL() uint8      { return h[ipv4TTL] }
func (h IPv4) Protocol() uint8 { return h[ipv4Protocol] }
func (h IPv4) Src() []byte     { return h[ipv4Src:ipv4Dst] }
func (h IPv4) Dst() []byte     { return h[ipv4Dst:ipv4AddrsEnd] }

// Addrs are source and destination together (what a pseudo-header sum covers).
func (h IPv4) Addrs() []byte { return h[ipv4Src:ipv4AddrsEnd] }

// Options are the bytes between the fixed header and HeaderLen.
func (h IPv4) Options() []byte { return h[IPv4MinSize:h.HeaderLen()] }

func (h IPv4) SetTotalLen(n int) { binary.BigEndian.PutUint16(h[ipv4TotalLen:], uint16(n)) }

// SetChecksum computes and stores the header checksum over h[:HeaderLen].
func (h IPv4) SetChecksum() {
	h[ipv4Checksum], h[ipv4Checksum+1] = 0, 0
	binary.BigEndian.PutUint16(h[ipv4Checksum:], Checksum(h[:h.HeaderLen()], 0))
}

// ChecksumValid reports whether the header checksum is right.
func (h IPv4) ChecksumValid() bool { return Valid(h[:h.HeaderLen()], 0) }

// Encode writes a 20-byte header without options and its checksum.
func (h IPv4) Encode(tos uint8, totalLen int, id, flagsFrag uint16, ttl, proto uint8, src, dst []byte) {
	h[ipv4VersIHL] = 0x45
	h[ipv4TOS] = tos
	binary.BigEndian.PutUint16(h[ipv4TotalLen:], uint16(totalLen))
	binary.BigEndian.PutUint16(h[ipv4ID:], id)
	binary.BigEndian.PutUint16(h[ipv4FlagsFrag:], flagsFrag)
	h[ipv4TTL] = ttl
	h[ipv4Protocol] = proto
	copy(h[ipv4Src:ipv4Dst], src[:4])
	copy(h[ipv4Dst:ipv4AddrsEnd], dst[:4])
	h[ipv4Checksum], h[ipv4Checksum+1] = 0, 0
	binary.BigEndian.PutUint16(h[ipv4Checksum:], Checksum(h[:IPv4MinSize], 0))
}

// IPv4FlagsFrag is the flags/fragment-offset word for offset (bytes), MF and DF.
func IPv4FlagsFrag(offset int, more, df bool) uint16 {
	v := uint16(offset>>3) & ipv4OffsetMask
	if more {
		v |= ipv4FlagMF
	}
	if df {
		v |= ipv4FlagDF
	}
	return v
}
