package clat

import "testing"

func TestTranslateConfig(t *testing.T) {
	rule := "local.style RFC6052 local.v6 2001:db8:1::/96 remote.style RFC6052 remote.v6 64:ff9b::/96"
	tests := []struct {
		name    string
		rules   []string
		mtu     int
		rfc6791 string
		wantErr bool
	}{
		{"ok", []string{rule}, 1500, "", false},
		{"two rules and rfc6791", []string{"local.style NONE local.v4 192.0.0.1/32 local.v6 fddd::1/128 remote.style RFC6052 remote.v6 64:ff9b::/96", rule}, 1280, "192.0.0.9", false},
		{"bad rule", []string{"local.style MAP"}, 1500, "", true},
		{"mtu too small", []string{rule}, 1000, "", true},
		{"rfc6791 v6", []string{rule}, 1500, "::1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := translateConfig(tt.rules, tt.mtu, tt.rfc6791)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && (len(cfg.Pairs) != len(tt.rules) || cfg.MTU6 != tt.mtu) {
				t.Errorf("cfg %+v", cfg)
			}
		})
	}
}

func TestTranslateUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"--tun", "x"}, {"--rule", "x"}, {"--tun", "x", "--rule", "local.style FOO"}} {
		if rc := runTranslate(args); rc != 2 {
			t.Errorf("runTranslate(%q) = %d, want 2", args, rc)
		}
	}
}
