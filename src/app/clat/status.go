package clat

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gluon-464xlat/gluon-464xlat/clatd"
	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// runStatus is `xlat-clat status [--root DIR] [--json] [--socket PATH]`.
func runStatus(args []string) int {
	fs := flag.NewFlagSet("xlat-clat status", flag.ContinueOnError)
	root := fs.String("root", "/", "root directory of the node's files")
	asJSON := fs.Bool("json", false, "print JSON")
	sock := fs.String("socket", "", "control socket (default: from the config, below root)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path := *sock
	if path == "" {
		path = underRoot(*root, xlatconf.DefaultCLATSocket)
		if cfg, err := loadCLAT(*root); err == nil && cfg.CLAT.Socket != "" {
			path = underRoot(*root, cfg.CLAT.Socket)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := ctlsock.Call(ctx, path, "status")
	if err != nil {
		fmt.Fprintf(os.Stderr, "xlat-clat status: %v (is xlat-clat running?)\n", err)
		return 1
	}
	var st clatd.Status
	if err := json.Unmarshal(reply, &st); err != nil {
		fmt.Fprintf(os.Stderr, "xlat-clat status: bad reply from %s: %v\n", path, err)
		return 1
	}
	if *asJSON {
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Printf("%s\n", b)
		return 0
	}
	if err := st.WriteText(os.Stdout); err != nil {
		return 1
	}
	return 0
}
