//go:build e2e

package upgrade

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// TestE2ENAT66Include runs the PLAT's fw3 include script (golden file of the
// full case) twice with the real ip6tables in a network namespace of its
// own: it must add exactly one SNAT rule, also when fw3 reloads it again.
func TestE2ENAT66Include(t *testing.T) {
	meshlab.Need(t, "ip6tables")
	ns := fmt.Sprintf("upn%d", os.Getpid()%1000000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	script, err := filepath.Abs(filepath.Join("testdata", "full", "golden", NAT66Include))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if out, err := exec.Command("ip", "netns", "exec", ns, "sh", script).CombinedOutput(); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "ip6tables", "-w", "-t", "nat", "-S", "POSTROUTING").CombinedOutput()
	if err != nil {
		t.Fatalf("ip6tables -S: %v\n%s", err, out)
	}
	want := "-A POSTROUTING -o plat -j SNAT --to-source fddd:1337:2:1234:5678:9abc:c000:8"
	if n := strings.Count(string(out), want); n != 1 {
		t.Errorf("rule %q present %d times:\n%s", want, n, out)
	}
}
