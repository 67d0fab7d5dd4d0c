// Package nat46 drives the nat46 kernel module through its control file
// (/proc/net/nat46/control): it reads the devices' rule pairs back and
// reconciles them with a wanted list using `add`, `config`, `insert`,
// `remove` and `del`, writing nothing when they already match.
package nat46

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gluon-464xlat/gluon-464xlat/translator"
)

// DefaultControlPath is where the module exposes its control file (per
// network namespace since nat46 commit cb69317).
const DefaultControlPath = "/proc/net/nat46/control"

// File is the control file: Read returns the read-back script, Write sends
// one command. The module parses one write at a time and a `config` takes the
// rest of its write, so every command is its own write.
type File interface {
	Read() ([]byte, error)
	Write(cmd string) error
}

// ProcFile is the real control file at a path.
type ProcFile string

// Read reads the whole read-back script.
func (p ProcFile) Read() ([]byte, error) {
	b, err := os.ReadFile(string(p))
	if err != nil {
		return nil, fmt.Errorf("nat46: read %s: %w", string(p), err)
	}
	return b, nil
}

// Write writes one command in a single write(2).
func (p ProcFile) Write(cmd string) error {
	f, err := os.OpenFile(string(p), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("nat46: %w", err)
	}
	_, werr := f.Write([]byte(cmd + "\n"))
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("nat46: write %s %q: %w", string(p), cmd, werr)
	}
	if cerr != nil {
		return fmt.Errorf("nat46: close %s: %w", string(p), cerr)
	}
	return nil
}

// Device is one nat46 device as read back: its pairs in canonical rendering,
// in rule order.
type Device struct {
	Name  string
	Pairs []string
}

// ParseReadback parses the control file's read-back script: per device
// `add <dev>`, `insert <dev> <pair>` for every pair but the last and
// `config <dev> <pair>` for the last.
func ParseReadback(b []byte) ([]Device, error) {
	var devs []Device
	idx := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("nat46 read-back line %d: %q: no device name", line, sc.Text())
		}
		cmd, dev, rest := f[0], f[1], strings.Join(f[2:], " ")
		switch cmd {
		case "add":
			if _, ok := idx[dev]; ok {
				return nil, fmt.Errorf("nat46 read-back line %d: device %s added twice", line, dev)
			}
			idx[dev] = len(devs)
			devs = append(devs, Device{Name: dev})
		case "insert", "config":
			i, ok := idx[dev]
			if !ok {
				return nil, fmt.Errorf("nat46 read-back line %d: %s for unknown device %s", line, cmd, dev)
			}
			if rest == "" {
				return nil, fmt.Errorf("nat46 read-back line %d: %s %s without a pair", line, cmd, dev)
			}
			devs[i].Pairs = append(devs[i].Pairs, rest)
		default:
			return nil, fmt.Errorf("nat46 read-back line %d: unknown command %q", line, cmd)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("nat46 read-back: %w", err)
	}
	return devs, nil
}

// Control reconciles nat46 devices through a control file.
type Control struct{ f File }

// New returns a Control over f (ProcFile(DefaultControlPath) on a router).
func New(f File) *Control { return &Control{f: f} }

// Devices reads every device back.
func (c *Control) Devices() ([]Device, error) {
	b, err := c.f.Read()
	if err != nil {
		return nil, err
	}
	return ParseReadback(b)
}

// Lookup returns the device named dev, if it exists.
func (c *Control) Lookup(dev string) (Device, bool, error) {
	devs, err := c.Devices()
	if err != nil {
		return Device{}, false, err
	}
	for _, d := range devs {
		if d.Name == dev {
			return d, true, nil
		}
	}
	return Device{}, false, nil
}

// Apply makes device dev carry exactly pairs (in order), creating it if
// needed. It returns whether the device was created and the commands it
// wrote (none when the device already matched).
func (c *Control) Apply(dev string, pairs []translator.Pair) (created bool, cmds []string, err error) {
	if dev == "" || strings.ContainsAny(dev, " \t\n") {
		return false, nil, fmt.Errorf("nat46: bad device name %q", dev)
	}
	if len(pairs) == 0 {
		return false, nil, fmt.Errorf("nat46: device %s: no rule pairs", dev)
	}
	want := make([]string, len(pairs))
	for i, p := range pairs {
		if err := p.Validate(); err != nil {
			return false, nil, fmt.Errorf("nat46: device %s pair %d: %w", dev, i, err)
		}
		want[i] = p.String()
	}
	cur, exists, err := c.Lookup(dev)
	if err != nil {
		return false, nil, err
	}
	cmds = Plan(dev, cur.Pairs, exists, want)
	for _, cmd := range cmds {
		if err := c.f.Write(cmd); err != nil {
			return !exists, cmds, err
		}
	}
	if len(cmds) == 0 {
		return false, nil, nil
	}
	got, _, err := c.Lookup(dev)
	if err != nil {
		return !exists, cmds, err
	}
	if !slices.Equal(got.Pairs, want) {
		return !exists, cmds, fmt.Errorf("nat46: device %s: read-back after update differs:\n got %q\nwant %q", dev, got.Pairs, want)
	}
	return !exists, cmds, nil
}

// Delete removes device dev; a missing device is not an error.
func (c *Control) Delete(dev string) error {
	_, ok, err := c.Lookup(dev)
	if err != nil || !ok {
		return err
	}
	return c.f.Write("del " + dev)
}

// zeroPair is the pair nat46 gives a new device.
var zeroPair = translator.Pair{}.String()

// Plan returns the commands that turn device dev's pairs cur (exists=false:
// no device) into want (canonical renderings, at least one). `insert` only
// prepends and `config` only changes the last pair, so the plan keeps the
// longest run of cur's leading pairs that want still has in order, removes
// the others, prepends the missing ones and configures the last.
func Plan(dev string, cur []string, exists bool, want []string) []string {
	var cmds []string
	if !exists || len(cur) == 0 {
		if !exists {
			cmds = append(cmds, "add "+dev)
		}
		cur = []string{zeroPair}
	}
	if len(want) == 0 {
		return nil
	}
	curHead, wantHead := cur[:len(cur)-1], want[:len(want)-1]
	keep := make([]bool, len(curHead))
	j := len(wantHead) - 1
	for i := len(curHead) - 1; i >= 0 && j >= 0; i-- {
		if curHead[i] == wantHead[j] {
			keep[i] = true
			j--
		}
	}
	for i, p := range curHead {
		if !keep[i] {
			cmds = append(cmds, "remove "+dev+" "+p)
		}
	}
	for ; j >= 0; j-- {
		cmds = append(cmds, "insert "+dev+" "+wantHead[j])
	}
	if last := want[len(want)-1]; cur[len(cur)-1] != last {
		cmds = append(cmds, "config "+dev+" "+last)
	}
	return cmds
}

// ErrNoModule is returned by Available when the control file is missing.
var ErrNoModule = errors.New("nat46: control file missing (module not loaded)")

// Available reports whether the control file at path exists.
func Available(path string) error {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNoModule, path)
		}
		return fmt.Errorf("nat46: %w", err)
	}
	return nil
}
