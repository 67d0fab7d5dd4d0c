package roamd

import (
	"sync"
	"time"
)

// fakeClock is a Clock whose time moves only when a test moves it. The
// state machine's own timers are a heap it owns (timers.go), so the tests
// step them with fireDue; NewTimer is here for the event loop.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() bool          { return false }

// newFakeClock starts at the wall clock's now: the messages tests forge
// carry time.Now() timestamps, which the replay check compares with it.
func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	return t
}

// set moves the time to at (never back) and fires the loop timers due.
func (c *fakeClock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at.After(c.now) {
		c.now = at
	}
	live := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			live = append(live, t)
			continue
		}
		t.c <- c.now
	}
	c.timers = live
}

// Advance moves the time on by d.
func (c *fakeClock) Advance(d time.Duration) { c.set(c.Now().Add(d)) }
