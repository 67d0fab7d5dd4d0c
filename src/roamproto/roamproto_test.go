package roamproto

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func sample() *Message {
	return &Message{
		Type: TypeRoam, TTL: 1, Nonce: 0xdeadbeef,
		Sender:    netip.MustParseAddr("fd00::b"),
		MAC:       net.HardwareAddr{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
		CLAT:      netip.MustParsePrefix("fd00:1::d:0:0/96"),
		ClientIP:  netip.MustParseAddr("10.80.0.5"),
		LeaseTime: 3600, HasLease: true,
		PLAT:      netip.MustParsePrefix("fd00:2::c:0:0/96"),
		NewCLAT:   netip.MustParsePrefix("fd00:1::b:0:0/96"),
		OldPLAT:   netip.MustParsePrefix("fd00:2::e:0:0/96"),
		Timestamp: time.UnixMilli(1_700_000_000_123),
		Echo:      7, HasEcho: true,
	}
}

func TestRoundTrip(t *testing.T) {
	for _, secret := range [][]byte{nil, []byte("site-key")} {
		m := sample()
		b, err := Encode(m, secret)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(b, secret)
		if err != nil {
			t.Fatal(err)
		}
		m.Signed = len(secret) > 0
		m.Timestamp = m.Timestamp.Local()
		got.Timestamp = got.Timestamp.Local()
		if !reflect.DeepEqual(got, m) {
			t.Errorf("secret %q: got %+v want %+v", secret, got, m)
		}
	}
}

func TestHeaderLayout(t *testing.T) {
	m := &Message{Type: TypeClaim, Nonce: 0x01020304, Sender: netip.MustParseAddr("fd00::1"),
		MAC: net.HardwareAddr{1, 2, 3, 4, 5, 6}}
	b, err := Encode(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0, 1, 1, 0, 1, 2, 3, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, TLVMAC, 8, 1, 2, 3, 4, 5, 6}
	if !bytes.Equal(b, want) {
		t.Errorf("got % x\nwant % x", b, want)
	}
}

func TestParseErrors(t *testing.T) {
	good, err := Encode(sample(), nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Encode(sample(), []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	tests := []struct {
		name   string
		pkt    []byte
		secret []byte
		want   error
	}{
		{"short", good[:10], nil, ErrShort},
		{"version1", mod(good, func(b []byte) []byte { b[0] = 1; return b }), nil, ErrVersion},
		{"unknown type", mod(good, func(b []byte) []byte { b[2] = 9; return b }), nil, ErrType},
		{"length 0", append(append([]byte(nil), good...), 50, 0), nil, ErrSegment},
		{"length 1", append(append([]byte(nil), good...), 50, 1), nil, ErrSegment},
		{"past end", append(append([]byte(nil), good...), 50, 9, 1), nil, ErrSegment},
		{"odd byte", append(append([]byte(nil), good...), 50), nil, ErrSegment},
		{"bad length known", mod(good, func(b []byte) []byte { b[HeaderLen+1] = 7; return b }), nil, ErrSegment},
		{"missing hmac", good, []byte("k"), ErrHMAC},
		{"wrong key", signed, []byte("other"), ErrHMAC},
		{"tampered", mod(signed, func(b []byte) []byte { b[HeaderLen+3] ^= 1; return b }), []byte("k"), ErrHMAC},
		{"after hmac", append(append([]byte(nil), signed...), 50, 2), []byte("k"), ErrSegment},
		{"duplicate", append(append([]byte(nil), good...), TLVLeaseTime, 6, 0, 0, 0, 1), nil, ErrDuplicate},
		{"missing", good[:HeaderLen+8], nil, ErrMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.pkt, tc.secret)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestUnknownSegmentSkipped(t *testing.T) {
	b, err := Encode(sample(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// insert an unknown segment right after the header
	x := append(append(append([]byte(nil), b[:HeaderLen]...), 200, 5, 9, 9, 9), b[HeaderLen:]...)
	m, err := Parse(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.LeaseTime != 3600 || m.ClientIP != netip.MustParseAddr("10.80.0.5") {
		t.Errorf("got %+v", m)
	}
}

func TestEncodeRejects(t *testing.T) {
	m := sample()
	m.CLAT = netip.MustParsePrefix("fd00::/64")
	if _, err := Encode(m, nil); err == nil {
		t.Error("non-/96 CLAT accepted")
	}
	m = sample()
	m.ClientIP = netip.MustParseAddr("fd00::1")
	if _, err := Encode(m, nil); err == nil {
		t.Error("IPv6 CLIENTIP accepted")
	}
	m = sample()
	m.HasLease = false
	if _, err := Encode(m, nil); !errors.Is(err, ErrMissing) {
		t.Errorf("ROAM without LEASETIME: %v", err)
	}
}

// TestRequiredHandover: the handover messages need what their checks use
// (a ROAM names the PLAT it is meant for, so that it cannot be replayed to
// another one; CONFIRM carries the lease the serving node reports).
func TestRequiredHandover(t *testing.T) {
	for _, tc := range []struct {
		typ  uint8
		drop func(*Message)
	}{
		{TypeRoam, func(m *Message) { m.PLAT = netip.Prefix{} }},
		{TypeVerify, func(m *Message) { m.NewCLAT = netip.Prefix{} }},
		{TypeVerify, func(m *Message) { m.CLAT = netip.Prefix{} }},
		{TypeConfirm, func(m *Message) { m.HasEcho = false }},
		{TypeConfirm, func(m *Message) { m.HasLease = false }},
		{TypeRefuse, func(m *Message) { m.HasEcho = false }},
	} {
		m := sample()
		m.Type = tc.typ
		if _, err := Encode(m, nil); err != nil {
			t.Fatalf("%s: %v", TypeName(tc.typ), err)
		}
		tc.drop(m)
		if _, err := Encode(m, nil); !errors.Is(err, ErrMissing) {
			t.Errorf("%s without a required segment: %v", TypeName(tc.typ), err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range [][]byte{nil, []byte("k")} {
		for _, ty := range []uint8{TypeClaim, TypeInfo, TypeAck, TypeRoam, TypeVerify, TypeConfirm, TypeRefuse} {
			m := sample()
			m.Type = ty
			b, err := Encode(m, s)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, len(s) > 0)
		}
	}
	f.Add(make([]byte, 24), false)
	f.Fuzz(func(t *testing.T, b []byte, useKey bool) {
		var key []byte
		if useKey {
			key = []byte("k")
		}
		m, err := Parse(b, key)
		if err != nil {
			return
		}
		// what parses must re-encode and parse to the same message
		e, err := Encode(m, key)
		if err != nil {
			t.Fatalf("re-encode: %v (%+v)", err, m)
		}
		m2, err := Parse(e, key)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if m.Timestamp.UnixMilli() != m2.Timestamp.UnixMilli() || m.Nonce != m2.Nonce || m.ClientIP != m2.ClientIP ||
			m.CLAT != m2.CLAT || m.NewCLAT != m2.NewCLAT || m.PLAT != m2.PLAT || m.LeaseTime != m2.LeaseTime ||
			!bytes.Equal(m.MAC, m2.MAC) || m.Echo != m2.Echo {
			t.Fatalf("mismatch %+v vs %+v", m, m2)
		}
	})
}
