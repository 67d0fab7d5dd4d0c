package clatd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/babel"
	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/dataplane"
	"github.com/gluon-464xlat/gluon-464xlat/translator"
	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// recorder is a fake Kernel and DataPlane that logs every call.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(format string, a ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, fmt.Sprintf(format, a...))
	return nil
}

func (r *recorder) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

func (r *recorder) Prepare(s Setup) error  { return r.add("prepare %s %d", s.ClientBridge, s.Table) }
func (r *recorder) DeviceUp(s Setup) error { return r.add("up %s %s", s.Device, s.CLATPrefix) }
func (r *recorder) SetDefault(s Setup, via bool) error {
	if via {
		return r.add("default dev %s", s.Device)
	}
	return r.add("default unreachable")
}
func (r *recorder) Cleanup(s Setup) error { return r.add("cleanup") }

type fakeDP struct{ r *recorder }

func (f fakeDP) SetPairs(p []translator.Pair) error { return f.r.add("pairs %s", p[0].Remote.V6) }
func (f fakeDP) Counters() dataplane.Stats          { return dataplane.Stats{Backend: "fake", RxPackets: 7} }
func (f fakeDP) Close() error                       { return f.r.add("close") }

// fakePinger fails for the management addresses in down.
type fakePinger struct {
	mu   sync.Mutex
	down map[netip.Addr]bool
}

func (p *fakePinger) Ping(ctx context.Context, dst netip.Addr, timeout time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down[dst] {
		return errors.New("no reply")
	}
	return nil
}
func (p *fakePinger) Close() error { return nil }

func route(id string, p netip.Prefix, metric int) babel.Route {
	return babel.Route{ID: id, Prefix: p, From: netip.MustParsePrefix("::/0"), Metric: metric, Installed: true}
}

