package translator

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Style is how one side of a rule pair maps addresses (nat46 `local.style` / `remote.style`).
type Style uint8

const (
	// StyleNone is nat46's NONE: a 1:1 host mapping v4/32 <-> v6/128. Generalised here to
	// EAM-style prefix pairs (RFC 7757): v4/p4 <-> v6/p6 with 32-p4 <= 128-p6; the 32-p4
	// host bits of the IPv4 address are placed right after the IPv6 prefix.
	StyleNone Style = iota
	// StyleRFC6052 embeds the whole IPv4 address into the IPv6 prefix (/32../96, RFC 6052 §2.2).
	StyleRFC6052
)

// String returns the nat46 keyword for the style.
func (s Style) String() string {
	switch s {
	case StyleNone:
		return "NONE"
	case StyleRFC6052:
		return "RFC6052"
	}
	return "Style(" + strconv.Itoa(int(s)) + ")"
}

// Side is one half of a nat46 rule pair.
type Side struct {
	Style Style
	V4    netip.Prefix // zero value renders as 0.0.0.0/0
	V6    netip.Prefix // zero value renders as ::/0
	// EALen and PSIDOffset are accepted for read-back fidelity only (MAP is not supported).
	EALen      int
	PSIDOffset int
}

// Pair is a nat46 rule pair. Local = hosts on the IPv4 side of the translator,
// Remote = hosts on the IPv6 side (their IPv4 representation).
type Pair struct {
	Local, Remote Side
	// Debug is nat46's instance-wide debug level; kept only so that String renders
	// the same line nat46 prints. It has no effect on translation.
	Debug int
}

// ParsePair parses a nat46 pair configuration such as
// "local.style RFC6052 local.v6 2001:db8:1::/96 remote.style RFC6052 remote.v6 64:ff9b::/96",
// starting from nat46's all-zero pair (both styles NONE).
// The result is validated (see Validate).
func ParsePair(cfg string) (Pair, error) {
	var p Pair
	if err := p.Apply(cfg); err != nil {
		return Pair{}, err
	}
	if err := p.Validate(); err != nil {
		return Pair{}, err
	}
	return p, nil
}

// Apply modifies p with the keywords in cfg, like nat46's `config <dev> <cfg>` does for the
// last pair: fields not mentioned keep their values. Only syntax and styles are checked, so
// that a pair can be built by several commands (as toreanderson/clatd does); New validates
// the final pairs. On error p is left unchanged.
func (p *Pair) Apply(cfg string) error {
	q := *p
	f := strings.Fields(cfg)
	for i := 0; i < len(f); i++ {
		key := f[i]
		if key == "local.fmr-flag" { // documented by nat46, not parsed; tolerate a value-less flag
			continue
		}
		if i+1 >= len(f) {
			return fmt.Errorf("nat46 pair: keyword %q has no value", key)
		}
		val := f[i+1]
		i++
		if key == "debug" {
			n, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("nat46 pair: debug %q: %w", val, err)
			}
			q.Debug = n
			continue
		}
		var s *Side
		var field string
		switch {
		case strings.HasPrefix(key, "local."):
			s, field = &q.Local, key[len("local."):]
		case strings.HasPrefix(key, "remote."):
			s, field = &q.Remote, key[len("remote."):]
		default:
			return fmt.Errorf("nat46 pair: unknown keyword %q", key)
		}
		if err := s.set(field, val); err != nil {
			return fmt.Errorf("nat46 pair: %s: %w", key, err)
		}
	}
	*p = q
	return nil
}

func (s *Side) set(field, val string) error {
	switch field {
	case "style":
		switch val {
		case "NONE":
			s.Style = StyleNone
		case "RFC6052":
			s.Style = StyleRFC6052
		case "MAP", "MAP0":
			return fmt.Errorf("style %s (MAP-T) is not supported by this translator", val)
		default:
			return fmt.Errorf("unknown style %q (want NONE or RFC6052)", val)
		}
	case "v4":
		pf, err := parsePrefix(val, 32)
		if err != nil || !pf.Addr().Is4() {
			return fmt.Errorf("bad IPv4 prefix %q", val)
		}
		s.V4 = pf
	case "v6":
		pf, err := parsePrefix(val, 128)
		if err != nil || !pf.Addr().Is6() {
			return fmt.Errorf("bad IPv6 prefix %q", val)
		}
		s.V6 = pf
	case "ea-len", "psid-offset":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return fmt.Errorf("bad integer %q", val)
		}
		if field == "ea-len" {
			s.EALen = n
		} else {
			s.PSIDOffset = n
		}
	default:
		return fmt.Errorf("unknown field %q", field)
	}
	return nil
}

