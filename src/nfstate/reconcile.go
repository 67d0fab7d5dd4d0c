package nfstate

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// Reconcile makes the sets hold exactly the members of keep (the clients a
// restarted daemon accounts for): other members are deleted, per-prefix
// sets that no kept client uses lose their rule and go. Kept members are
// not touched (their timeouts run on). It returns how many members and
// per-prefix sets it removed.
func (s *State) Reconcile(keep []Roamed) (members, sets int, err error) {
	want := map[string]map[netip.Addr]bool{}
	put := func(set string, a netip.Addr) {
		if want[set] == nil {
			want[set] = map[netip.Addr]bool{}
		}
		want[set][a] = true
	}
	for _, r := range keep {
		if !r.ClientIP.Is4() || check96(r.CLAT, "CLAT") != nil {
			continue
		}
		own := addrOf(embed(s.cfg.OwnCLAT, r.ClientIP))
		put(SetRoam, own)
		if r.CLAT != s.cfg.OwnCLAT {
			put(SetName(setOrigin, r.CLAT), own)
			put(SetIn, addrOf(embed(r.CLAT, r.ClientIP)))
		}
		if r.PLAT.IsValid() {
			put(SetName(setPLAT, r.PLAT), own)
		}
	}
	all, err := netlink.IpsetListAll()
	if err != nil {
		return 0, 0, fmt.Errorf("nfstate: ipset list: %w", err)
	}
	var errs []error
	for _, set := range all {
		name := set.SetName
		if !strings.HasPrefix(name, "l3x") {
			continue
		}
		if kind, p, ok := prefixOf(name); ok && len(want[name]) == 0 {
			if kind == setOrigin {
				err = s.DropOrigin(p)
			} else {
				err = s.DropPLAT(p)
			}
			if err != nil {
				errs = append(errs, err)
			} else {
				sets++
			}
			continue
		}
		for _, e := range set.Entries {
			a, ok := netip.AddrFromSlice(e.IP)
			if !ok || want[name][a.Unmap()] {
				continue
			}
			if err := del(name, e.IP); err != nil {
				errs = append(errs, err)
			} else {
				members++
			}
		}
	}
	return members, sets, errors.Join(errs...)
}

func addrOf(ip []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// prefixOf parses a per-prefix set name (l3xs/l3xp + 24 hex digits).
func prefixOf(name string) (kind string, p netip.Prefix, ok bool) {
	for _, k := range []string{setOrigin, setPLAT} {
		h, found := strings.CutPrefix(name, k)
		if !found || len(h) != 24 || strings.HasPrefix(h, "-") {
			continue
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			return "", netip.Prefix{}, false
		}
		var a [16]byte
		copy(a[:], b)
		return k, netip.PrefixFrom(netip.AddrFrom16(a), 96), true
	}
	return "", netip.Prefix{}, false
}
