package roamd

import "net"

// Gone is a bridge FDB entry deleted: the bridge aged the MAC out (no frame
// for its ageing time, 300 s by default) or flushed its port. A client
// learnt from the bridge that never got a lease (no lease end, not roamed
// in) is released then, as l3roamd drops a client on RTM_DELNEIGH: nothing
// else would ever end it, and it would keep its node-client-IP for good
// (e.g. a device's frames before it set an address, or any stray MAC on the
// client bridge). Clients with a lease keep it to its end (they may be idle
// and come back); the MAC is learnt again with its next frame.
func (d *machine) Gone(mac net.HardwareAddr) {
	c := d.cl[mac.String()]
	if c == nil || !c.Expires.IsZero() || c.Roamed {
		return
	}
	d.count("unleased_gone")
	d.release(c, "unleased client left the bridge")
}
