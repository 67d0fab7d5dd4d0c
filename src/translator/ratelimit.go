package translator

import (
	"sync/atomic"
	"time"
)

// limiter is a lock-free token bucket for translator-generated ICMP errors
// (RFC 7915 §4.4/§5.4: sending must be configurable, on / rate-limited / off).
type limiter struct {
	rate   int64 // tokens per second; 0 = unlimited
	tokens atomic.Int64
	last   atomic.Int64 // time (ns) up to which tokens have been credited
}

func newLimiter(perSecond int, now int64) *limiter {
	l := &limiter{rate: int64(perSecond)}
	l.tokens.Store(l.rate)
	l.last.Store(now)
	return l
}

// allow takes a token at time now (ns) and reports whether the error may be sent.
func (l *limiter) allow(now int64) bool {
	if l.rate <= 0 {
		return true
	}
	last := l.last.Load()
	if add := (now - last) * l.rate / int64(time.Second); add > 0 {
		if l.last.CompareAndSwap(last, last+add*int64(time.Second)/l.rate) {
			if t := l.tokens.Add(add); t > l.rate {
				l.tokens.Store(l.rate) // burst: one second worth
			}
		}
	}
	if l.tokens.Add(-1) < 0 {
		l.tokens.Add(1)
		return false
	}
	return true
}
