package roamd

import (
	"testing"
	"time"
)

func TestLeaseEnd(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		exp, rem string
		want     int64
	}{
		{"5000", "", 5000},
		{"", "300", 1300},
		{"0", "300", 1300}, // infinite/unknown expiry: fall back to remaining
		{"", "", 0},
		{"x", "y", 0},
	} {
		if got := leaseEnd(tc.exp, tc.rem, now); got != tc.want {
			t.Errorf("leaseEnd(%q,%q) = %d, want %d", tc.exp, tc.rem, got, tc.want)
		}
	}
}
