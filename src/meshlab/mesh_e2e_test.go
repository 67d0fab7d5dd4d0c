//go:build e2e

package meshlab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// buildBins builds the multi-call binary with its command links once per
// test binary.
func buildBins(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "meshlab-bin-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "gluon-464xlat"), "../cmd/gluon-464xlat")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v: %s", err, out)
			return
		}
		for _, l := range []string{"xlat-clat", "xlat-plat", "l3roamd-xlat"} {
			if err := os.Symlink("gluon-464xlat", filepath.Join(dir, l)); err != nil {
				binErr = err
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, babeld, iptables")
	}
	for _, tool := range []string{"babeld", "dnsmasq", "busybox", "iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing (files/scripts/deps.sh installs it)", tool)
		}
	}
}

// startSeedMesh starts the seed topology and waits for babel and the
// client's lease.
func startSeedMesh(t *testing.T, ctx context.Context) *Mesh {
	t.Helper()
	spec := SeedSpec("lab", buildBins(t))
	spec.Logf = t.Logf
	t0 := time.Now()
	m, err := Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			m.Lab.KeepDir()
			t.Logf("lab logs kept in %s", m.Lab.Dir())
		}
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := m.WaitConverged(ctx); err != nil {
		t.Fatal(err, m.CheckRunning())
	}
	t.Logf("babel converged after %v", time.Since(t0).Round(time.Millisecond))
	return m
}

// TestE2EPLATDirect: a node's own IPv6 traffic to <plat /96>+server reaches
// the IPv4 internet host through the PLAT (NAT66 + translator + masquerade),
// and the host sees the PLAT's WAN address. Independent of the CLAT.
func TestE2EPLATDirect(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := startSeedMesh(t, ctx)
	c, d := m.Nodes["c"], m.Nodes["d"]
	target := netip.AddrFrom16(func() [16]byte {
		b := c.PLATPrefix.Addr().As16()
		a := ServerAddr.As4()
		copy(b[12:], a[:])
		return b
	}())
	var seen string
	err := WaitFor(ctx, "TCP from D through C's PLAT", 200*time.Millisecond, func() (bool, error) {
		var conn net.Conn
		err := d.NS.Do(func() error {
			var err error
			conn, err = net.DialTimeout("tcp6", net.JoinHostPort(target.String(), "7"), time.Second)
			return err
		})
		if err != nil {
			return false, err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 100)
		n, err := conn.Read(buf)
		if err != nil {
			return false, err
		}
		seen = strings.TrimSpace(string(buf[:n]))
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello " + c.WANAddr.String() + ":"; !strings.HasPrefix(seen, want) {
		t.Fatalf("server saw %q, want %s...", seen, want)
	}
	t.Logf("D -> [%s]:7 through C's PLAT: server saw %s", target, seen)
}
