package translator

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/header"
)

// withFrag6 inserts an IPv6 Fragment header (offset in bytes, M flag, ID) after the fixed
// header of p.
func withFrag6(p []byte, off int, more bool, id uint32) []byte {
	q := make([]byte, len(p)+8)
	copy(q, p[:40])
	header.IPv6Fragment(q[40:]).Encode(p[6], off, more, id)
	copy(q[48:], p[40:])
	q[6] = header.ProtoFragment
	binary.BigEndian.PutUint16(q[4:], uint16(len(q)-40))
	return q
}

// with4Proto sets the protocol of the IPv4 packet p (and its fragment offset in bytes,
// MF) and fixes the header checksum.
func with4Proto(p []byte, proto uint8, off int, mf bool) []byte {
	p = append([]byte(nil), p...)
	p[9] = proto
	fo := uint16(off / 8)
	if mf {
		fo |= 0x2000
	}
	binary.BigEndian.PutUint16(p[6:], fo)
	header.IPv4(p).SetChecksum()
	return p
}

// RFC 8200 §8.1: a zero UDP checksum is not allowed in IPv6. The translator must neither
// pass it on as a wrong IPv4 checksum nor make it valid: dropped and counted.
func TestIPv6UDPZeroChecksum(t *testing.T) {
	const a6, b6 = "2001:db8:1c0:2:21::", "2001:db8:1c6:3364:2::"
	zero := func(p []byte, at int) []byte { p = append([]byte(nil), p...); p[at], p[at+1] = 0, 0; return p }
	udp := mk6(a6, b6, header.ProtoUDP, payloadN(40), pktOpt{})
	quoted := mk6(b6, a6, header.ProtoUDP, payloadN(20), pktOpt{}) // what the IPv4 side sent, seen in an ICMPv6 error
	tests := []struct {
		name     string
		pkt      []byte
		meta     Meta
		want     Verdict
		dropZero uint64
	}{
		{"nonzero checksum", udp, Meta{}, Forward, 0},
		{"zero checksum", zero(udp, 46), Meta{}, Drop, 1},
		{"zero checksum, first fragment", zero(withFrag6(udp, 0, true, 7), 54), Meta{}, Drop, 1},
		{"non-first fragment (no UDP header)", withFrag6(udp[:40+16], 16, false, 7), Meta{}, Forward, 0},
		{"zero in quoted packet of an ICMPv6 error", icmp6Err(a6, b6, 1, 4, zero(quoted, 46)), Meta{}, Emitted, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newT(t, Config{Pairs: []Pair{symPair(t)}})
			out, v := xlate(tr, tc.pkt, tc.meta)
			if v != tc.want || tr.Counters().DropUDPZeroCsum != tc.dropZero {
				t.Fatalf("verdict %v, DropUDPZeroCsum %d; want %v, %d", v, tr.Counters().DropUDPZeroCsum, tc.want, tc.dropZero)
			}
			if v == Forward && len(tc.pkt) > 48 && tc.pkt[6] == header.ProtoUDP && !l4CsumOK(t, out[0]) {
				t.Error("translated checksum invalid")
			}
			if v == Emitted {
				// the quoted IPv4 UDP header keeps "no checksum" instead of a wrong one
				if in := out[0][28:]; in[20+6] != 0 || in[20+7] != 0 {
					t.Errorf("quoted UDP checksum %#x, want 0", binary.BigEndian.Uint16(in[26:]))
				}
			}
		})
	}
}

