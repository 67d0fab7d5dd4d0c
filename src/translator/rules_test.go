package translator

import (
	"net/netip"
	"testing"
)

func TestParsePairString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"local.style RFC6052 local.v6 2001:db8:1::/96 remote.style RFC6052 remote.v6 64:ff9b::/96",
			"local.v4 0.0.0.0/0 local.v6 2001:db8:1::/96 local.style RFC6052 local.ea-len 0 local.psid-offset 0 remote.v4 0.0.0.0/0 remote.v6 64:ff9b::/96 remote.style RFC6052 remote.ea-len 0 remote.psid-offset 0 debug 0"},
		{"local.style NONE local.v4 192.0.0.1/32 local.v6 2001:db8::464/128 remote.style RFC6052 remote.v6 64:ff9b::/96 debug 1",
			"local.v4 192.0.0.1/32 local.v6 2001:db8::464/128 local.style NONE local.ea-len 0 local.psid-offset 0 remote.v4 0.0.0.0/0 remote.v6 64:ff9b::/96 remote.style RFC6052 remote.ea-len 0 remote.psid-offset 0 debug 1"},
		{"", "local.v4 0.0.0.0/0 local.v6 ::/0 local.style NONE local.ea-len 0 local.psid-offset 0 remote.v4 0.0.0.0/0 remote.v6 ::/0 remote.style NONE remote.ea-len 0 remote.psid-offset 0 debug 0"},
		{"local.v4 10.0.0.0/24 local.v6 2001:db8:2::/120 remote.v4 0.0.0.0/0 remote.v6 ::ffff:0:0/96 remote.style RFC6052 local.ea-len 0 local.psid-offset 0",
			"local.v4 10.0.0.0/24 local.v6 2001:db8:2::/120 local.style NONE local.ea-len 0 local.psid-offset 0 remote.v4 0.0.0.0/0 remote.v6 ::ffff:0.0.0.0/96 remote.style RFC6052 remote.ea-len 0 remote.psid-offset 0 debug 0"},
	}
	for _, tc := range tests {
		p, err := ParsePair(tc.in)
		if err != nil {
			t.Fatalf("ParsePair(%q): %v", tc.in, err)
		}
		if got := p.String(); got != tc.want {
			t.Errorf("ParsePair(%q).String():\n got %s\nwant %s", tc.in, got, tc.want)
		}
		q, err := ParsePair(p.String())
		if err != nil || q.String() != p.String() {
			t.Errorf("round trip of %q: %v %+v != %+v", tc.in, err, q, p)
		}
	}
}

func TestParsePairErrors(t *testing.T) {
	for _, in := range []string{
		"local.style MAP local.v4 10.0.0.0/8",
		"local.style FOO",
		"local.style RFC6052 local.v6 2001:db8::/33",
		"local.v4 2001:db8::/32",
		"remote.v6 10.0.0.0/8",
		"bogus 1",
		"local.v6",
		"local.v4 10.0.0.0/8 local.v6 2001:db8::/112",
	} {
		if _, err := ParsePair(in); err == nil {
			t.Errorf("ParsePair(%q): no error", in)
		}
	}
}

func TestKernelIP6c(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:1.2.3.4":          "::ffff:1.2.3.4",
		"fe80::5efe:c000:201":     "fe80::5efe:192.0.2.1",
		"2001:db8:0:1:0:0:0:1":    "2001:db8:0:1::1",
		"2001:db8:0:0:1:0:0:1":    "2001:db8::1:0:0:1",
		"fe80::200:5efe:c000:201": "fe80::200:5efe:192.0.2.1",
	} {
		if got := kernelIP6c(netip.MustParseAddr(in)); got != want {
			t.Errorf("kernelIP6c(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestAddrMap(t *testing.T) {
	// RFC 6052 §2.4 examples
	for pfx, want := range map[string]string{
		"2001:db8::/32":         "2001:db8:c000:221::",
		"2001:db8:100::/40":     "2001:db8:1c0:2:21::",
		"2001:db8:122::/48":     "2001:db8:122:c000:2:2100::",
		"2001:db8:122:300::/56": "2001:db8:122:3c0:0:221::",
		"2001:db8:122:344::/64": "2001:db8:122:344:c0:2:2100::",
		"2001:db8:122:344::/96": "2001:db8:122:344::c000:221",
		"64:ff9b::/96":          "64:ff9b::c000:221",
	} {
		c := compileSide(Side{Style: StyleRFC6052, V6: netip.MustParsePrefix(pfx)})
		v4 := netip.MustParseAddr("192.0.2.33").As4()
		var out [16]byte
		if !c.to6(v4[:], out[:]) || netip.AddrFrom16(out) != netip.MustParseAddr(want) {
			t.Errorf("%s: to6 = %s, want %s", pfx, netip.AddrFrom16(out), want)
		}
		var back [4]byte
		if !c.to4(out[:], back[:]) || back != v4 {
			t.Errorf("%s: to4 = %v", pfx, back)
		}
	}
	// EAM-style NONE
	for _, tc := range []struct{ v4p, v6p, a4, a6 string }{
		{"1.0.0.0/24", "2001:db8:3::/120", "1.0.0.5", "2001:db8:3::5"},
		{"198.51.100.0/24", "2001:db8:1c6:3364::/72", "198.51.100.2", "2001:db8:1c6:3364:2::"},
		{"192.0.0.1/32", "2001:db8::464/128", "192.0.0.1", "2001:db8::464"},
		{"10.0.0.0/8", "2001:db8::/40", "10.1.2.3", "2001:db8:1:203::"},
		{"10.0.0.0/8", "2001:db8::/100", "10.1.2.3", "2001:db8::10:2030"},
	} {
		c := compileSide(Side{V4: netip.MustParsePrefix(tc.v4p), V6: netip.MustParsePrefix(tc.v6p)})
		v4 := netip.MustParseAddr(tc.a4).As4()
		var out [16]byte
		if !c.to6(v4[:], out[:]) || netip.AddrFrom16(out) != netip.MustParseAddr(tc.a6) {
			t.Errorf("%s<->%s: to6(%s) = %s, want %s", tc.v4p, tc.v6p, tc.a4, netip.AddrFrom16(out), tc.a6)
		}
		var back [4]byte
		if !c.to4(out[:], back[:]) || back != v4 {
			t.Errorf("%s<->%s: to4 = %v", tc.v4p, tc.v6p, back)
		}
	}
	zero := compileSide(Side{V4: netip.MustParsePrefix("0.0.0.0/0"), V6: netip.MustParsePrefix("::/0")})
	var out [16]byte
	if zero.to6([]byte{1, 2, 3, 4}, out[:]) {
		t.Error("all-zero NONE side matched")
	}
}
