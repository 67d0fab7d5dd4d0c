// Package dataplane runs the CLAT/PLAT translation data plane: either the
// nat46 kernel module (through its control file) or this project's userspace
// translator on a TUN device with offloads. Open picks the backend.
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/vishvananda/netlink"

	"github.com/gluon-464xlat/gluon-464xlat/nat46"
	"github.com/gluon-464xlat/gluon-464xlat/translator"
)

// Backend is a running data plane for one device.
type Backend interface {
	// SetPairs replaces the rule pairs; packets in flight finish with the old ones.
	SetPairs(pairs []translator.Pair) error
	// Counters returns a snapshot of the counters.
	Counters() Stats
	// Close stops the data plane and removes what it created.
	Close() error
}

// Stats are a backend's counters.
type Stats struct {
	Backend   string // "userspace" or "nat46"
	Device    string
	RxPackets uint64 // frames read from the device (a GSO super-packet counts once)
	RxBytes   uint64
	TxPackets uint64 // frames written back (forwarded and emitted)
	TxBytes   uint64
	RxGSO     uint64 // super-packets among RxPackets
	Emitted   uint64 // frames written from the translator's slow path (fragments, ICMP errors)
	Dropped   uint64 // translator verdict Drop
	Errors    uint64 // read/write errors and frames with an unusable virtio-net header
	// TxCoalesced counts UDP datagrams written as part of a UDP GSO super-packet.
	TxCoalesced uint64
	Translator  translator.Counters
}

// Options tune Open.
type Options struct {
	// ControlPath is the nat46 control file (default nat46.DefaultControlPath).
	ControlPath string
	// Userspace forces the userspace backend even when nat46 is present.
	Userspace bool
	// Queues is the number of TUN queues / worker goroutines (default 1).
	Queues int
	// NoUDPCoalesce writes every translated UDP datagram on its own instead
	// of coalescing runs of one flow into UDP GSO super-packets.
	NoUDPCoalesce bool
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Open starts the nat46 backend when the nat46 control file exists and the
// userspace backend otherwise. mtu is the device MTU (the IPv4 side's; see
// files/docs/dataplane.md), cfg the translator configuration whose Pairs
// configure either backend.
//
// mtu <= 0 means cfg.MTU6 − 20 (the size that still fits after translation);
// passing the IPv6 MTU itself also works, but then the translator, not the
// kernel, answers the too-big DF packets with Frag Needed.
func Open(ctx context.Context, dev string, mtu int, cfg translator.Config, opts Options) (Backend, error) {
	if mtu <= 0 && cfg.MTU6 > 0 {
		mtu = cfg.MTU6 - 20
	}
	path := opts.ControlPath
	if path == "" {
		path = nat46.DefaultControlPath
	}
	if !opts.Userspace {
		err := nat46.Available(path)
		if err == nil && cfg.StrictWKP {
			return nil, fmtDev(dev, errors.New("StrictWKP (RFC 6052 §3.1) needs the userspace translator: the nat46 module does not enforce it"))
		}
		if err == nil {
			be, err := OpenNat46(path, dev, cfg.Pairs)
			if err != nil || mtu <= 0 {
				return be, err
			}
			// nat46 creates its device with MTU 16384: give it the IPv4 side's.
			if err := setMTU(dev, mtu); err != nil {
				be.Close()
				return nil, fmtDev(dev, err)
			}
			return be, nil
		}
		if !errors.Is(err, nat46.ErrNoModule) {
			return nil, err
		}
	}
	return openUserspace(ctx, dev, mtu, cfg, opts)
}

func setMTU(dev string, mtu int) error {
	link, err := netlink.LinkByName(dev)
	if err != nil {
		return err
	}
	if link.Attrs().MTU == mtu {
		return nil
	}
	return netlink.LinkSetMTU(link, mtu)
}

func fmtDev(dev string, err error) error { return fmt.Errorf("dataplane %s: %w", dev, err) }
