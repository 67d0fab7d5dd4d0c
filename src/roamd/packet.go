package roamd

import (
	"errors"
	"net/netip"

	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// HandlePacket processes one datagram from src.
func (d *machine) HandlePacket(src netip.AddrPort, b []byte) {
	now := d.now()
	from := src.Addr().Unmap()
	if !d.lim.allow(from, now) {
		d.count("drop_rate")
		return
	}
	m, err := roamproto.Parse(b, d.cfg.Secret)
	if err != nil {
		d.count("drop_" + parseReason(err))
		d.log.Debug("drop", "from", src, "err", err)
		return
	}
	if ok, why := d.rep.check(replayKey{m.Sender, m.Type, m.Nonce}, m.Timestamp, now); !ok {
		d.count("drop_" + why)
		return
	}
	d.count("rx_" + roamproto.TypeName(m.Type))
	d.log.Debug("rx", "type", roamproto.TypeName(m.Type), "from", from, "mac", m.MAC)
	switch m.Type {
	case roamproto.TypeClaim:
		d.onClaim(m, netip.AddrPortFrom(from, src.Port()))
	case roamproto.TypeInfo:
		d.onInfo(m, netip.AddrPortFrom(from, src.Port()))
	case roamproto.TypeAck:
		d.onAck(m, from)
	case roamproto.TypeRoam:
		d.onRoam(m, netip.AddrPortFrom(from, src.Port()))
	case roamproto.TypeVerify:
		d.onVerify(m, netip.AddrPortFrom(from, src.Port()))
	case roamproto.TypeConfirm:
		d.onConfirm(m, netip.AddrPortFrom(from, src.Port()))
	case roamproto.TypeRefuse:
		from := netip.AddrPortFrom(from, src.Port())
		if !d.verifyRefused(m, from) { // at the PLAT: the serving node refused
			d.roamRefused(m, from) // at B: the PLAT refused our ROAM
		}
	}
}

func parseReason(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{{roamproto.ErrHMAC, "hmac"}, {roamproto.ErrVersion, "version"}, {roamproto.ErrType, "type"},
		{roamproto.ErrMissing, "missing"}, {roamproto.ErrShort, "malformed"}, {roamproto.ErrTooLong, "malformed"},
		{roamproto.ErrSegment, "malformed"}, {roamproto.ErrDuplicate, "malformed"}} {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return "malformed"
}

// onAck: A gets the ACK of its INFO (then releases), B the ACK of its ROAM.
func (d *machine) onAck(m *roamproto.Message, from netip.Addr) {
	p := d.pend[m.Echo]
	if !m.HasEcho || p == nil || p.to.Addr() != from || p.mac != m.MAC.String() {
		d.count("drop_ack_unknown")
		return
	}
	d.stopPending(p)
	if p.kind == "INFO" {
		d.handoverAcked(p.hoKey, p.hoTo)
	}
}
