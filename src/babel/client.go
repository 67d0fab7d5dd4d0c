package babel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
)

// DefaultAddress is Gluon's read-write local socket (babeld -G 33123).
const DefaultAddress = wellknown.BabelSocket

// Client follows babeld's state over its local socket.
type Client struct {
	// Address is "host:port" (TCP), a bare port (TCP on ::1, like babeld's -g)
	// or an absolute path (unix socket).
	Address string
	Logger  *slog.Logger
	// MinBackoff and MaxBackoff bound the reconnect delay (defaults 200 ms, 5 s).
	MinBackoff, MaxBackoff time.Duration
	// Now is the clock for Snapshot.Synced (default time.Now).
	Now func() time.Time

	reconnects atomic.Int64
	badLines   atomic.Int64
}

// Stats are the client's counters.
type Stats struct {
	Reconnects int64 // connections after the first
	BadLines   int64 // state lines that did not parse (skipped)
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{Reconnects: c.reconnects.Load(), BadLines: c.badLines.Load()}
}

func (c *Client) network() (string, string) {
	a := c.Address
	if a == "" {
		a = DefaultAddress
	}
	if strings.HasPrefix(a, "/") {
		return "unix", a
	}
	if !strings.Contains(a, ":") {
		return "tcp", net.JoinHostPort("::1", a)
	}
	return "tcp", a
}

// Run connects, dumps, monitors and publishes a snapshot on out after every
// complete dump and after every change of a route or xroute, until ctx ends. When babeld goes
// away it publishes a snapshot with Connected false and reconnects with
// backoff; a reconnect starts from a fresh dump. out always carries the
// latest state: a snapshot the reader has not taken yet is replaced, so
// a slow reader never blocks the client (out should have capacity 1).
func (c *Client) Run(ctx context.Context, out chan Snapshot) error {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	minB, maxB := c.MinBackoff, c.MaxBackoff
	if minB <= 0 {
		minB = 200 * time.Millisecond
	}
	if maxB < minB {
		maxB = 5 * time.Second
		if maxB < minB {
			maxB = minB
		}
	}
	backoff := minB
	first := true
	for {
		if !first {
			c.reconnects.Add(1)
		}
		first = false
		synced, err := c.session(ctx, out)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		publish(out, Snapshot{Connected: false})
		if synced {
			backoff = minB
		}
		network, addr := c.network()
		log.Warn("babel: connection lost, reconnecting", "socket", network+":"+addr, "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff *= 2
		if backoff > maxB {
			backoff = maxB
		}
	}
}

// publish replaces any unread snapshot in out with s.
func publish(out chan Snapshot, s Snapshot) {
	for {
		select {
		case out <- s:
			return
		default:
		}
		select {
		case <-out:
		default:
		}
	}
}

// session runs one connection; synced reports whether a dump completed.
func (c *Client) session(ctx context.Context, out chan Snapshot) (synced bool, err error) {
	network, addr := c.network()
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return false, fmt.Errorf("babel: dial %s %s: %w", network, addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	now := c.Now
	if now == nil {
		now = time.Now
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	banner := map[string]string{}
	// Banner: lines until "ok".
	for {
		line, err := readLine(r)
		if err != nil {
			return false, fmt.Errorf("babel: %s: reading banner: %w", addr, err)
		}
		if line == "ok" {
			break
		}
		if k, v, ok := strings.Cut(line, " "); ok {
			banner[k] = v
		} else {
			banner[line] = ""
		}
	}
	if _, ok := banner["BABEL"]; !ok {
		return false, fmt.Errorf("babel: %s: no BABEL banner (got %v)", addr, banner)
	}
	meta := func(s Snapshot) Snapshot {
		s.Version, s.RouterID = banner["version"], banner["my-id"]
		return s
	}
	// One dump (a consistent first picture), then monitor, whose own dump
	// replaces the table before live updates follow.
	if _, err := io.WriteString(conn, "dump\n"); err != nil {
		return false, fmt.Errorf("babel: %s: send dump: %w", addr, err)
	}
	t, err := c.readDump(r)
	if err != nil {
		return false, fmt.Errorf("babel: %s: dump: %w", addr, err)
	}
	s := meta(t.Snapshot())
	s.Synced = now()
	publish(out, s)
	if _, err := io.WriteString(conn, "monitor\n"); err != nil {
		return true, fmt.Errorf("babel: %s: send monitor: %w", addr, err)
	}
	if t, err = c.readDump(r); err != nil {
		return true, fmt.Errorf("babel: %s: monitor: %w", addr, err)
	}
	syncedAt := now()
	s = meta(t.Snapshot())
	s.Synced = syncedAt
	publish(out, s)
	pending := false // a change not published yet
	for {
		line, err := readRaw(r)
		if err != nil {
			return true, fmt.Errorf("babel: %s: monitor: %w", addr, err)
		}
		if !t.Repeats(line) { // most lines: not even parsed
			pending = c.apply(t, string(line)) || pending
		}
		// Publish only when no more lines are buffered, so that a burst
		// (e.g. a neighbour's routes all changing) yields one snapshot.
		if !pending || r.Buffered() > 0 {
			continue
		}
		pending = false
		s = meta(t.Snapshot())
		s.Synced = syncedAt
		publish(out, s)
	}
}

// readDump reads state lines until a terminator and returns them as a table.
func (c *Client) readDump(r *bufio.Reader) (*Table, error) {
	t := NewTable()
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		switch {
		case line == "ok":
			return t, nil
		case line == "bad" || line == "no" || strings.HasPrefix(line, "no "):
			return nil, fmt.Errorf("refused: %q", line)
		}
		c.apply(t, line)
	}
}

// apply parses and applies one line; it reports whether the table's routes
// or xroutes changed, what the readers act on. babeld repeats every route of
// every update it receives as a "change" line, mostly unchanged, and
// reports neighbours' reach and costs at every hello: neither makes a new
// snapshot (the next route change carries the neighbours along).
func (c *Client) apply(t *Table, line string) bool {
	ev, changed, err := t.ApplyLine(line)
	if errors.Is(err, ErrNotState) {
		return false
	}
	if err != nil {
		c.badLines.Add(1)
		if c.Logger != nil {
			c.Logger.Debug("babel: skipping line", "line", line, "err", err)
		}
		return false
	}
	return changed && (ev.Route != nil || ev.XRoute != nil)
}

// maxLineLen bounds one line from babeld.
const maxLineLen = 4096

func readLine(r *bufio.Reader) (string, error) {
	line, err := readRaw(r)
	return string(line), err
}

// readRaw is readLine without the copy: the line is valid until the next
// read from r.
func readRaw(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLineLen {
		return nil, fmt.Errorf("line longer than %d bytes", maxLineLen)
	}
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}
