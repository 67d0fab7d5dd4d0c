package wellknown

import (
	"net/netip"
	"testing"
)

func TestManagementAddress(t *testing.T) {
	// The seed's plat_prefix:192.0.0.1 for the PLAT /96 of MAC 12:34:56:78:9a:bc.
	got := ManagementAddress(netip.MustParsePrefix("fddd:1337:1338:1234:5678:9abc::/96"))
	if got.String() != "fddd:1337:1338:1234:5678:9abc:c000:1" {
		t.Errorf("ManagementAddress = %s", got)
	}
}
