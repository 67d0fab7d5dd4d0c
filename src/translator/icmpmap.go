package translator

// ICMP type/code and pointer maps of RFC 7915 §4.2 and §5.2.

// icmpErrMap4to6 maps an ICMPv4 error type/code. ok=false: drop silently.
// ptr: parameter problem needs pointer translation; mtu: frag needed -> PTB.
func icmpErrMap4to6(typ, code uint8) (t6, c6 uint8, ptr, mtu, ok bool) {
	switch typ {
	case 3:
		switch code {
		case 0, 1, 5, 6, 7, 8, 11, 12:
			return 1, 0, false, false, true
		case 2:
			return 4, 1, false, false, true // pointer 6 set by the caller
		case 3:
			return 1, 4, false, false, true
		case 4:
			return 2, 0, false, true, true
		case 9, 10, 13, 15:
			return 1, 1, false, false, true
		}
	case 11:
		return 3, code, false, false, true
	case 12:
		if code == 0 || code == 2 {
			return 4, 0, true, false, true
		}
	}
	return 0, 0, false, false, false
}

// ptrMap4to6 maps an IPv4 header pointer to an IPv6 one (RFC 7915 Figure 3).
func ptrMap4to6(p uint8) (uint8, bool) {
	switch {
	case p == 0:
		return 0, true
	case p == 1:
		return 1, true
	case p == 2 || p == 3:
		return 4, true
	case p == 8:
		return 7, true
	case p == 9:
		return 6, true
	case p >= 12 && p <= 15:
		return 8, true
	case p >= 16 && p <= 19:
		return 24, true
	}
	return 0, false
}

// icmpErrMap6to4 maps an ICMPv6 error type/code.
func icmpErrMap6to4(typ, code uint8) (t4, c4 uint8, ptr, mtu, ok bool) {
	switch typ {
	case 1:
		switch code {
		case 0, 2, 3:
			return 3, 1, false, false, true
		case 1:
			return 3, 10, false, false, true
		case 4:
			return 3, 3, false, false, true
		}
	case 2:
		if code == 0 {
			return 3, 4, false, true, true
		}
	case 3:
		return 11, code, false, false, true
	case 4:
		switch code {
		case 0:
			return 12, 0, true, false, true
		case 1:
			return 3, 2, false, false, true
		}
	}
	return 0, 0, false, false, false
}

// ptrMap6to4 maps an IPv6 header pointer to an IPv4 one (RFC 7915 Figure 6).
func ptrMap6to4(p uint32) (uint8, bool) {
	switch {
	case p == 0:
		return 0, true
	case p == 1:
		return 1, true
	case p == 4 || p == 5:
		return 2, true
	case p == 6:
		return 9, true
	case p == 7:
		return 8, true
	case p >= 8 && p <= 23:
		return 12, true
	case p >= 24 && p <= 39:
		return 16, true
	}
	return 0, false
}

// RFC 1191 plateaus (Jool's default mtu-plateaus).
var plateaus = [...]int{65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68}

// ptbMTU computes the ICMPv6 PTB MTU for an ICMPv4 Frag Needed with MTU field mtu4
// (RFC 7915 §4.2): min(mtu4+20, MTU6, MTU4+20), never below 1280; mtu4 = 0 -> the largest
// plateau below the inner packet's total length.
func (t *Translator) ptbMTU(mtu4, innerTot int) uint32 {
	if mtu4 == 0 {
		for _, p := range plateaus {
			if p < innerTot {
				mtu4 = p
				break
			}
		}
	}
	m := mtu4 + 20
	if t.cfg.MTU6 < m {
		m = t.cfg.MTU6
	}
	if t.cfg.MTU4+20 < m {
		m = t.cfg.MTU4 + 20
	}
	if m < 1280 {
		m = 1280
	}
	return uint32(m)
}

// fragNeededMTU computes the ICMPv4 Frag Needed MTU for an ICMPv6 PTB with MTU mtu6
// (RFC 7915 §5.2): min(mtu6-20, MTU4, MTU6-20).
func (t *Translator) fragNeededMTU(mtu6 uint32) uint16 {
	m := int64(mtu6) - 20
	if int64(t.cfg.MTU4) < m {
		m = int64(t.cfg.MTU4)
	}
	if int64(t.cfg.MTU6-20) < m {
		m = int64(t.cfg.MTU6 - 20)
	}
	if m < 68 {
		m = 68
	}
	return uint16(m)
}
