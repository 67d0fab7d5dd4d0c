package ctlsock

import (
	"context"
	"encoding/json"
	"runtime"
)

// MemStatsCommand is answered by every server without a handler of its own:
// the Go runtime's view of the daemon's memory, so that the RSS the kernel
// reports can be split into heap, stacks and runtime overhead (xlat-lab rss).
const MemStatsCommand = "memstats"

// builtins are answered by every server without a handler of its own
// (pprof.go adds one in a build with -tags pprof).
var builtins = map[string]Handler{MemStatsCommand: memStats}

// MemStats is the reply to MemStatsCommand, in bytes.
type MemStats struct {
	HeapInuse   uint64 `json:"heap_inuse"`    // spans with live or not yet swept objects
	HeapIdle    uint64 `json:"heap_idle"`     // spans without objects (returned or not)
	HeapRelease uint64 `json:"heap_released"` // part of HeapIdle given back to the kernel
	StackInuse  uint64 `json:"stack_inuse"`   // goroutine stacks
	Sys         uint64 `json:"sys"`           // all memory mapped by the runtime
	NumGC       uint32 `json:"num_gc"`
	Goroutines  int    `json:"goroutines"`
}

func memStats(context.Context, []string) ([]byte, error) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b, err := json.Marshal(MemStats{
		HeapInuse: m.HeapInuse, HeapIdle: m.HeapIdle, HeapRelease: m.HeapReleased,
		StackInuse: m.StackInuse, Sys: m.Sys, NumGC: m.NumGC, Goroutines: runtime.NumGoroutine(),
	})
	return append(b, '\n'), err
}
