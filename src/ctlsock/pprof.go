//go:build pprof

package ctlsock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"
)

// CPUProfileCommand, only in a binary built with -tags pprof (runtime/pprof
// is not in the release binary: flash), starts a Go CPU profile of the whole
// process: `cpuprofile SECONDS FILE` answers at once and writes FILE after
// SECONDS (at most 600), e.g.
//
//	echo 'cpuprofile 30 /tmp/host.pprof' | socat - UNIX:/var/run/gluon-464xlat.sock
//	go tool pprof -top /tmp/host.pprof
const CPUProfileCommand = "cpuprofile"

var profiling atomic.Bool

func init() { builtins[CPUProfileCommand] = cpuProfile }

func cpuProfile(_ context.Context, args []string) ([]byte, error) {
	if len(args) != 2 {
		return nil, errors.New("usage: cpuprofile SECONDS FILE")
	}
	secs, err := strconv.Atoi(args[0])
	if err != nil || secs < 1 || secs > 600 {
		return nil, fmt.Errorf("cpuprofile: SECONDS %q: want 1..600", args[0])
	}
	if !profiling.CompareAndSwap(false, true) {
		return nil, errors.New("cpuprofile: a profile is already being taken")
	}
	f, err := os.Create(args[1])
	if err != nil {
		profiling.Store(false)
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		profiling.Store(false)
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	time.AfterFunc(time.Duration(secs)*time.Second, func() {
		pprof.StopCPUProfile()
		f.Close()
		profiling.Store(false)
	})
	return []byte(fmt.Sprintf("profiling for %d s into %s\n", secs, args[1])), nil
}
