//go:build bench

package roamd

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/meshlab"
	"github.com/gluon-464xlat/gluon-464xlat/roamproto"
)

// benchLab is the roaming benches' lab: namespace s (the rest of the mesh,
// played by the bench) linked to the namespace under test, and the
// l3roamd-xlat binary.
type benchLab struct {
	t    *testing.T
	ctx  context.Context
	lab  *meshlab.Lab
	bin  string
	s, n *meshlab.NS
}

// newBenchLab makes namespaces s and other with a veth <prefix>s --
// <prefix><other> between them.
func newBenchLab(t *testing.T, prefix, other string) *benchLab {
	t.Helper()
	lab, err := meshlab.New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	l := &benchLab{t: t, ctx: ctx, lab: lab, bin: filepath.Join(lab.Dir(), "l3roamd-xlat")}
	if err := meshlab.BuildBinary(l.bin); err != nil {
		t.Fatal(err)
	}
	if l.s, err = lab.AddNS("s"); err != nil {
		t.Fatal(err)
	}
	if l.n, err = lab.AddNS(other); err != nil {
		t.Fatal(err)
	}
	if err := lab.Veth(l.s, prefix+"s", l.n, prefix+other); err != nil {
		t.Fatal(err)
	}
	return l
}

// must runs one command line in ns.
func (l *benchLab) must(ns *meshlab.NS, line string) string {
	l.t.Helper()
	out, err := ns.Run(l.ctx, strings.Fields(line)...)
	if err != nil {
		l.t.Fatal(err)
	}
	return out
}

// start runs `l3roamd-xlat run --root <lab>/root args...` in the namespace
// under test and waits for its control socket.
func (l *benchLab) start(args ...string) *meshlab.Proc {
	l.t.Helper()
	root := filepath.Join(l.lab.Dir(), "root")
	if err := os.MkdirAll(filepath.Join(root, "var/run"), 0o755); err != nil {
		l.t.Fatal(err)
	}
	pr, err := l.n.Start("roamd", append([]string{l.bin, "run", "--root", root}, args...)...)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := meshlab.WaitFor(l.ctx, "daemon", 20*time.Millisecond, func() (bool, error) {
		if pr.Exited() {
			return false, fmt.Errorf("exited: %s", pr.Log())
		}
		_, err := os.Stat(filepath.Join(root, "var/run/l3roamd-xlat.sock"))
		return err == nil, nil
	}); err != nil {
		l.t.Fatal(err)
	}
	return pr
}

// recvMsgs hands each roaming message that u receives to f, until u is
// closed; undecodable datagrams are skipped.
func recvMsgs(u *UDP, f func(m *roamproto.Message, src netip.AddrPort)) {
	buf := make([]byte, 2048)
	for {
		k, src, err := u.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if m, err := roamproto.Parse(buf[:k], nil); err == nil {
			f(m, src)
		}
	}
}
