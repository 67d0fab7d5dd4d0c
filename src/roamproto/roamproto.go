// Package roamproto is l3roamd-xlat's wire format: l3roamd's framing (a
// 24-byte header followed by TLV segments) with the 464XLAT messages CLAIM,
// INFO, ACK and ROAM, a timestamp for replay protection and an optional
// HMAC-SHA256 segment keyed by the per-domain secret.
//
// Header (network byte order, as l3roamd's intercom.h):
//
//	0  version  0
//	1  ttl      1 (unicast only; a new type must not be re-flooded by old l3roamd)
//	2  type     1 CLAIM, 2 INFO, 3 ACK, 4 ROAM, 5 VERIFY, 6 CONFIRM, 7 REFUSE
//	3  empty    0
//	4  nonce    u32, random
//	8  sender   16 bytes, the sender's node address
//
// Segments: u8 type, u8 length (the whole segment, including these 2 bytes),
// value. Unknown segment types are skipped by their length; a length below 2
// or past the end of the packet rejects the packet. Segment types are global
// to l3roamd-xlat (not per message type as in l3roamd); see TLV* constants.
// An HMAC segment, when present, must be the last one; it covers every byte
// before it.
package roamproto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// Version is the only header version accepted (l3roamd's packet format 0).
const Version = 0

// HeaderLen is the fixed header size.
const HeaderLen = 24

// MaxPacket bounds what Encode produces and Parse accepts.
const MaxPacket = 1280

// DefaultPort is l3roamd-xlat's UDP port.
const DefaultPort = wellknown.RoamPort

// Message types. 0 is l3roamd's SEEK, which l3roamd-xlat does not use.
// VERIFY, CONFIRM and REFUSE authorise a handover: the PLAT asks the node
// that serves the client (VERIFY) whether it handed the client to the
// ROAM's sender; CONFIRM and REFUSE answer a VERIFY, REFUSE also a ROAM.
// A REFUSE to a VERIFY may carry NEWCLAT: the node the refusing one handed
// the client to instead, which the PLAT asks next (a client that walked
// on before the PLAT took the ROAM of the node between).
const (
	TypeClaim   uint8 = 1
	TypeInfo    uint8 = 2
	TypeAck     uint8 = 3
	TypeRoam    uint8 = 4
	TypeVerify  uint8 = 5
	TypeConfirm uint8 = 6
	TypeRefuse  uint8 = 7
)

// Segment types and their total lengths.
const (
	TLVMAC       uint8 = 1   // [1][8][mac 6]
	TLVCLAT      uint8 = 2   // [2][18][CLATD /96, 16]     prefix the client leased under
	TLVClientIP  uint8 = 3   // [3][6][ipv4 4]              CLIENTIP
	TLVLeaseTime uint8 = 4   // [4][6][u32 seconds]         remaining lease
	TLVPLAT      uint8 = 5   // [5][18][PLATC /96, 16]      PLAT the client used at lease time
	TLVNewCLAT   uint8 = 6   // [6][18][CLATB /96, 16]      new node's CLAT prefix
	TLVTimestamp uint8 = 7   // [7][10][u64 unix ms]        replay window
	TLVEcho      uint8 = 8   // [8][6][u32 nonce]           nonce of the message answered
	TLVOldPLAT   uint8 = 9   // [9][18][PLATC /96, 16]      ROAM: the lost PLAT the client's flows left
	TLVHMAC      uint8 = 255 // [255][34][HMAC-SHA256 32]  must be last
)

const (
	lenMAC    = 8
	lenPrefix = 18
	lenIPv4   = 6
	lenU32    = 6
	lenTS     = 10
	lenHMAC   = 34
)

// Errors Parse returns (wrapped with details); callers count them by kind.
var (
	ErrShort     = errors.New("packet shorter than header")
	ErrTooLong   = errors.New("packet too long")
	ErrVersion   = errors.New("unknown version")
	ErrSegment   = errors.New("malformed segment")
	ErrType      = errors.New("unknown message type")
	ErrMissing   = errors.New("required segment missing")
	ErrHMAC      = errors.New("HMAC missing or wrong")
	ErrDuplicate = errors.New("duplicate segment")
)

// Message is one decoded packet. Prefixes are /96; zero values mean absent.
type Message struct {
	Type      uint8
	TTL       uint8
	Nonce     uint32
	Sender    netip.Addr // header sender (node address)
	MAC       net.HardwareAddr
	CLAT      netip.Prefix // CLATD
	ClientIP  netip.Addr   // IPv4
	LeaseTime uint32       // seconds; HasLease tells if present
	HasLease  bool
	PLAT      netip.Prefix // PLATC
	NewCLAT   netip.Prefix // CLATB
	OldPLAT   netip.Prefix // ROAM after a PLAT loss: the lost PLAT (optional)
	Timestamp time.Time    // zero = absent
	Echo      uint32       // nonce of the message this one answers
	HasEcho   bool
	Signed    bool // an HMAC segment was present and verified
}

