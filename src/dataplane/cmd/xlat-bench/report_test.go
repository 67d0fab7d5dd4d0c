package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestPerRunAndJSON checks that ratios are taken round by round (not from
// the medians) and that BENCH_JSON carries the minimum of them.
func TestPerRunAndJSON(t *testing.T) {
	r := newResults()
	for _, v := range [][2]float64{{10, 2}, {9, 3}, {12, 2}} { // xlat, tayga per round
		r.add(tcpRev, xlat, sample{value: v[0]})
		r.add(tcpRev, tayga, sample{value: v[1]})
	}
	got := r.perRun(tcpRev, xlat, tayga)
	want := []float64{5, 3, 6}
	if len(got) != len(want) {
		t.Fatalf("perRun = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("perRun = %v, want %v", got, want)
		}
	}
	r.load = []float64{1, 2, 3}
	path := filepath.Join(t.TempDir(), "bench.json")
	o := options{plans: []plan{{tcpRev, []string{tayga, xlat}}}}
	if err := r.writeJSON(path, o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]map[string]float64
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out["ratios"]["tcp_reverse_gbps_xlat_over_tayga_min"] != 3 || out["ratios"]["tcp_reverse_gbps_xlat_over_tayga_median"] != 5 ||
		out["tcp_reverse_gbps"]["xlat"] != 10 || out["load_average_1min"]["median"] != 2 {
		t.Fatalf("BENCH_JSON: %s", b)
	}
}
