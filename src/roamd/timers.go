package roamd

import (
	"container/heap"
	"time"
)

// The state machine's timers (CLAIM, INFO, ROAM and VERIFY retransmissions)
// are entries in a deadline heap that the machine owns: no goroutine per
// timer. The event loop sleeps until the earliest deadline (by its Clock)
// and then calls fireDue; tests move a fake clock on and call it
// themselves.

// timer is one pending call of f at at; a stopped one is skipped when due.
type timer struct {
	at      time.Time
	seq     uint64 // ties: first set, first fired
	f       func()
	stopped bool
}

// stop keeps the timer from firing (it leaves the heap when due).
func (t *timer) stop() {
	if t != nil {
		t.stopped = true
	}
}

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	return h[i].at.Before(h[j].at) || h[i].at.Equal(h[j].at) && h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(*timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// after calls f on the owner goroutine once dur has passed.
func (d *machine) after(dur time.Duration, f func()) *timer {
	d.timerSeq++
	t := &timer{at: d.now().Add(dur), seq: d.timerSeq, f: f}
	heap.Push(&d.timers, t)
	return t
}

// nextDeadline is when the earliest timer is due; false: none is set.
func (d *machine) nextDeadline() (time.Time, bool) {
	for len(d.timers) > 0 && d.timers[0].stopped {
		heap.Pop(&d.timers)
	}
	if len(d.timers) == 0 {
		return time.Time{}, false
	}
	return d.timers[0].at, true
}

// fireDue calls every timer that is due by the clock, in deadline order
// (also those that the fired ones set, if already due).
func (d *machine) fireDue() {
	now := d.now()
	for len(d.timers) > 0 && !d.timers[0].at.After(now) {
		t := heap.Pop(&d.timers).(*timer)
		if !t.stopped {
			t.stopped = true
			t.f()
		}
	}
}

// stopTimers drops every pending timer (shutdown).
func (d *machine) stopTimers() {
	for _, t := range d.timers {
		t.stopped = true
	}
	d.timers = nil
}