func parsePrefix(v string, bits int) (netip.Prefix, error) {
	if !strings.Contains(v, "/") {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, bits), nil
	}
	return netip.ParsePrefix(v)
}

// Validate checks that every side is usable by the translator.
func (p Pair) Validate() error {
	for _, x := range []struct {
		name string
		s    Side
	}{{"local", p.Local}, {"remote", p.Remote}} {
		if err := x.s.validate(); err != nil {
			return fmt.Errorf("nat46 pair: %s: %w", x.name, err)
		}
	}
	return nil
}

func (s Side) validate() error {
	if s.V4.IsValid() && !s.V4.Addr().Is4() {
		return errors.New("v4 prefix is not IPv4")
	}
	if s.V6.IsValid() && (!s.V6.Addr().Is6()) {
		return errors.New("v6 prefix is not IPv6")
	}
	switch s.Style {
	case StyleRFC6052:
		switch s.V6.Bits() {
		case 32, 40, 48, 56, 64, 96:
		case -1, 0:
			// no prefix (nat46's zero pair): the side matches nothing, as in nat46
		default:
			return fmt.Errorf("RFC6052 v6 prefix length %d not one of 32/40/48/56/64/96", s.V6.Bits())
		}
	case StyleNone:
		if s.V4.IsValid() && s.V6.IsValid() && s.V4.Bits() > 0 && 32-s.V4.Bits() > 128-s.V6.Bits() {
			return fmt.Errorf("NONE: v4 /%d has more host bits than v6 /%d", s.V4.Bits(), s.V6.Bits())
		}
	default:
		return fmt.Errorf("unknown style %d", s.Style)
	}
	return nil
}

// String renders the pair exactly like nat46's read-back line (nat46_get_ipair_config).
func (p Pair) String() string {
	var b strings.Builder
	p.Local.render(&b, "local")
	b.WriteByte(' ')
	p.Remote.render(&b, "remote")
	b.WriteString(" debug ")
	b.WriteString(strconv.Itoa(p.Debug))
	return b.String()
}

func (s Side) render(b *strings.Builder, name string) {
	v4, v4len := "0.0.0.0", 0
	if s.V4.IsValid() {
		v4, v4len = s.V4.Addr().String(), s.V4.Bits()
	}
	v6, v6len := "::", 0
	if s.V6.IsValid() {
		v6, v6len = kernelIP6c(s.V6.Addr()), s.V6.Bits()
	}
	fmt.Fprintf(b, "%s.v4 %s/%d %s.v6 %s/%d %s.style %s %s.ea-len %d %s.psid-offset %d",
		name, v4, v4len, name, v6, v6len, name, s.Style, name, s.EALen, name, s.PSIDOffset)
}

// kernelIP6c formats like the kernel's %pI6c: RFC 5952 compression (longest run of at
// least two zero words, first one on ties), with the last 32 bits as a dotted quad for
// IPv4-mapped and ISATAP addresses.
func kernelIP6c(a netip.Addr) string {
	b := a.As16()
	isatap := (b[8]|0x02) == 0x02 && b[9] == 0 && b[10] == 0x5e && b[11] == 0xfe
	if !a.Is4In6() && !isatap {
		return a.WithZone("").String()
	}
	var w [6]uint16
	for i := range w {
		w[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	best, bestLen := -1, 1
	for i := 0; i < len(w); {
		if w[i] != 0 {
			i++
			continue
		}
		j := i
		for j < len(w) && w[j] == 0 {
			j++
		}
		if j-i > bestLen {
			best, bestLen = i, j-i
		}
		i = j
	}
	var sb strings.Builder
	needColon := false
	for i := 0; i < len(w); i++ {
		if i == best {
			sb.WriteString("::")
			i += bestLen - 1
			needColon = false
			continue
		}
		if needColon {
			sb.WriteByte(':')
		}
		sb.WriteString(strconv.FormatUint(uint64(w[i]), 16))
		needColon = true
	}
	if needColon {
		sb.WriteByte(':')
	}
	sb.WriteString(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}).String())
	return sb.String()
}