// The inner packet of an ICMP error passes the same protocol rules as an outer packet.
func TestICMPErrorInnerProtocols(t *testing.T) {
	const a4, b4 = "192.0.2.33", "198.51.100.2"
	const a6, b6 = "2001:db8:1c0:2:21::", "2001:db8:1c6:3364:2::"
	in4 := mk4(a4, b4, header.ProtoUDP, payloadN(16), pktOpt{})
	echo4 := mk4(a4, b4, header.ProtoICMP, payloadN(16), pktOpt{})
	in6 := mk6(a6, b6, header.ProtoUDP, payloadN(16), pktOpt{})
	icmp1in6 := append([]byte(nil), in6...)
	icmp1in6[6] = header.ProtoICMP
	echo6 := mk6(a6, b6, header.ProtoICMPv6, payloadN(16), pktOpt{})
	type counter func(Counters) uint64
	unsupported := func(c Counters) uint64 { return c.DropUnsupported }
	fragICMP := func(c Counters) uint64 { return c.DropFragmentedICMP }
	none := func(Counters) uint64 { return 0 }
	tests := []struct {
		name string
		pkt  []byte
		want Verdict
		c    counter
	}{
		{"v4 quoting UDP", icmp4Err(b4, a4, 3, 3, in4), Emitted, none},
		{"v4 quoting protocol 58", icmp4Err(b4, a4, 3, 3, with4Proto(in4, header.ProtoICMPv6, 0, false)), Drop, unsupported},
		{"v4 quoting protocol 0", icmp4Err(b4, a4, 3, 3, with4Proto(in4, header.ProtoHopByHop, 0, false)), Drop, unsupported},
		{"v4 quoting protocol 43", icmp4Err(b4, a4, 3, 3, with4Proto(in4, header.ProtoRouting, 0, false)), Drop, unsupported},
		{"v4 quoting protocol 44", icmp4Err(b4, a4, 3, 3, with4Proto(in4, header.ProtoFragment, 0, false)), Drop, unsupported},
		{"v4 quoting protocol 60", icmp4Err(b4, a4, 3, 3, with4Proto(in4, header.ProtoDestOpts, 0, false)), Drop, unsupported},
		{"v4 quoting echo", icmp4Err(b4, a4, 3, 3, echo4), Emitted, none},
		{"v4 quoting a fragment of ICMP", icmp4Err(b4, a4, 3, 3, with4Proto(echo4, header.ProtoICMP, 8, false)), Drop, fragICMP},
		{"v4 quoting an ICMP error", icmp4Err(b4, a4, 3, 3, icmp4Err(a4, b4, 3, 1, in4)), Drop, unsupported},
		{"v6 quoting UDP", icmp6Err(b6, a6, 1, 4, in6), Emitted, none},
		{"v6 quoting next header 1", icmp6Err(b6, a6, 1, 4, icmp1in6), Drop, unsupported},
		{"v6 quoting echo", icmp6Err(b6, a6, 1, 4, echo6), Emitted, none},
		{"v6 quoting a fragment of ICMPv6", icmp6Err(b6, a6, 1, 4, withFrag6(echo6[:40+16], 16, false, 9)), Drop, fragICMP},
		{"v6 quoting an ICMPv6 error", icmp6Err(b6, a6, 1, 4, icmp6Err(a6, b6, 1, 3, in6)), Drop, unsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newT(t, Config{Pairs: []Pair{symPair(t)}})
			_, v := xlate(tr, tc.pkt, Meta{})
			if v != tc.want || tc.c(tr.Counters()) != map[Verdict]uint64{Drop: 1}[tc.want] {
				t.Fatalf("verdict %v, counters %+v; want %v", v, tr.Counters(), tc.want)
			}
		})
	}
}

