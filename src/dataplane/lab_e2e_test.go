//go:build e2e

package dataplane

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/dataplane/xlatlab"
	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
)

// startLab is the setup every data-plane e2e test shares: it skips without root, gives
// the test a context that ends after timeout, builds the gluon-464xlat binary and makes a
// lab named name, closed (processes stopped, namespaces deleted) when the test ends.
func startLab(t *testing.T, name string, timeout time.Duration) (context.Context, string, *meshlab.Lab) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, TUN)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	bin, err := xlatlab.BuildBinary(ctx, "..", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lab, err := meshlab.New(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Error(err)
		}
	})
	return ctx, bin, lab
}
