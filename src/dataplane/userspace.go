package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/gluon-464xlat/gluon-464xlat/header"
	"github.com/gluon-464xlat/gluon-464xlat/translator"
	"github.com/gluon-464xlat/gluon-464xlat/tun"
)

// maxFrame is the largest frame a TUN read returns: a 64 KB GSO
// super-packet plus the virtio-net header.
const maxFrame = 65535 + 1024 + tun.VirtioNetHdrLen

// Userspace is the userspace backend: workers read frames from the TUN
// device, translate each frame once (GSO super-packets included) and write
// the result back to the same device.
type Userspace struct {
	dev     *tun.Device
	cfg     translator.Config
	tr      atomic.Pointer[translator.Translator]
	workers []*worker
	log     *slog.Logger
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex // serialises SetPairs and Close
	closed  bool

	coalesceUDP bool
}

// OpenUserspace opens (or creates) TUN device dev with MTU mtu and starts
// translating with cfg. The backend stops when ctx ends or on Close.
func OpenUserspace(ctx context.Context, dev string, mtu int, cfg translator.Config) (Backend, error) {
	return openUserspace(ctx, dev, mtu, cfg, Options{})
}

func openUserspace(ctx context.Context, dev string, mtu int, cfg translator.Config, opts Options) (*Userspace, error) {
	tr, err := translator.New(cfg)
	if err != nil {
		return nil, fmtDev(dev, err)
	}
	d, err := tun.Open(tun.Config{Name: dev, MTU: mtu, Queues: opts.Queues})
	if err != nil {
		return nil, fmtDev(dev, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	u := &Userspace{dev: d, cfg: cfg, log: log.With("dev", dev), coalesceUDP: !opts.NoUDPCoalesce}
	u.tr.Store(tr)
	ctx, u.cancel = context.WithCancel(ctx)
	for _, q := range d.Queues() {
		w := newWorker(u, q, d.VnetHdr())
		u.workers = append(u.workers, w)
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			w.run()
		}()
	}
	go func() {
		<-ctx.Done()
		u.Close()
	}()
	u.log.Info("userspace translator started", "created", d.Created(), "queues", len(d.Queues()),
		"offloads", fmt.Sprintf("%#x", d.Offloads()), "mtu", mtu)
	return u, nil
}

// Device is the TUN device (for its name and whether it was created).
func (u *Userspace) Device() *tun.Device { return u.dev }

// Translator returns the translator in force.
func (u *Userspace) Translator() *translator.Translator { return u.tr.Load() }

// SetPairs swaps in a translator with new pairs (other settings unchanged).
func (u *Userspace) SetPairs(pairs []translator.Pair) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	cfg := u.cfg
	cfg.Pairs = pairs
	tr, err := translator.New(cfg)
	if err != nil {
		return fmtDev(u.dev.Name(), err)
	}
	u.cfg = cfg
	u.tr.Store(tr)
	return nil
}

// Counters sums the workers' counters. Translator counters are those of the
// translator in force (they restart when SetPairs swaps it).
func (u *Userspace) Counters() Stats {
	s := Stats{Backend: "userspace", Device: u.dev.Name(), Translator: u.tr.Load().Counters()}
	for _, w := range u.workers {
		s.RxPackets += w.rxPackets.Load()
		s.RxBytes += w.rxBytes.Load()
		s.TxPackets += w.txPackets.Load()
		s.TxBytes += w.txBytes.Load()
		s.RxGSO += w.rxGSO.Load()
		s.Emitted += w.emitted.Load()
		s.Dropped += w.dropped.Load()
		s.Errors += w.errors.Load()
		s.TxCoalesced += w.coalesced.Load()
	}
	return s
}

// Close stops the workers and closes the device (which removes it if
// OpenUserspace created it).
func (u *Userspace) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.mu.Unlock()
	u.cancel()
	u.dev.Shutdown() // wakes blocked reads
	u.wg.Wait()
	return u.dev.Close()
}

// worker owns one queue and its buffers; it allocates nothing per packet.
type worker struct {
	u    *Userspace
	q    *tun.Queue
	vnet bool
	buf  []byte // frame at buf[hdrOff:], packet at buf[pktOff:]
	out  []byte // emitted frames
	hdr  tun.VirtioNetHdr
	udp  *udpBatch // nil: no UDP coalescing

	rxPackets, rxBytes, txPackets, txBytes, rxGSO, emitted, dropped, errors, coalesced atomic.Uint64
}

