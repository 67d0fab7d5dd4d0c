package meshlab

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestLabPingAndCleanup(t *testing.T) {
	Need(t)
	lab, err := New("mlt")
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	a, err := lab.AddNS("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := lab.AddNS("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Veth(a, "ab", b, "ba"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Run(ctx, "ip", "addr", "add", "192.0.2.1/24", "dev", "ab"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Run(ctx, "ip", "addr", "add", "192.0.2.2/24", "dev", "ba"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run(ctx, "ping", "-c1", "-W2", "192.0.2.2"); err != nil {
		t.Fatal(err)
	}
	p, err := b.Start("sleeper", "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() {
		t.Error("process still running after Close")
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), a.Name) || strings.Contains(string(out), b.Name) {
		t.Errorf("namespaces left after Close: %s", out)
	}
}
