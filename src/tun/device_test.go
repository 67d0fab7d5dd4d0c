package tun

import (
	"net"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// inNewNetns runs f on a locked OS thread inside a fresh network namespace.
func inNewNetns(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (TUN device, network namespace)")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // the thread stays in the new namespace and dies with the goroutine
		orig, err := netns.Get()
		if err != nil {
			t.Error(err)
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			t.Error(err)
			return
		}
		defer ns.Close()
		f()
	}()
	<-done
}

func TestOpenCreatesAndRemoves(t *testing.T) {
	inNewNetns(t, func() {
		d, err := Open(Config{Name: "x2tun0", MTU: 1260})
		if err != nil {
			t.Error(err)
			return
		}
		if !d.Created() {
			t.Error("Created() = false for a new device")
		}
		if d.Offloads()&(OffloadCsum|OffloadTSO4|OffloadTSO6) != OffloadCsum|OffloadTSO4|OffloadTSO6 {
			t.Errorf("offloads %#x lack csum/tso", d.Offloads())
		}
		link, err := netlink.LinkByName("x2tun0")
		if err != nil {
			t.Error(err)
			d.Close()
			return
		}
		if link.Attrs().MTU != 1260 {
			t.Errorf("mtu %d, want 1260", link.Attrs().MTU)
		}
		if link.Attrs().Flags&net.FlagUp == 0 {
			t.Error("device not up")
		}
		if err := d.Close(); err != nil {
			t.Error(err)
		}
		if _, err := net.InterfaceByName("x2tun0"); err == nil {
			t.Error("device still present after Close")
		}
	})
}

func TestOpenMultiQueue(t *testing.T) {
	inNewNetns(t, func() {
		d, err := Open(Config{Name: "x2tun1", Queues: 2})
		if err != nil {
			t.Error(err)
			return
		}
		defer d.Close()
		if len(d.Queues()) != 2 {
			t.Errorf("%d queues, want 2", len(d.Queues()))
		}
	})
}
