package meshlab

import (
	"fmt"
	"syscall"
	"time"
)

// Kill sends SIGKILL to the process and its process group (its own
// children) and waits for it: a crash, with no cleanup by the process.
func (p *Proc) Kill() error {
	if p.Exited() {
		return nil
	}
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(3 * time.Second):
		return fmt.Errorf("meshlab: %s (pid %d) did not die", p.Name, p.PID())
	}
}

// Signal sends sig to the process (not its group).
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("meshlab: %s has exited", p.Name)
	}
	return p.cmd.Process.Signal(sig)
}
