// Package tun opens Linux TUN devices with the virtio-net header
// (IFF_VNET_HDR) and the kernel's checksum and segmentation offloads, so that
// one read can return a whole TCP super-packet (up to 64 KB) and one write can
// hand one back to the kernel.
package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// VirtioNetHdrLen is the length of the legacy virtio-net header that prefixes
// every frame read from or written to a device opened with IFF_VNET_HDR.
const VirtioNetHdrLen = 10

// Virtio-net header flags.
const (
	FlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM: csum_start/csum_offset are valid
	FlagDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID: checksum already verified
)

// Virtio-net GSO types.
const (
	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3 // UFO, obsolete
	GSOTCPv6 = 4
	GSOUDPL4 = 5 // USO, both families
	GSOECN   = 0x80
)

// VirtioNetHdr is a typed view of struct virtio_net_hdr. The TUN driver uses
// the host's byte order for it (legacy virtio, no TUNSETVNETLE/BE).
type VirtioNetHdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16 // length of all headers up to the end of L4 (hint)
	GSOSize    uint16 // payload bytes per segment
	CsumStart  uint16 // offset of the L4 header from the start of the packet
	CsumOffset uint16 // offset of the checksum field from CsumStart
}

var errShort = errors.New("virtio-net header: buffer shorter than 10 bytes")

// Decode fills h from the first 10 bytes of b.
func (h *VirtioNetHdr) Decode(b []byte) error {
	if len(b) < VirtioNetHdrLen {
		return errShort
	}
	h.Flags = b[0]
	h.GSOType = b[1]
	h.HdrLen = binary.NativeEndian.Uint16(b[2:])
	h.GSOSize = binary.NativeEndian.Uint16(b[4:])
	h.CsumStart = binary.NativeEndian.Uint16(b[6:])
	h.CsumOffset = binary.NativeEndian.Uint16(b[8:])
	return nil
}

// Encode writes h into the first 10 bytes of b.
func (h *VirtioNetHdr) Encode(b []byte) error {
	if len(b) < VirtioNetHdrLen {
		return errShort
	}
	b[0] = h.Flags
	b[1] = h.GSOType
	binary.NativeEndian.PutUint16(b[2:], h.HdrLen)
	binary.NativeEndian.PutUint16(b[4:], h.GSOSize)
	binary.NativeEndian.PutUint16(b[6:], h.CsumStart)
	binary.NativeEndian.PutUint16(b[8:], h.CsumOffset)
	return nil
}

// IsGSO reports whether the frame is a segmentation super-packet.
func (h *VirtioNetHdr) IsGSO() bool { return h.GSOType&^GSOECN != GSONone }

// Translated adjusts the header after the packet's network header changed
// length by delta bytes (+20 for IPv4→IPv6, −20 for IPv6→IPv4, more with
// options or a Fragment header) and family (toV6: the packet is now IPv6).
// TCP GSO types swap family; the segment size stays (the MTUs are planned so
// that translated segments fit, see files/docs/dataplane.md). It fails for
// frames it cannot describe after the change (UFO, offsets out of range).
func (h *VirtioNetHdr) Translated(delta int, toV6 bool) error {
	switch h.GSOType &^ GSOECN {
	case GSONone, GSOUDPL4:
	case GSOTCPv4, GSOTCPv6:
		ecn := h.GSOType & GSOECN
		if toV6 {
			h.GSOType = GSOTCPv6 | ecn
		} else {
			h.GSOType = GSOTCPv4 | ecn
		}
	default:
		return fmt.Errorf("virtio-net header: gso_type %d cannot be translated", h.GSOType)
	}
	if h.Flags&FlagNeedsCsum != 0 {
		cs := int(h.CsumStart) + delta
		if cs <= 0 || cs > 0xffff {
			return fmt.Errorf("virtio-net header: csum_start %d%+d out of range", h.CsumStart, delta)
		}
		h.CsumStart = uint16(cs)
	}
	if h.HdrLen != 0 {
		hl := int(h.HdrLen) + delta
		if hl <= 0 || hl > 0xffff {
			return fmt.Errorf("virtio-net header: hdr_len %d%+d out of range", h.HdrLen, delta)
		}
		h.HdrLen = uint16(hl)
	}
	return nil
}
