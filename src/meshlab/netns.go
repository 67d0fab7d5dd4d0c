package meshlab

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs f with the calling goroutine's OS thread inside the namespace.
// Sockets that f creates stay in the namespace after Do returns, so a
// listener opened in Do keeps serving there, and a connection dialled in Do
// goes out of the namespace's interfaces.
func (n *NS) Do(f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("meshlab: current netns: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("meshlab: netns %s: %w", n.Name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("meshlab: enter netns %s: %w", n.Name, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		// The thread is stuck in the wrong namespace: leave it locked so
		// that the runtime discards it with this goroutine.
		return fmt.Errorf("meshlab: leave netns %s: %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
