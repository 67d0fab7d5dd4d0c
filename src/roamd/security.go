package roamd

import (
	"net/netip"
	"time"
)

// limiter is a token bucket per source address. The map is bounded: when
// it grows past maxSources it is reset (an attacker cycling sources then
// only gets fresh buckets, never unbounded memory).
type limiter struct {
	rate    float64
	burst   float64
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxSources = 8192

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), buckets: map[netip.Addr]*bucket{}}
}

func (l *limiter) allow(src netip.Addr, now time.Time) bool {
	b := l.buckets[src]
	if b == nil {
		if len(l.buckets) >= maxSources {
			l.buckets = map[netip.Addr]*bucket{}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[src] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * l.rate
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// replay remembers (sender, type, nonce) for the replay window; messages
// outside the window by their timestamp are refused before they get here,
// so a remembered key can be forgotten when the window has passed.
type replay struct {
	window time.Duration
	seen   map[replayKey]time.Time
	sweep  time.Time
}

type replayKey struct {
	sender netip.Addr
	typ    uint8
	nonce  uint32
}

const maxReplay = 1 << 17

func newReplay(window time.Duration) *replay {
	return &replay{window: window, seen: map[replayKey]time.Time{}}
}

// check reports whether the message is fresh (timestamp within the window,
// key not seen) and records it.
func (r *replay) check(k replayKey, ts, now time.Time) (ok bool, reason string) {
	if ts.IsZero() {
		return false, "no_timestamp"
	}
	if d := now.Sub(ts); d > r.window || d < -r.window {
		return false, "stale"
	}
	if now.Sub(r.sweep) > r.window || len(r.seen) > maxReplay {
		for key, t := range r.seen {
			if now.Sub(t) > 2*r.window {
				delete(r.seen, key)
			}
		}
		r.sweep = now
		if len(r.seen) > maxReplay { // still flooded: forget the oldest half coarsely
			r.seen = map[replayKey]time.Time{}
		}
	}
	if _, dup := r.seen[k]; dup {
		return false, "replay"
	}
	r.seen[k] = now
	return true, ""
}