// testOptions are the daemon tests' options: a CLAT section, a discarded
// log, rec as kernel and data plane, and babel snapshots from snaps.
func testOptions(rec *recorder, snaps chan babel.Snapshot) Options {
	return Options{
		CLAT: xlatconf.CLAT{Prefix: netip.MustParsePrefix("fddd:1:0:9::/96"), PLATRange: netip.MustParsePrefix("fddd:2::/48"),
			Device: "b4clat", ClientBridge: "b4br", Table: 4464, MTU: 1280, SwitchMargin: 100},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Kernel: rec,
		Open: func(ctx context.Context, dev string, mtu int, cfg translator.Config) (DataPlane, error) {
			return fakeDP{rec}, nil
		},
		Babel: func(ctx context.Context, out chan babel.Snapshot) error {
			for {
				select {
				case s := <-snaps:
					out <- s
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		},
	}
}

// fakeRoamd answers l3roamd-xlat's set_platprefix and del_platprefix on a
// control socket in dir until the test ends; lines returns what it got
// ("set <prefix>", "del <prefix>").
func fakeRoamd(t *testing.T, dir string) (sock string, lines func() []string) {
	var mu sync.Mutex
	var got []string
	rec := func(verb string) ctlsock.Handler {
		return func(_ context.Context, a []string) ([]byte, error) {
			mu.Lock()
			got = append(got, verb+" "+strings.Join(a, " "))
			mu.Unlock()
			return []byte("ok\n"), nil
		}
	}
	sock = filepath.Join(dir, "roamd.sock")
	srv, err := ctlsock.Listen(sock, map[string]ctlsock.Handler{"set_platprefix": rec("set"), "del_platprefix": rec("del")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Serve(ctx)
	return sock, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

func TestDaemonSelectionAndReconfiguration(t *testing.T) {
	dir := t.TempDir()
	plat1 := netip.MustParsePrefix("fddd:2:0:1::/96")
	plat2 := netip.MustParsePrefix("fddd:2:0:2::/96")
	rec := &recorder{}
	roamSock, roamLines := fakeRoamd(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	snaps := make(chan babel.Snapshot, 1)
	pinger := &fakePinger{down: map[netip.Addr]bool{}}
	o := testOptions(rec, snaps)
	o.CLAT.ProbeInterval, o.CLAT.ProbeFailures, o.CLAT.BabelSocket = 20*time.Millisecond, 2, "test"
	o.Socket, o.RoamdSocket, o.Pinger = filepath.Join(dir, "clat.sock"), roamSock, pinger
	o.Open = func(ctx context.Context, dev string, mtu int, cfg translator.Config) (DataPlane, error) {
		rec.add("open %s %d %s", dev, mtu, cfg.Pairs[0].Remote.V6)
		return fakeDP{rec}, nil
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	step := func(what string, want netip.Prefix, s babel.Snapshot) {
		t.Helper()
		ch := d.Changed()
		snaps <- s
		if d.Status().PLAT == pstr(want) {
			return
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no change, status %+v", what, d.Status())
		}
		if got := d.Status().PLAT; got != pstr(want) {
			t.Fatalf("%s: PLAT %q, want %v", what, got, want)
		}
	}
	step("initial", plat1, babel.Snapshot{Connected: true, Routes: []babel.Route{route("a", plat1, 200), route("b", plat2, 250)}})
	// not better by the margin: stays
	snaps <- babel.Snapshot{Connected: true, Routes: []babel.Route{route("a", plat1, 300), route("b", plat2, 250)}}
	step("metric", plat2, babel.Snapshot{Connected: true, Routes: []babel.Route{route("a", plat1, 400), route("b", plat2, 250)}})
	// probes of plat2 fail -> back to plat1 (plat2 avoided)
	ch := d.Changed()
	pinger.mu.Lock()
	pinger.down[wellknown.ManagementAddress(plat2)] = true
	pinger.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("probe failure did not switch: %+v", d.Status())
	}
	if st := d.Status(); st.PLAT != plat1.String() || st.LastSwitch.Reason != "probes" || st.Probe.Failed < 2 {
		t.Fatalf("after probe failures: %+v", st)
	}
	step("route lost", netip.Prefix{}, babel.Snapshot{Connected: true})

	// status over the control socket
	reply, err := ctlsock.Call(ctx, filepath.Join(dir, "clat.sock"), "status")
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := json.Unmarshal(reply, &st); err != nil {
		t.Fatalf("%v: %s", err, reply)
	}
	if st.PLAT != "" || st.Switches != 4 || st.Translator == nil || st.Translator.RxPackets != 7 {
		t.Errorf("status %+v", st)
	}
	var text bytes.Buffer
	if err := st.WriteText(&text); err != nil || !strings.Contains(text.String(), "none (clients' IPv4 unreachable)") {
		t.Errorf("text status: %v\n%s", err, text.String())
	}

	wantRoam := []string{"set " + plat1.String(), "set " + plat2.String(), "set " + plat1.String(), "del " + plat2.String(), "del " + plat1.String()}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n := len(roamLines()); n >= len(wantRoam) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{
		"prepare b4br 4464",
		"open b4clat 1280 fddd:2:0:1::/96", "up b4clat fddd:1:0:9::/96", "default dev b4clat",
		"pairs fddd:2:0:2::/96", "default dev b4clat",
		"pairs fddd:2:0:1::/96", "default dev b4clat",
		"default unreachable",
		"close", "cleanup",
	}
	if got := rec.calls(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kernel calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := roamLines(); strings.Join(got, "|") != strings.Join(wantRoam, "|") {
		t.Errorf("roamd got %q, want %q", got, wantRoam)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := xlatconf.CLAT{Prefix: netip.MustParsePrefix("fddd:1::/96"), PLATRange: netip.MustParsePrefix("fddd:2::/48"),
		Device: "clat", ClientBridge: "br-client", Table: 1, MTU: 1280}
	for name, mod := range map[string]func(*xlatconf.CLAT){
		"prefix /64": func(c *xlatconf.CLAT) { c.Prefix = netip.MustParsePrefix("fddd:1::/64") },
		"no range":   func(c *xlatconf.CLAT) { c.PLATRange = netip.Prefix{} },
		"no device":  func(c *xlatconf.CLAT) { c.Device = "" },
		"small mtu":  func(c *xlatconf.CLAT) { c.MTU = 1000 },
	} {
		c := good
		mod(&c)
		if _, err := New(Options{CLAT: c}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Options{CLAT: good}); err != nil {
		t.Errorf("good config: %v", err)
	}
}

func TestDaemonHoldsPLATWhileBabeldResyncs(t *testing.T) {
	plat1 := netip.MustParsePrefix("fddd:2:0:1::/96")
	rec := &recorder{}
	snaps := make(chan babel.Snapshot)
	const grace = 300 * time.Millisecond
	o := testOptions(rec, snaps)
	o.NoProbe, o.BabelGrace = true, grace
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	ch := d.Changed()
	snaps <- babel.Snapshot{Connected: true, Routes: []babel.Route{route("a", plat1, 200)}}
	<-ch
	ch = d.Changed()
	// babeld restarts and comes back with empty tables.
	snaps <- babel.Snapshot{Connected: false}
	snaps <- babel.Snapshot{Connected: true, Version: "restarted"}
	resynced := time.Now()
	deadline := time.Now().Add(5 * time.Second)
	for d.Status().Babel.Version != "restarted" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := d.Status(); st.PLAT != plat1.String() {
		t.Fatalf("PLAT dropped right after babeld's restart: %+v", st)
	}
	// When the grace ends without the route coming back, the PLAT is lost.
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("PLAT kept after the grace")
	}
	if held := time.Since(resynced); held < grace-50*time.Millisecond {
		t.Errorf("PLAT dropped after %v, grace %v", held, grace)
	}
	if st := d.Status(); st.PLAT != "" || st.LastSwitch.Reason != "route-lost" {
		t.Errorf("after grace: %+v", st)
	}
	cancel()
	<-done
}

// A PLAT left after failed probes is chosen again when its hold ends, by
// the clock: babel sends no snapshot while nothing changes.
func TestDaemonReturnsWhenFailHoldEnds(t *testing.T) {
	plat1 := netip.MustParsePrefix("fddd:2:0:1::/96")
	plat2 := netip.MustParsePrefix("fddd:2:0:2::/96")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snaps := make(chan babel.Snapshot, 1)
	pinger := &fakePinger{down: map[netip.Addr]bool{wellknown.ManagementAddress(plat1): true}}
	o := testOptions(&recorder{}, snaps)
	o.CLAT.ProbeInterval, o.CLAT.ProbeFailures, o.CLAT.BabelSocket = 20*time.Millisecond, 2, "test"
	o.Pinger, o.FailHold = pinger, 300*time.Millisecond
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	wait := func(what string, want netip.Prefix, reason string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			ch := d.Changed()
			if st := d.Status(); st.PLAT == want.String() && st.LastSwitch != nil && st.LastSwitch.Reason == reason {
				return
			}
			select {
			case <-ch:
			case <-deadline:
				t.Fatalf("%s: status %+v", what, d.Status())
			}
		}
	}
	snaps <- babel.Snapshot{Connected: true, Routes: []babel.Route{route("a", plat1, 200), route("b", plat2, 400)}}
	wait("probes of plat1 fail", plat2, "probes")
	pinger.mu.Lock()
	pinger.down = map[netip.Addr]bool{}
	pinger.mu.Unlock()
	wait("hold over", plat1, "metric")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
