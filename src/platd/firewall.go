package platd

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/coreos/go-iptables/iptables"

	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// Chain names of the daemon's own rules.
const (
	ChainNAT66  = "XLAT-PLAT-NAT66" // ip6tables nat, from POSTROUTING -o <dev>
	ChainMasq   = "XLAT-PLAT-MASQ"  // iptables nat, from POSTROUTING -o <wan>
	ChainFwd    = "XLAT-PLAT-FWD"   // iptables filter, from FORWARD -i <dev> and -o <dev>
	ChainInput  = "XLAT-PLAT-IN"    // iptables filter, from INPUT -i <dev>
	ChainSrc6   = "XLAT-PLAT-SRC"   // ip6tables filter, from FORWARD -o <dev>
	ChainMgmt6  = "XLAT-PLAT-MGMT"  // ip6tables filter, from INPUT -d <management address>
	chainTarget = "-j"
)

// mgmtIIDMask selects the low 32 bits of an IPv6 address: a source whose
// low 32 bits are 192.0.0.1 is a CLAT's management address (the roaming
// daemons send from there), anything else inside clat_range is a client's
// translated IPv4 address.
const mgmtIIDMask = "::ffff:ffff"

type rule struct {
	table, chain string
	spec         []string
}

type firewall struct {
	v4, v6 *iptables.IPTables
	// chains with their rules, and the jumps into them from built-in chains.
	chains4, chains6 []rule
	jumps4, jumps6   []rule
}

