package translator

import (
	"sync/atomic"

	"github.com/gluon-464xlat/gluon-464xlat/header"
)

// l4Class is what the translator does with a packet, decided by its transport protocol.
type l4Class uint8

const (
	l4Translate l4Class = iota // TCP, UDP and any other transport
	l4Echo                     // ICMP / ICMPv6 echo request or reply
	l4Error                    // translatable ICMP / ICMPv6 error (it quotes a packet)
	// refused (dropped; counter from Translator.refused):
	l4Unsupported
	l4FragmentedICMP
	l4Malformed
)

// classify applies the protocol rules to a packet of IP version 6 (v6) or 4 with transport
// protocol proto and transport bytes l4 (cut short in a quoted packet); frag: the packet is
// a fragment (offset or more-fragments set). Outer packets and the packets quoted in ICMP
// errors go through these same rules:
//   - IPv4 protocols 0, 43, 44, 60 and 58 would turn into IPv6 extension headers or
//     ICMPv6 and change meaning; so would IPv6 next header 1 into ICMPv4;
//   - fragmented ICMP is not translated (its checksum covers the whole message, RFC 7915
//     §1.2, and there is no reassembly here);
//   - only echo and the error types of RFC 7915 §4.2 / §5.2 are translated.
func classify(v6 bool, proto uint8, frag bool, l4 []byte) l4Class {
	if proto == header.ProtoTCP || proto == header.ProtoUDP {
		return l4Translate // the fast path, inlined
	}
	return classifyOther(v6, proto, frag, l4)
}

func classifyOther(v6 bool, proto uint8, frag bool, l4 []byte) l4Class {
	icmp := uint8(header.ProtoICMP)
	if v6 {
		icmp = header.ProtoICMPv6
		if proto == header.ProtoICMP {
			return l4Unsupported
		}
	} else {
		switch proto {
		case header.ProtoHopByHop, header.ProtoRouting, header.ProtoFragment, header.ProtoDestOpts, header.ProtoICMPv6:
			return l4Unsupported
		}
	}
	if proto != icmp {
		return l4Translate
	}
	if frag {
		return l4FragmentedICMP
	}
	if len(l4) < header.ICMPMinSize {
		return l4Malformed
	}
	typ := header.ICMP(l4).Type()
	if v6 {
		switch {
		case typ == 128 || typ == 129:
			return l4Echo
		case typ >= 1 && typ <= 4:
			return l4Error
		}
	} else {
		switch typ {
		case 0, 8:
			return l4Echo
		case 3, 11, 12:
			return l4Error
		}
	}
	return l4Unsupported
}

// refused is the drop counter of a refused class.
func (t *Translator) refused(c l4Class) *atomic.Uint64 {
	switch c {
	case l4FragmentedICMP:
		return &t.c.dropFragICMP
	case l4Malformed:
		return &t.c.dropMalformed
	}
	return &t.c.dropUnsupported
}

// refuseQuoted applies classify to a packet quoted in an ICMP error, where an ICMP error is
// refused too (an error about an error); nil: translate it.
func (t *Translator) refuseQuoted(v6 bool, proto uint8, frag bool, l4 []byte) *atomic.Uint64 {
	switch c := classify(v6, proto, frag, l4); {
	case c >= l4Unsupported:
		return t.refused(c)
	case c == l4Error:
		return &t.c.dropUnsupported
	}
	return nil
}
