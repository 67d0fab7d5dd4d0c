package clat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnderRoot(t *testing.T) {
	for _, tc := range []struct{ root, p, want string }{
		{"/", "/var/run/x.sock", "/var/run/x.sock"},
		{"", "/var/run/x.sock", "/var/run/x.sock"},
		{"/tmp/n1", "/var/run/x.sock", "/tmp/n1/var/run/x.sock"},
		{"/tmp/n1", "", ""},
	} {
		if got := underRoot(tc.root, tc.p); got != tc.want {
			t.Errorf("underRoot(%q, %q) = %q, want %q", tc.root, tc.p, got, tc.want)
		}
	}
}

func TestRunWithoutCLATSection(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/config/gluon-464xlat"), []byte("config roamd 'roamd'\n\toption node_address 'fddd::1'\n\toption node_client_prefix 'fddd:0:0:1::/64'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadCLAT(root)
	if err == nil || !strings.Contains(err.Error(), "no 'config clat' section") || !strings.Contains(err.Error(), root) {
		t.Fatalf("got %v", err)
	}
	if code := runDaemon([]string{"--root", root}); code != 1 {
		t.Errorf("run without clat section: exit %d, want 1", code)
	}
	if code := runStatus([]string{"--root", root}); code != 1 {
		t.Errorf("status without daemon: exit %d, want 1", code)
	}
	if code := runDaemon([]string{"--bogus"}); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}
