package nfstate

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/nfstate/nstest"
)

var (
	own   = netip.MustParsePrefix("fd00:1::b:0:0/96")
	clatD = netip.MustParsePrefix("fd00:1::d:0:0/96")
	clatE = netip.MustParsePrefix("fd00:1::e:0:0/96")
	platC = netip.MustParsePrefix("fd00:2::c:0:0/96")
	platB = netip.MustParsePrefix("fd00:2::b:0:0/96") // this node's PLAT
	platF = netip.MustParsePrefix("fd00:2::f:0:0/96") // after its CLAT switched
)

func ip4(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 80, byte(i >> 8), byte(i)}) }

func ip6tablesSave(t *testing.T) string {
	out, err := exec.Command("ip6tables-save").CombinedOutput()
	if err != nil {
		t.Fatalf("ip6tables-save: %v: %s", err, out)
	}
	return string(out)
}

func TestStateInNamespace(t *testing.T) {
	if !nstest.Inside(t, "r5nf") {
		return
	}
	st, err := New(Config{CLATDevice: "clat", OwnCLAT: own})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Setup(); err != nil {
		t.Fatal(err)
	}
	if err := st.Setup(); err != nil { // idempotent
		t.Fatalf("second Setup: %v", err)
	}
	base, err := st.RuleCount()
	if err != nil {
		t.Fatal(err)
	}
	if base != 5 { // 3 zone rules, incoming NETMAP, mid-stream drop
		t.Fatalf("base rule count %d, want 5\n%s", base, ip6tablesSave(t))
	}
	ip := ip4
	for i := 1; i <= 50; i++ {
		c := clatD
		if i%2 == 0 {
			c = clatE
		}
		if err := st.AddRoamed(Roamed{CLAT: c, PLAT: platC, ClientIP: ip(i), Via: platB}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Rules(); err != nil { // counted and kept
		t.Fatal(err)
	}
	n, err := st.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if n != base+4 { // two origin CLATs + one PLAT (its rule and its reply rule)
		t.Errorf("rule count %d with 50 clients, want %d\n%s", n, base+4, ip6tablesSave(t))
	}
	in, err := Members(SetIn)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 50 {
		t.Errorf("%s has %d members, want 50", SetIn, len(in))
	}
	sD, _ := Members(SetName(setOrigin, clatD))
	if len(sD) != 25 || !own.Contains(sD[0]) {
		t.Errorf("origin set D: %v", sD)
	}
	save := ip6tablesSave(t)
	for _, want := range []string{
		"-A L3X-POST -m set --match-set " + SetName(setOrigin, clatD) + " src -j NETMAP --to fd00:1::d:0:0/96",
		"-A L3X-PRE -i clat -m set --match-set " + SetName(setPLAT, platC) + " src -j NETMAP --to fd00:2::c:0:0/96",
		"-A L3X-PRE ! -i clat -m set --match-set l3x-in dst -j NETMAP --to fd00:1::b:0:0/96",
		"-A L3X-POST -o clat -m set --match-set " + SetName(setPLAT, platC) + " dst -j NETMAP --to fd00:2::b:0:0/96",
		"-A L3X-FWD -i clat -p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack --ctstate NEW -m set ! --match-set l3x-roam src -j DROP",
		"-A PREROUTING -j L3X-RAW",
		"-A L3X-RAW -i clat -m set --match-set l3x-roam src -j CT --zone 158",
		"-A L3X-RAW ! -i clat -m set --match-set l3x-in dst -j CT --zone 158",
		"-A L3X-RAW ! -i clat -m set --match-set l3x-roam dst -j CT --zone 158",
	} {
		if !strings.Contains(save, want) {
			t.Errorf("missing rule %q in\n%s", want, save)
		}
	}
	// the node's CLAT switched PLATs: the reply rule follows, still one
	if err := st.AddRoamed(Roamed{CLAT: clatD, PLAT: platC, ClientIP: ip(1), Via: platF}, time.Hour); err != nil {
		t.Fatal(err)
	}
	save = ip6tablesSave(t)
	if want := "-A L3X-POST -o clat -m set --match-set " + SetName(setPLAT, platC) + " dst -j NETMAP --to fd00:2::f:0:0/96"; !strings.Contains(save, want) ||
		strings.Contains(save, "--to fd00:2::b:0:0/96") {
		t.Errorf("reply rule did not follow the PLAT switch (want %q):\n%s", want, save)
	}
	if n, _ := st.Rules(); n != base+4 {
		t.Errorf("rule count %d after the PLAT switch, want %d", n, base+4)
	}
	// refresh keeps one member; removal deletes it everywhere
	if err := st.AddRoamed(Roamed{CLAT: clatD, PLAT: platC, ClientIP: ip(1)}, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveRoamed(Roamed{CLAT: clatD, PLAT: platC, ClientIP: ip(1)}); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveRoamed(Roamed{CLAT: clatD, PLAT: platC, ClientIP: ip(1)}); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
	in, _ = Members(SetIn)
	if len(in) != 49 {
		t.Errorf("after remove %d members, want 49", len(in))
	}
	// entries expire with the lease
	if err := st.AddRoamed(Roamed{CLAT: clatD, ClientIP: ip(999)}, time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		m, _ := Members(SetRoam)
		found := false
		for _, a := range m {
			if a == netip.MustParseAddr("fd00:1::b:a50:3e7") {
				found = true
			}
		}
		if !found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("1 s entry did not expire")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := st.DropPLAT(platC); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Rules(); n != base+2 { // counted again after the change
		t.Errorf("after DropPLAT %d rules, want %d", n, base+2)
	}
	// the origin's rule and set go too once its last client left
	n0, _ := st.RuleCount()
	if err := st.DropOrigin(clatD); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Rules(); n != n0-1 {
		t.Errorf("after DropOrigin %d rules, want %d", n, n0-1)
	}
	if out, _ := exec.Command("ipset", "list", "-n").CombinedOutput(); strings.Contains(string(out), SetName(setOrigin, clatD)) {
		t.Errorf("origin set left after DropOrigin: %s", out)
	}
	if err := st.Teardown(); err != nil {
		t.Fatal(err)
	}
	if save := ip6tablesSave(t); strings.Contains(save, "L3X") {
		t.Errorf("rules left after Teardown:\n%s", save)
	}
	if out, _ := exec.Command("ipset", "list", "-n").CombinedOutput(); strings.Contains(string(out), "l3x") {
		t.Errorf("sets left: %s", out)
	}
}
