package clatd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-iptables/iptables"
)

// ChainSource holds the CLAT's source filter: one RETURN rule per client
// of this node (its IPv4 address and MAC), then DROP.
const ChainSource = "XLAT-CLAT-SRC"

// SourceFilter drops client IPv4 packets that would enter the CLAT with a
// source that is not a client of this node: a client cannot send with
// another client's address (here or on another node, the client network is
// shared by the whole mesh) or with an address nobody holds.
//
// A client of this node is an (address, MAC) pair from this node's DHCP
// leases or from l3roamd-xlat's reservations for clients that roamed in
// (its dnsmasq hosts file). Neighbour entries do not count: the kernel
// learns them from the ARP packets of whoever claims the address.
//
// Only packets that do not belong to an established connection are checked
// (FORWARD -i <bridge> -o <clat> ! --ctstate ESTABLISHED,RELATED): one rule
// per client, walked once per new flow.
type SourceFilter struct {
	Bridge     string       // client bridge
	Device     string       // CLAT device
	ClientIPv4 netip.Prefix // addresses outside it are never clients
	Files      []string     // dnsmasq lease file, l3roamd-xlat hosts file (missing = empty)
	Interval   time.Duration
	Log        *slog.Logger

	ipt   *iptables.IPTables
	cur   map[client]bool
	stamp map[string]string
}

type client struct {
	ip  netip.Addr
	mac string
}

func (c client) spec() []string {
	return []string{"-s", c.ip.String() + "/32", "-m", "mac", "--mac-source", c.mac, "-j", "RETURN"}
}

func (f *SourceFilter) jump() []string {
	return []string{"-i", f.Bridge, "-o", f.Device, "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED", "-j", ChainSource}
}

// Setup creates the chain (DROP only, then the clients found now) and the
// jump; leftovers of a killed run are replaced.
func (f *SourceFilter) Setup() error {
	ipt, err := iptables.NewWithProtocol(iptables.ProtocolIPv4)
	if err != nil {
		return fmt.Errorf("source filter: iptables: %w", err)
	}
	f.ipt, f.cur, f.stamp = ipt, map[client]bool{}, map[string]string{}
	if err := ipt.ClearChain("filter", ChainSource); err != nil {
		return fmt.Errorf("source filter: chain %s: %w", ChainSource, err)
	}
	if err := ipt.Append("filter", ChainSource, "-j", "DROP"); err != nil {
		return fmt.Errorf("source filter: %w", err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := ipt.InsertUnique("filter", "FORWARD", 1, f.jump()...); err != nil {
		return fmt.Errorf("source filter: jump from FORWARD: %w", err)
	}
	return nil
}

// Run re-reads the files when they change, until ctx ends.
func (f *SourceFilter) Run(ctx context.Context) {
	iv := f.Interval
	if iv == 0 {
		iv = 200 * time.Millisecond
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.Sync(); err != nil && f.Log != nil {
				f.Log.Warn("source filter", "err", err)
			}
		}
	}
}

// Sync brings the chain's client rules in line with the files (if one of
// them changed since the last call).
func (f *SourceFilter) Sync() error {
	changed := false
	for _, p := range f.Files {
		s := ""
		if st, err := os.Stat(p); err == nil {
			var ino uint64
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				ino = sys.Ino // replaced by rename (roamd's hosts file)
			}
			s = fmt.Sprint(st.ModTime().UnixNano(), st.Size(), ino)
		}
		if f.stamp[p] != s {
			f.stamp[p], changed = s, true
		}
	}
	if !changed {
		return nil
	}
	want := map[client]bool{}
	for _, p := range f.Files {
		if err := readClients(p, f.ClientIPv4, want); err != nil {
			f.stamp[p] = "" // read again next time
			return err
		}
	}
	var errs []error
	for c := range f.cur {
		if !want[c] {
			if err := f.ipt.DeleteIfExists("filter", ChainSource, c.spec()...); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(f.cur, c)
		}
	}
	add := make([]client, 0, len(want))
	for c := range want {
		if !f.cur[c] {
			add = append(add, c)
		}
	}
	sort.Slice(add, func(i, j int) bool { return add[i].ip.Less(add[j].ip) })
	for _, c := range add {
		if err := f.ipt.Insert("filter", ChainSource, 1, c.spec()...); err != nil {
			errs = append(errs, err)
			continue
		}
		f.cur[c] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("source filter: %w", err)
	}
	return nil
}

// Cleanup removes the jump and the chain.
func (f *SourceFilter) Cleanup() error {
	if f.ipt == nil {
		return nil
	}
	err := f.ipt.DeleteIfExists("filter", "FORWARD", f.jump()...)
	if ok, _ := f.ipt.ChainExists("filter", ChainSource); ok {
		err = errors.Join(err, f.ipt.ClearAndDeleteChain("filter", ChainSource))
	}
	return err
}

// readClients adds the (address, MAC) pairs of a dnsmasq lease file
// ("expiry MAC IP name id") or dhcp-hostsfile ("MAC,IP") to out. A missing
// file has none; lines that are neither are skipped.
func readClients(path string, net4 netip.Prefix, out map[client]bool) error {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var macS, ipS string
		if f := strings.Fields(sc.Text()); len(f) >= 3 {
			macS, ipS = f[1], f[2]
		} else if f := strings.Split(strings.TrimSpace(sc.Text()), ","); len(f) == 2 {
			macS, ipS = f[0], f[1]
		}
		mac, err1 := net.ParseMAC(macS)
		ip, err2 := netip.ParseAddr(ipS)
		if err1 != nil || err2 != nil || len(mac) != 6 || !ip.Is4() || (net4.IsValid() && !net4.Contains(ip)) {
			continue
		}
		out[client{ip, mac.String()}] = true
	}
	return sc.Err()
}
