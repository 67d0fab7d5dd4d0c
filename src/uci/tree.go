package uci

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Tree is a UCI configuration directory with its save directory, relative
// to a root (libuci defaults: /etc/config and /tmp/.uci).
//
// Loading applies the pending deltas of the save directory, as libuci does.
// Commit folds them into the file and truncates the delta file (like
// `uci commit <pkg>`); Save appends deltas instead (like uci_save / Lua
// uci:save, which Gluon's upgrade scripts use before 998-commit).
// The override directory /var/run/uci (UCI_CONF2DIR, libuci 2025+) is not read.
type Tree struct {
	ConfDir string
	SaveDir string
}

// NewTree returns the tree of a root directory: <root>/etc/config and <root>/tmp/.uci.
func NewTree(root string) *Tree {
	return &Tree{
		ConfDir: filepath.Join(root, "etc", "config"),
		SaveDir: filepath.Join(root, "tmp", ".uci"),
	}
}

// Path returns the config file path of a package.
func (t *Tree) Path(name string) string { return filepath.Join(t.ConfDir, name) }

func (t *Tree) deltaPath(name string) string { return filepath.Join(t.SaveDir, name) }

// ErrNotFound is returned (wrapped) by Load for a package without a config file.
var ErrNotFound = errors.New("uci: no such config")

// Load reads a package with its pending deltas applied. A missing file
// yields an error wrapping ErrNotFound (and fs.ErrNotExist).
func (t *Tree) Load(name string) (*Package, error) {
	if !ValidPackageName(name) {
		return nil, fmt.Errorf("uci: invalid package name %q", name)
	}
	f, _, err := openLocked(t.Path(name), unix.LOCK_SH, false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: %w", t.Path(name), ErrNotFound, err)
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Path(name), err)
	}
	p, err := Parse(name, t.Path(name), string(data))
	if err != nil {
		return nil, err
	}
	deltas, err := t.readDeltas(name, nil)
	if err != nil {
		return nil, err
	}
	for _, d := range deltas {
		p.Apply(d)
	}
	return p, nil
}

// readDeltas reads <savedir>/<name>; if lockFile is non-nil the file is
// opened read-write, locked exclusively and returned open in *lockFile.
func (t *Tree) readDeltas(name string, lockFile **os.File) ([]Delta, error) {
	path := t.deltaPath(name)
	flag, how := os.O_RDONLY, unix.LOCK_SH
	if lockFile != nil {
		flag, how = os.O_RDWR, unix.LOCK_EX
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	if err := flock(f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: lock: %w", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if lockFile != nil {
		*lockFile = f
	} else {
		f.Close()
	}
	return ParseDeltas(name, string(data)), nil
}

// openLocked opens path (read-only for LOCK_SH, read-write for LOCK_EX;
// created with mode 0644 if create is set and it is missing) and flocks it.
// A commit replaces the file by rename, so a lock obtained on a file that is
// no longer the one at path is dropped and the open retried: the caller
// always holds the lock on the current file.
func openLocked(path string, how int, create bool) (*os.File, bool, error) {
	flag := os.O_RDONLY
	if how == unix.LOCK_EX {
		flag = os.O_RDWR
	}
	for attempt := 0; attempt < 1000; attempt++ {
		created := false
		f, err := os.OpenFile(path, flag, 0)
		if create && errors.Is(err, fs.ErrNotExist) {
			f, err = os.OpenFile(path, flag|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, fs.ErrExist) {
				continue // someone else created it: open that one
			}
			created = err == nil
		}
		if err != nil {
			return nil, false, err
		}
		if err := flock(f, how); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("%s: lock: %w", path, err)
		}
		var held, cur unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &held); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		if err := unix.Stat(path, &cur); err == nil && cur.Dev == held.Dev && cur.Ino == held.Ino {
			return f, created, nil
		}
		f.Close() // replaced (or removed) while we waited for the lock
	}
	return nil, false, fmt.Errorf("%s: lock: file keeps being replaced", path)
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// Update loads a package (committed file + pending deltas; a missing file
// is an empty package), calls fn to change it, and commits the result as
// `uci commit` does: under an exclusive flock on the config file, written to
// a temporary file in the same directory, fsynced, given the original
// file's mode (0644 for a new file), renamed over the original, and the
// directory fsynced; then the package's delta file is truncated.
//
// If the rendered file is byte-identical to the current one and there were
// no pending deltas, nothing is written (the file keeps its mtime).
// It reports whether the file was written.
func (t *Tree) Update(name string, fn func(p *Package) error) (bool, error) {
	if !ValidPackageName(name) {
		return false, fmt.Errorf("uci: invalid package name %q", name)
	}
	path := t.Path(name)
	if err := os.MkdirAll(t.ConfDir, 0o755); err != nil {
		return false, err
	}
	// libuci locks the config file itself; a missing file is created so
	// that it can be locked (O_CREATE only; it is replaced atomically below).
	f, created, err := openLocked(path, unix.LOCK_EX, true)
	if err != nil {
		return false, err
	}
	defer f.Close()
	old, err := io.ReadAll(f)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	p, err := Parse(name, path, string(old))
	if err != nil {
		if created {
			os.Remove(path)
		}
		return false, err
	}
	var df *os.File
	deltas, err := t.readDeltas(name, &df)
	if err != nil {
		return false, err
	}
	if df != nil {
		defer df.Close()
	}
	for _, d := range deltas {
		p.Apply(d)
	}
	if err := fn(p); err != nil {
		if created {
			os.Remove(path)
		}
		return false, err
	}
	data := p.Marshal()
	if !created && bytes.Equal(data, old) && len(deltas) == 0 {
		return false, nil
	}
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if err := WriteFileAtomic(path, data, st.Mode().Perm()); err != nil {
		return false, err
	}
	if df != nil {
		if err := df.Truncate(0); err != nil {
			return true, fmt.Errorf("%s: %w", t.deltaPath(name), err)
		}
	}
	return true, nil
}

// Commit writes p as the package's committed file (see Update): pending
// deltas are discarded in favour of p, which should have been loaded with
// them applied.
func (t *Tree) Commit(p *Package) (bool, error) {
	return t.Update(p.Name, func(cur *Package) error {
		*cur = *p.Clone()
		return nil
	})
}

// Save records the changes that turn the package's current state
// (committed + pending) into p as delta lines in the save directory, as
// uci_save does; the config file is not touched (a missing one is created
// empty, or the deltas could never be loaded). It returns the deltas written.
func (t *Tree) Save(p *Package) ([]Delta, error) {
	cur, err := t.Load(p.Name)
	if errors.Is(err, ErrNotFound) {
		// libuci loads no package (and so replays no delta) without a
		// config file: create an empty one, as packages ship one
		if _, err = t.Update(p.Name, func(*Package) error { return nil }); err != nil {
			return nil, err
		}
		cur, err = NewPackage(p.Name), nil
	}
	if err != nil {
		return nil, err
	}
	deltas := Diff(cur, p)
	if len(deltas) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(t.SaveDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(t.deltaPath(p.Name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := flock(f, unix.LOCK_EX); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, d := range deltas {
		b.WriteString(d.Line(p.Name))
		b.WriteByte('\n')
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		return nil, err
	}
	return deltas, f.Sync()
}

// WriteFileAtomic writes data to path via a temporary file in the same
// directory (.<name>.uci-XXXXXX like libuci), fsync, chmod, rename and a
// directory fsync. On error the original file is untouched and the
// temporary file removed.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".uci-")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
