package nfstate

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/nfstate/nstest"
)

// The per-prefix rules come from memory, so the memory must follow the
// kernel: a restarted daemon reads the rules back, a chain changed behind
// its back is read again, and dropping what is not there is no error.
func TestRulesFollowTheKernel(t *testing.T) {
	if !nstest.Inside(t, "r5nr") {
		return
	}
	newState := func() *State {
		st, err := New(Config{CLATDevice: "clat", OwnCLAT: own})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Setup(); err != nil {
			t.Fatal(err)
		}
		return st
	}
	count := func(st *State) int {
		n, err := st.RuleCount()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	st := newState()
	base := count(st)
	r := Roamed{CLAT: clatD, PLAT: platC, ClientIP: ip4(1), Via: platB}
	if err := st.AddRoamed(r, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := count(st); n != base+3 {
		t.Fatalf("%d rules for one roamed client, want %d\n%s", n, base+3, ip6tablesSave(t))
	}

	// a restart: the new State knows the rules and adds none twice; the
	// reply rule moves in one step when the node's PLAT changed meanwhile
	st = newState()
	r.Via = platF
	if err := st.AddRoamed(r, time.Hour); err != nil {
		t.Fatal(err)
	}
	save := ip6tablesSave(t)
	if n := count(st); n != base+3 || strings.Contains(save, "--to "+platB.String()) {
		t.Fatalf("after a restart and a PLAT switch %d rules, want %d, none to %v\n%s", n, base+3, platB, save)
	}

	// someone flushed the chains: the next change reads them back
	if out, err := exec.Command("ip6tables", "-t", "nat", "-F", ChainPost).CombinedOutput(); err != nil {
		t.Fatalf("flush: %v: %s", err, out)
	}
	if err := st.DropOrigin(clatD); err != nil {
		t.Fatalf("DropOrigin after a flush: %v", err)
	}
	if err := st.AddRoamed(Roamed{CLAT: clatE, PLAT: platC, ClientIP: ip4(2), Via: platB}, time.Hour); err != nil {
		t.Fatalf("AddRoamed after a flush: %v", err)
	}
	save = ip6tablesSave(t)
	for _, want := range []string{
		"--match-set " + SetName(setOrigin, clatE) + " src -j NETMAP",
		"--match-set " + SetName(setPLAT, platC) + " dst -j NETMAP --to " + platB.String(),
	} {
		if !strings.Contains(save, want) {
			t.Errorf("missing %q after a flush:\n%s", want, save)
		}
	}

	// a PLAT or origin never used here: nothing to drop, no error
	if err := st.DropPLAT(platB); err != nil {
		t.Errorf("DropPLAT of an unknown PLAT: %v", err)
	}
	if err := st.DropOrigin(clatD); err != nil {
		t.Errorf("DropOrigin twice: %v", err)
	}
	if err := st.Teardown(); err != nil {
		t.Fatal(err)
	}
}
