package roamd

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/nfstate"
)

// The daemon keeps its state in a file under /var/run (tmpfs: it survives
// a restart of the daemon, not a reboot, as the kernel state it describes)
// so that a restarted daemon, after kill -9 or a graceful stop, serves its
// roamed clients, steering and release routes on without touching what
// carries their flows; see files/docs/roaming.md, "Restarts".

// savedState is the state file's content.
type savedState struct {
	Version int            `json:"version"`
	PLAT    netip.Prefix   `json:"plat,omitempty"` // set_platprefix's current choice
	Clients []savedClient  `json:"clients"`
	Steer   []savedSteer   `json:"steer"`
	Release []savedRelease `json:"release"`
}

type savedClient struct {
	MAC     string       `json:"mac"`
	IP      netip.Addr   `json:"ip,omitempty"`
	Origin  netip.Prefix `json:"origin,omitempty"`
	PLAT    netip.Prefix `json:"plat,omitempty"`
	Expires time.Time    `json:"expires,omitempty"`
	Roamed  bool         `json:"roamed,omitempty"`
}

type savedSteer struct {
	Dst     netip.Addr   `json:"dst"`
	CLAT    netip.Prefix `json:"clat"`
	NewCLAT netip.Prefix `json:"new_clat"`
	IP      netip.Addr   `json:"ip"`
	Expires time.Time    `json:"expires"`
}

type savedRelease struct {
	Dst   netip.Addr `json:"dst"`
	Until time.Time  `json:"until"`
}

const stateVersion = 1

// snapshot is the state to save, or false if nothing changed since the
// last snapshot (and force is not set); marked clean until saveFailed.
func (d *machine) snapshot(force bool) (savedState, bool) {
	if !d.dirty && !force {
		return savedState{}, false
	}
	d.dirty = false
	s := savedState{Version: stateVersion, PLAT: d.cfg.PLAT}
	for _, c := range d.cl {
		s.Clients = append(s.Clients, savedClient{MAC: c.MAC.String(), IP: c.IP, Origin: c.Origin, PLAT: c.PLAT,
			Expires: c.Expires, Roamed: c.Roamed})
	}
	for k, e := range d.st {
		s.Steer = append(s.Steer, savedSteer{Dst: k, CLAT: e.CLAT, NewCLAT: e.NewCLAT, IP: e.IP, Expires: e.Expires})
	}
	for k, u := range d.rel {
		s.Release = append(s.Release, savedRelease{Dst: k, Until: u})
	}
	return s, true
}

// saveState writes s to the state file atomically.
func saveState(path string, s savedState) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	return writeAtomic(path, b)
}

func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("state file %s: %w", path, err)
	}
	return nil
}

// loadState reads the state file; a missing file is an empty state, a
// broken one an error naming the file (the daemon then starts empty and
// removes the leftovers in the kernel).
func loadState(path string) (savedState, error) {
	var s savedState
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("state file %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return savedState{}, fmt.Errorf("state file %s: %w", path, err)
	}
	if s.Version != stateVersion {
		return savedState{}, fmt.Errorf("state file %s: version %d, want %d", path, s.Version, stateVersion)
	}
	return s, nil
}

// Restore takes over a previous run's state: clients whose lease has not
// ended, steering and release routes. Their kernel state is put in place
// again idempotently (it is normally still there; conntrack is left
// alone, so flows go on); nothing is sent.
func (d *machine) Restore(s savedState) {
	now := d.now()
	if s.PLAT.IsValid() && is96(s.PLAT) {
		d.cfg.PLAT = s.PLAT
	}
	for _, sc := range s.Clients {
		mac, err := net.ParseMAC(sc.MAC)
		if err != nil || len(mac) != 6 || (!sc.Expires.IsZero() && now.After(sc.Expires)) {
			continue
		}
		c := &Client{MAC: mac, IP: sc.IP, Origin: sc.Origin, PLAT: sc.PLAT, Expires: sc.Expires,
			NodeIP: d.nodeClientIP(mac), Roamed: sc.Roamed}
		d.cl[mac.String()] = c
		d.addNodeClientIP(c.NodeIP)
		if c.IP.IsValid() {
			d.setNeigh(c.IP, c.MAC)
		}
		if !d.cfg.OwnCLAT.IsValid() || !c.IP.IsValid() {
			continue
		}
		if d.needsXlatState(c) {
			d.addRoamed(d.roamedState(c), d.remaining(c))
		}
		if announces(c) {
			d.announce(addrmap.Embed(c.Origin, c.IP))
		}
		if c.Roamed {
			d.reserve(c.MAC, c.IP)
		}
	}
	for _, e := range s.Steer {
		if now.After(e.Expires) {
			continue
		}
		d.applySteer(e.Dst, e.CLAT, e.NewCLAT, e.IP, e.Expires, func(bool) {}) // route replace: idempotent
	}
	for _, r := range s.Release {
		if now.Before(r.Until) {
			d.rel[r.Dst] = r.Until
		}
	}
	d.cnt["restored_clients"] = uint64(len(d.cl))
}

// Owned is what the daemon accounts for in the kernel (for Reconcile).
type Owned struct {
	Announce, Release, Steer map[netip.Addr]bool
	Roamed                   []nfstate.Roamed
}

// Owned lists the kernel state the daemon's clients and routes account for.
func (d *machine) Owned() Owned {
	o := Owned{Announce: map[netip.Addr]bool{}, Release: map[netip.Addr]bool{}, Steer: map[netip.Addr]bool{}}
	for _, c := range d.cl {
		if !d.cfg.OwnCLAT.IsValid() || !c.IP.IsValid() || !c.Origin.IsValid() {
			continue
		}
		if announces(c) {
			o.Announce[addrmap.Embed(c.Origin, c.IP)] = true
		}
		if d.needsXlatState(c) {
			o.Roamed = append(o.Roamed, d.roamedState(c))
		}
	}
	for k := range d.rel {
		o.Release[k] = true
	}
	for k, e := range d.st {
		if e.NewCLAT != d.cfg.OwnCLAT && e.NewCLAT != e.CLAT {
			o.Steer[k] = true
		}
	}
	return o
}
