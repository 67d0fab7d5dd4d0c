package udpblast

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestSendSink sends 64-byte datagrams over loopback, 4 flows, and checks
// that the sink counts them (no more than were sent, all of the right size).
func TestSendSink(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			a := netip.MustParseAddrPort(addr)
			s, err := Listen(a, 1<<20)
			if err != nil {
				t.Skip(err) // no such loopback family here
			}
			defer s.Close()
			bound, err := s.LocalAddr()
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			got := make(chan SinkResult, 1)
			go func() {
				r, err := s.Count(ctx, 300*time.Millisecond, 10*time.Second)
				if err != nil {
					t.Error(err)
				}
				got <- r
			}()
			sent, err := Send(ctx, SendConfig{Dst: bound, Len: 64, Flows: 4, Batch: 8, Duration: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			r := <-got
			if sent.Sent == 0 || r.Packets == 0 || r.Packets > sent.Sent || r.Bytes != 64*r.Packets {
				t.Fatalf("sent %+v, received %+v", sent, r)
			}
			t.Logf("sent %d in %.2fs, received %d", sent.Sent, sent.Seconds, r.Packets)
		})
	}
}

func TestSendBadLength(t *testing.T) {
	if _, err := Send(context.Background(), SendConfig{Dst: netip.MustParseAddrPort("127.0.0.1:9"), Len: 0}); err == nil {
		t.Fatal("payload length 0 accepted")
	}
}
