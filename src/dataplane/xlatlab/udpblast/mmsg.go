// Package udpblast is the benchmark's own UDP packet generator and sink:
// small datagrams sent and received in batches (sendmmsg/recvmmsg), so that
// the translator between them, not one system call per packet in iperf3, is
// what limits the rate. Used by xlat-bench (re-executed in the lab's
// namespaces); see files/docs/dataplane.md, "Benchmark".
package udpblast

import (
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of sendmmsg(2)/recvmmsg(2): the Go struct gets
// the same padding as the C one on 32- and 64-bit targets.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// batch is a vector of messages, each with one buffer.
type batch struct {
	msgs []mmsghdr
	iovs []unix.Iovec
}

// newBatch makes n messages over the buffers bufs(i).
func newBatch(n int, bufs func(i int) []byte) *batch {
	b := &batch{msgs: make([]mmsghdr, n), iovs: make([]unix.Iovec, n)}
	for i := range b.msgs {
		p := bufs(i)
		b.iovs[i].Base = &p[0]
		b.iovs[i].SetLen(len(p))
		b.msgs[i].hdr.Iov = &b.iovs[i]
		b.msgs[i].hdr.SetIovlen(1)
	}
	return b
}

// mmsg calls sendmmsg or recvmmsg on fd with the first n messages and
// returns how many were transferred; EINTR is retried.
func (b *batch) mmsg(trap uintptr, fd, n, flags int) (int, error) {
	for {
		r, _, e := unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(n), uintptr(flags), 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
}

// socket opens a UDP socket of a's family.
func socket(a netip.AddrPort) (int, error) {
	fam := unix.AF_INET6
	if a.Addr().Is4() {
		fam = unix.AF_INET
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("udpblast: socket: %w", err)
	}
	return fd, nil
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() {
		return &unix.SockaddrInet4{Addr: a.Addr().As4(), Port: int(a.Port())}
	}
	return &unix.SockaddrInet6{Addr: a.Addr().As16(), Port: int(a.Port())}
}
