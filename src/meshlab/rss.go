package meshlab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSS returns the resident set size of process pid in KiB (VmRSS).
func RSS(pid int) (int, error) {
	m, err := ReadMem(pid)
	return m.RSS, err
}

// Mem is a process's memory from /proc/PID/smaps_rollup, in KiB.
type Mem struct {
	RSS  int // resident pages, shared ones counted in full (VmRSS)
	PSS  int // resident pages, shared ones divided by their sharers
	Anon int // anonymous pages: heap, stacks, runtime data
	File int // file-backed pages: mostly the binary's text and rodata
}

// ReadMem reads /proc/PID/smaps_rollup. RSS counts the binary's text once per
// process even when three processes map the same file; PSS splits it.
func ReadMem(pid int) (Mem, error) {
	path := fmt.Sprintf("/proc/%d/smaps_rollup", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return Mem{}, err
	}
	var m Mem
	fields := map[string]*int{"Rss:": &m.RSS, "Pss:": &m.PSS, "Anonymous:": &m.Anon}
	seen := 0
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		if dst, ok := fields[f[0]]; ok {
			v, err := strconv.Atoi(f[1])
			if err != nil {
				return Mem{}, fmt.Errorf("%s: %s: %w", path, f[0], err)
			}
			*dst = v
			seen++
		}
	}
	if seen != len(fields) {
		return Mem{}, fmt.Errorf("%s: Rss, Pss or Anonymous missing", path)
	}
	m.File = m.RSS - m.Anon
	return m, nil
}
