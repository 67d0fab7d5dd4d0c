package roamd

import (
	"container/list"
	"time"
)

// bucket is a token bucket: rate tokens per second up to burst.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(rate, burst float64, now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens += now.Sub(b.last).Seconds() * rate
	}
	if b.tokens > burst {
		b.tokens = burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limiter is a token bucket per key (a source address, a CLAT prefix)
// with a bounded table: when it is full, the least recently used key's
// bucket is evicted. It is never reset as a whole, so an attacker cycling
// keys only ever evicts buckets of keys that were quiet longest, and a
// busy (flooding) key keeps its drained bucket.
type limiter[K comparable] struct {
	rate, burst float64
	max         int
	lru         *list.List // front = most recently used; values *entry[K]
	byKey       map[K]*list.Element
}

type lruEntry[K comparable] struct {
	key K
	b   bucket
}

func newLimiter[K comparable](rate float64, burst, max int) *limiter[K] {
	return &limiter[K]{rate: rate, burst: float64(burst), max: max, lru: list.New(), byKey: map[K]*list.Element{}}
}

func (l *limiter[K]) allow(k K, now time.Time) bool {
	el := l.byKey[k]
	if el == nil {
		if l.lru.Len() >= l.max {
			old := l.lru.Back()
			delete(l.byKey, old.Value.(*lruEntry[K]).key)
			l.lru.Remove(old)
		}
		el = l.lru.PushFront(&lruEntry[K]{key: k})
		l.byKey[k] = el
	} else {
		l.lru.MoveToFront(el)
	}
	return el.Value.(*lruEntry[K]).b.take(l.rate, l.burst, now)
}

func (l *limiter[K]) len() int { return l.lru.Len() }

// global is one token bucket for work that costs the node more than a
// table lookup (a VERIFY sent, a handover started), whoever asks for it.
type global struct {
	rate, burst float64
	b           bucket
}

func (g *global) allow(now time.Time) bool { return g.b.take(g.rate, g.burst, now) }

// maxSources bounds the per-source and per-NEWCLAT limiter tables.
const maxSources = 8192
