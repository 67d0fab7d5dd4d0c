// Package upgrade is the Gluon upgrade step of the three packages
// (gluon-464xlat-plat, gluon-464xlat-clat, gluon-l3roamd-xlat): from the
// site config and the primary MAC it writes the UCI network, firewall and
// dhcp sections, the daemons' own config (/etc/config/gluon-464xlat), the
// babel redistribution of the /96s and of the roaming daemon's /128s
// (/etc/gluon-babeld.conf) and the PLAT's NAT66 firewall include. Every path is relative to a root directory.
//
// The step is idempotent: running it again changes nothing (files are only
// rewritten when their content changes). It first computes everything and
// checks every file it will touch; a bad site config or a broken file is
// reported before anything is written.
//
// UCI changes are committed directly (pending deltas of the same package in
// /tmp/.uci are folded in and the delta file truncated, as `uci commit
// <package>` does), not saved as deltas for Gluon's 998-commit: the result
// after 998-commit is the same, daemons and tests see the config at once,
// and no stale deltas for our sections are left behind.
package upgrade

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/gluon-464xlat/gluon-464xlat/site"
	"github.com/gluon-464xlat/gluon-464xlat/uci"
	"github.com/gluon-464xlat/gluon-464xlat/xlatconf"
)

// Step selects a package's upgrade step.
type Step string

// The steps, in the order Gluon runs them (/lib/gluon/upgrade/340, 350, 360).
const (
	PLAT  Step = "plat"  // 340-gluon-464xlat-plat: xlat-plat upgrade
	CLAT  Step = "clat"  // 350-gluon-464xlat-clat: xlat-clat upgrade
	Roamd Step = "roamd" // 360-gluon-l3roamd-xlat: l3roamd-xlat upgrade
)

// Package names of the steps (used in error messages).
var packageName = map[Step]string{
	PLAT:  "gluon-464xlat-plat",
	CLAT:  "gluon-464xlat-clat",
	Roamd: "gluon-l3roamd-xlat",
}

// Result lists the files (root-relative, with a leading /) a run wrote.
type Result struct {
	Written   []string
	Unchanged []string
}

// uciEdit changes one UCI package.
type uciEdit struct {
	pkg string
	fn  func(p *uci.Package) error
}

// fileEdit rewrites one plain file: transform gets the current content
// (nil if absent) and returns the wanted content.
type fileEdit struct {
	path      string // root-relative, no leading slash
	mode      fs.FileMode
	transform func(old []byte, exists bool) ([]byte, error)
}

type plan struct {
	uci   []uciEdit
	files []fileEdit
}

// Options change how a step writes.
type Options struct {
	// Save records the UCI changes as deltas in <root>/tmp/.uci (like the
	// Lua scripts' uci:save; Gluon's 998-commit commits them) instead of
	// committing them. Plain files are written either way.
	Save bool
}

// Run executes one package's upgrade step under root, committing UCI changes.
func Run(root string, step Step) (*Result, error) {
	return RunWith(root, step, Options{})
}

// RunWith executes one package's upgrade step under root.
func RunWith(root string, step Step, opts Options) (*Result, error) {
	name, ok := packageName[step]
	if !ok {
		return nil, fmt.Errorf("upgrade: unknown step %q", step)
	}
	cfg, err := site.Load(root)
	if err != nil {
		return nil, err
	}
	var pl *plan
	switch step {
	case CLAT:
		pl, err = planCLAT(cfg, name)
	case PLAT:
		pl, err = planPLAT(cfg, name)
	case Roamd:
		pl, err = planRoamd(cfg, name)
	}
	if err != nil {
		return nil, err
	}
	return apply(root, pl, opts)
}

type preparedFile struct {
	fileEdit
	full    string
	data    []byte
	mode    fs.FileMode
	changed bool
}

func apply(root string, pl *plan, opts Options) (*Result, error) {
	tree := uci.NewTree(root)
	// Phase 1: check and compute everything; nothing is written.
	for _, e := range pl.uci {
		p, err := loadOrNew(tree, e.pkg)
		if err != nil {
			return nil, err
		}
		if err := e.fn(p); err != nil {
			return nil, fmt.Errorf("%s: %w", tree.Path(e.pkg), err)
		}
	}
	var files []preparedFile
	for _, f := range pl.files {
		pf := preparedFile{fileEdit: f, full: filepath.Join(root, f.path), mode: f.mode}
		old, err := os.ReadFile(pf.full)
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if exists {
			if st, err := os.Stat(pf.full); err == nil {
				pf.mode = st.Mode().Perm()
			}
		}
		pf.data, err = f.transform(old, exists)
		if err != nil {
			return nil, err
		}
		pf.changed = !exists || !bytes.Equal(old, pf.data)
		files = append(files, pf)
	}
	// Phase 2: write.
	res := &Result{}
	for _, pf := range files {
		rel := "/" + filepath.ToSlash(pf.path)
		if !pf.changed {
			res.add(rel, false)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(pf.full), 0o755); err != nil {
			return res, err
		}
		if err := uci.WriteFileAtomic(pf.full, pf.data, pf.mode); err != nil {
			return res, err
		}
		res.add(rel, true)
	}
	for _, e := range pl.uci {
		if e.pkg == xlatconf.File {
			if err := makePrivate(tree.Path(e.pkg)); err != nil {
				return res, err
			}
		}
		if opts.Save {
			rel := "/tmp/.uci/" + e.pkg
			changed, err := save(tree, e)
			if err != nil {
				return res, err
			}
			res.add(rel, changed)
			continue
		}
		rel := "/etc/config/" + e.pkg
		changed, err := tree.Update(e.pkg, e.fn)
		if err != nil {
			return res, err
		}
		res.add(rel, changed)
	}
	sort.Strings(res.Written)
	sort.Strings(res.Unchanged)
	return res, nil
}

// save applies e to the package's current state (committed + pending) and
// appends the difference as deltas.
// (Tree.Save creates a missing config file empty: libuci cannot load, nor
// replay deltas of, a package without one.)
func save(tree *uci.Tree, e uciEdit) (bool, error) {
	p, err := loadOrNew(tree, e.pkg)
	if err != nil {
		return false, err
	}
	if err := e.fn(p); err != nil {
		return false, err
	}
	d, err := tree.Save(p)
	return len(d) > 0, err
}

// loadOrNew loads the package (committed + pending), or a new empty one if
// its config file does not exist yet.
func loadOrNew(tree *uci.Tree, pkg string) (*uci.Package, error) {
	p, err := tree.Load(pkg)
	if errors.Is(err, uci.ErrNotFound) {
		return uci.NewPackage(pkg), nil
	}
	return p, err
}

// add records rel as written or unchanged.
func (r *Result) add(rel string, written bool) {
	if written {
		r.Written = append(r.Written, rel)
	} else {
		r.Unchanged = append(r.Unchanged, rel)
	}
}

// makePrivate creates path (empty) if it is missing and makes it readable by
// root only, before the commit writes it: /etc/config/gluon-464xlat holds
// the roaming secret, and a commit keeps the file's mode (libuci's too).
func makePrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	f.Close()
	if err != nil {
		return err
	}
	if st.Mode().Perm() != 0o600 {
		return os.Chmod(path, 0o600)
	}
	return nil
}
