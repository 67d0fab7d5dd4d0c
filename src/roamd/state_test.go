package roamd

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/addrmap"
	"github.com/gluon-464xlat/gluon-464xlat/babel"
)

// TestStateRestart: a node that serves a roamed client, a PLAT that steers
// it and a node that holds a release route are each replaced by a fresh
// daemon (a restart) that reads the state file: the same clients, routes
// and set members come back, and the kernel calls are idempotent.
func TestStateRestart(t *testing.T) {
	n := &fakeNet{}
	D, A, B, C := n.add(t, "d", false, nil), n.add(t, "a", false, nil), n.add(t, "b", false, nil), n.add(t, "c", true, nil)
	if err := D.d.Lease(LeaseAdd, clientMAC, clientIP, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	dIP := addrmap.Embed(clatOf("d"), clientIP)
	A.d.Seen(clientMAC, netip.Addr{})
	waitFor(t, "A serves the client", func() bool { return A.has(func(k *recKernel) bool { return k.announce[dIP] }) })
	B.d.Seen(clientMAC, netip.Addr{})
	waitFor(t, "C steering to B", func() bool {
		return C.has(func(k *recKernel) bool { return k.steer[dIP] == addrmap.Embed(clatOf("b"), clientIP) })
	})
	waitFor(t, "A released", func() bool { return A.has(func(k *recKernel) bool { _, ok := k.retract[dIP]; return ok }) })
	dir := t.TempDir()
	for _, x := range []*node{A, B, C} {
		path := filepath.Join(dir, x.name+".state")
		if err := x.d.SaveState(path, false); err != nil {
			t.Fatal(err)
		}
		before := x.d.Owned()
		saved, err := loadState(path)
		if err != nil {
			t.Fatal(err)
		}
		k := newRecKernel(n)
		d2, err := New(x.d.Config(), k, nodeTx{n: n, self: x}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d2.Close)
		d2.Restore(saved)
		after := d2.Owned()
		if len(after.Announce) != len(before.Announce) || len(after.Release) != len(before.Release) ||
			len(after.Steer) != len(before.Steer) || len(after.Roamed) != len(before.Roamed) {
			t.Errorf("%s: restored %+v, had %+v", x.name, after, before)
		}
		if len(d2.Clients()) != len(x.d.Clients()) {
			t.Errorf("%s: %d clients restored, had %d", x.name, len(d2.Clients()), len(x.d.Clients()))
		}
		for a := range before.Announce {
			if !k.announce[a] {
				t.Errorf("%s: announce route %s not put back", x.name, a)
			}
		}
		for a := range before.Steer {
			if _, ok := k.steer[a]; !ok {
				t.Errorf("%s: steering route %s not put back", x.name, a)
			}
		}
	}
	if B.d.Owned().Announce[dIP] != true || len(C.d.Owned().Steer) != 1 || !A.d.Owned().Release[dIP] {
		t.Errorf("test set-up: B %+v C %+v A %+v", B.d.Owned(), C.d.Owned(), A.d.Owned())
	}
	// a clean state file: unchanged daemons write nothing
	path := filepath.Join(dir, "b.state")
	st, _ := os.Stat(path)
	if err := B.d.SaveState(path, false); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(path); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("state file rewritten without a change")
	}
	// a broken file: an error naming it, and an empty state
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := loadState(path); err == nil || len(s.Clients) != 0 {
		t.Errorf("broken state file: %v, %+v", err, s)
	}
}

// TestFollowBabel: a release route follows babel's best route of a node
// that announces the address itself, not the copies of release routes.
func TestFollowBabel(t *testing.T) {
	n := &fakeNet{}
	A := n.add(t, "a", false, nil)
	dst := addrmap.Embed(clatOf("d"), clientIP)
	A.d.mu.Lock()
	A.d.rel[dst] = time.Now().Add(time.Minute)
	A.d.mu.Unlock()
	p := netip.PrefixFrom(dst, 128)
	via := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	A.d.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{
		{ID: "1", Prefix: p, Metric: 16384 + 96, Via: via("fe80::b"), Interface: "mesh-b"}, // B's release copy
		{ID: "2", Prefix: p, Metric: 288, Via: via("fe80::c"), Interface: "mesh-c"},
		{ID: "3", Prefix: p, Metric: 96, Via: via("fe80::d"), Interface: "mesh-d"}, // D has the client
		{ID: "4", Prefix: netip.MustParsePrefix("fddd::/96"), Metric: 1, Via: via("fe80::e"), Interface: "mesh-e"},
	}})
	if got := A.k.retract[dst]; got != via("fe80::d") {
		t.Errorf("release route via %v, want fe80::d", got)
	}
	if A.d.Counters()["release_repointed"] != 1 {
		t.Errorf("counters %v", A.d.Counters())
	}
	A.d.Follow(babel.Snapshot{Connected: true, Routes: []babel.Route{{ID: "3", Prefix: p, Metric: 96, Via: via("fe80::d"), Interface: "mesh-d"}}})
	if A.d.Counters()["release_repointed"] != 1 {
		t.Error("re-pointed again to the same next hop")
	}
}
