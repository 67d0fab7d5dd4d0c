//go:build e2e

package upgrade

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// TestE2EBabeldRedistribution runs the real babeld (Debian) on the
// /etc/gluon-babeld.conf our step wrote (golden file of the full case) in a
// network namespace of its own, with kernel routes for /96s inside and
// outside the ranges and for roaming /128s of several route protocols, and
// checks over babeld's local socket that exactly the /96s inside clat_range
// and plat_range and l3roamd-xlat's announce routes (proto 158) are
// redistributed, never the PLATs' steering routes (proto 159), and a PLAT's
// release route (unreachable /96, proto 160) with metric 16384 — also when
// xlat-plat replaces its announced /96 by it while babeld runs.
func TestE2EBabeldRedistribution(t *testing.T) {
	meshlab.Need(t, "babeld")
	babeld, err := exec.LookPath("babeld")
	if err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("upg%d", os.Getpid()%1000000)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	inNS := func(args ...string) { run(append([]string{"ip", "netns", "exec", ns}, args...)...) }
	inNS("ip", "link", "set", "lo", "up")
	inNS("ip", "link", "add", "upgA", "type", "veth", "peer", "name", "upgB")
	inNS("ip", "link", "set", "upgA", "up")
	inNS("ip", "link", "set", "upgB", "up")
	type route struct {
		proto  string
		want   bool // must be redistributed
		metric int  // with this metric
	}
	routes := map[string]route{
		"fddd:1337:1337:1234:5678:9abc::/96": {"static", true, 0},  // CLAT /96 in clat_range
		"fddd:1337:2:1234:5678:9abc::/96":    {"static", true, 0},  // PLAT /96 in plat_range
		"fddd:1337:1337:1::/64":              {"static", false, 0}, // in the range, but not a /96
		"fd00:1:2:3:4:5::/96":                {"static", false, 0}, // a /96 outside the ranges
		"fddd:1337:1337:1:2:3:a50:1/128":     {"158", true, 0},     // roamed client, announced by its new node
		"fddd:1337:1337:1:2:3:a50:2/128":     {"159", false, 0},    // a PLAT's steering route
		"fddd:1337:1337:1:2:3:a50:3/128":     {"static", false, 0}, // a /128 in the range of no roaming daemon
		"fd00:1:2:3:4:5:a50:4/128":           {"158", false, 0},    // proto 158 outside clat_range
		"fddd:1337:2:1234:5678:aaaa::/96":    {"160", true, 16384}, // a PLAT's release route
		"fd00:1:2:3:4:6::/96":                {"160", false, 0},    // proto 160 /96 outside plat_range
	}
	// babeld ignores routes of protocol boot (iproute2's default) and
	// unspec (netlink's zero value): the daemons install their /96s with
	// proto static, as here
	for p, r := range routes {
		if r.proto == "160" && strings.HasSuffix(p, "/96") {
			inNS("ip", "-6", "route", "add", "unreachable", p, "proto", r.proto)
			continue
		}
		inNS("ip", "-6", "route", "add", p, "dev", "upgA", "proto", r.proto)
	}

	dir := t.TempDir()
	conf, err := os.ReadFile(filepath.Join("testdata", "full", "golden", BabelConf))
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "gluon-babeld.conf")
	if err := os.WriteFile(confPath, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "babeld.sock")
	cmd := exec.Command("ip", "netns", "exec", ns, babeld,
		"-I", filepath.Join(dir, "babeld.pid"), "-S", filepath.Join(dir, "babel-state"),
		"-G", sock, "-c", confPath, "upgB")
	logf, err := os.Create(filepath.Join(dir, "babeld.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	wantNow := func() []string {
		var want []string
		for p, r := range routes {
			if r.want {
				want = append(want, fmt.Sprintf("%s metric %d", p, r.metric))
			}
		}
		sort.Strings(want)
		return want
	}
	waitXroutes(t, sock, dir, exited, wantNow())
	// The PLAT's translator dies: xlat-plat replaces its /96 by the release
	// route; babeld must announce the new metric (a retraction for the
	// CLATs), not keep the old one.
	plat := "fddd:1337:2:1234:5678:9abc::/96"
	inNS("ip", "-6", "route", "replace", "unreachable", plat, "proto", "160")
	routes[plat] = route{"160", true, 16384}
	waitXroutes(t, sock, dir, exited, wantNow())
	// and back: the announced route replaces the release route
	inNS("ip", "-6", "route", "replace", plat, "dev", "upgA", "proto", "static")
	routes[plat] = route{"static", true, 0}
	waitXroutes(t, sock, dir, exited, wantNow())
}

// waitXroutes waits until babeld (local socket sock) redistributes exactly
// want ("<prefix> metric <n>", sorted).
func waitXroutes(t *testing.T, sock, dir string, exited chan error, want []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var (
		got []string
		err error
	)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "babeld.log"))
			exited <- err
			t.Fatalf("babeld exited (%v) — config rejected?\n%s", err, log)
		default:
		}
		got, err = xroutes(sock)
		if err == nil && strings.Join(got, " ") == strings.Join(want, " ") {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "babeld.log"))
			t.Fatalf("babeld redistributes %v (last err %v), want exactly %v\n%s", got, err, want, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// xroutes dumps babeld's local socket and returns the redistributed IPv6
// prefixes (xroute lines) as "<prefix> metric <n>", sorted.
func xroutes(sock string) ([]string, error) {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	r := bufio.NewScanner(c)
	readUntilOK := func() ([]string, error) {
		var lines []string
		for r.Scan() {
			l := r.Text()
			if l == "ok" {
				return lines, nil
			}
			if l == "bad" || strings.HasPrefix(l, "no") {
				return nil, fmt.Errorf("babeld: %s", l)
			}
			lines = append(lines, l)
		}
		return nil, fmt.Errorf("babeld socket: %v", r.Err())
	}
	if _, err := readUntilOK(); err != nil { // banner
		return nil, err
	}
	if _, err := c.Write([]byte("dump\n")); err != nil {
		return nil, err
	}
	lines, err := readUntilOK()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		// add xroute <dst>-<src> prefix <dst> from <src> metric <n>
		if len(f) >= 9 && f[0] == "add" && f[1] == "xroute" && f[3] == "prefix" && strings.Contains(f[4], ":") && f[7] == "metric" {
			out = append(out, f[4]+" metric "+f[8])
		}
	}
	sort.Strings(out)
	return out, nil
}
