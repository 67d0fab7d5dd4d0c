package roamd

import "time"

// Clock is where the daemon takes the time from and how its event loop
// waits for the next timer: the wall clock in the daemon, a fake clock
// (fakeclock_test.go) in the state machine's tests, which then run without
// sleeps.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer whose channel receives once d has passed.
	NewTimer(d time.Duration) Timer
}

// Timer is a pending NewTimer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// wallClock is the real time.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }
