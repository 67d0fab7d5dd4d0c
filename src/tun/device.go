package tun

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Offload bits for TUNSETOFFLOAD (linux/if_tun.h).
const (
	OffloadCsum = 0x01 // TUN_F_CSUM
	OffloadTSO4 = 0x02 // TUN_F_TSO4
	OffloadTSO6 = 0x04 // TUN_F_TSO6
	OffloadECN  = 0x08 // TUN_F_TSO_ECN
	OffloadUSO4 = 0x20 // TUN_F_USO4 (Linux >= 6.2)
	OffloadUSO6 = 0x40 // TUN_F_USO6 (Linux >= 6.2)
)

const (
	tunSetIff     = 0x400454ca // TUNSETIFF
	tunSetOffload = 0x400454d0 // TUNSETOFFLOAD
	iffTun        = 0x0001
	iffNoPI       = 0x1000
	iffMultiQueue = 0x0100
	iffVnetHdr    = 0x4000
)

// Config says how to open a device.
type Config struct {
	Name string // interface name, at most 15 bytes
	// MTU of the device (0: leave as is). The device carries both families;
	// see files/docs/dataplane.md for how the MTU is chosen.
	MTU int
	// Queues > 1 opens a multi-queue device with that many file descriptors.
	Queues int
	// NoOffload opens the device without IFF_VNET_HDR and offloads: frames
	// then carry no virtio-net header (for comparison only).
	NoOffload bool
	// NoUSO leaves UDP segmentation offload off even when the kernel has it.
	NoUSO bool
}

// Device is an open TUN device.
type Device struct {
	wake     int
	closed   atomic.Bool
	name     string
	created  bool
	vnet     bool
	offloads int
	queues   []*Queue
}

// Queue is one file descriptor of the device; each can be read and written
// from its own goroutine. Reads and writes are direct system calls on a
// non-blocking descriptor; an empty queue waits in poll(2) on the OS thread
// (cheaper per packet than Go's poller at high packet rates).
type Queue struct {
	fd     int
	wake   int // eventfd shared by the device: readable once Shutdown ran
	closed *atomic.Bool
	pfd    [2]unix.PollFd
}

type ifreqFlags struct {
	name  [unix.IFNAMSIZ]byte
	flags uint16
	_     [22]byte
}

// Open attaches to the TUN device cfg.Name, creating it if it does not exist
// (Created reports which), sets offloads and MTU and brings it up. A device
// Open created disappears when Close closes its last descriptor; a device
// that already existed (persistent) is left in place.
func Open(cfg Config) (*Device, error) {
	if cfg.Name == "" || len(cfg.Name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tun: bad interface name %q", cfg.Name)
	}
	queues := cfg.Queues
	if queues < 1 {
		queues = 1
	}
	_, err := net.InterfaceByName(cfg.Name)
	existed := err == nil
	d := &Device{name: cfg.Name, created: !existed, vnet: !cfg.NoOffload}
	d.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("tun: eventfd: %w", err)
	}
	flags := uint16(iffTun | iffNoPI)
	if d.vnet {
		flags |= iffVnetHdr
	}
	if queues > 1 {
		flags |= iffMultiQueue
	}
	for i := 0; i < queues; i++ {
		q, err := d.openQueue(flags)
		if err != nil && i == 0 && existed && errors.Is(err, unix.EINVAL) {
			// A persistent device's multi-queue flag must match: retry with the other.
			flags ^= iffMultiQueue
			q, err = d.openQueue(flags)
		}
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("tun: open %s queue %d: %w", cfg.Name, i, err)
		}
		d.queues = append(d.queues, q)
		if flags&iffMultiQueue == 0 {
			break
		}
	}
	if d.vnet {
		if err := d.setOffload(cfg.NoUSO); err != nil {
			d.Close()
			return nil, err
		}
	}
	link, err := netlink.LinkByName(cfg.Name)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("tun: %s: %w", cfg.Name, err)
	}
	if cfg.MTU > 0 && link.Attrs().MTU != cfg.MTU {
		if err := netlink.LinkSetMTU(link, cfg.MTU); err != nil {
			d.Close()
			return nil, fmt.Errorf("tun: %s: set mtu %d: %w", cfg.Name, cfg.MTU, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		d.Close()
		return nil, fmt.Errorf("tun: %s: set up: %w", cfg.Name, err)
	}
	return d, nil
}

func (d *Device) openQueue(flags uint16) (*Queue, error) {
	name := d.name
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var req ifreqFlags
	copy(req.name[:], name)
	req.flags = flags
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), tunSetIff, uintptr(unsafe.Pointer(&req))); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF: %w", e)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	q := &Queue{fd: fd, wake: d.wake, closed: &d.closed}
	q.pfd = [2]unix.PollFd{{Fd: int32(fd)}, {Fd: int32(d.wake), Events: unix.POLLIN}}
	return q, nil
}

// setOffload enables checksum and TCP segmentation offload on every queue,
// and UDP segmentation offload where the kernel accepts it.
func (d *Device) setOffload(noUSO bool) error {
	base := OffloadCsum | OffloadTSO4 | OffloadTSO6 | OffloadECN
	want := base
	if !noUSO {
		want |= OffloadUSO4 | OffloadUSO6
	}
	for _, q := range d.queues {
		got, err := q.setOffload(want)
		if err != nil && want != base {
			got, err = q.setOffload(base) // kernel without USO
		}
		if err != nil {
			return fmt.Errorf("tun: %s: TUNSETOFFLOAD: %w", d.name, err)
		}
		d.offloads = got
		want = got
	}
	return nil
}

func (q *Queue) setOffload(bits int) (int, error) {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(q.fd), tunSetOffload, uintptr(bits)); e != 0 {
		return 0, e
	}
	return bits, nil
}

// Name is the interface name.
func (d *Device) Name() string { return d.name }

// Created reports whether Open created the device (it goes away on Close).
func (d *Device) Created() bool { return d.created }

// VnetHdr reports whether frames carry the 10-byte virtio-net header.
func (d *Device) VnetHdr() bool { return d.vnet }

// Offloads returns the TUNSETOFFLOAD bits in effect.
func (d *Device) Offloads() int { return d.offloads }

// Queues returns the device's queues.
func (d *Device) Queues() []*Queue { return d.queues }

// Shutdown makes every Read and Write (current and future) return
// os.ErrClosed, without closing the descriptors yet.
func (d *Device) Shutdown() {
	if d.closed.Swap(true) {
		return
	}
	var one [8]byte
	one[0] = 1 // eventfd counter += 1 (host byte order; any non-zero value wakes)
	one[7] = 1
	_, _ = unix.Write(d.wake, one[:])
}

// Close shuts the device down and closes every queue; call it after the
// goroutines using the queues have returned. A device Open created is
// destroyed by the kernel when its last descriptor closes.
func (d *Device) Close() error {
	d.Shutdown()
	var errs []error
	for _, q := range d.queues {
		if err := unix.Close(q.fd); err != nil {
			errs = append(errs, fmt.Errorf("tun: close %s: %w", d.name, err))
		}
	}
	d.queues = nil
	if d.wake > 0 {
		unix.Close(d.wake)
		d.wake = -1
	}
	return errors.Join(errs...)
}

// ErrWouldBlock is returned by TryRead when the queue is empty.
var ErrWouldBlock = errors.New("tun: queue empty")

// Read reads one frame (virtio-net header first when the device has one),
// waiting for one if the queue is empty.
func (q *Queue) Read(b []byte) (int, error) {
	for {
		n, err := q.TryRead(b)
		if err != ErrWouldBlock {
			return n, err
		}
		if err := q.WaitReadable(); err != nil {
			return 0, err
		}
	}
}

// TryRead reads one frame if one is queued, else returns ErrWouldBlock.
func (q *Queue) TryRead(b []byte) (int, error) {
	for {
		if q.closed.Load() {
			return 0, os.ErrClosed
		}
		n, err := rawRW(unix.SYS_READ, q.fd, b)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, ErrWouldBlock
		}
		return 0, fmt.Errorf("tun: read: %w", err)
	}
}

// WaitReadable waits until a frame is queued or the device shuts down.
func (q *Queue) WaitReadable() error { return q.wait(unix.POLLIN) }

// Write writes one frame (virtio-net header first when the device has one).
func (q *Queue) Write(b []byte) (int, error) {
	for {
		if q.closed.Load() {
			return 0, os.ErrClosed
		}
		n, err := rawRW(unix.SYS_WRITE, q.fd, b)
		if err == nil {
			return n, nil
		}
		if err != unix.EAGAIN && err != unix.EINTR {
			return 0, fmt.Errorf("tun: write: %w", err)
		}
		if err := q.wait(unix.POLLOUT); err != nil {
			return 0, err
		}
	}
}

// rawRW is read(2)/write(2) on the non-blocking descriptor without the Go
// scheduler's syscall bookkeeping: the call never blocks, so the goroutine
// keeps its P and the runtime's monitor thread need not wake up to hand the P
// to someone else (measured: that was about 7 % of the engine's CPU at
// high packet rates). Only poll(2) goes through the ordinary path.
func rawRW(trap uintptr, fd int, b []byte) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(p), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func (q *Queue) wait(ev int16) error {
	q.pfd[0].Events, q.pfd[0].Revents, q.pfd[1].Revents = ev, 0, 0
	_, err := unix.Poll(q.pfd[:], -1)
	if err != nil && err != unix.EINTR {
		return fmt.Errorf("tun: poll: %w", err)
	}
	return nil
}
