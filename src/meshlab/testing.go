package meshlab

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Need skips t unless it runs as root (network namespaces) and every tool
// is installed: the one gate of the end-to-end tests.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing (files/scripts/deps.sh installs it)", tool)
		}
	}
}

// BuildBinary builds the multi-call binary gluon-464xlat into path. A test
// calls it from its package directory, one below src/.
func BuildBinary(path string) error {
	out, err := exec.Command("go", "build", "-o", path, "../cmd/gluon-464xlat").CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %v: %s", path, err, out)
	}
	return nil
}
