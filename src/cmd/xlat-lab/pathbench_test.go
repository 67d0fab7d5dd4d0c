package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestMergeJSONKeepsOtherKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := os.WriteFile(path, []byte(`{"tcp_gbps": {"xlat": 4.2}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mergeJSON(path, "path", map[string]any{"runs": 3}); err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]float64
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got["tcp_gbps"]["xlat"] != 4.2 || got["path"]["runs"] != 3 {
		t.Errorf("merged = %s", b)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestMergeJSONNewFileAndBadFile(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "new.json")
	if err := mergeJSON(fresh, "path", 1); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("[1,2]"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mergeJSON(bad, "path", 1); err == nil {
		t.Error("mergeJSON into a JSON array: no error")
	}
	if b, _ := os.ReadFile(bad); string(b) != "[1,2]" {
		t.Errorf("bad file changed to %s", b)
	}
}
