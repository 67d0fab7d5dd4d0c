module github.com/gluon-464xlat/gluon-464xlat

go 1.21

require (
	github.com/coreos/go-iptables v0.8.0
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/sys v0.10.0
)
