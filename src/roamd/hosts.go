package roamd

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/gluon-464xlat/gluon-464xlat/uci"
)

// Hosts is dnsmasq's --dhcp-hostsfile for roamed clients: one line
// "MAC,IP" per client served here under another node's lease, so that this
// node's dnsmasq (with --dhcp-authoritative) renews exactly that address
// for that MAC and hands it to no other client. The file is replaced
// atomically, then dnsmasq gets SIGHUP (it re-reads hostsfiles).
type Hosts struct {
	path, pidfile string
	mu            sync.Mutex
	m             map[string]netip.Addr
}

// NewHosts writes an empty file at path (so dnsmasq can start with it).
func NewHosts(path, pidfile string) (*Hosts, error) {
	h := &Hosts{path: path, pidfile: pidfile, m: map[string]netip.Addr{}}
	return h, h.write()
}

func (h *Hosts) Reserve(mac net.HardwareAddr, ip netip.Addr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m[mac.String()] == ip {
		return nil
	}
	h.m[mac.String()] = ip
	return h.write()
}

func (h *Hosts) Release(mac net.HardwareAddr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.m[mac.String()]; !ok {
		return nil
	}
	delete(h.m, mac.String())
	return h.write()
}

func (h *Hosts) write() error {
	lines := make([]string, 0, len(h.m))
	for mac, ip := range h.m {
		lines = append(lines, mac+","+ip.String()+"\n")
	}
	sort.Strings(lines)
	// World-readable: OpenWrt's dnsmasq reads it as user dnsmasq.
	if err := uci.WriteFileAtomic(h.path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		return fmt.Errorf("dhcp hostsfile %s: %w", h.path, err)
	}
	return h.hup()
}

func (h *Hosts) hup() error {
	if h.pidfile == "" {
		return nil
	}
	b, err := os.ReadFile(h.pidfile)
	if err != nil {
		if os.IsNotExist(err) {
			return nil // dnsmasq not running (yet): it reads the file at start
		}
		return fmt.Errorf("dnsmasq pid file %s: %w", h.pidfile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("dnsmasq pid file %s: bad pid %q", h.pidfile, strings.TrimSpace(string(b)))
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("SIGHUP dnsmasq (pid %d): %w", pid, err)
	}
	return nil
}
