package clatd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/coreos/go-iptables/iptables"
	"golang.org/x/sys/unix"
)

// ChainSource holds the CLAT's source filter: one RETURN rule per client
// of this node (its IPv4 address and MAC), then DROP.
const ChainSource = "XLAT-CLAT-SRC"

// SourceFilter drops client IPv4 packets that would enter the CLAT with a
// source that is not a client of this node: a client cannot send with
// another client's address (here or on another node, the client network is
// shared by the whole mesh) or with an address nobody holds.
//
// A client of this node is an (address, MAC) pair from this node's DHCP
// leases or from l3roamd-xlat's reservations for clients that roamed in
// (its dnsmasq hosts file). Neighbour entries do not count: the kernel
// learns them from the ARP packets of whoever claims the address.
//
// Only packets that do not belong to an established connection are checked
// (FORWARD -i <bridge> -o <clat> ! --ctstate ESTABLISHED,RELATED): one rule
// per client, walked once per new flow.
type SourceFilter struct {
	Bridge     string       // client bridge
	Device     string       // CLAT device
	ClientIPv4 netip.Prefix // addresses outside it are never clients
	Files      []string     // dnsmasq lease file, l3roamd-xlat hosts file (missing = empty)
	Interval   time.Duration
	Log        *slog.Logger

	ipt   *iptables.IPTables
	cur   map[client]bool
	stamp map[string]string
}

type client struct {
	ip  netip.Addr
	mac string
}

func (c client) spec() []string {
	return []string{"-s", c.ip.String() + "/32", "-m", "mac", "--mac-source", c.mac, "-j", "RETURN"}
}

func (f *SourceFilter) jump() []string {
	return []string{"-i", f.Bridge, "-o", f.Device, "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED", "-j", ChainSource}
}

