package meshlab

import (
	"context"
	"fmt"
	"time"
)

// RoamResult is one hop of the roaming sequence.
type RoamResult struct {
	From, To           string
	TCPStall, UDPStall time.Duration // longest gap between replies around the roam
	NewConn            string        // address the server saw on a new connection after the roam
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
	for _, to := range path {
		r := RoamResult{From: c.Node, To: to}
		t0 := time.Now()
		if err := m.MoveClient(ctx, client, to); err != nil {
			return out, err
		}
		// Let both flows run on until each has answered again and a
		// settle time has passed, then take the longest gap.
		var broken error
		err := WaitFor(ctx, "the flows to recover after roaming to "+to, 20*time.Millisecond, func() (bool, error) {
			if _, _, err := tcp.Stats(); err != nil {
				broken = err // the stream is gone: no use waiting
				return true, nil
			}
			recent := func(f *Flow) bool { return time.Since(f.LastReply()) < 200*time.Millisecond }
			return time.Since(t0) > settle && recent(tcp) && recent(udp), nil
		})
		now := time.Now()
		r.TCPStall, r.UDPStall = tcp.MaxGap(t0, now), udp.MaxGap(t0, now)
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

// roamingSequence is the demo's roaming part (the seed's example: the client
// roams D -> A -> B while its flows run through C).
func (d *demo) roamingSequence(ctx context.Context) error {
	var res []RoamResult
	if err := d.step("roaming D -> A -> B -> D with a TCP stream and a UDP flow (10 ms) through C", func() (string, error) {
		if err := d.m.CheckDaemon("l3roamd-xlat"); err != nil {
			return "", err
		}
		var err error
		res, err = d.m.Roam(ctx, "cl", []string{"a", "b", "d"}, 2*time.Second)
		s := ""
		for _, r := range res {
			s += fmt.Sprintf("%s->%s: TCP stall %v, UDP stall %v; ", r.From, r.To,
				r.TCPStall.Round(time.Millisecond), r.UDPStall.Round(time.Millisecond))
		}
		if err == nil {
			err = d.m.CheckDaemon("l3roamd-xlat")
		}
		if err != nil {
			return "", fmt.Errorf("%s%w", s, err)
		}
		return s + "TCP connection survived, data verified", nil
	}); err != nil {
		return err
	}
	return nil
}
