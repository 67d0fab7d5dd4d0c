package meshlab

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The client links are made over netlink from the lab's own process: a big
// lab has hundreds of clients, and `ip netns exec ... ip link ...` costs a
// process start (tens of ms on a loaded machine) per step.

// nlNS is a netlink handle inside a lab namespace.
type nlNS struct {
	ns *NS
	fd netns.NsHandle
	h  *netlink.Handle
}

func openNL(ns *NS) (*nlNS, error) {
	fd, err := netns.GetFromName(ns.Name)
	if err != nil {
		return nil, fmt.Errorf("meshlab: netns %s: %w", ns.Short, err)
	}
	h, err := netlink.NewHandleAt(fd)
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("meshlab: netlink in %s: %w", ns.Short, err)
	}
	return &nlNS{ns: ns, fd: fd, h: h}, nil
}

func (n *nlNS) Close() {
	n.h.Close()
	n.fd.Close()
}

// link finds interface name.
func (n *nlNS) link(name string) (netlink.Link, error) {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("meshlab: %s/%s: %w", n.ns.Short, name, err)
	}
	return l, nil
}

// up sets interfaces up.
func (n *nlNS) up(names ...string) error {
	for _, name := range names {
		l, err := n.link(name)
		if err != nil {
			return err
		}
		if err := n.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("meshlab: %s/%s up: %w", n.ns.Short, name, err)
		}
	}
	return nil
}

// master puts interface name on bridge br.
func (n *nlNS) master(name, br string) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	b, err := n.link(br)
	if err != nil {
		return err
	}
	if err := n.h.LinkSetMasterByIndex(l, b.Attrs().Index); err != nil {
		return fmt.Errorf("meshlab: %s/%s master %s: %w", n.ns.Short, name, br, err)
	}
	return nil
}

// bridge adds a bridge.
func (n *nlNS) bridge(name string) error {
	if err := n.h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		return fmt.Errorf("meshlab: %s: bridge %s: %w", n.ns.Short, name, err)
	}
	return nil
}

// veth links a (interface aIf, with MAC aMAC unless nil) with b (bIf); both
// ends stay down.
func vethNL(a *nlNS, aIf string, aMAC net.HardwareAddr, b *nlNS, bIf string) error {
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: aIf, HardwareAddr: aMAC, Namespace: netlink.NsFd(a.fd)},
		PeerName:      bIf,
		PeerNamespace: netlink.NsFd(b.fd),
	}
	if err := netlink.LinkAdd(v); err != nil {
		return fmt.Errorf("meshlab: veth %s/%s - %s/%s: %w", a.ns.Short, aIf, b.ns.Short, bIf, err)
	}
	return nil
}

// sysctl sets a sysctl of the namespace from a thread inside it (/proc/sys/net
// is the reading thread's namespace's).
func (n *nlNS) sysctl(key, value string) error {
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	return n.ns.Do(func() error {
		if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
			return fmt.Errorf("meshlab: %s: sysctl %s: %w", n.ns.Short, key, err)
		}
		return nil
	})
}
