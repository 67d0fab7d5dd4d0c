//go:build e2e || bench

package roamd

import (
	"runtime"

	"github.com/vishvananda/netns"
)

// inNS runs f on a thread switched into the named network namespace, so
// that sockets f creates live there.
func inNS(name string, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(name)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return err
	}
	defer netns.Set(orig)
	return f()
}
