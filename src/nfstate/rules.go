package nfstate

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The per-prefix rules (one per origin CLAT, one per PLAT and its reply
// rule) change while clients roam, on the daemon's event loop. Each change
// is one ip6tables-restore run for the nat table, computed from what this
// State knows is in place (load reads it back at Setup and after a failed
// run), instead of one ip6tables run per check, append, list and delete:
// the first client of a new origin and PLAT took seven commands, each
// 0.1-2 s on a busy node (50-node scale lab: 1,300 slow kernel changes in
// 142 roams; every other handover on the node waited behind them).

// natRule is a rule of the nat table: its chain and its match and target.
type natRule struct {
	chain string
	args  []string
}

func (r natRule) op(verb string) string {
	return verb + " " + r.chain + " " + strings.Join(r.args, " ")
}

// originRule rewrites a roamed client's source back to CLATD::ip.
func (s *State) originRule(set string, clat netip.Prefix) natRule {
	return natRule{ChainPost, []string{"-m", "set", "--match-set", set, "src", "-j", "NETMAP", "--to", clat.String()}}
}

// platRule sends a roamed client's packets to PLATC::server.
func (s *State) platRule(set string, plat netip.Prefix) natRule {
	return natRule{ChainPre, []string{"-i", s.cfg.CLATDevice, "-m", "set", "--match-set", set, "src",
		"-j", "NETMAP", "--to", plat.String()}}
}

// replyRule completes the PLAT rewrite for a flow whose first packet here
// is a reply (see the package comment), towards via, this node's PLAT.
func (s *State) replyRule(set string, via netip.Prefix) natRule {
	return natRule{ChainPost, []string{"-o", s.cfg.CLATDevice, "-m", "set", "--match-set", set, "dst",
		"-j", "NETMAP", "--to", via.String()}}
}

// natOps runs ops ("-A CHAIN ..." and "-D CHAIN ...") on the nat table as
// one transaction: all or nothing.
func (s *State) natOps(ops []string) error {
	if len(ops) == 0 {
		return nil
	}
	defer s.changing()
	if s.restore == "" { // no ip6tables-restore: one command per op
		for _, o := range ops {
			f := strings.Fields(o)
			var err error
			if f[0] == "-A" {
				err = s.ipt.Append("nat", f[1], f[2:]...)
			} else {
				err = s.ipt.Delete("nat", f[1], f[2:]...)
			}
			if err != nil {
				return fmt.Errorf("nfstate: ip6tables -t nat %s: %w", o, err)
			}
		}
		return nil
	}
	cmd := exec.Command(s.restore, "--noflush", "--wait=5")
	cmd.Stdin = strings.NewReader("*nat\n" + strings.Join(ops, "\n") + "\nCOMMIT\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nfstate: %s of %q: %w: %s", s.restore, ops, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// withResync runs plan's ops; if they fail (the chains are not what this
// State remembers), it reads the rules back and runs plan's ops again once.
func (s *State) withResync(plan func() []string) error {
	err := s.natOps(plan())
	if err == nil {
		return nil
	}
	if lerr := s.load(); lerr != nil {
		return errors.Join(err, lerr)
	}
	return s.natOps(plan())
}

// load reads the per-prefix rules in place back from the nat chains.
func (s *State) load() error {
	sets, via := map[string]bool{}, map[string]netip.Prefix{}
	for _, chain := range []string{ChainPre, ChainPost} {
		rules, err := s.ipt.List("nat", chain)
		if err != nil {
			return fmt.Errorf("nfstate: list nat/%s: %w", chain, err)
		}
		for _, r := range rules {
			set, dir, to := ruleFields(strings.Fields(r))
			if _, _, ok := prefixOf(set); !ok {
				continue
			}
			if dir == "dst" {
				via[set] = to
			} else {
				sets[set] = true
			}
		}
	}
	s.mu.Lock()
	s.sets, s.via = sets, via
	s.mu.Unlock()
	return nil
}

// ruleFields picks the set, its direction and the NETMAP target out of a
// rule as ip6tables -S prints it.
func ruleFields(f []string) (set, dir string, to netip.Prefix) {
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "--match-set":
			set = f[i+1]
			if i+2 < len(f) {
				dir = f[i+2]
			}
		case "--to":
			to, _ = netip.ParsePrefix(f[i+1])
		}
	}
	return set, dir, to
}

// ensureRules puts the rules that r needs in place: its origin's, its
// PLAT's and that PLAT's reply rule towards r.Via (replacing one towards
// another PLAT: this node's CLAT switched), creating the sets first. It
// returns the origin and PLAT sets ("" where r needs none).
func (s *State) ensureRules(r Roamed) (so, sp string, err error) {
	if r.CLAT != s.cfg.OwnCLAT {
		so = SetName(setOrigin, r.CLAT)
	}
	if r.PLAT.IsValid() {
		sp = SetName(setPLAT, r.PLAT)
	}
	if r.Via.IsValid() {
		if err := check96(r.Via, "own PLAT"); err != nil {
			return "", "", err
		}
	}
	for _, set := range []string{so, sp} {
		if set != "" && !s.has(set) {
			if err := createSet(set); err != nil {
				return "", "", err
			}
		}
	}
	err = s.withResync(func() []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		var ops []string
		if so != "" && !s.sets[so] {
			ops = append(ops, s.originRule(so, r.CLAT).op("-A"))
		}
		if sp != "" && !s.sets[sp] {
			ops = append(ops, s.platRule(sp, r.PLAT).op("-A"))
		}
		if have := s.via[sp]; sp != "" && r.Via.IsValid() && have != r.Via {
			if have.IsValid() {
				ops = append(ops, s.replyRule(sp, have).op("-D"))
			}
			ops = append(ops, s.replyRule(sp, r.Via).op("-A"))
		}
		return ops
	})
	if err != nil {
		return "", "", fmt.Errorf("nfstate: rules for %v/%v: %w", r.CLAT, r.PLAT, err)
	}
	s.mu.Lock()
	for _, set := range []string{so, sp} {
		if set != "" {
			s.sets[set] = true
		}
	}
	if sp != "" && r.Via.IsValid() {
		s.via[sp] = r.Via
	}
	s.mu.Unlock()
	return so, sp, nil
}