func newFirewall(cfg xlatconf.PLAT) (*firewall, error) {
	v4, err := iptables.NewWithProtocol(iptables.ProtocolIPv4)
	if err != nil {
		return nil, fmt.Errorf("iptables: %w", err)
	}
	v6, err := iptables.NewWithProtocol(iptables.ProtocolIPv6)
	if err != nil {
		return nil, fmt.Errorf("ip6tables: %w", err)
	}
	dev, wan := cfg.Device, cfg.WANDevice
	f := &firewall{v4: v4, v6: v6}
	mgmt := wellknown.ManagementAddress(cfg.Prefix).String() + "/128"
	clats := cfg.CLATRange.String()
	f.chains6 = []rule{
		{"nat", ChainNAT66, []string{"-j", "SNAT", "--to-source", cfg.NAT66Address.String()}},
		// No open relay: only the CLATs' addresses are translated.
		{"filter", ChainSrc6, []string{"!", "-s", clats, "-j", "DROP"}},
		// 192.0.0.1 from a client (<clat /96>+client IPv4) would reach
		// every IPv6 listener of this node through the management address.
		{"filter", ChainMgmt6, []string{"-s", wellknown.ManagementAddress(netip.PrefixFrom(netip.IPv6Unspecified(), 96)).String() + "/" + mgmtIIDMask, "-j", "RETURN"}},
		{"filter", ChainMgmt6, []string{"-s", clats, "-j", "DROP"}},
	}
	f.jumps6 = []rule{
		{"nat", "POSTROUTING", []string{"-o", dev, chainTarget, ChainNAT66}},
		{"filter", "FORWARD", []string{"-o", dev, chainTarget, ChainSrc6}},
		{"filter", "INPUT", []string{"-d", mgmt, chainTarget, ChainMgmt6}},
	}
	for _, p := range cfg.BlockedIPv4 {
		f.chains4 = append(f.chains4,
			rule{"filter", ChainFwd, []string{"-i", dev, "-d", p.String(), "-j", "DROP"}})
	}
	f.chains4 = append(f.chains4,
		rule{"filter", ChainFwd, []string{"-i", dev, "-o", wan, "-s", cfg.IPv4Address.String(), "-j", "ACCEPT"}},
		rule{"filter", ChainFwd, []string{"-i", dev, "-o", wan, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"}},
		rule{"filter", ChainFwd, []string{"-i", wan, "-o", dev, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"}},
		// Translated traffic leaves through the WAN only (not into the
		// client bridge, the CLAT or back into the translator), and only
		// replies enter the translator.
		rule{"filter", ChainFwd, []string{"-i", dev, "-j", "DROP"}},
		rule{"filter", ChainFwd, []string{"-o", dev, "-j", "DROP"}},
		// None of this node's own IPv4 addresses (WAN included) is reachable
		// through the translator.
		rule{"filter", ChainInput, []string{"-j", "DROP"}},
		rule{"nat", ChainMasq, []string{"-s", cfg.IPv4Address.String() + "/32", "-j", "MASQUERADE"}},
	)
	f.jumps4 = []rule{
		{"filter", "FORWARD", []string{"-i", dev, chainTarget, ChainFwd}},
		{"filter", "FORWARD", []string{"-o", dev, chainTarget, ChainFwd}},
		{"filter", "INPUT", []string{"-i", dev, chainTarget, ChainInput}},
		{"nat", "POSTROUTING", []string{"-o", wan, chainTarget, ChainMasq}},
	}
	return f, nil
}

func chainsOf(rules []rule) []rule {
	seen := map[string]bool{}
	var out []rule
	for _, r := range rules {
		if k := r.table + "/" + r.chain; !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// install (re)creates the chains with exactly their rules and inserts each
// jump once at the top of its built-in chain. Running it twice changes nothing.
func (f *firewall) install() error {
	for _, fam := range []struct {
		ipt           *iptables.IPTables
		chains, jumps []rule
	}{{f.v4, f.chains4, f.jumps4}, {f.v6, f.chains6, f.jumps6}} {
		for _, c := range chainsOf(fam.chains) {
			if err := fam.ipt.ClearChain(c.table, c.chain); err != nil {
				return fmt.Errorf("%s: create chain %s/%s: %w", protoName(fam.ipt), c.table, c.chain, err)
			}
		}
		for _, r := range fam.chains {
			if err := fam.ipt.Append(r.table, r.chain, r.spec...); err != nil {
				return fmt.Errorf("%s: %s/%s %v: %w", protoName(fam.ipt), r.table, r.chain, r.spec, err)
			}
		}
		for _, j := range fam.jumps {
			if err := fam.ipt.InsertUnique(j.table, j.chain, 1, j.spec...); err != nil {
				return fmt.Errorf("%s: %s/%s %v: %w", protoName(fam.ipt), j.table, j.chain, j.spec, err)
			}
		}
	}
	return nil
}

// remove deletes the jumps and the chains; missing ones are not an error.
func (f *firewall) remove() error {
	var errs []error
	for _, fam := range []struct {
		ipt           *iptables.IPTables
		chains, jumps []rule
	}{{f.v4, f.chains4, f.jumps4}, {f.v6, f.chains6, f.jumps6}} {
		for _, j := range fam.jumps {
			if err := fam.ipt.DeleteIfExists(j.table, j.chain, j.spec...); err != nil {
				errs = append(errs, fmt.Errorf("%s: remove %s/%s %v: %w", protoName(fam.ipt), j.table, j.chain, j.spec, err))
			}
		}
		for _, c := range chainsOf(fam.chains) {
			ok, err := fam.ipt.ChainExists(c.table, c.chain)
			if err != nil || !ok {
				continue
			}
			if err := fam.ipt.ClearAndDeleteChain(c.table, c.chain); err != nil {
				errs = append(errs, fmt.Errorf("%s: remove chain %s/%s: %w", protoName(fam.ipt), c.table, c.chain, err))
			}
		}
	}
	return errors.Join(errs...)
}

// blockedDrops sums the packets dropped by the IPv4 rules (blocked
// destinations, the node's own addresses, anything but WAN).
func (f *firewall) blockedDrops() (uint64, error) {
	return drops(f.v4, ChainFwd, ChainInput)
}

// sourceDrops sums the IPv6 packets dropped for their source (not a CLAT,
// or a client at the management address).
func (f *firewall) sourceDrops() (uint64, error) {
	return drops(f.v6, ChainSrc6, ChainMgmt6)
}

func drops(ipt *iptables.IPTables, chains ...string) (uint64, error) {
	var sum uint64
	for _, chain := range chains {
		stats, err := ipt.Stats("filter", chain)
		if err != nil {
			return 0, err
		}
		for _, s := range stats {
			// pkts bytes target prot opt in out source destination [options]
			if len(s) > 2 && s[2] == "DROP" {
				n, _ := strconv.ParseUint(s[0], 10, 64)
				sum += n
			}
		}
	}
	return sum, nil
}

func protoName(ipt *iptables.IPTables) string {
	if ipt.Proto() == iptables.ProtocolIPv6 {
		return "ip6tables"
	}
	return "iptables"
}
