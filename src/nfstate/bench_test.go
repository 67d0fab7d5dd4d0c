//go:build bench

package nfstate

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/nfstate/nstest"
)

// TestBenchNFScale: the new node's side of 10,000 roamed clients from 20
// origin CLAT prefixes (ipset members with lease timeouts; rules per
// prefix). Prints a table; the rule count must equal the one-client-per-
// prefix count.
func TestBenchNFScale(t *testing.T) {
	if !nstest.Inside(t, "r5bn") {
		return
	}
	const nPrefixes, nClients = 20, 10000
	st, err := New(Config{CLATDevice: "clat", OwnCLAT: own})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Setup(); err != nil {
		t.Fatal(err)
	}
	defer st.Teardown()
	origin := func(i int) netip.Prefix {
		return netip.MustParsePrefix(fmt.Sprintf("fd00:1::%x:0:0/96", 0x100+i%nPrefixes))
	}
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	t0 := time.Now()
	for i := 0; i < nPrefixes; i++ {
		if err := st.AddRoamed(Roamed{CLAT: origin(i), PLAT: platC, ClientIP: ip(i)}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	first := time.Since(t0)
	r20, _ := st.RuleCount()
	t0 = time.Now()
	for i := nPrefixes; i < nPrefixes+nClients; i++ {
		if err := st.AddRoamed(Roamed{CLAT: origin(i), PLAT: platC, ClientIP: ip(i)}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	d := time.Since(t0)
	t1 := time.Now()
	all := make([]Roamed, 0, nClients)
	for i := nPrefixes; i < nPrefixes+nClients; i++ {
		all = append(all, Roamed{CLAT: origin(i), PLAT: platC, ClientIP: ip(i)})
	}
	if _, err := st.FlushConntrack(all...); err != nil {
		t.Fatal(err)
	}
	fl := time.Since(t1)
	t1 = time.Now()
	if _, err := st.FlushConntrack(all[0]); err != nil {
		t.Fatal(err)
	}
	fl1 := time.Since(t1)
	r10k, _ := st.RuleCount()
	m, _ := Members(SetRoam)
	fmt.Printf("| new node B (nfstate), %d roamed clients, %d origin CLAT prefixes | value |\n|---|---|\n", nClients, nPrefixes)
	fmt.Printf("| first client of each prefix (creates set + rule), 20 clients | %v |\n", first.Round(time.Millisecond))
	fmt.Printf("| %d further clients (set members only) | %v (%v each) |\n", nClients, d.Round(time.Millisecond), (d / nClients).Round(100*time.Nanosecond))
	fmt.Printf("| conntrack flush: one dump for all %d / for one client | %v / %v |\n", nClients, fl.Round(time.Millisecond), fl1.Round(100*time.Microsecond))
	fmt.Printf("| ip6tables rules with 20 clients / with %d | %d / %d |\n", nClients+nPrefixes, r20, r10k)
	fmt.Printf("| members of %s | %d |\n", SetRoam, len(m))
	if r20 != r10k {
		t.Errorf("rules grew: %d -> %d", r20, r10k)
	}
}
