package meshlab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Flow is a long-running stream from a client to the internet host whose
// replies are timed, so that interruptions (roaming, failover) can be
// measured as the longest gap between replies.
type Flow struct {
	mu      sync.Mutex
	replies []time.Time
	sent    uint64
	recv    uint64
	err     error
	stop    chan struct{}
	done    chan struct{}
	conn    net.Conn
}

func newFlow(c net.Conn) *Flow {
	return &Flow{conn: c, stop: make(chan struct{}), done: make(chan struct{})}
}

func (f *Flow) record() {
	f.mu.Lock()
	f.replies = append(f.replies, time.Now())
	f.recv++
	f.mu.Unlock()
}

func (f *Flow) sent1() {
	f.mu.Lock()
	f.sent++
	f.mu.Unlock()
}

// sendEvery calls send with 0, 1, 2, ... every interval until Stop or until
// send returns false, then closes the connection and waits for the reader.
func (f *Flow) sendEvery(interval time.Duration, reader *sync.WaitGroup, send func(seq uint64) bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	defer reader.Wait()
	defer f.conn.Close()
	for seq := uint64(0); ; seq++ {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		if !send(seq) {
			return
		}
	}
}

func (f *Flow) fail(err error) {
	select {
	case <-f.stop:
		return // Stop closed the connection under a read or write
	default:
	}
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

// MaxGap is the longest time without a reply between from and to (the gap
// from the last reply before from, and up to to if replies stopped).
func (f *Flow) MaxGap(from, to time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var max time.Duration
	prev := from
	for _, r := range f.replies {
		if r.Before(from) {
			prev = r
			continue
		}
		if r.After(to) {
			break
		}
		if g := r.Sub(prev); g > max {
			max = g
		}
		prev = r
	}
	if g := to.Sub(prev); g > max {
		max = g
	}
	return max
}

// LastReply is when the last reply came (zero if none yet).
func (f *Flow) LastReply() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.replies) == 0 {
		return time.Time{}
	}
	return f.replies[len(f.replies)-1]
}

// Stats are counts of the flow and its first error (nil while healthy).
func (f *Flow) Stats() (sent, received uint64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent, f.recv, f.err
}

// Stop ends the flow and returns its first error.
func (f *Flow) Stop() error {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.conn.Close()
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// StartTCPFlow opens a TCP connection from ns to the host's echo service
// and sends a numbered 64-byte record every interval; every echoed record
// is checked (data verified) and timed. A reset or corrupted data ends the
// flow with an error.
func StartTCPFlow(ns *NS, addr string, interval time.Duration) (*Flow, error) {
	c, err := ns.Dial(context.Background(), "tcp4", addr, PortTCP, 3*time.Second)
	if err != nil {
		return nil, err
	}
	// Skip the greeting line.
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b := make([]byte, 1)
	for b[0] != '\n' {
		if _, err := c.Read(b); err != nil {
			c.Close()
			return nil, fmt.Errorf("tcp flow greeting: %w", err)
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	f := newFlow(c)
	const size = 64
	go func() {
		defer close(f.done)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			for seq := uint64(0); ; seq++ {
				if _, err := io.ReadFull(c, buf); err != nil {
					select {
					case <-f.stop:
					default:
						f.fail(fmt.Errorf("tcp flow: read record %d: %w", seq, err))
					}
					return
				}
				if got := binary.BigEndian.Uint64(buf); got != seq || buf[size-1] != byte(seq) {
					f.fail(fmt.Errorf("tcp flow: record %d came back as %d (data corrupted)", seq, got))
					return
				}
				f.record()
			}
		}()
		rec := make([]byte, size)
		f.sendEvery(interval, &wg, func(seq uint64) bool {
			binary.BigEndian.PutUint64(rec, seq)
			for i := 8; i < size; i++ {
				rec[i] = byte(seq)
			}
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(rec); err != nil {
				f.fail(fmt.Errorf("tcp flow: write record %d: %w", seq, err))
				return false
			}
			f.sent1()
			return true
		})
	}()
	return f, nil
}

// StartUDPFlow sends a numbered datagram from ns to the host's UDP echo
// service every interval and times the echoes (losses are allowed; the gap
// measures the interruption).
func StartUDPFlow(ns *NS, addr string, interval time.Duration) (*Flow, error) {
	c, err := ns.Dial(context.Background(), "udp4", addr, PortUDP, 3*time.Second)
	if err != nil {
		return nil, err
	}
	f := newFlow(c)
	go func() {
		defer close(f.done)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for {
				n, err := c.Read(buf)
				if err != nil {
					var ne net.Error
					if errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout()) {
						return
					}
					select {
					case <-f.stop:
						return
					default:
						continue // ICMP errors while the path changes
					}
				}
				if n == 16 {
					f.record()
				}
			}
		}()
		pkt := make([]byte, 16)
		f.sendEvery(interval, &wg, func(seq uint64) bool {
			binary.BigEndian.PutUint64(pkt, seq)
			if _, err := c.Write(pkt); err == nil {
				f.sent1()
			}
			return true // losses are allowed
		})
	}()
	return f, nil
}
