// Package nstest runs a root test inside a fresh network namespace of its
// own by re-executing the test binary there (so that netlink calls and the
// ip6tables processes go-iptables starts all act on that namespace).
package nstest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

const envInside = "NSTEST_INSIDE"

// Inside reports whether the test already runs in its namespace. If not,
// it creates one (name prefix prefix), re-runs exactly this test in it,
// reports the child's result and returns false; the caller then returns.
func Inside(t *testing.T, prefix string) bool {
	t.Helper()
	if os.Getenv(envInside) == t.Name() {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespace, ipset, ip6tables)")
	}
	lab, err := meshlab.New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	ns, err := lab.AddNS("t")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"netns", "exec", ns.Name, os.Args[0], "-test.run", "^" + strings.ReplaceAll(t.Name(), "/", "$/^") + "$", "-test.v"}
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), envInside+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("in namespace %s:\n%s", ns.Name, out)
	if err != nil {
		t.Fatalf("test in namespace failed: %v", err)
	}
	return false
}
