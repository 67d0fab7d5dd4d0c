package roamd

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

func TestControlHandlers(t *testing.T) {
	n := newFakeNet()
	B := n.add(t, "b", false, nil)
	d := startLoop(t, B.m)
	h := Handlers(d, nil)
	clients := func() []ClientView {
		t.Helper()
		v, err := d.view()
		if err != nil {
			t.Fatal(err)
		}
		return v.clients
	}
	call := func(cmd string, args ...string) string {
		t.Helper()
		out, err := h[cmd](context.Background(), args)
		if err != nil {
			t.Fatalf("%s %v: %v", cmd, args, err)
		}
		return string(out)
	}
	if got := call("add_address", "10.80.0.5", "02:11:22:33:44:55"); got != "OK" {
		t.Fatalf("add_address: %q", got)
	}
	if got := call("add_address", "10.99.0.5", "02:11:22:33:44:56", "x"); got != "NOT OK" {
		t.Fatalf("bad add_address: %q", got)
	}
	var gc struct {
		Clients    int `json:"clients"`
		Clientlist map[string]struct {
			Interface string                    `json:"interface"`
			Addresses map[string]map[string]int `json:"addresses"`
		} `json:"clientlist"`
	}
	if err := json.Unmarshal([]byte(call("get_clients")), &gc); err != nil {
		t.Fatal(err)
	}
	if gc.Clients != 1 || gc.Clientlist["02:11:22:33:44:55"].Addresses["10.80.0.5"]["state"] != 1 {
		t.Fatalf("get_clients: %+v", gc)
	}
	exp := time.Now().Add(2 * time.Hour).Unix()
	call("lease", "old", "02:11:22:33:44:55", "10.80.0.5", itoa(exp))
	if cv := clients(); cv[0].LeaseSec < 7000 {
		t.Errorf("lease not extended: %+v", cv)
	}
	if _, err := h["lease"](context.Background(), []string{"bogus", "02:11:22:33:44:55", "10.80.0.5"}); err == nil {
		t.Error("unknown lease op accepted")
	}
	if _, err := h["set_platprefix"](context.Background(), []string{"fd00::/64"}); err == nil {
		t.Error("set_platprefix accepted a /64")
	}
	call("set_platprefix", "fd00:2::e:0:0/96")
	call("del_platprefix", "fd00:2::e:0:0/96")
	if got := call("del_address", "10.80.0.5", "02:11:22:33:44:57"); got != "" {
		t.Errorf("del_address of unknown MAC answered %q", got)
	}
	if got := call("del_address", "10.80.0.5", "02:11:22:33:44:55"); got != "OK" || len(clients()) != 0 {
		t.Errorf("del_address: %q, clients %v", got, clients())
	}
	var st Status
	if err := json.Unmarshal([]byte(call("status")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Counters["lease_old"] != 1 || st.Port != 5524 {
		t.Errorf("status: %+v", st)
	}
}

// startLoop runs an event loop that owns m until the test ends, then
// waits for it (and its background probes) to end.
func startLoop(t *testing.T, m *machine) *Daemon {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	d := newDaemon(ctx, m, &wg)
	done := make(chan error, 1)
	go func() { done <- d.loop(ctx, nil, nil, nil) }()
	t.Cleanup(func() {
		cancel()
		<-done
		wg.Wait()
	})
	return d
}

func itoa(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