// RFC 6052 §3.1: with StrictWKP, no address of 64:ff9b::/96 may embed a non-global IPv4
// address; other prefixes embed anything.
func TestStrictWKP(t *testing.T) {
	wkp, err := ParsePair("local.style NONE local.v4 192.0.0.1/32 local.v6 2001:db8::464/128 remote.style RFC6052 remote.v6 64:ff9b::/96")
	if err != nil {
		t.Fatal(err)
	}
	nsp := wkp
	nsp.Remote.V6 = netip.MustParsePrefix("2001:db8:64::/96")
	const clat = "2001:db8::464"
	tests := []struct {
		name   string
		pair   Pair
		strict bool
		pkt    []byte
		want   Verdict
	}{
		{"off: 4->6 private", wkp, false, mk4("192.0.0.1", "10.1.2.3", header.ProtoUDP, nil, pktOpt{}), Forward},
		{"off: 6->4 private", wkp, false, mk6("64:ff9b::10.1.2.3", clat, header.ProtoUDP, nil, pktOpt{}), Forward},
		{"4->6 global", wkp, true, mk4("192.0.0.1", "9.9.9.9", header.ProtoUDP, nil, pktOpt{}), Forward},
		{"6->4 global", wkp, true, mk6("64:ff9b::9.9.9.9", clat, header.ProtoTCP, nil, pktOpt{}), Forward},
		{"4->6 RFC 1918", wkp, true, mk4("192.0.0.1", "10.1.2.3", header.ProtoUDP, nil, pktOpt{}), Drop},
		{"4->6 shared 100.64/10", wkp, true, mk4("192.0.0.1", "100.100.1.1", header.ProtoTCP, nil, pktOpt{}), Drop},
		{"4->6 documentation", wkp, true, mk4("192.0.0.1", "198.51.100.7", header.ProtoICMP, nil, pktOpt{}), Drop},
		{"6->4 RFC 1918", wkp, true, mk6("64:ff9b::192.168.1.1", clat, header.ProtoUDP, nil, pktOpt{}), Drop},
		{"6->4 link-local", wkp, true, mk6("64:ff9b::169.254.0.1", clat, header.ProtoICMPv6, nil, pktOpt{icmpType: 129}), Drop},
		{"network-specific prefix: private allowed", nsp, true, mk4("192.0.0.1", "10.1.2.3", header.ProtoUDP, nil, pktOpt{}), Forward},
		{"network-specific prefix 6->4", nsp, true, mk6("2001:db8:64::10.1.2.3", clat, header.ProtoUDP, nil, pktOpt{}), Forward},
		{"ICMPv6 error from a private router", wkp, true,
			icmp6Err("64:ff9b::10.0.0.1", clat, 3, 0, mk6(clat, "64:ff9b::9.9.9.9", header.ProtoUDP, payloadN(8), pktOpt{})), Drop},
		{"ICMPv6 error about a packet to a private address", wkp, true,
			icmp6Err("64:ff9b::9.9.9.9", clat, 1, 4, mk6(clat, "64:ff9b::10.0.0.1", header.ProtoUDP, payloadN(8), pktOpt{})), Drop},
		{"ICMPv6 error, global addresses", wkp, true,
			icmp6Err("64:ff9b::9.9.9.9", clat, 1, 4, mk6(clat, "64:ff9b::8.8.4.4", header.ProtoUDP, payloadN(8), pktOpt{})), Emitted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newT(t, Config{Pairs: []Pair{tc.pair}, StrictWKP: tc.strict, RFC6791: netip.MustParseAddr("192.0.0.2")})
			_, v := xlate(tr, tc.pkt, Meta{})
			var wantDrops uint64
			if tc.want == Drop {
				wantDrops = 1
			}
			if c := tr.Counters(); v != tc.want || c.DropWKPNonGlobal != wantDrops {
				t.Fatalf("verdict %v, counters %+v; want %v", v, c, tc.want)
			}
		})
	}
}

func TestGlobal4(t *testing.T) {
	for a, want := range map[string]bool{
		"9.9.9.9": true, "0.1.2.3": false, "10.255.255.255": false, "100.63.255.255": true,
		"100.64.0.0": false, "100.127.255.255": false, "100.128.0.0": true, "127.0.0.1": false,
		"169.254.1.1": false, "172.15.255.255": true, "172.16.0.0": false, "172.31.255.255": false,
		"172.32.0.0": true, "192.0.0.8": false, "192.0.0.9": true, "192.0.0.10": true, "192.0.0.170": false,
		"192.0.2.1": false, "192.0.3.1": true, "192.168.0.1": false, "198.17.255.255": true,
		"198.18.0.0": false, "198.19.255.255": false, "198.20.0.0": true, "198.51.100.1": false,
		"203.0.113.9": false, "203.0.114.9": true, "224.0.0.1": false, "240.0.0.1": false,
		"255.255.255.255": false, "223.255.255.255": true,
	} {
		b := netip.MustParseAddr(a).As4()
		if got := global4(b[:]); got != want {
			t.Errorf("global4(%s) = %v, want %v", a, got, want)
		}
	}
}
