package babel

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeBabeld speaks babeld's local protocol on loopback: per connection it
// answers dump and monitor with the state from dumps[i] and then writes the
// lines sent on live; closing a connection is done via drop.
type fakeBabeld struct {
	ln    net.Listener
	dumps [][]string
	live  chan string
	drop  chan struct{}
	reqs  chan string
}

func newFake(t *testing.T, dumps ...[]string) *fakeBabeld {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBabeld{ln: ln, dumps: dumps, live: make(chan string, 16), drop: make(chan struct{}), reqs: make(chan string, 16)}
	t.Cleanup(func() { ln.Close() })
	go f.serve()
	return f
}

func (f *fakeBabeld) serve() {
	for i := 0; ; i++ {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		dump := f.dumps[len(f.dumps)-1]
		if i < len(f.dumps) {
			dump = f.dumps[i]
		}
		f.conn(c, dump)
	}
}

func (f *fakeBabeld) conn(c net.Conn, dump []string) {
	defer c.Close()
	fmt.Fprint(c, "BABEL 1.0\nversion babeld-fake\nhost t\nmy-id 00:00:00:00:00:00:00:01\nok\n")
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	monitoring := false
	for {
		select {
		case req, ok := <-lines:
			if !ok {
				return
			}
			f.reqs <- req
			switch req {
			case "dump", "monitor":
				fmt.Fprint(c, strings.Join(dump, "\n")+"\nok\n")
				monitoring = monitoring || req == "monitor"
			default:
				fmt.Fprint(c, "bad\n")
			}
		case l := <-f.live:
			if monitoring {
				fmt.Fprint(c, l+"\n")
			}
		case <-f.drop:
			return
		}
	}
}

func waitSnap(t *testing.T, ch chan Snapshot, what string, cond func(Snapshot) bool) Snapshot {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-ch:
			if cond(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("timeout waiting for %s", what)
		}
	}
}

func TestClientDumpMonitorReconnect(t *testing.T) {
	r1 := "add route a1 prefix fddd:2:0:1::/96 from ::/0 installed yes id r1 metric 96 refmetric 0 via fe80::1 if a"
	r2 := "add route b2 prefix fddd:2:0:2::/96 from ::/0 installed yes id r2 metric 200 refmetric 0 via fe80::2 if b"
	f := newFake(t,
		[]string{"add interface a up true ipv6 fe80::9", "garbage line that is not a state line", "add route zz prefix bad", r1},
		[]string{r2})
	c := &Client{Address: f.ln.Addr().String(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan Snapshot, 1)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, ch) }()

	s := waitSnap(t, ch, "first dump", func(s Snapshot) bool { return s.Connected && len(s.Routes) == 1 })
	if s.Version != "babeld-fake" || s.RouterID != "00:00:00:00:00:00:00:01" || s.Routes[0].ID != "a1" || len(s.Interfaces) != 1 {
		t.Fatalf("snapshot %+v", s)
	}
	for _, want := range []string{"dump", "monitor"} {
		if got := <-f.reqs; got != want {
			t.Fatalf("request %q, want %q", got, want)
		}
	}
	f.live <- "change route a1 prefix fddd:2:0:1::/96 from ::/0 installed yes id r1 metric 300 refmetric 0 via fe80::1 if a"
	waitSnap(t, ch, "metric change", func(s Snapshot) bool { return len(s.Routes) == 1 && s.Routes[0].Metric == 300 })
	f.live <- "flush route a1 prefix fddd:2:0:1::/96 from ::/0 installed yes id r1 metric 300 refmetric 0 via fe80::1 if a"
	waitSnap(t, ch, "flush", func(s Snapshot) bool { return s.Connected && len(s.Routes) == 0 })

	// babeld restarts: the client reports the loss and resyncs from a fresh dump.
	f.drop <- struct{}{}
	waitSnap(t, ch, "disconnect", func(s Snapshot) bool { return !s.Connected })
	s = waitSnap(t, ch, "resync", func(s Snapshot) bool { return s.Connected && len(s.Routes) == 1 })
	if s.Routes[0].ID != "b2" {
		t.Fatalf("after reconnect: %+v", s.Routes)
	}
	if st := c.Stats(); st.Reconnects != 1 || st.BadLines < 1 {
		t.Errorf("stats %+v", st)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestClientNoBanner(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			fmt.Fprint(c, "HTTP/1.0 200 OK\nok\n")
			c.Close()
		}
	}()
	c := &Client{Address: ln.Addr().String()}
	_, err = c.session(context.Background(), make(chan Snapshot, 1))
	if err == nil || !strings.Contains(err.Error(), "banner") {
		t.Fatalf("want banner error, got %v", err)
	}
}

func TestClientAddress(t *testing.T) {
	for _, tc := range []struct{ in, net, addr string }{
		{"", "tcp", "[::1]:33123"},
		{"33123", "tcp", "[::1]:33123"},
		{"/var/run/babeld.sock", "unix", "/var/run/babeld.sock"},
		{"127.0.0.1:1", "tcp", "127.0.0.1:1"},
	} {
		c := &Client{Address: tc.in}
		if n, a := c.network(); n != tc.net || a != tc.addr {
			t.Errorf("%q: got %s %s", tc.in, n, a)
		}
	}
}

// A change followed in the same read by lines that change nothing (babeld
// repeats every route of an update) is published; lines that change nothing
// publish nothing.
func TestClientPublishesChangesOnly(t *testing.T) {
	r1 := "route a1 prefix fddd:2:0:1::/96 from ::/0 installed yes id r1 metric %d refmetric 0 via fe80::1 if a"
	n1 := "neighbour 1 address fe80::1 if a reach %s rxcost 96 txcost 96 cost 96"
	f := newFake(t, []string{"add " + fmt.Sprintf(r1, 96), "add " + fmt.Sprintf(n1, "ffff")})
	c := &Client{Address: f.ln.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan Snapshot, 1)
	go func() { _ = c.Run(ctx, ch) }()
	waitSnap(t, ch, "dump", func(s Snapshot) bool { return s.Connected && len(s.Routes) == 1 })
	for range []string{"dump", "monitor"} {
		<-f.reqs
	}
	select {
	case <-ch: // the monitor's own dump
	case <-time.After(5 * time.Second):
		t.Fatal("no snapshot after monitor")
	}
	f.live <- "change " + fmt.Sprintf(r1, 96) + "\nchange " + fmt.Sprintf(n1, "fffe")
	f.live <- "change " + fmt.Sprintf(r1, 200) + "\nchange " + fmt.Sprintf(r1, 200)
	s := waitSnap(t, ch, "metric change", func(s Snapshot) bool { return s.Routes[0].Metric == 200 })
	if len(s.Neighbours) != 1 || s.Neighbours[0].Reach != 0xfffe {
		t.Errorf("neighbours not carried along: %+v", s.Neighbours)
	}
	f.live <- "change " + fmt.Sprintf(r1, 200) + "\nchange " + fmt.Sprintf(n1, "fffc")
	select {
	case s := <-ch:
		t.Errorf("snapshot without a route change: %+v", s)
	case <-time.After(200 * time.Millisecond):
	}
}
