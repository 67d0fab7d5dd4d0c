package meshlab

import (
	"context"
	"fmt"
	"time"
)

// RoamResult is one hop of the roaming sequence.
type RoamResult struct {
	Client             string
	From, To           string
	Kind               HopKind
	TCPStall, UDPStall time.Duration // longest gap between replies around the roam
	UDPLost            uint64        // datagrams sent during the hop that got no echo
	NewConn            string        // address the server saw on a new connection after the roam
	NewConnAfter       time.Duration // flows answering again -> that connection's greeting
	At                 time.Time     // when the client moved
}

// HopKind says what a roam was, for the stall tables.
type HopKind string

// Hop kinds: to a node other than the lease node and not straight back to
// the node before (away), back to the lease node (home), and back to the
// node the client came from (ping-pong, unless that is home).
const (
	HopAway     HopKind = "away"
	HopHome     HopKind = "back home"
	HopPingPong HopKind = "ping-pong"
)

// hopKind classifies a roam from -> to, given the lease node and the node
// before from ("" if none).
func hopKind(lease, prev, to string) HopKind {
	switch {
	case to == lease:
		return HopHome
	case to == prev:
		return HopPingPong
	}
	return HopAway
}

// hopDeadline bounds the wait for the flows after one roam: a roam that
// needs longer has failed (the stream would break at 10 s anyway).
const hopDeadline = 15 * time.Second

// Flows are a client's TCP stream and UDP flow (one record or datagram
// every 10 ms each) to the internet host.
type Flows struct {
	TCP, UDP *Flow
	ns       *NS
}

// StartFlows opens both flows from the client.
func (c *Client) StartFlows() (*Flows, error) {
	tcp, err := StartTCPFlow(c.NS, ServerAddr.String(), 10*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("start TCP flow of %s: %w", c.Spec.Name, err)
	}
	udp, err := StartUDPFlow(c.NS, ServerAddr.String(), 10*time.Millisecond)
	if err != nil {
		tcp.Stop()
		return nil, fmt.Errorf("start UDP flow of %s: %w", c.Spec.Name, err)
	}
	return &Flows{TCP: tcp, UDP: udp, ns: c.NS}, nil
}

// Stop ends both flows and returns the TCP stream's error (nil: it
// survived with its data intact).
func (f *Flows) Stop() error {
	f.UDP.Stop()
	if err := f.TCP.Stop(); err != nil {
		return fmt.Errorf("TCP stream did not survive: %w", err)
	}
	return nil
}

// Gap is what an event (a roam, a restart) did to the flows.
type Gap struct {
	TCP, UDP time.Duration // longest time without a reply
	UDPLost  uint64        // datagrams sent meanwhile that got no echo
}

// Mark is the flows' state when an event starts.
type Mark struct {
	t0                 time.Time
	udpSent0, udpRecv0 uint64
}

// Mark notes the start of an event.
func (f *Flows) Mark() Mark {
	s, r, _ := f.UDP.Stats()
	return Mark{t0: time.Now(), udpSent0: s, udpRecv0: r}
}

// Settle waits until at least settle has passed since the mark and both
// flows answer again, then returns the longest gaps since the mark. A
// broken stream ends the wait with its error.
func (f *Flows) Settle(ctx context.Context, mk Mark, settle time.Duration, what string) (Gap, error) {
	return f.settle(ctx, mk, settle, hopDeadline, what)
}

// settle is Settle with the deadline after settle given.
func (f *Flows) settle(ctx context.Context, mk Mark, settle, deadline time.Duration, what string) (Gap, error) {
	var broken error
	hctx, cancel := context.WithTimeout(ctx, settle+deadline)
	defer cancel()
	err := WaitFor(hctx, "the flows to recover after "+what, 20*time.Millisecond, func() (bool, error) {
		if _, _, err := f.TCP.Stats(); err != nil {
			broken = err // the stream is gone: no use waiting
			return true, nil
		}
		recent := func(fl *Flow) bool { return time.Since(fl.LastReply()) < 200*time.Millisecond }
		return time.Since(mk.t0) > settle && recent(f.TCP) && recent(f.UDP), nil
	})
	now := time.Now()
	g := Gap{TCP: f.TCP.MaxGap(mk.t0, now), UDP: f.UDP.MaxGap(mk.t0, now)}
	if s, r, _ := f.UDP.Stats(); s-mk.udpSent0 > r-mk.udpRecv0 {
		g.UDPLost = (s - mk.udpSent0) - (r - mk.udpRecv0)
	}
	if broken != nil {
		return g, fmt.Errorf("TCP stream broke after %s: %w", what, broken)
	}
	return g, err
}

