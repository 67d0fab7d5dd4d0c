package roamd

import (
	"net/netip"
	"time"
)

// replay remembers (sender, type, nonce) for the replay window; messages
// outside the window by their timestamp are refused before they get here,
// so a remembered key can be forgotten when the window has passed. Keys
// are kept in arrival order: expired ones leave from the front, and when
// more than maxReplay arrive within a window the oldest are forgotten first
// (never the whole memory at once).
type replay struct {
	window time.Duration
	start  time.Time // messages stamped before the daemon started are replays
	seen   map[replayKey]time.Time
	order  []replayKey // arrival order; head is the oldest
	head   int
}

type replayKey struct {
	sender netip.Addr
	typ    uint8
	nonce  uint32
}

// maxReplay bounds the memory (about 100 bytes a key) under a flood; the
// replay memory is defence in depth: every answer must echo a nonce that is
// forgotten once used, and a replayed ROAM is verified like a new one.
const maxReplay = 1 << 14

func newReplay(window time.Duration, start time.Time) *replay {
	return &replay{window: window, start: start.Truncate(time.Millisecond), seen: map[replayKey]time.Time{}}
}

// check reports whether the message is fresh (timestamp within the window
// and not before this daemon started, key not seen) and records it.
func (r *replay) check(k replayKey, ts, now time.Time) (ok bool, reason string) {
	if ts.IsZero() {
		return false, "no_timestamp"
	}
	if d := now.Sub(ts); d > r.window || d < -r.window {
		return false, "stale"
	}
	if ts.Before(r.start) {
		// sent before a restart: the memory of what was seen is gone, so
		// a message from then could be a replay (genuine retries carry
		// fresh timestamps)
		return false, "before_start"
	}
	for r.head < len(r.order) {
		old := r.order[r.head]
		if len(r.seen) < maxReplay && now.Sub(r.seen[old]) <= r.window {
			break
		}
		delete(r.seen, old)
		r.head++
	}
	if r.head > len(r.order)/2 && r.head > 1024 {
		r.order = append(r.order[:0], r.order[r.head:]...)
		r.head = 0
	}
	if _, dup := r.seen[k]; dup {
		return false, "replay"
	}
	r.seen[k] = now
	r.order = append(r.order, k)
	return true, ""
}
