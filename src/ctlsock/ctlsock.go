// Package ctlsock is the daemons' control socket: a unix stream socket that
// takes one command line per connection and answers with one reply, in the
// style of l3roamd's socket (`echo get_clients | socat - UNIX:/var/run/...`).
//
// A reply is the handler's bytes; a failed command answers "error: <msg>\n" so
// that shell users see why, and Call turns that back into an error.
package ctlsock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Handler answers one command; args are the words after the command name.
type Handler func(ctx context.Context, args []string) ([]byte, error)

// maxLine bounds a command line so that a client cannot make the daemon
// buffer without limit.
const maxLine = 4096

// Server serves commands on a unix socket.
type Server struct {
	path     string
	ln       *net.UnixListener
	handlers map[string]Handler
	timeout  time.Duration
	wg       sync.WaitGroup
}

// Listen creates the socket at path (replacing a stale one) with mode 0600.
func Listen(path string, handlers map[string]Handler) (*Server, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket %s: remove stale socket: %w", path, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: chmod: %w", path, err)
	}
	return &Server{path: path, ln: ln, handlers: handlers, timeout: 5 * time.Second}, nil
}

// Path is the socket's file name.
func (s *Server) Path() string { return s.path }

// Serve answers connections until ctx ends, then closes and removes the socket.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	defer func() {
		s.wg.Wait()
		os.Remove(s.path)
	}()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control socket %s: accept: %w", s.path, err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(ctx, c)
		}()
	}
}

func (s *Server) handle(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	// The timeout bounds the client's reading and writing, not the
	// handler's work: on a loaded node a handler that waits for a core
	// for seconds still answers.
	_ = c.SetDeadline(time.Now().Add(s.timeout))
	line, err := bufio.NewReaderSize(io.LimitReader(c, maxLine), maxLine).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		fmt.Fprintf(c, "error: empty command\n")
		return
	}
	h, ok := s.handlers[fields[0]]
	if !ok {
		h, ok = builtins[fields[0]]
	}
	if !ok {
		fmt.Fprintf(c, "error: unknown command %q\n", fields[0])
		return
	}
	reply, err := h(ctx, fields[1:])
	_ = c.SetWriteDeadline(time.Now().Add(s.timeout))
	if err != nil {
		fmt.Fprintf(c, "error: %v\n", err)
		return
	}
	_, _ = c.Write(reply)
}

// Call sends one command line to the socket at path and returns the reply.
func Call(ctx context.Context, path, line string) ([]byte, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, strings.TrimRight(line, "\n")+"\n"); err != nil {
		return nil, fmt.Errorf("control socket %s: send: %w", path, err)
	}
	if uc, ok := c.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: read reply: %w", path, err)
	}
	if msg, ok := strings.CutPrefix(string(reply), "error: "); ok {
		return nil, fmt.Errorf("control socket %s: %s", path, strings.TrimSpace(msg))
	}
	return reply, nil
}
