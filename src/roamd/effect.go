package roamd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// The state machine changes nothing outside its own state while it makes
// a transition: it lists effects (kernel changes, datagrams, DHCP
// reservations, presence probes), and the goroutine that owns the machine
// carries them out after the transition, in order. What a transition must
// know of the outcome (a steering route the kernel refused is no steering)
// comes back through the effect's then, as a transition of its own.

// world is what effects act on.
type world struct {
	k   Kernel
	tx  Transport
	res Reserver // may be nil
}

// effect is one thing to do outside the machine's state.
type effect struct {
	what string              // names a kernel change in the log ("ipset add"); "" for datagrams
	do   func(w world) error // carried out on the owner goroutine
	then func(err error)     // back in the machine with do's result (may list more effects)
	ret  bool                // do's error goes back to the caller of the event (set/del_platprefix)
	// bg, instead of do, runs off the owner goroutine (a blocking probe);
	// the transition it returns is made on the owner goroutine.
	bg func(w world) func()
}

// kernel lists a kernel change; its error is logged and counted.
func (d *machine) kernel(what string, f func(k Kernel) error) {
	d.fx = append(d.fx, effect{what: what, do: func(w world) error { return f(w.k) }})
}

// kernelThen lists a kernel change whose result the machine needs.
func (d *machine) kernelThen(what string, f func(k Kernel) error, then func(err error)) {
	d.fx = append(d.fx, effect{what: what, do: func(w world) error { return f(w.k) }, then: then})
}

// kernelRet lists a kernel change whose error goes back to the caller.
func (d *machine) kernelRet(what string, f func(k Kernel) error) {
	d.fx = append(d.fx, effect{what: what, do: func(w world) error { return f(w.k) }, ret: true})
}

// reserve and unreserve list DHCP reservation changes (no-ops without a
// hostsfile).
func (d *machine) reserve(mac net.HardwareAddr, ip netip.Addr) {
	if d.w.res != nil {
		d.fx = append(d.fx, effect{what: "dhcp reserve", do: func(w world) error { return w.res.Reserve(mac, ip) }})
	}
}

func (d *machine) unreserve(mac net.HardwareAddr) {
	if d.w.res != nil {
		d.fx = append(d.fx, effect{what: "dhcp release", do: func(w world) error { return w.res.Release(mac) }})
	}
}

// send encodes m now and lists its sending from from (zero: any) to to.
func (d *machine) send(from netip.Addr, to netip.AddrPort, m *roamproto.Message) {
	name := roamproto.TypeName(m.Type)
	b, err := roamproto.Encode(m, d.cfg.Secret)
	if err != nil {
		d.log.Error("encode", "type", name, "err", err)
		d.count("tx_error")
		return
	}
	d.fx = append(d.fx, effect{do: func(w world) error { return w.tx.Send(from, to, b) }, then: func(err error) {
		if err != nil {
			d.log.Debug("send", "type", name, "to", to, "err", err)
			d.count("tx_error")
			return
		}
		d.count("tx_" + name)
		d.log.Debug("tx", "type", name, "to", to.Addr())
	}})
}

// background lists a blocking probe; its result is a later transition.
func (d *machine) background(f func(w world) func()) {
	d.fx = append(d.fx, effect{bg: f})
}

// take returns the effects listed so far and forgets them.
func (d *machine) take() []effect {
	fx := d.fx
	d.fx = nil
	return fx
}

// slowEffect: a kernel change that blocks the loop this long is logged.
const slowEffect = 50 * time.Millisecond

// apply carries out fx in order on the owner goroutine (background
// probes go to d.spawn). It returns the errors of effects marked ret.
func (d *machine) apply(fx []effect) error {
	var errs []error
	for _, e := range fx {
		if e.bg != nil {
			f, w := e.bg, d.w
			d.spawn(func() func() { return f(w) })
			continue
		}
		t0 := time.Now() // wall time: what the loop spent blocked, whatever the machine's clock
		err := e.do(d.w)
		if dt := time.Since(t0); dt >= slowEffect && e.what != "" {
			d.count("kernel_slow")
			d.log.Info("slow kernel change", "what", e.what, "took", dt.Round(time.Millisecond))
		}
		switch {
		case err != nil && e.ret:
			errs = append(errs, fmt.Errorf("%s: %w", e.what, err))
		case err != nil && e.what != "":
			d.kerr(e.what, err)
		}
		if e.then != nil {
			e.then(err)
			errs = append(errs, d.apply(d.take()))
		}
	}
	return errors.Join(errs...)
}
