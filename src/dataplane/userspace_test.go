package dataplane

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/gluon-464xlat/gluon-464xlat/translator"
	"github.com/gluon-464xlat/gluon-464xlat/tun"
)

// TestWorkerHandleAllocs checks that the per-packet path of the engine
// (decode virtio header, translate, fix header, write to the TUN device)
// allocates nothing, for a TCP super-packet and a small UDP datagram.
func TestWorkerHandleAllocs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (TUN device in a private network namespace)")
	}
	pair, err := translator.ParsePair("local.style RFC6052 local.v6 fddd:1337::/96 remote.style RFC6052 remote.v6 2001:db8:64::/96")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // this thread ends in the private namespace
		ns, err := netns.New()
		if err != nil {
			t.Error(err)
			return
		}
		defer ns.Close()
		be, err := openUserspace(context.Background(), "x2alloc", 1480, translator.Config{Pairs: []translator.Pair{pair}, MTU6: 1500}, Options{})
		if err != nil {
			t.Error(err)
			return
		}
		defer be.Close()
		w := newWorker(be, be.dev.Queues()[0], true)
		for _, tc := range []struct {
			name string
			pkt  []byte
			hdr  tun.VirtioNetHdr
		}{
			{"tcp super-packet", tcp4(60000), tun.VirtioNetHdr{Flags: tun.FlagNeedsCsum, GSOType: tun.GSOTCPv4, HdrLen: 40, GSOSize: 1440, CsumStart: 20, CsumOffset: 16}},
			{"udp 64B", udp4(64), tun.VirtioNetHdr{}},
		} {
			allocs := testing.AllocsPerRun(200, func() {
				_ = tc.hdr.Encode(w.buf[pktOff-tun.VirtioNetHdrLen:])
				n := copy(w.buf[pktOff:], tc.pkt)
				w.handle(n)
				w.flush()
			})
			if allocs != 0 {
				t.Errorf("%s: %.1f allocations per packet", tc.name, allocs)
			}
			if w.errors.Load() != 0 || w.dropped.Load() != 0 {
				t.Errorf("%s: errors %d dropped %d", tc.name, w.errors.Load(), w.dropped.Load())
			}
		}
	}()
	<-done
}

// TestOpenPicksUserspaceAndSwapsPairs: without a nat46 control file Open
// starts the userspace backend; SetPairs swaps the translator and keeps the
// old one on a bad configuration.
func TestOpenPicksUserspaceAndSwapsPairs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (TUN device in a private network namespace)")
	}
	p1, _ := translator.ParsePair("local.style RFC6052 local.v6 fddd:1337::/96 remote.style RFC6052 remote.v6 2001:db8:64::/96")
	p2, _ := translator.ParsePair("local.style NONE local.v4 192.0.0.1/32 local.v6 fddd::1/128 remote.style RFC6052 remote.v6 64:ff9b::/96")
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			t.Error(err)
			return
		}
		defer ns.Close()
		be, err := Open(context.Background(), "x2open", 1480, translator.Config{Pairs: []translator.Pair{p1}, MTU6: 1500},
			Options{ControlPath: "/nonexistent/nat46/control"})
		if err != nil {
			t.Error(err)
			return
		}
		defer be.Close()
		u, ok := be.(*Userspace)
		if !ok {
			t.Errorf("Open returned %T, want *Userspace", be)
			return
		}
		old := u.Translator()
		if err := be.SetPairs([]translator.Pair{p2, p1}); err != nil {
			t.Error(err)
		}
		if u.Translator() == old || len(u.Translator().Config().Pairs) != 2 {
			t.Error("SetPairs did not swap the translator")
		}
		cur := u.Translator()
		if err := be.SetPairs(nil); err == nil {
			t.Error("SetPairs(nil) accepted")
		}
		if u.Translator() != cur {
			t.Error("failed SetPairs replaced the translator")
		}
		if st := be.Counters(); st.Backend != "userspace" || st.Device != "x2open" {
			t.Errorf("counters %+v", st)
		}
		if err := be.Close(); err != nil {
			t.Error(err)
		}
		if err := be.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}()
	<-done
}

// tcp4 is an IPv4 TCP packet 192.168.0.2 -> 198.51.100.1 with payload bytes.
func tcp4(payload int) []byte {
	p := make([]byte, 40+payload)
	p[0], p[8], p[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[6:], 0x4000)
	copy(p[12:], netip.MustParseAddr("192.168.0.2").AsSlice())
	copy(p[16:], netip.MustParseAddr("198.51.100.1").AsSlice())
	binary.BigEndian.PutUint16(p[20:], 40000)
	binary.BigEndian.PutUint16(p[22:], 5201)
	p[32] = 5 << 4
	p[33] = 0x10 // ACK
	return p
}

// The nat46 module cannot enforce RFC 6052 §3.1: asking for it with the module present is
// an error, not a silently lax translator.
func TestOpenStrictWKPNeedsUserspace(t *testing.T) {
	ctl := filepath.Join(t.TempDir(), "control")
	if err := os.WriteFile(ctl, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := translator.ParsePair("local.style RFC6052 local.v6 2001:db8:1::/96 remote.style RFC6052 remote.v6 64:ff9b::/96")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), "x2strict", 1480, translator.Config{Pairs: []translator.Pair{p}, StrictWKP: true},
		Options{ControlPath: ctl})
	if err == nil || !strings.Contains(err.Error(), "StrictWKP") {
		t.Fatalf("Open with nat46 and StrictWKP: %v", err)
	}
}
