package upgrade

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The roaming step leaves dnsmasq's dhcpscript to the operator (leases
// reach l3roamd-xlat as dhcp hotplug events) and removes only the script
// earlier versions of the package set there.
func TestRoamdDHCPScriptLeftToOperator(t *testing.T) {
	for _, tc := range []struct {
		name, before string
		want         string // dhcpscript option line after the step, "" = none
	}{
		{"unset", "", ""},
		{"legacy hook removed", legacyDHCPScript, ""},
		{"operator's script kept", "/etc/my-lease-script", "option dhcpscript '/etc/my-lease-script'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			copyTree(t, filepath.Join("testdata", "full", "root"), root)
			conf := filepath.Join(root, "etc", "config", "dhcp")
			b, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			if tc.before != "" {
				b = []byte(strings.Replace(string(b), "config dnsmasq\n", "config dnsmasq\n\toption dhcpscript '"+tc.before+"'\n", 1))
				if err := os.WriteFile(conf, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range []Step{PLAT, CLAT, Roamd} {
				if _, err := Run(root, s); err != nil {
					t.Fatalf("step %s: %v", s, err)
				}
			}
			b, err = os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, "dhcpscript") {
					got = strings.TrimSpace(l)
				}
			}
			if got != tc.want {
				t.Errorf("dhcpscript after the step: %q, want %q", got, tc.want)
			}
		})
	}
}
