package nat46

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gluon-464xlat/gluon-464xlat/translator"
)

// Fake behaves like nat46's control file as far as the module's source
// shows (nat46-module.c, nat46-core.c): commands add/del/config/insert/remove
// and the read-back script. It is the project's one fake: the module cannot
// be loaded on the test machines (no loadable modules). Writes counts every
// Write call, so tests can check that a no-op reconcile writes nothing.
type Fake struct {
	mu     sync.Mutex
	devs   []*fakeDev
	Writes int
	Log    []string
}

type fakeDev struct {
	name  string
	debug int
	pairs []translator.Pair
}

func (f *Fake) find(name string) int {
	for i, d := range f.devs {
		if d.name == name {
			return i
		}
	}
	return -1
}

// Write executes one command like nat46_proc_write.
func (f *Fake) Write(cmd string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Writes++
	f.Log = append(f.Log, cmd)
	words := strings.Fields(cmd)
	if len(words) < 2 {
		return fmt.Errorf("fake nat46: %q: missing device", cmd)
	}
	op, name, rest := words[0], words[1], strings.Join(words[2:], " ")
	i := f.find(name)
	if op != "add" && i < 0 {
		return fmt.Errorf("fake nat46: %s: no device %s", op, name)
	}
	switch op {
	case "add":
		if i >= 0 {
			return fmt.Errorf("fake nat46: add: device %s exists", name)
		}
		f.devs = append(f.devs, &fakeDev{name: name, pairs: []translator.Pair{{}}})
	case "del":
		f.devs = append(f.devs[:i], f.devs[i+1:]...)
	case "config", "insert":
		d := f.devs[i]
		if op == "insert" {
			d.pairs = append([]translator.Pair{{}}, d.pairs...)
		}
		p := &d.pairs[len(d.pairs)-1]
		if op == "insert" {
			p = &d.pairs[0]
		}
		p.Debug = d.debug
		if err := p.Apply(rest); err != nil {
			return fmt.Errorf("fake nat46: %s: %w", cmd, err)
		}
		d.debug = p.Debug
	case "remove":
		d := f.devs[i]
		q, err := translator.ParsePair(rest)
		if err != nil {
			return fmt.Errorf("fake nat46: %s: %w", cmd, err)
		}
		want := q.String()
		for k, p := range d.pairs {
			p.Debug = d.debug
			if p.String() == want {
				d.pairs = append(d.pairs[:k], d.pairs[k+1:]...)
				return nil
			}
		}
	default:
		return fmt.Errorf("fake nat46: unknown command %q", op)
	}
	return nil
}

// Read renders the read-back script like nat46_proc_show.
func (f *Fake) Read() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, d := range f.devs {
		fmt.Fprintf(&b, "add %s\n", d.name)
		for k, p := range d.pairs {
			p.Debug = d.debug
			cmd := "insert"
			if k == len(d.pairs)-1 {
				cmd = "config"
			}
			fmt.Fprintf(&b, "%s %s %s\n", cmd, d.name, p.String())
		}
	}
	return []byte(b.String()), nil
}
