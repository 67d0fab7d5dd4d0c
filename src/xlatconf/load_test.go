package xlatconf

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/uci"
)

func writeConf(t *testing.T, content string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, File), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestLoadDefaults(t *testing.T) {
	root := writeConf(t, `
config clat 'clat'
	option prefix 'fddd:1337:1337:1234:5678:9abc::/96'
	option plat_range '64:ff9b:1::/48'
	option client_ipv4 '10.80.0.0/16'

config plat 'plat'
	option prefix '64:ff9b:1:1234:5678:9abc::/96'
	option clat_range 'fddd:1337:1337::/48'

config roamd 'roamd'
	option node_address 'fdca:ffee:8::1034:56ff:fe78:9abc'
	option node_client_prefix 'fd10:9f:ea06:7dc0::/64'
`)
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	wantCLAT := &CLAT{
		Prefix: netip.MustParsePrefix("fddd:1337:1337:1234:5678:9abc::/96"), PLATRange: netip.MustParsePrefix("64:ff9b:1::/48"),
		Device: "clat", ClientIPv4: netip.MustParsePrefix("10.80.0.0/16"), ClientBridge: "br-client", Table: 4464, MTU: 1280,
		SwitchMargin: 256, ProbeInterval: 2 * time.Second, ProbeFailures: 3, BabelSocket: "[::1]:33123", Socket: "/var/run/xlat-clat.sock", SourceFilter: true, LeaseFile: "/tmp/dhcp.leases",
	}
	if !reflect.DeepEqual(c.CLAT, wantCLAT) {
		t.Errorf("CLAT = %+v\nwant %+v", c.CLAT, wantCLAT)
	}
	wantPLAT := &PLAT{
		Prefix: netip.MustParsePrefix("64:ff9b:1:1234:5678:9abc::/96"), CLATRange: netip.MustParsePrefix("fddd:1337:1337::/48"), Device: "plat",
		NAT66Address: netip.MustParseAddr("64:ff9b:1:1234:5678:9abc:c000:8"), IPv4Address: netip.MustParseAddr("192.0.0.8"),
		WANDevice: "br-wan", BlockedIPv4: DefaultBlockedIPv4(), MTU: 1280, Socket: "/var/run/xlat-plat.sock",
	}
	if !reflect.DeepEqual(c.PLAT, wantPLAT) {
		t.Errorf("PLAT = %+v\nwant %+v", c.PLAT, wantPLAT)
	}
	wantRoamd := &Roamd{
		NodeAddress: netip.MustParseAddr("fdca:ffee:8::1034:56ff:fe78:9abc"), NodeClientPrefix: netip.MustParsePrefix("fd10:9f:ea06:7dc0::/64"),
		Port: 5524, Socket: "/var/run/l3roamd-xlat.sock", ClientBridge: "br-client", HostsFile: "/var/run/l3roamd-xlat.hosts",
	}
	if !reflect.DeepEqual(c.Roamd, wantRoamd) {
		t.Errorf("Roamd = %+v\nwant %+v", c.Roamd, wantRoamd)
	}
}