// Roam moves client through the nodes in path while a TCP stream and a UDP
// flow (one datagram every 10 ms) run to the internet host, and measures the
// longest stall per roam. The TCP connection must survive every roam with
// its data intact, and a new connection must work after each roam.
func (m *Mesh) Roam(ctx context.Context, client string, path []string, settle time.Duration) ([]RoamResult, error) {
	c := m.Clients[client]
	if c == nil {
		return nil, fmt.Errorf("meshlab: unknown client %q", client)
	}
	f, err := c.StartFlows()
	if err != nil {
		return nil, err
	}
	defer f.Stop()
	var out []RoamResult
	for _, to := range path {
		r, err := m.Hop(ctx, c, f, to, settle)
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, f.Stop()
}

// Hop roams client c (whose flows f run) to node `to`, waits until the
// flows answer again (at least settle), and checks that a new connection
// works.
func (m *Mesh) Hop(ctx context.Context, c *Client, f *Flows, to string, settle time.Duration) (RoamResult, error) {
	return m.hop(ctx, c, f, to, settle, hopDeadline, 0)
}

// hop is Hop with the flows given deadline (after settle) to answer again;
// a new connection may take retries of 2 s each for up to newConn after
// that (0: one try). The scale lab gives both more time: 50 nodes share
// two cores there, a stall of 10 s leaves TCP's next retransmission 16 s
// or more after the roam, and a SYN's answer can need the roamed client's
// /128 to cross 14 loaded hops. The stalls are measured all the same.
func (m *Mesh) hop(ctx context.Context, c *Client, f *Flows, to string, settle, deadline, newConn time.Duration) (RoamResult, error) {
	r := RoamResult{Client: c.Spec.Name, From: c.Node, To: to, Kind: hopKind(c.Spec.Node, c.prev, to)}
	mk := f.Mark()
	r.At = mk.t0
	if err := m.MoveClient(ctx, c.Spec.Name, to); err != nil {
		return r, err
	}
	g, err := f.settle(ctx, mk, settle, deadline, "roaming "+r.From+" -> "+to)
	r.TCPStall, r.UDPStall, r.UDPLost = g.TCP, g.UDP, g.UDPLost
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	for {
		seen, err := TCPHello(ctx, c.NS, ServerAddr.String(), 2*time.Second)
		if err == nil {
			r.NewConn, r.NewConnAfter = seen, time.Since(t0)
			return r, nil
		}
		if time.Since(t0) >= newConn || ctx.Err() != nil {
			return r, fmt.Errorf("new connection after roaming to %s (%v): %w", to, time.Since(t0).Round(time.Millisecond), err)
		}
		select { // a refusal comes back at once: poll, do not spin
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// roamingSequence is the demo's roaming part, the seed's example and the
// way back: a client that leased on D (a second one, "cl2", whose lease is
// made while plat is D's PLAT) roams D -> A -> B and back home to D while
// its flows run through plat.
func (d *demo) roamingSequence(ctx context.Context, plat string) error {
	var cl2 *Client
	if err := d.step("a second client associates with D and gets a lease (PLAT "+plat+")", func() (string, error) {
		var err error
		if cl2, err = d.m.AddClient(ctx, ClientSpec{Name: "cl2", Node: "d", MAC: "02:c1:1e:00:00:02"}); err != nil {
			return "", err
		}
		a, err := cl2.WaitLease(ctx)
		if err != nil {
			return "", err
		}
		if err := d.m.Wait(ctx, "TCP from cl2", 200*time.Millisecond, func() (bool, error) {
			_, err := TCPHello(ctx, cl2.NS, ServerAddr.String(), time.Second)
			return err == nil, err
		}); err != nil {
			return "", err
		}
		return a.String(), nil
	}); err != nil {
		return err
	}
	return d.step("roaming D -> A -> B -> D (back home) with a TCP stream and a UDP flow (10 ms) through "+plat, func() (string, error) {
		if err := d.m.CheckDaemon("l3roamd-xlat"); err != nil {
			return "", err
		}
		res, err := d.m.Roam(ctx, "cl2", []string{"a", "b", "d"}, 2*time.Second)
		s := ""
		for _, r := range res {
			s += fmt.Sprintf("%s->%s (%s): TCP stall %v, UDP stall %v; ", r.From, r.To, r.Kind,
				r.TCPStall.Round(time.Millisecond), r.UDPStall.Round(time.Millisecond))
		}
		if err == nil {
			err = d.m.CheckDaemon("l3roamd-xlat")
		}
		if err != nil {
			return "", fmt.Errorf("%s%w", s, err)
		}
		return s + "TCP connection survived, data verified", nil
	})
}