// Setup creates the chain (DROP only, then the clients found now) and the
// jump; leftovers of a killed run are replaced.
func (f *SourceFilter) Setup() error {
	ipt, err := iptables.NewWithProtocol(iptables.ProtocolIPv4)
	if err != nil {
		return fmt.Errorf("source filter: iptables: %w", err)
	}
	f.ipt, f.cur, f.stamp = ipt, map[client]bool{}, map[string]string{}
	if err := ipt.ClearChain("filter", ChainSource); err != nil {
		return fmt.Errorf("source filter: chain %s: %w", ChainSource, err)
	}
	if err := ipt.Append("filter", ChainSource, "-j", "DROP"); err != nil {
		return fmt.Errorf("source filter: %w", err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := ipt.InsertUnique("filter", "FORWARD", 1, f.jump()...); err != nil {
		return fmt.Errorf("source filter: jump from FORWARD: %w", err)
	}
	return nil
}

// Run re-reads the files when they change, until ctx ends: on inotify
// events of their directories (a change is read settle after the last
// event; dnsmasq rewrites its lease file in place, l3roamd-xlat replaces
// its hosts file by rename), with a slow poll besides; where inotify is not
// available (or a directory is missing) by polling every Interval
// (default 200 ms), as before: 5 wake-ups a second of every node.
func (f *SourceFilter) Run(ctx context.Context) {
	iv := f.interval()
	changed, stop, err := watchFiles(f.Files)
	if err != nil {
		if f.Log != nil {
			f.Log.Debug("source filter: polling", "every", iv, "err", err)
		}
	} else {
		defer stop()
		iv = safetyPoll
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	sync := func() {
		if err := f.Sync(); err != nil {
			debounce.Reset(f.interval()) // a file not read is read again soon
			if f.Log != nil {
				f.Log.Warn("source filter", "err", err)
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changed:
			if !ok { // the watch ended (a directory went): poll
				changed = nil
				t.Reset(f.interval())
			}
			debounce.Reset(settle)
		case <-debounce.C:
			sync()
		case <-t.C:
			sync()
		}
	}
}

func (f *SourceFilter) interval() time.Duration {
	if f.Interval == 0 {
		return 200 * time.Millisecond
	}
	return f.Interval
}

// settle is how long after the last inotify event the files are read (a
// writer's burst of writes is one change); safetyPoll is how often they are
// looked at anyway while inotify watches them.
const (
	settle     = 20 * time.Millisecond
	safetyPoll = 10 * time.Second
)

// watchFiles watches the directories of files with inotify; changed gets a
// value (coalesced) whenever one of the files may have changed, and is
// closed when the watch ends by itself (a directory was removed or moved).
// stop ends the watch. An error: no watch (a directory is missing, or no
// inotify).
func watchFiles(files []string) (changed <-chan struct{}, stop func(), err error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("inotify: %w", err)
	}
	names := map[string]bool{}
	for _, p := range files {
		_, err := unix.InotifyAddWatch(fd, filepath.Dir(p), unix.IN_MODIFY|unix.IN_CLOSE_WRITE|unix.IN_CREATE|
			unix.IN_DELETE|unix.IN_MOVED_TO|unix.IN_MOVED_FROM|unix.IN_ATTRIB|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF)
		if err != nil {
			unix.Close(fd)
			return nil, nil, fmt.Errorf("inotify %s: %w", filepath.Dir(p), err)
		}
		names[filepath.Base(p)] = true
	}
	fh := os.NewFile(uintptr(fd), "inotify") // non-blocking: Close ends a Read
	ch := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		buf := make([]byte, 4096)
		for {
			n, err := fh.Read(buf)
			if err != nil {
				return
			}
			rel, gone := relevant(buf[:n], names)
			if rel {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			if gone {
				return
			}
		}
	}()
	return ch, func() { fh.Close(); <-done }, nil
}

// relevant: do the inotify events in b concern one of names (or the
// watch itself: a queue overflow)? gone: a watched directory went.
func relevant(b []byte, names map[string]bool) (rel, gone bool) {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			return true, gone
		}
		name := strings.TrimRight(string(b[unix.SizeofInotifyEvent:end]), "\x00")
		gone = gone || ev.Mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0
		rel = rel || gone || ev.Mask&unix.IN_Q_OVERFLOW != 0 || names[name]
		b = b[end:]
	}
	return rel, gone
}

// Sync brings the chain's client rules in line with the files (if one of
// them changed since the last call).
func (f *SourceFilter) Sync() error {
	changed := false
	for _, p := range f.Files {
		s := ""
		if st, err := os.Stat(p); err == nil {
			var ino uint64
			if sys, ok := st.Sys().(*syscall.Stat_t); ok {
				ino = sys.Ino // replaced by rename (roamd's hosts file)
			}
			s = fmt.Sprint(st.ModTime().UnixNano(), st.Size(), ino)
		}
		if f.stamp[p] != s {
			f.stamp[p], changed = s, true
		}
	}
	if !changed {
		return nil
	}
	want := map[client]bool{}
	for _, p := range f.Files {
		if err := readClients(p, f.ClientIPv4, want); err != nil {
			f.stamp[p] = "" // read again next time
			return err
		}
	}
	var errs []error
	for c := range f.cur {
		if !want[c] {
			if err := f.ipt.DeleteIfExists("filter", ChainSource, c.spec()...); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(f.cur, c)
		}
	}
	add := make([]client, 0, len(want))
	for c := range want {
		if !f.cur[c] {
			add = append(add, c)
		}
	}
	sort.Slice(add, func(i, j int) bool { return add[i].ip.Less(add[j].ip) })
	for _, c := range add {
		if err := f.ipt.Insert("filter", ChainSource, 1, c.spec()...); err != nil {
			errs = append(errs, err)
			continue
		}
		f.cur[c] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("source filter: %w", err)
	}
	return nil
}

// Cleanup removes the jump and the chain.
func (f *SourceFilter) Cleanup() error {
	if f.ipt == nil {
		return nil
	}
	err := f.ipt.DeleteIfExists("filter", "FORWARD", f.jump()...)
	if ok, _ := f.ipt.ChainExists("filter", ChainSource); ok {
		err = errors.Join(err, f.ipt.ClearAndDeleteChain("filter", ChainSource))
	}
	return err
}

// readClients adds the (address, MAC) pairs of a dnsmasq lease file
// ("expiry MAC IP name id") or dhcp-hostsfile ("MAC,IP") to out. A missing
// file has none; lines that are neither are skipped.
func readClients(path string, net4 netip.Prefix, out map[client]bool) error {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var macS, ipS string
		if f := strings.Fields(sc.Text()); len(f) >= 3 {
			macS, ipS = f[1], f[2]
		} else if f := strings.Split(strings.TrimSpace(sc.Text()), ","); len(f) == 2 {
			macS, ipS = f[0], f[1]
		}
		mac, err1 := net.ParseMAC(macS)
		ip, err2 := netip.ParseAddr(ipS)
		if err1 != nil || err2 != nil || len(mac) != 6 || !ip.Is4() || (net4.IsValid() && !net4.Contains(ip)) {
			continue
		}
		out[client{ip, mac.String()}] = true
	}
	return sc.Err()
}
