package clat

import (
	"flag"

	"github.com/gluon-464xlat/gluon-464xlat/clatd"
	"github.com/gluon-464xlat/gluon-464xlat/subcmd"
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
	return subcmd.PrintStatus("xlat-clat", path, *asJSON, &clatd.Status{})
}
