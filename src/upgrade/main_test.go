package upgrade

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain_(t *testing.T) {
	root := t.TempDir()
	copyTree(t, filepath.Join("testdata", "full", "root"), root)
	var out, errb bytes.Buffer
	if code := Main("xlat-clat", CLAT, []string{"--root", root}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "xlat-clat upgrade: wrote /etc/config/dhcp /etc/config/firewall") {
		t.Errorf("stdout = %q", out.String())
	}
	out.Reset()
	if code := Main("xlat-clat", CLAT, []string{"--root=" + root}, &out, &errb); code != 0 || out.String() != "xlat-clat upgrade: up to date\n" {
		t.Errorf("second run: exit %d, %q", code, out.String())
	}
	if code := Main("xlat-clat", CLAT, []string{"--root", root, "extra"}, &out, &errb); code != 2 {
		t.Errorf("extra argument: exit %d", code)
	}
	if code := Main("xlat-clat", CLAT, []string{"--bogus"}, &out, &errb); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
	os.WriteFile(filepath.Join(root, "lib/gluon/domains/ffx.json"), []byte(`{"clat_range": "fddd::/64"}`), 0o644)
	errb.Reset()
	if code := Main("xlat-clat", CLAT, []string{"--root", root}, &out, &errb); code != 1 {
		t.Errorf("bad site: exit %d", code)
	}
	msg := strings.ReplaceAll(errb.String(), root, "")
	want := "xlat-clat upgrade: /lib/gluon/domains/ffx.json: clat_range: \"fddd::/64\" is not a /48\nxlat-clat upgrade: nothing written\n"
	if msg != want {
		t.Errorf("stderr = %q\nwant %q", msg, want)
	}
}
