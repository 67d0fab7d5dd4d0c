package dataplane

import (
	"sync"

	"github.com/vishvananda/netlink"

	"github.com/gluon-464xlat/gluon-464xlat/nat46"
	"github.com/gluon-464xlat/gluon-464xlat/translator"
)

// Nat46 is the kernel backend: rule pairs are reconciled into the nat46
// device through the control file; the kernel translates.
type Nat46 struct {
	ctl     *nat46.Control
	dev     string
	created bool
	mu      sync.Mutex
}

// OpenNat46 configures nat46 device dev with pairs through the control file
// at controlPath, creating the device if needed, and brings it up.
func OpenNat46(controlPath, dev string, pairs []translator.Pair) (Backend, error) {
	if err := nat46.Available(controlPath); err != nil {
		return nil, fmtDev(dev, err)
	}
	n := &Nat46{ctl: nat46.New(nat46.ProcFile(controlPath)), dev: dev}
	created, _, err := n.ctl.Apply(dev, pairs)
	n.created = created
	if err != nil {
		if created {
			_ = n.ctl.Delete(dev)
		}
		return nil, fmtDev(dev, err)
	}
	if link, err := netlink.LinkByName(dev); err == nil {
		if err := netlink.LinkSetUp(link); err != nil {
			n.Close()
			return nil, fmtDev(dev, err)
		}
	}
	return n, nil
}

// SetPairs reconciles the device's pairs (writes nothing when unchanged).
func (n *Nat46) SetPairs(pairs []translator.Pair) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, _, err := n.ctl.Apply(n.dev, pairs); err != nil {
		return fmtDev(n.dev, err)
	}
	return nil
}

// Counters returns the device's interface counters (nat46 keeps no others
// that the control file shows).
func (n *Nat46) Counters() Stats {
	s := Stats{Backend: "nat46", Device: n.dev}
	link, err := netlink.LinkByName(n.dev)
	if err != nil || link.Attrs().Statistics == nil {
		return s
	}
	st := link.Attrs().Statistics
	s.RxPackets, s.RxBytes = st.TxPackets, st.TxBytes // routed into the device = read by the translator
	s.TxPackets, s.TxBytes = st.RxPackets, st.RxBytes
	s.Dropped = st.TxDropped + st.RxDropped
	s.Errors = st.TxErrors + st.RxErrors
	return s
}

// Close deletes the device if OpenNat46 created it.
func (n *Nat46) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.created {
		return nil
	}
	n.created = false
	return n.ctl.Delete(n.dev)
}
