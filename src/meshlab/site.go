package meshlab

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// Site is the lab's Gluon site configuration: what site.json and the
// domain's JSON hold on every node.
type Site struct {
	Code              string
	Domain            string
	Prefix4           netip.Prefix // clients' IPv4 network
	NextNodeIP4       netip.Addr   // gateway address on every node's client bridge
	NextNodeIP6       netip.Addr
	NextNodeMAC       string
	Prefix6           netip.Prefix // clients' IPv6 /64
	NodePrefix6       netip.Prefix // node addresses (EUI-64 of the primary MAC)
	NodeClientPrefix6 netip.Prefix // roaming: clients' node-client-IPs
	CLATRange         netip.Prefix // /48
	PLATRange         netip.Prefix // /48
	// Domain holds further domain keys (merged into the domain JSON).
	DomainExtra map[string]any
}

// DefaultSite is the lab's site: documentation and ULA prefixes only, and
// the RFC 8215 range 64:ff9b:1::/48 for the PLATs.
func DefaultSite() Site {
	return Site{
		Code:              "lab",
		Domain:            "lab",
		Prefix4:           netip.MustParsePrefix("10.80.0.0/16"),
		NextNodeIP4:       netip.MustParseAddr("10.80.0.1"),
		NextNodeIP6:       netip.MustParseAddr("fdca:ffee:80::1"),
		NextNodeMAC:       "16:41:95:40:f7:dc",
		Prefix6:           netip.MustParsePrefix("fdca:ffee:80::/64"),
		NodePrefix6:       netip.MustParsePrefix("fdca:ffee:80:1::/64"),
		NodeClientPrefix6: netip.MustParsePrefix("fdca:ffee:80:2::/64"),
		CLATRange:         netip.MustParsePrefix("fddd:1337:1337::/48"),
		PLATRange:         netip.MustParsePrefix("64:ff9b:1::/48"),
	}
}

// siteJSON is /lib/gluon/site.json; domainJSON is /lib/gluon/domains/<d>.json.
func (s Site) siteJSON() map[string]any {
	return map[string]any{
		"site_code":      s.Code,
		"site_name":      "464XLAT lab",
		"default_domain": s.Domain,
		"prefix4":        s.Prefix4.String(),
		"prefix6":        s.Prefix6.String(),
		"node_prefix6":   s.NodePrefix6.String(),
		"timezone":       "UTC0",
		"ntp_servers":    []string{},
		"mesh":           map[string]any{"vxlan": false},
	}
}

func (s Site) domainJSON() map[string]any {
	d := map[string]any{
		"domain_names":        map[string]string{s.Domain: "Lab"},
		"domain_seed":         strings.Repeat("ab", 32),
		"clat_range":          s.CLATRange.String(),
		"plat_range":          s.PLATRange.String(),
		"node_client_prefix6": s.NodeClientPrefix6.String(),
		"next_node": map[string]any{
			"ip4": s.NextNodeIP4.String(),
			"ip6": s.NextNodeIP6.String(),
			"mac": s.NextNodeMAC,
		},
	}
	for k, v := range s.DomainExtra {
		d[k] = v
	}
	return d
}

// writeRoot lays out a Gluon-like root: site config, domain, primary MAC
// and the gluon UCI config with the active domain.
func writeRoot(root string, s Site, mac net.HardwareAddr) error {
	files := map[string][]byte{
		"lib/gluon/core/sysconfig/primary_mac": []byte(mac.String() + "\n"),
		"etc/config/gluon":                     []byte(fmt.Sprintf("\nconfig core 'core'\n\toption domain '%s'\n\n", s.Domain)),
	}
	for name, v := range map[string]any{
		"lib/gluon/site.json":                     s.siteJSON(),
		"lib/gluon/domains/" + s.Domain + ".json": s.domainJSON(),
	} {
		b, err := json.MarshalIndent(v, "", "\t")
		if err != nil {
			return err
		}
		files[name] = append(b, '\n')
	}
	for _, d := range []string{"var/run", "var/lib", "tmp", "etc/config", "lib/gluon/upgrade"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	for name, b := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// babelConf is /etc/gluon-babeld.conf as gluon-mesh-babel's
// 300-gluon-mesh-babel-mkconfig writes it (v2023.2.x).
func babelConf(s Site, nodeAddr netip.Addr) string {
	return strings.Join([]string{
		"ipv6-subtrees true",
		"reflect-kernel-metric true",
		"export-table 254",
		"import-table 254",
		fmt.Sprintf("out ip %s/128 deny", s.NextNodeIP6),
		fmt.Sprintf("redistribute ip %s/128 deny", s.NextNodeIP6),
		fmt.Sprintf("redistribute ip %s eq 128  allow", s.Prefix6),
		fmt.Sprintf("redistribute ip %s eq 128  allow", s.NodeClientPrefix6),
		fmt.Sprintf("redistribute ip %s eq 128  allow", s.NodePrefix6),
		"redistribute ip 2000::/3 allow",
		"redistribute local if br-wan deny",
		"redistribute local ip 0.0.0.0/0 deny",
		fmt.Sprintf("install pref-src %s", nodeAddr),
		"",
	}, "\n")
}
