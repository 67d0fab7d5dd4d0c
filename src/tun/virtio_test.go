package tun

import (
	"bytes"
	"testing"
)

func TestVirtioNetHdrRoundTrip(t *testing.T) {
	h := VirtioNetHdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, HdrLen: 66, GSOSize: 1448, CsumStart: 20, CsumOffset: 16}
	b := make([]byte, VirtioNetHdrLen)
	if err := h.Encode(b); err != nil {
		t.Fatal(err)
	}
	var g VirtioNetHdr
	if err := g.Decode(b); err != nil {
		t.Fatal(err)
	}
	if g != h {
		t.Fatalf("round trip: got %+v, want %+v", g, h)
	}
	if err := g.Decode(b[:9]); err == nil {
		t.Error("Decode of 9 bytes: no error")
	}
	if err := h.Encode(b[:9]); err == nil {
		t.Error("Encode into 9 bytes: no error")
	}
	// A zero header encodes to zeros (plain frames).
	var z VirtioNetHdr
	_ = z.Encode(b)
	if !bytes.Equal(b, make([]byte, 10)) {
		t.Errorf("zero header encodes to %x", b)
	}
}

func TestVirtioNetHdrTranslated(t *testing.T) {
	tests := []struct {
		name    string
		in      VirtioNetHdr
		delta   int
		toV6    bool
		want    VirtioNetHdr
		wantErr bool
	}{
		{
			name:  "tcp4 super-packet to v6",
			in:    VirtioNetHdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, HdrLen: 52, GSOSize: 1440, CsumStart: 20, CsumOffset: 16},
			delta: 20, toV6: true,
			want: VirtioNetHdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv6, HdrLen: 72, GSOSize: 1440, CsumStart: 40, CsumOffset: 16},
		},
		{
			name:  "tcp6 super-packet with ECN to v4",
			in:    VirtioNetHdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv6 | GSOECN, HdrLen: 72, GSOSize: 1428, CsumStart: 40, CsumOffset: 16},
			delta: -20, toV6: false,
			want: VirtioNetHdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv4 | GSOECN, HdrLen: 52, GSOSize: 1428, CsumStart: 20, CsumOffset: 16},
		},
		{
			name:  "v4 with options to v6",
			in:    VirtioNetHdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv4, HdrLen: 56, GSOSize: 1000, CsumStart: 24, CsumOffset: 16},
			delta: 16, toV6: true,
			want: VirtioNetHdr{Flags: FlagNeedsCsum, GSOType: GSOTCPv6, HdrLen: 72, GSOSize: 1000, CsumStart: 40, CsumOffset: 16},
		},
		{
			name:  "udp partial checksum, no gso",
			in:    VirtioNetHdr{Flags: FlagNeedsCsum, CsumStart: 20, CsumOffset: 6},
			delta: 20, toV6: true,
			want: VirtioNetHdr{Flags: FlagNeedsCsum, CsumStart: 40, CsumOffset: 6},
		},
		{
			name:  "uso keeps its type",
			in:    VirtioNetHdr{Flags: FlagNeedsCsum, GSOType: GSOUDPL4, HdrLen: 48, GSOSize: 1200, CsumStart: 40, CsumOffset: 6},
			delta: -20,
			want:  VirtioNetHdr{Flags: FlagNeedsCsum, GSOType: GSOUDPL4, HdrLen: 28, GSOSize: 1200, CsumStart: 20, CsumOffset: 6},
		},
		{
			name:  "plain frame stays zero",
			delta: 20, toV6: true,
		},
		{
			name:  "data valid without csum: start untouched",
			in:    VirtioNetHdr{Flags: FlagDataValid},
			delta: -20,
			want:  VirtioNetHdr{Flags: FlagDataValid},
		},
		{
			name:    "ufo refused",
			in:      VirtioNetHdr{GSOType: GSOUDP},
			delta:   20,
			wantErr: true,
		},
		{
			name:    "csum_start underflow",
			in:      VirtioNetHdr{Flags: FlagNeedsCsum, CsumStart: 10},
			delta:   -20,
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.in
			err := h.Translated(tt.delta, tt.toV6)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && h != tt.want {
				t.Errorf("got %+v, want %+v", h, tt.want)
			}
		})
	}
}

func TestIsGSO(t *testing.T) {
	for _, tt := range []struct {
		typ  uint8
		want bool
	}{{GSONone, false}, {GSOECN, false}, {GSOTCPv4, true}, {GSOTCPv6 | GSOECN, true}, {GSOUDPL4, true}} {
		h := VirtioNetHdr{GSOType: tt.typ}
		if h.IsGSO() != tt.want {
			t.Errorf("IsGSO(%#x) = %v", tt.typ, !tt.want)
		}
	}
}