// TypeName names a message type for logs and counters.
func TypeName(t uint8) string {
	switch t {
	case TypeClaim:
		return "CLAIM"
	case TypeInfo:
		return "INFO"
	case TypeAck:
		return "ACK"
	case TypeRoam:
		return "ROAM"
	case TypeVerify:
		return "VERIFY"
	case TypeConfirm:
		return "CONFIRM"
	case TypeRefuse:
		return "REFUSE"
	}
	return fmt.Sprintf("type%d", t)
}

// required lists the segments each message type must carry.
func required(m *Message) error {
	need := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("%w: %s needs %s", ErrMissing, TypeName(m.Type), what)
		}
		return nil
	}
	var errs []error
	switch m.Type {
	case TypeClaim, TypeAck:
		errs = append(errs, need(m.MAC != nil, "MAC"))
	case TypeInfo:
		errs = append(errs, need(m.MAC != nil, "MAC"), need(m.CLAT.IsValid(), "CLAT"),
			need(m.ClientIP.IsValid(), "CLIENTIP"), need(m.HasLease, "LEASETIME"), need(m.PLAT.IsValid(), "PLAT"))
	case TypeRoam:
		errs = append(errs, need(m.CLAT.IsValid(), "CLAT"), need(m.ClientIP.IsValid(), "CLIENTIP"),
			need(m.HasLease, "LEASETIME"), need(m.NewCLAT.IsValid(), "NEWCLAT"), need(m.PLAT.IsValid(), "PLAT"))
	case TypeVerify:
		errs = append(errs, need(m.CLAT.IsValid(), "CLAT"), need(m.ClientIP.IsValid(), "CLIENTIP"),
			need(m.NewCLAT.IsValid(), "NEWCLAT"))
	case TypeConfirm:
		errs = append(errs, need(m.HasEcho, "ECHO"), need(m.HasLease, "LEASETIME"))
	case TypeRefuse:
		errs = append(errs, need(m.HasEcho, "ECHO"))
	default:
		return fmt.Errorf("%w %d", ErrType, m.Type)
	}
	return errors.Join(errs...)
}

// Encode serialises m; with a non-empty secret it appends the HMAC segment.
// Absent fields are left out. TTL 0 is sent as 1.
func Encode(m *Message, secret []byte) ([]byte, error) {
	if err := required(m); err != nil {
		return nil, err
	}
	if !m.Sender.Is6() {
		return nil, fmt.Errorf("roamproto: sender %v is not an IPv6 address", m.Sender)
	}
	b := make([]byte, HeaderLen, 160)
	b[0] = Version
	b[1] = m.TTL
	if b[1] == 0 {
		b[1] = 1
	}
	b[2] = m.Type
	binary.BigEndian.PutUint32(b[4:], m.Nonce)
	s := m.Sender.As16()
	copy(b[8:24], s[:])
	if m.MAC != nil {
		if len(m.MAC) != 6 {
			return nil, fmt.Errorf("roamproto: MAC %v is not 6 bytes", m.MAC)
		}
		b = append(b, TLVMAC, lenMAC)
		b = append(b, m.MAC...)
	}
	var err error
	if b, err = appendPrefix(b, TLVCLAT, m.CLAT, "CLAT"); err != nil {
		return nil, err
	}
	if m.ClientIP.IsValid() {
		if !m.ClientIP.Is4() {
			return nil, fmt.Errorf("roamproto: CLIENTIP %v is not IPv4", m.ClientIP)
		}
		a := m.ClientIP.As4()
		b = append(b, TLVClientIP, lenIPv4)
		b = append(b, a[:]...)
	}
	if m.HasLease {
		b = append(b, TLVLeaseTime, lenU32)
		b = binary.BigEndian.AppendUint32(b, m.LeaseTime)
	}
	if b, err = appendPrefix(b, TLVPLAT, m.PLAT, "PLAT"); err != nil {
		return nil, err
	}
	if b, err = appendPrefix(b, TLVNewCLAT, m.NewCLAT, "NEWCLAT"); err != nil {
		return nil, err
	}
	if b, err = appendPrefix(b, TLVOldPLAT, m.OldPLAT, "OLDPLAT"); err != nil {
		return nil, err
	}
	if !m.Timestamp.IsZero() {
		b = append(b, TLVTimestamp, lenTS)
		b = binary.BigEndian.AppendUint64(b, uint64(m.Timestamp.UnixMilli()))
	}
	if m.HasEcho {
		b = append(b, TLVEcho, lenU32)
		b = binary.BigEndian.AppendUint32(b, m.Echo)
	}
	if len(secret) > 0 {
		mac := sum(secret, b)
		b = append(b, TLVHMAC, lenHMAC)
		b = append(b, mac...)
	}
	if len(b) > MaxPacket {
		return nil, ErrTooLong
	}
	return b, nil
}

