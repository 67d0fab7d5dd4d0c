package meshlab

import (
	"context"
	"fmt"
	"time"
)

// RoamResult is one hop of the roaming sequence.
type RoamResult struct {
	From, To           string
	Kind               HopKind
	TCPStall, UDPStall time.Duration // longest gap between replies around the roam
	UDPLost            uint64        // datagrams sent during the hop that got no echo
	NewConn            string        // address the server saw on a new connection after the roam
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

// Roam moves client through the nodes in path while a TCP stream and a UDP
// flow (one datagram every 10 ms) run to the internet host, and measures the
// longest stall per roam. The TCP connection must survive every roam with
// its data intact, and a new connection must work after each roam.
func (m *Mesh) Roam(ctx context.Context, client string, path []string, settle time.Duration) ([]RoamResult, error) {
	c := m.Clients[client]
	if c == nil {
		return nil, fmt.Errorf("meshlab: unknown client %q", client)
	}
	tcp, err := StartTCPFlow(c.NS, ServerAddr.String(), 10*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("start TCP flow: %w", err)
	}
	defer tcp.Stop()
	udp, err := StartUDPFlow(c.NS, ServerAddr.String(), 10*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("start UDP flow: %w", err)
	}
	defer udp.Stop()
	var out []RoamResult
	lease, prev := c.Spec.Node, ""
	for _, to := range path {
		r := RoamResult{From: c.Node, To: to, Kind: hopKind(lease, prev, to)}
		prev = c.Node
		t0 := time.Now()
		udpSent0, udpRecv0, _ := udp.Stats()
		if err := m.MoveClient(ctx, client, to); err != nil {
			return out, err
		}
		// Let both flows run on until each has answered again and a
		// settle time has passed, then take the longest gap.
		var broken error
		hctx, cancel := context.WithTimeout(ctx, settle+hopDeadline)
		err := WaitFor(hctx, "the flows to recover after roaming "+r.From+" -> "+to, 20*time.Millisecond, func() (bool, error) {
			if _, _, err := tcp.Stats(); err != nil {
				broken = err // the stream is gone: no use waiting
				return true, nil
			}
			recent := func(f *Flow) bool { return time.Since(f.LastReply()) < 200*time.Millisecond }
			return time.Since(t0) > settle && recent(tcp) && recent(udp), nil
		})
		cancel()
		now := time.Now()
		r.TCPStall, r.UDPStall = tcp.MaxGap(t0, now), udp.MaxGap(t0, now)
		udpSent1, udpRecv1, _ := udp.Stats()
		if s, rcv := udpSent1-udpSent0, udpRecv1-udpRecv0; s > rcv {
			r.UDPLost = s - rcv
		}
		if broken != nil {
			return append(out, r), fmt.Errorf("TCP stream broke after roaming %s -> %s: %w", r.From, r.To, broken)
		}
		if err != nil {
			return append(out, r), err
		}
		seen, err := TCPHello(ctx, c.NS, ServerAddr.String(), 2*time.Second)
		if err != nil {
			return append(out, r), fmt.Errorf("new connection after roaming to %s: %w", to, err)
		}
		r.NewConn = seen
		out = append(out, r)
	}
	if err := tcp.Stop(); err != nil {
		return out, fmt.Errorf("TCP stream did not survive: %w", err)
	}
	return out, nil
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