func (s *State) has(set string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sets[set]
}

// DropPLAT removes the rules and set of a PLAT that is gone (or that no
// client served here uses any more); one that is not there is fine.
func (s *State) DropPLAT(plat netip.Prefix) error {
	if err := check96(plat, "PLAT"); err != nil {
		return err
	}
	return s.dropSet(SetName(setPLAT, plat), func(set string) natRule { return s.platRule(set, plat) })
}

// DropOrigin removes the rule and set of an origin CLAT that no client
// served here uses any more, so that no rule outlives the last lease.
func (s *State) DropOrigin(clat netip.Prefix) error {
	if err := check96(clat, "CLAT"); err != nil {
		return err
	}
	return s.dropSet(SetName(setOrigin, clat), func(set string) natRule { return s.originRule(set, clat) })
}

// dropSet deletes a per-prefix set's rules (its own rule, made by rule,
// and a reply rule) and then the set.
func (s *State) dropSet(set string, rule func(string) natRule) error {
	err := s.withResync(func() []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		var ops []string
		if via := s.via[set]; via.IsValid() {
			ops = append(ops, s.replyRule(set, via).op("-D"))
		}
		if s.sets[set] {
			ops = append(ops, rule(set).op("-D"))
		}
		return ops
	})
	if err != nil {
		return fmt.Errorf("nfstate: delete rules of %s: %w", set, err)
	}
	s.mu.Lock()
	delete(s.sets, set)
	delete(s.via, set)
	s.mu.Unlock()
	if err := netlink.IpsetDestroy(set); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("nfstate: ipset destroy %s: %w", set, err)
	}
	return nil
}