// Packet layout in buf: translator.Headroom bytes of headroom, so the packet
// can grow by up to Headroom-VirtioNetHdrLen bytes and still have room for
// the header in front of it.
const pktOff = translator.Headroom + tun.VirtioNetHdrLen

func newWorker(u *Userspace, q *tun.Queue, vnet bool) *worker {
	w := &worker{u: u, q: q, vnet: vnet, buf: make([]byte, pktOff+maxFrame), out: make([]byte, tun.VirtioNetHdrLen+maxFrame)}
	if vnet && u.coalesceUDP {
		w.udp = newUDPBatch()
	}
	return w
}

func (w *worker) run() {
	hl := 0
	if w.vnet {
		hl = tun.VirtioNetHdrLen
	}
	rd := w.buf[pktOff-hl:]
	for {
		n, err := w.q.TryRead(rd)
		if err == tun.ErrWouldBlock {
			// queue drained: send what is batched, then sleep
			w.flush()
			err = w.q.WaitReadable()
			if err == nil {
				continue
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			w.errors.Add(1)
			w.u.log.Warn("read", "err", err)
			continue
		}
		if n <= hl {
			continue
		}
		w.rxPackets.Add(1)
		w.rxBytes.Add(uint64(n))
		w.handle(n - hl)
	}
}

// handle translates the packet buf[pktOff:pktOff+n] and writes the result.
func (w *worker) handle(n int) {
	var meta translator.Meta
	if w.vnet {
		if err := w.hdr.Decode(w.buf[pktOff-tun.VirtioNetHdrLen:]); err != nil {
			w.errors.Add(1)
			return
		}
		meta.CsumPartial = w.hdr.Flags&tun.FlagNeedsCsum != 0
		if w.hdr.IsGSO() {
			meta.GSOSize = int(w.hdr.GSOSize)
			w.rxGSO.Add(1)
		}
	}
	start, length, v := w.u.tr.Load().Translate(w.buf, pktOff, n, meta, w)
	switch v {
	case translator.Drop:
		w.dropped.Add(1)
		return
	case translator.Emitted:
		return
	}
	if w.vnet {
		if err := w.hdr.Translated(length-n, header.Version(w.buf[start:]) == 6); err != nil {
			w.errors.Add(1)
			return
		}
	}
	if w.udp != nil && !w.hdr.IsGSO() && w.hdr.Flags&(tun.FlagNeedsCsum|tun.FlagDataValid) != 0 {
		// checksum not verified by anyone yet (partial) or verified: the
		// kernel may compute it afresh
		p := w.buf[start : start+length]
		if w.udp.add(p) {
			return
		}
		w.flush()
		if w.udp.add(p) {
			return
		}
	} else {
		w.flush()
	}
	frame := w.buf[start:]
	if w.vnet {
		if start < tun.VirtioNetHdrLen {
			w.errors.Add(1)
			return
		}
		start -= tun.VirtioNetHdrLen
		length += tun.VirtioNetHdrLen
		_ = w.hdr.Encode(w.buf[start:])
		frame = w.buf[start:]
	}
	w.write(frame[:length])
}

// flush writes the batched UDP datagrams, if any.
func (w *worker) flush() {
	if w.udp == nil || w.udp.empty() {
		return
	}
	segs := w.udp.segs
	f := w.udp.frame()
	w.udp.reset()
	if segs > 1 {
		w.coalesced.Add(uint64(segs))
	}
	w.write(f)
}

// Emit writes a slow-path packet as a plain frame (zero virtio-net header).
func (w *worker) Emit(pkt []byte) {
	w.flush()
	hl := 0
	if w.vnet {
		hl = tun.VirtioNetHdrLen
		clear(w.out[:hl])
	}
	if len(pkt) > len(w.out)-hl {
		w.errors.Add(1)
		return
	}
	n := copy(w.out[hl:], pkt)
	w.emitted.Add(1)
	w.write(w.out[:hl+n])
}

func (w *worker) write(frame []byte) {
	if _, err := w.q.Write(frame); err != nil {
		if !errors.Is(err, os.ErrClosed) {
			w.errors.Add(1)
		}
		return
	}
	w.txPackets.Add(1)
	w.txBytes.Add(uint64(len(frame)))
}