func appendPrefix(b []byte, t uint8, p netip.Prefix, name string) ([]byte, error) {
	if !p.IsValid() {
		return b, nil
	}
	if p.Bits() != 96 || !p.Addr().Is6() || p.Addr().Is4In6() || p.Masked() != p {
		return nil, fmt.Errorf("roamproto: %s %v is not a /96 IPv6 prefix", name, p)
	}
	a := p.Addr().As16()
	b = append(b, t, lenPrefix)
	return append(b, a[:]...), nil
}

func sum(secret, data []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(data)
	return h.Sum(nil)
}

// Parse decodes b. With a non-empty secret the last segment must be a valid
// HMAC over everything before it; without one an HMAC segment is ignored
// (Signed stays false). Parse never panics on any input.
func Parse(b []byte, secret []byte) (*Message, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("%w (%d bytes)", ErrShort, len(b))
	}
	if len(b) > MaxPacket {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLong, len(b))
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w %d", ErrVersion, b[0])
	}
	m := &Message{TTL: b[1], Type: b[2], Nonce: binary.BigEndian.Uint32(b[4:8])}
	m.Sender = netip.AddrFrom16([16]byte(b[8:24]))
	seen := map[uint8]bool{}
	hmacAt := -1
	for off := HeaderLen; off < len(b); {
		if len(b)-off < 2 {
			return nil, fmt.Errorf("%w: truncated segment header at offset %d", ErrSegment, off)
		}
		t, l := b[off], int(b[off+1])
		if l < 2 || off+l > len(b) {
			return nil, fmt.Errorf("%w: type %d length %d at offset %d of %d", ErrSegment, t, l, off, len(b))
		}
		if hmacAt >= 0 {
			return nil, fmt.Errorf("%w: segment after HMAC at offset %d", ErrSegment, off)
		}
		v := b[off+2 : off+l]
		if known(t) {
			if seen[t] {
				return nil, fmt.Errorf("%w: type %d at offset %d", ErrDuplicate, t, off)
			}
			seen[t] = true
			if err := decodeSegment(m, t, v); err != nil {
				return nil, fmt.Errorf("%w: type %d at offset %d: %v", ErrSegment, t, off, err)
			}
			if t == TLVHMAC {
				hmacAt = off
			}
		}
		off += l
	}
	if len(secret) > 0 {
		if hmacAt < 0 {
			return nil, fmt.Errorf("%w: no HMAC segment", ErrHMAC)
		}
		if !hmac.Equal(sum(secret, b[:hmacAt]), b[hmacAt+2:hmacAt+lenHMAC]) {
			return nil, fmt.Errorf("%w: mismatch", ErrHMAC)
		}
		m.Signed = true
	}
	if err := required(m); err != nil {
		return nil, err
	}
	return m, nil
}

func known(t uint8) bool {
	return (t >= TLVMAC && t <= TLVOldPLAT) || t == TLVHMAC
}

func decodeSegment(m *Message, t uint8, v []byte) error {
	want := map[uint8]int{TLVMAC: lenMAC, TLVCLAT: lenPrefix, TLVClientIP: lenIPv4, TLVLeaseTime: lenU32,
		TLVPLAT: lenPrefix, TLVNewCLAT: lenPrefix, TLVTimestamp: lenTS, TLVEcho: lenU32, TLVOldPLAT: lenPrefix, TLVHMAC: lenHMAC}[t]
	if len(v)+2 != want {
		return fmt.Errorf("length %d, want %d", len(v)+2, want)
	}
	switch t {
	case TLVMAC:
		m.MAC = net.HardwareAddr(append([]byte(nil), v...))
	case TLVCLAT, TLVPLAT, TLVNewCLAT, TLVOldPLAT:
		a := netip.AddrFrom16([16]byte(v))
		p := netip.PrefixFrom(a, 96)
		if p.Masked() != p || a.Is4In6() {
			return fmt.Errorf("%v is not a /96 prefix", a)
		}
		switch t {
		case TLVCLAT:
			m.CLAT = p
		case TLVPLAT:
			m.PLAT = p
		case TLVOldPLAT:
			m.OldPLAT = p
		default:
			m.NewCLAT = p
		}
	case TLVClientIP:
		m.ClientIP = netip.AddrFrom4([4]byte(v))
	case TLVLeaseTime:
		m.LeaseTime, m.HasLease = binary.BigEndian.Uint32(v), true
	case TLVTimestamp:
		ms := binary.BigEndian.Uint64(v)
		if ms > 1<<53 {
			return fmt.Errorf("timestamp %d out of range", ms)
		}
		m.Timestamp = time.UnixMilli(int64(ms))
	case TLVEcho:
		m.Echo, m.HasEcho = binary.BigEndian.Uint32(v), true
	}
	return nil
}
