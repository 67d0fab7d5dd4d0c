package roamd

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteText prints st for people (l3roamd-xlat status).
func (st Status) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "node %s port %d hmac %t\nclat %s  plat %s  own plat %s\n", st.NodeAddress, st.Port, st.Signed,
		dash(st.CLAT), dash(st.PLAT), dash(st.OwnPLAT))
	fmt.Fprintf(&b, "clients %d, steered at this PLAT %d, ip6tables rules %d\n", len(st.Clients), st.Steered, st.Rules)
	for _, c := range st.Clients {
		fmt.Fprintf(&b, "  %s %-15s clat %s plat %s roamed %t lease %ds\n", c.MAC, dash(c.IP), dash(c.CLAT), dash(c.PLAT), c.Roamed, c.LeaseSec)
	}
	b.WriteString("counters:\n")
	keys := make([]string, 0, len(st.Counters))
	for k := range st.Counters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-24s %d\n", k, st.Counters[k])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
