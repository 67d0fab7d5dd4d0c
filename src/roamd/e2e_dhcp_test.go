//go:build e2e

package roamd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// TestE2EDHCPContinuity: a client leases on D from dnsmasq (the lease goes
// through the dhcp-script hook to l3roamd-xlat), roams to B; B's dnsmasq
// (authoritative, hostsfile written by B's daemon) renews the same address
// for it and does not give that address to another client.
func TestE2EDHCPContinuity(t *testing.T) {
	meshlab.Need(t, "dnsmasq", "busybox", "ip6tables", "ipset")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := newE2ELab(t, ctx, "r5d", "mx", "air", "cl", "cl2", "d", "b")
	lab := l.lab
	for _, n := range []string{"air", "cl", "cl2"} {
		if err := l.ns[n].Sysctl("net.ipv6.conf.all.disable_ipv6", "1"); err != nil {
			t.Fatal(err)
		}
		if err := l.ns[n].Sysctl("net.ipv6.conf.default.disable_ipv6", "1"); err != nil {
			t.Fatal(err)
		}
	}
	l.sh("mx", "ip link add r5mesh type bridge")
	l.sh("mx", "ip link set r5mesh up")
	l.sh("air", "ip link add r5air type bridge")
	l.sh("air", "ip link set r5air up")
	sock := func(n string) string { return filepath.Join(lab.Dir(), "root-"+n, "var/run/l3roamd-xlat.sock") }
	procs := map[string]*meshlab.Proc{}
	for _, n := range []string{"d", "b"} {
		if err := lab.Veth(l.ns[n], "r5m", l.ns["mx"], "r5m"+n); err != nil {
			t.Fatal(err)
		}
		l.sh("mx", "ip link set r5m"+n+" master r5mesh")
		l.sh(n, fmt.Sprintf("ip -6 addr add fd00:9::%x/64 dev r5m nodad", n[0]))
		l.sh(n, "ip -6 route add fd00:5::/64 dev r5m")
		// the other node's CLAT /96: the handover's INFO and ACK go to <CLAT>::192.0.0.1
		other := map[string]string{"d": "b", "b": "d"}[n]
		l.sh(n, fmt.Sprintf("ip -6 route add %s via fd00:9::%x", e2eCLAT(other), other[0]))
		l.sh(n, "ip link add r5br type bridge")
		l.sh(n, "ip link set r5br address 02:00:0a:50:00:01")
		l.sh(n, "ip addr add 10.80.0.1/16 dev r5br")
		l.sh(n, "ip link set r5br up")
		if err := lab.Veth(l.ns[n], "r5cp", l.ns["air"], "r5a"+n); err != nil {
			t.Fatal(err)
		}
		l.sh(n, "ip link set r5cp master r5br")
		root := filepath.Join(lab.Dir(), "root-"+n)
		os.MkdirAll(filepath.Join(root, "var/run"), 0o755)
		p, err := l.ns[n].Start("roamd", l.bin, "run", "--root", root, "--node-address", fmt.Sprintf("fd00:9::%x", n[0]),
			"--node-client-prefix", "fd00:5::/64", "--node-client-dev", "r5m", "--client-ipv4", "10.80.0.0/16",
			"--clat-prefix", e2eCLAT(n), "--client-bridge", "r5br", "--plat-prefix", e2ePLAT,
			"--dnsmasq-pidfile", "/var/run/dnsmasq.pid", "--debug")
		if err != nil {
			t.Fatal(err)
		}
		procs[n] = p
		n := n
		if err := meshlab.WaitFor(ctx, "daemon "+n, 20*time.Millisecond, func() (bool, error) {
			if p.Exited() {
				return false, fmt.Errorf("exited: %s", p.Log())
			}
			_, err := os.Stat(sock(n))
			return err == nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		// clat device stand-in for the announce route (no translation needed here)
		if err := lab.Veth(l.ns[n], "clat", l.ns[n], "r5clx"); err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(root, "dhcp-script")
		os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\nexec %s lease --socket %s \"$@\"\n", l.bin, sock(n))), 0o755)
		if _, err := l.ns[n].Start("dnsmasq", "dnsmasq", "-k", "--conf-file=/dev/null", "--port=0", "--user=root",
			"--interface=r5br", "--bind-interfaces", "--dhcp-range=10.80.0.10,10.80.0.250,255.255.0.0,1h",
			"--dhcp-authoritative", "--dhcp-hostsfile="+filepath.Join(root, "var/run/l3roamd-xlat.hosts"),
			"--dhcp-script="+script, "--dhcp-leasefile="+filepath.Join(root, "leases"),
			"--pid-file="+filepath.Join(root, "var/run/dnsmasq.pid"), "--log-dhcp"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"cl", "cl2"} {
		if err := lab.Veth(l.ns[c], "r5c", l.ns["air"], "r5a"+c); err != nil {
			t.Fatal(err)
		}
		l.sh("air", "ip link set r5a"+c+" master r5air")
	}
	l.sh("cl", "ip link set r5c address "+e2eMAC)
	l.sh("cl2", "ip link set r5c address 02:00:00:00:00:06")
	l.sh("air", "ip link set r5ad master r5air")
	lease := func(ns string, want string) string {
		t.Helper()
		args := []string{"busybox", "udhcpc", "-i", "r5c", "-q", "-n", "-f", "-t", "5", "-T", "1", "-s", "/bin/true"}
		if want != "" {
			args = append(args, "-r", want)
		}
		out, err := l.ns[ns].Run(ctx, args...)
		if err != nil {
			t.Fatalf("udhcpc in %s: %v\n%s", ns, err, out)
		}
		m := regexp.MustCompile(`lease of ([0-9.]+) obtained from ([0-9.]+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("udhcpc in %s: no lease:\n%s", ns, out)
		}
		return m[1]
	}
	// dnsmasq at D: lease for the client (the pid file must exist first)
	if err := meshlab.WaitFor(ctx, "dnsmasq pid files", 20*time.Millisecond, func() (bool, error) {
		_, e1 := os.Stat(filepath.Join(lab.Dir(), "root-d/var/run/dnsmasq.pid"))
		_, e2 := os.Stat(filepath.Join(lab.Dir(), "root-b/var/run/dnsmasq.pid"))
		return e1 == nil && e2 == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	ip := lease("cl", "")
	l.sh("cl", "ip addr add "+ip+"/16 dev r5c")
	if err := meshlab.WaitFor(ctx, "D learns the lease", 20*time.Millisecond, func() (bool, error) {
		out, err := exec.Command(l.bin, "status", "--socket", sock("d")).CombinedOutput()
		return strings.Contains(string(out), ip), err
	}); err != nil {
		t.Fatal(err)
	}
	// roam to B
	l.sh("air", "ip link set r5ad nomaster")
	l.sh("air", "ip link set r5ab master r5air")
	l.ns["cl"].Run(ctx, "ping", "-c1", "-W1", "10.80.0.1")
	hosts := filepath.Join(lab.Dir(), "root-b/var/run/l3roamd-xlat.hosts")
	if err := meshlab.WaitFor(ctx, "B's hostsfile entry", 20*time.Millisecond, func() (bool, error) {
		b, err := os.ReadFile(hosts)
		return strings.Contains(string(b), e2eMAC+","+ip), err
	}); err != nil {
		t.Fatalf("%v\nb: %s\nd: %s", err, procs["b"].Log(), procs["d"].Log())
	}
	// the other client asks B for the roamed client's address first
	if other := lease("cl2", ip); other == ip {
		t.Fatalf("B gave the roamed client's address %s to another client", ip)
	}
	// the roamed client renews its address at B
	if got := lease("cl", ip); got != ip {
		t.Fatalf("B gave the roamed client %s, want its address %s", got, ip)
	}
	if err := meshlab.WaitFor(ctx, "B's daemon sees the renewal", 20*time.Millisecond, func() (bool, error) {
		out, err := exec.Command(l.bin, "status", "--json", "--socket", sock("b")).CombinedOutput()
		return strings.Contains(string(out), `"lease_add"`) || strings.Contains(string(out), `"lease_old"`), err
	}); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(l.bin, "status", "--socket", sock("b")).CombinedOutput()
	t.Logf("B after renewal:\n%s", out)
	if !strings.Contains(string(out), ip) || !strings.Contains(string(out), "roamed true") {
		t.Errorf("B does not serve the client as roamed:\n%s", out)
	}
}
