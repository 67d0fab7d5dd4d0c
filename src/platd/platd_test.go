package platd

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/wellknown"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

func validConfig() xlatconf.PLAT {
	return xlatconf.PLAT{
		Prefix:       netip.MustParsePrefix("64:ff9b:1:1234:5678:9abc::/96"),
		CLATRange:    netip.MustParsePrefix("fddd:1337:1337::/48"),
		Device:       "plat",
		NAT66Address: netip.MustParseAddr("64:ff9b:1:1234:5678:9abc:c000:8"),
		IPv4Address:  netip.MustParseAddr("192.0.0.8"),
		WANDevice:    "br-wan",
		BlockedIPv4:  xlatconf.DefaultBlockedIPv4(),
	}
}

func TestRulesAndAddresses(t *testing.T) {
	cfg := validConfig()
	got := Rules(cfg)
	want := "local.style RFC6052 local.v4 0.0.0.0/0 local.v6 64:ff9b:1:1234:5678:9abc::/96 " +
		"remote.style NONE remote.v4 192.0.0.8/32 remote.v6 64:ff9b:1:1234:5678:9abc:c000:8/128"
	if len(got) != 1 || got[0] != want {
		t.Errorf("Rules = %q, want [%q]", got, want)
	}
	if m := wellknown.ManagementAddress(cfg.Prefix).String(); m != "64:ff9b:1:1234:5678:9abc:c000:1" {
		t.Errorf("ManagementAddress = %s", m)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(*xlatconf.PLAT)
		errHas string
	}{
		{"valid", func(*xlatconf.PLAT) {}, ""},
		{"no prefix", func(c *xlatconf.PLAT) { c.Prefix = netip.Prefix{} }, "option prefix"},
		{"/64", func(c *xlatconf.PLAT) { c.Prefix = netip.MustParsePrefix("fd00::/64") }, "option prefix"},
		{"host bits", func(c *xlatconf.PLAT) { c.Prefix = netip.MustParsePrefix("fd00::1/96") }, "host bits"},
		{"v4 nat66", func(c *xlatconf.PLAT) { c.NAT66Address = netip.MustParseAddr("192.0.0.8") }, "nat66_address"},
		{"v6 ipv4", func(c *xlatconf.PLAT) { c.IPv4Address = netip.MustParseAddr("::1") }, "ipv4_address"},
		{"long device", func(c *xlatconf.PLAT) { c.Device = "a-very-long-device" }, "option device"},
		{"no wan", func(c *xlatconf.PLAT) { c.WANDevice = "" }, "wan_device"},
		{"mtu", func(c *xlatconf.PLAT) { c.MTU = 1000 }, "option mtu"},
		{"blocked v6", func(c *xlatconf.PLAT) { c.BlockedIPv4 = []netip.Prefix{netip.MustParsePrefix("fd00::/8")} }, "blocked_ipv4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.change(&cfg)
			err := Check(cfg)
			switch {
			case tt.errHas == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)):
				t.Fatalf("error %v, want one naming %q", err, tt.errHas)
			}
		})
	}
}

func TestFirewallRules(t *testing.T) {
	cfg := validConfig()
	cfg.BlockedIPv4 = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f := &firewall{}
	// newFirewall needs the iptables binaries; build the rule lists the same way.
	if g, err := newFirewall(cfg); err == nil {
		f = g
	} else {
		t.Skipf("iptables not available: %v", err)
	}
	var lines []string
	for _, r := range append(append(f.chains4, f.jumps4...), append(f.chains6, f.jumps6...)...) {
		lines = append(lines, r.table+" "+r.chain+" "+strings.Join(r.spec, " "))
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"filter XLAT-PLAT-FWD -i plat -d 10.0.0.0/8 -j DROP",
		"filter XLAT-PLAT-IN -j DROP",
		"filter XLAT-PLAT-FWD -i plat -j DROP",
		"filter XLAT-PLAT-SRC ! -s fddd:1337:1337::/48 -j DROP",
		"filter FORWARD -o plat -j XLAT-PLAT-SRC",
		"filter XLAT-PLAT-MGMT -s ::c000:1/::ffff:ffff -j RETURN",
		"filter XLAT-PLAT-MGMT -s fddd:1337:1337::/48 -j DROP",
		"filter INPUT -d 64:ff9b:1:1234:5678:9abc:c000:1/128 -j XLAT-PLAT-MGMT",
		"nat XLAT-PLAT-MASQ -s 192.0.0.8/32 -j MASQUERADE",
		"nat POSTROUTING -o br-wan -j XLAT-PLAT-MASQ",
		"nat XLAT-PLAT-NAT66 -j SNAT --to-source 64:ff9b:1:1234:5678:9abc:c000:8",
		"nat POSTROUTING -o plat -j XLAT-PLAT-NAT66",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing rule %q in\n%s", want, got)
		}
	}
}

func TestStaleJumps(t *testing.T) {
	lines := []string{
		"-P POSTROUTING ACCEPT",
		"-A POSTROUTING -o plat -j XLAT-PLAT-NAT66",    // own
		"-A POSTROUTING -o oldplat -j XLAT-PLAT-NAT66", // an old device name
		"-A POSTROUTING -o br-wan -j MASQUERADE",       // not ours
		"-A POSTROUTING -o x -j XLAT-PLAT-OTHER",       // not one of our chains
		"-A FORWARD -o oldplat -j XLAT-PLAT-NAT66",     // another chain's line
	}
	targets := map[string]bool{ChainNAT66: true}
	own := func(spec []string) bool { return strings.Join(spec, " ") == "-o plat -j XLAT-PLAT-NAT66" }
	got := staleJumps(lines, "POSTROUTING", targets, own)
	want := [][]string{{"-o", "oldplat", "-j", "XLAT-PLAT-NAT66"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("staleJumps = %q, want %q", got, want)
	}
}