func TestLoadPartialAndMissing(t *testing.T) {
	c, err := Load(writeConf(t, "\nconfig plat 'plat'\n\toption prefix 'fddd::/96'\n\toption clat_range 'fdde::/48'\n\tlist blocked_ipv4 '198.18.0.0/15'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.CLAT != nil || c.Roamd != nil || c.PLAT == nil {
		t.Errorf("sections: %+v", c)
	}
	if !reflect.DeepEqual(c.PLAT.BlockedIPv4, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/15")}) {
		t.Errorf("blocked = %v", c.PLAT.BlockedIPv4)
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ conf, want string }{
		{"config clat 'clat'\n\toption plat_range 'fddd::/48'\n\toption client_ipv4 '10.0.0.0/8'\n",
			"section clat: option prefix: missing"},
		{"config clat 'clat'\n\toption prefix 'fddd::/64'\n\toption plat_range 'fddd::/48'\n\toption client_ipv4 '10.0.0.0/8'\n",
			`section clat: option prefix: "fddd::/64" is not a /96`},
		{"config clat 'clat'\n\toption prefix 'fddd::/96'\n\toption plat_range 'fddd::/48'\n\toption client_ipv4 '10.0.0.1/8'\n",
			`section clat: option client_ipv4: "10.0.0.1/8" has host bits set`},
		{"config clat 'clat'\n\toption prefix 'fddd::/96'\n\toption plat_range 'fddd::/48'\n\toption client_ipv4 '10.0.0.0/8'\n\toption gateway_ipv4 '11.0.0.1'\n",
			`section clat: option gateway_ipv4: 11.0.0.1 is not inside client_ipv4 10.0.0.0/8`},
		{"config clat 'clat'\n\toption prefix 'fddd::/96'\n\toption plat_range 'fddd::/48'\n\toption client_ipv4 '10.0.0.0/8'\n\toption probe_interval 'soon'\n",
			`section clat: option probe_interval: "soon" is not a positive number`},
		{"config clat 'clat'\n\toption prefix 'fddd::/96'\n\toption plat_range 'fddd::/48'\n\toption client_ipv4 '10.0.0.0/8'\n\toption mtu '576'\n",
			`section clat: option mtu: "576" is not a whole number in [1280, 65535]`},
		{"config plat 'plat'\n\toption prefix 'fddd::/96'\n\toption clat_range 'fdde::/48'\n\toption device 'a-very-long-device'\n",
			`section plat: option device: "a-very-long-device" is not an interface name`},
		{"config plat 'plat'\n\toption prefix 'fddd::/96'\n\toption clat_range 'fdde::/48'\n\tlist blocked_ipv4 'fd00::/8'\n",
			`section plat: option blocked_ipv4: "fd00::/8" is not an IPv4 prefix`},
		{"config plat 'plat'\n\toption prefix 'fddd::/96'\n\toption clat_range 'fdde::/48'\n\toption nat66_address '192.0.0.8'\n",
			`section plat: option nat66_address: "192.0.0.8" is not an IPv6 address`},
		{"config roamd 'roamd'\n\toption node_address 'fd00::1'\n\toption node_client_prefix 'fd00::/64'\n\toption port '70000'\n",
			`section roamd: option port: "70000" is not a whole number in [1, 65535]`},
		{"config roamd 'roamd'\n\toption node_address 'fd00::1'\n\toption node_client_prefix 'fd00::/64'\n\toption clat_range 'fddd::/64'\n",
			`section roamd: option clat_range: "fddd::/64" is not a /48`},
		{"config roamd 'roamd'\n\toption node_address 'fd00::1'\n\toption node_client_prefix 'fd00::/64'\n\toption dnsmasq_pidfile 'var/run/dnsmasq.pid'\n",
			`section roamd: option dnsmasq_pidfile: "var/run/dnsmasq.pid" is not an absolute path`},
		{"config roamd 'roamd'\n\toption node_address 'fd00::1'\n\toption port 5524 5525\n",
			`etc/config/gluon-464xlat:3: too many arguments`},
	}
	for _, tc := range tests {
		root := writeConf(t, tc.conf)
		_, err := Load(root)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("conf:\n%s\nerr = %v\nwant containing %q", tc.conf, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), filepath.Join(root, "etc/config", File)) {
			t.Errorf("error does not name the file: %v", err)
		}
	}
}

func TestWriteLoadRoundTrip(t *testing.T) {
	cfg := &Config{
		CLAT: &CLAT{
			Prefix: netip.MustParsePrefix("fddd:1::/96"), PLATRange: netip.MustParsePrefix("fddd:2::/48"),
			PLATPrefix: netip.MustParsePrefix("fddd:2:0:1::/96"), Device: "clat", ClientIPv4: netip.MustParsePrefix("10.80.0.0/16"),
			GatewayIPv4: netip.MustParseAddr("10.80.0.1"), ClientBridge: "br-client", Table: 4464, MTU: 1280,
			SwitchMargin: 100, ProbeInterval: 1500 * time.Millisecond, ProbeFailures: 4, BabelSocket: "[::1]:33123", Socket: "/var/run/x.sock", SourceFilter: true, LeaseFile: "/l",
		},
		PLAT: &PLAT{
			Prefix: netip.MustParsePrefix("fddd:2:0:1::/96"), CLATRange: netip.MustParsePrefix("fddd:1::/48"), Device: "plat", NAT66Address: netip.MustParseAddr("fddd:2:0:1::c000:8"),
			IPv4Address: netip.MustParseAddr("192.0.0.8"), WANDevice: "br-wan", BlockedIPv4: DefaultBlockedIPv4(), MTU: 1500, Socket: "/s",
		},
		Roamd: &Roamd{
			NodeAddress: netip.MustParseAddr("fd00::1"), NodeClientPrefix: netip.MustParsePrefix("fd01::/64"), Port: 5524,
			Secret: "it's", Socket: "/r", ClientBridge: "br-client",
			CLATRange: netip.MustParsePrefix("fddd:1::/48"), HostsFile: "/h", DnsmasqPIDFile: "/var/run/dnsmasq/dnsmasq.cfg01411c.pid",
		},
	}
	p := uci.NewPackage(File)
	if err := WriteCLAT(p, cfg.CLAT); err != nil {
		t.Fatal(err)
	}
	if err := WritePLAT(p, cfg.PLAT); err != nil {
		t.Fatal(err)
	}
	if err := WriteRoamd(p, cfg.Roamd); err != nil {
		t.Fatal(err)
	}
	root := writeConf(t, string(p.Marshal()))
	got, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Errorf("round trip:\n%+v\n%+v\n%+v", got.CLAT, got.PLAT, got.Roamd)
	}
	// rewriting keeps the section order and is byte-identical
	q, _ := uci.Parse(File, File, string(p.Marshal()))
	_ = WritePLAT(q, cfg.PLAT)
	if string(q.Marshal()) != string(p.Marshal()) {
		t.Error("rewrite changed the file")
	}
}
