package addrmap

import (
	"net/netip"
	"testing"
)

func TestParseMAC(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"12:34:56:78:9a:bc", "12:34:56:78:9a:bc", true},
		{"12:34:56:78:9A:BC\n", "12:34:56:78:9a:bc", true},
		{"12-34-56-78-9a-bc", "12:34:56:78:9a:bc", true},
		{"123456789abc", "12:34:56:78:9a:bc", true},
		{"12:34:56:78:9a", "", false},
		{"12:34:56:78:9a:zz", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		m, err := ParseMAC(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseMAC(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && m.String() != tc.want {
			t.Errorf("ParseMAC(%q) = %s, want %s", tc.in, m, tc.want)
		}
	}
}

func mustMAC(t *testing.T, s string) MAC {
	t.Helper()
	m, err := ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNodePrefix96(t *testing.T) {
	tests := []struct {
		rng, mac, want string
		wantErr        bool
	}{
		{"fddd:1337:1337::/48", "12:34:56:78:9a:bc", "fddd:1337:1337:1234:5678:9abc::/96", false},
		{"fdff:ffff:ffff::/48", "aa:bb:cc:dd:ee:ff", "fdff:ffff:ffff:aabb:ccdd:eeff::/96", false},
		{"64:ff9b:1::/48", "02:00:00:00:00:01", "64:ff9b:1:200::1:0:0/96", false},
		{"fddd::/64", "12:34:56:78:9a:bc", "", true},
		{"fddd:1337:1337:1::/48", "12:34:56:78:9a:bc", "", true},
		{"10.0.0.0/8", "12:34:56:78:9a:bc", "", true},
		{"::ffff:10.0.0.0/104", "12:34:56:78:9a:bc", "", true},
	}
	for _, tc := range tests {
		p, err := NodePrefix96(netip.MustParsePrefix(tc.rng), mustMAC(t, tc.mac))
		if (err != nil) != tc.wantErr {
			t.Errorf("NodePrefix96(%s, %s) err = %v, wantErr %v", tc.rng, tc.mac, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && p != netip.MustParsePrefix(tc.want) {
			t.Errorf("NodePrefix96(%s, %s) = %s, want %s", tc.rng, tc.mac, p, tc.want)
		}
	}
}

func TestEUI64(t *testing.T) {
	tests := []struct {
		prefix, mac, want string
		wantErr           bool
	}{
		// l3roamd.md §4 example
		{"fec0::/64", "aa:bb:cc:dd:ee:ff", "fec0::a8bb:ccff:fedd:eeff", false},
		{"fd01:2345:6789:abcd::/64", "12:34:56:78:9a:bc", "fd01:2345:6789:abcd:1034:56ff:fe78:9abc", false},
		// the U/L bit is flipped, not set
		{"2001:db8::/64", "02:00:00:00:00:01", "2001:db8::ff:fe00:1", false},
		{"2001:db8::/48", "02:00:00:00:00:01", "2001:db8::ff:fe00:1", false},
		{"2001:db8::/96", "02:00:00:00:00:01", "", true},
		{"10.0.0.0/8", "02:00:00:00:00:01", "", true},
	}
	for _, tc := range tests {
		a, err := EUI64(netip.MustParsePrefix(tc.prefix), mustMAC(t, tc.mac))
		if (err != nil) != tc.wantErr {
			t.Errorf("EUI64(%s, %s) err = %v", tc.prefix, tc.mac, err)
			continue
		}
		if !tc.wantErr && a != netip.MustParseAddr(tc.want) {
			t.Errorf("EUI64(%s, %s) = %s, want %s", tc.prefix, tc.mac, a, tc.want)
		}
	}
	a, _ := NodeAddress(netip.MustParsePrefix("fdca:ffee:8:0::/64"), mustMAC(t, "12:34:56:78:9a:bc"))
	if a != netip.MustParseAddr("fdca:ffee:8::1034:56ff:fe78:9abc") {
		t.Errorf("NodeAddress = %s", a)
	}
	c, _ := NodeClientIP(netip.MustParsePrefix("fec0::/64"), mustMAC(t, "aa:bb:cc:dd:ee:ff"))
	if c != netip.MustParseAddr("fec0::a8bb:cc04:64dd:eeff") {
		t.Errorf("NodeClientIP = %s", c)
	}
}

// TestNodeClientIPNotL3roamds: l3roamd-xlat's node-client-IP of a MAC is in
// the node-client /64 but never Gluon l3roamd's node-client-IP (its EUI-64,
// clientmgr.c mac2ipv6) of any MAC, so neither daemon adds or deletes the
// other's address.
func TestNodeClientIPNotL3roamds(t *testing.T) {
	p := netip.MustParsePrefix("fdca:ffee:80:2::/64")
	for _, s := range []string{"aa:bb:cc:dd:ee:ff", "02:c1:1e:00:00:01", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "04:64:00:00:00:00"} {
		mac := mustMAC(t, s)
		ours, err := NodeClientIP(p, mac)
		if err != nil {
			t.Fatal(err)
		}
		theirs, _ := EUI64(p, mac)
		if !p.Contains(ours) {
			t.Errorf("%s: %s outside %s", s, ours, p)
		}
		if b := ours.As16(); ours == theirs || (b[11] == 0xff && b[12] == 0xfe) {
			t.Errorf("%s: node-client-IP %s has l3roamd's form (EUI-64 %s)", s, ours, theirs)
		}
	}
}

func TestEmbedExtract(t *testing.T) {
	p := netip.MustParsePrefix("fddd:1337:1337:1234:5678:9abc::/96")
	tests := []struct{ v4, v6 string }{
		{"192.0.0.1", "fddd:1337:1337:1234:5678:9abc:c000:1"},
		{"10.80.0.23", "fddd:1337:1337:1234:5678:9abc:a50:17"},
		{"0.0.0.0", "fddd:1337:1337:1234:5678:9abc::"},
		{"255.255.255.255", "fddd:1337:1337:1234:5678:9abc:ffff:ffff"},
	}
	for _, tc := range tests {
		got := Embed(p, netip.MustParseAddr(tc.v4))
		if got != netip.MustParseAddr(tc.v6) {
			t.Errorf("Embed(%s) = %s; want %s", tc.v4, got, tc.v6)
		}
		back, ok := Extract(p, got)
		if !ok || back != netip.MustParseAddr(tc.v4) {
			t.Errorf("Extract(%s) = %s, %v", got, back, ok)
		}
	}
	if _, ok := Extract(p, netip.MustParseAddr("fddd:1337:1337:1234:5678:9abd::1")); ok {
		t.Error("Extract outside the /96 succeeded")
	}
	for _, bad := range []string{"64:ff9b::/64", "::ffff:0:0/96", "10.0.0.0/8"} {
		if err := Check96(netip.MustParsePrefix(bad)); err == nil {
			t.Errorf("Check96(%s) accepted", bad)
		}
	}
	if err := Check96(p); err != nil {
		t.Errorf("Check96(%s) = %v", p, err)
	}
	if got := Embed(netip.MustParsePrefix("64:ff9b::/96"), netip.MustParseAddr("192.0.2.1")); got.String() != "64:ff9b::c000:201" {
		t.Errorf("Embed well-known = %s", got)
	}
}

func TestEmbedPrefix(t *testing.T) {
	p := netip.MustParsePrefix("fdff:ffff:ffff:aabb:ccdd:eeff::/96")
	tests := []struct{ v4, want string }{
		{"10.0.0.0/8", "fdff:ffff:ffff:aabb:ccdd:eeff:a00:0/104"},
		{"172.16.0.0/12", "fdff:ffff:ffff:aabb:ccdd:eeff:ac10:0/108"},
		{"192.168.0.0/16", "fdff:ffff:ffff:aabb:ccdd:eeff:c0a8:0/112"},
		{"0.0.0.0/0", "fdff:ffff:ffff:aabb:ccdd:eeff::/96"},
		{"10.1.2.3/8", "fdff:ffff:ffff:aabb:ccdd:eeff:a00:0/104"},
	}
	for _, tc := range tests {
		got, err := EmbedPrefix(p, netip.MustParsePrefix(tc.v4))
		if err != nil || got != netip.MustParsePrefix(tc.want) {
			t.Errorf("EmbedPrefix(%s) = %s, %v; want %s", tc.v4, got, err, tc.want)
		}
	}
	if _, err := EmbedPrefix(p, netip.MustParsePrefix("::/0")); err == nil {
		t.Error("EmbedPrefix of IPv6 prefix succeeded")
	}
}
