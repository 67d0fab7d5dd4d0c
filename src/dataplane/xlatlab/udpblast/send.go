package udpblast

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// SendConfig says what to send.
type SendConfig struct {
	Dst      netip.AddrPort
	Len      int           // UDP payload bytes per datagram (64 in the benchmark)
	Flows    int           // sockets with their own source port, used in turn (default 1)
	Batch    int           // datagrams per sendmmsg call (default 64)
	Duration time.Duration // how long to send
}

// SendResult is what Send did.
type SendResult struct {
	Sent    uint64  `json:"sent"`
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu_seconds"` // this process's CPU time while sending
}

// Send sends datagrams of cfg.Len bytes to cfg.Dst as fast as it can for
// cfg.Duration, cfg.Batch per system call, cycling over cfg.Flows sockets.
// Send errors that a flooded path produces (ENOBUFS, EAGAIN, ECONNREFUSED
// from an ICMP error) are skipped, not counted as sent.
func Send(ctx context.Context, cfg SendConfig) (SendResult, error) {
	if cfg.Flows < 1 {
		cfg.Flows = 1
	}
	if cfg.Batch < 1 {
		cfg.Batch = 64
	}
	if cfg.Len < 1 {
		return SendResult{}, fmt.Errorf("udpblast: payload length %d", cfg.Len)
	}
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for i := 0; i < cfg.Flows; i++ {
		fd, err := socket(cfg.Dst)
		if err != nil {
			return SendResult{}, err
		}
		fds = append(fds, fd)
		if err := unix.Connect(fd, sockaddr(cfg.Dst)); err != nil {
			return SendResult{}, fmt.Errorf("udpblast: connect %s: %w", cfg.Dst, err)
		}
	}
	payload := make([]byte, cfg.Len)
	for i := range payload {
		payload[i] = byte(i)
	}
	b := newBatch(cfg.Batch, func(int) []byte { return payload })
	cpu0 := cpuSeconds()
	start := time.Now()
	end := start.Add(cfg.Duration)
	var res SendResult
	for i := 0; ctx.Err() == nil; i++ {
		if i%16 == 0 && !time.Now().Before(end) {
			break
		}
		n, err := b.mmsg(unix.SYS_SENDMMSG, fds[i%len(fds)], cfg.Batch, 0)
		switch err {
		case nil:
			res.Sent += uint64(n)
		case unix.ENOBUFS, unix.EAGAIN, unix.ECONNREFUSED:
		default:
			return res, fmt.Errorf("udpblast: sendmmsg to %s: %w", cfg.Dst, err)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.CPU = cpuSeconds() - cpu0
	return res, ctx.Err()
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
