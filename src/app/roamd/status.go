package roamd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/roamd"
)

// runStatus is `l3roamd-xlat status [--json]`.
func runStatus(args []string) int {
	fs := flag.NewFlagSet("l3roamd-xlat status", flag.ContinueOnError)
	root := fs.String("root", "/", "root directory of the node's files")
	socket := fs.String("socket", defaultSocket, "control socket below root")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := ctlsock.Call(ctx, filepath.Join(*root, *socket), "status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "l3roamd-xlat status:", err)
		return 1
	}
	if *asJSON {
		os.Stdout.Write(out)
		return 0
	}
	var st roamd.Status
	if err := json.Unmarshal(out, &st); err != nil {
		fmt.Fprintln(os.Stderr, "l3roamd-xlat status: bad reply:", err)
		return 1
	}
	fmt.Printf("node %s port %d hmac %t\nclat %s  plat %s  own plat %s\n", st.NodeAddress, st.Port, st.Signed,
		dash(st.CLAT), dash(st.PLAT), dash(st.OwnPLAT))
	fmt.Printf("clients %d, steered at this PLAT %d, ip6tables rules %d\n", len(st.Clients), st.Steered, st.Rules)
	for _, c := range st.Clients {
		fmt.Printf("  %s %-15s clat %s plat %s roamed %t lease %ds\n", c.MAC, dash(c.IP), dash(c.CLAT), dash(c.PLAT), c.Roamed, c.LeaseSec)
	}
	fmt.Println("counters:")
	for _, k := range sortedKeys(st.Counters) {
		fmt.Printf("  %-24s %d\n", k, st.Counters[k])
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
