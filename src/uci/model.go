// Package uci reads and writes OpenWrt UCI configuration files the way
// libuci does: the same lexical rules (quoting, escaping, comments, line
// continuations, multi-line values), strict parse errors with line numbers,
// anonymous sections named cfgXXXXXX, @type[n] lookup, the writer's output
// format, pending changes (delta files) in the save directory, and atomic
// commits under libuci's lock (flock on the config file).
//
// The in-memory model is a Package: sections in file order, each with
// options in order; an option is either a string or a list.
package uci

import (
	"fmt"
	"strconv"
	"strings"
)

// Option is one option of a section: a string (IsList false, one value) or
// a list (IsList true, any number of items, empty items allowed).
type Option struct {
	Name   string
	IsList bool
	Values []string
}

// Value returns the string value (for a list: the items joined by a space,
// as `uci get` prints them).
func (o *Option) Value() string {
	if o == nil {
		return ""
	}
	return strings.Join(o.Values, " ")
}

// Section is one config section.
type Section struct {
	Type      string
	Name      string // for anonymous sections the generated cfgXXXXXX name
	Anonymous bool
	Options   []*Option
}

// Option returns the named option or nil.
func (s *Section) Option(name string) *Option {
	for _, o := range s.Options {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// Get returns the string value of an option and whether it exists.
func (s *Section) Get(name string) (string, bool) {
	o := s.Option(name)
	if o == nil {
		return "", false
	}
	return o.Value(), true
}

// GetList returns the items of a list option (a string option yields one item).
func (s *Section) GetList(name string) []string {
	o := s.Option(name)
	if o == nil {
		return nil
	}
	return append([]string(nil), o.Values...)
}

// Set sets a string option; an empty value deletes it (as libuci does).
func (s *Section) Set(name, value string) {
	if value == "" {
		s.Delete(name)
		return
	}
	if o := s.Option(name); o != nil {
		o.IsList = false
		o.Values = []string{value}
		return
	}
	s.Options = append(s.Options, &Option{Name: name, Values: []string{value}})
}

// SetList replaces an option by a list with the given items; no items
// deletes the option.
func (s *Section) SetList(name string, values []string) {
	if len(values) == 0 {
		s.Delete(name)
		return
	}
	v := append([]string(nil), values...)
	if o := s.Option(name); o != nil {
		o.IsList = true
		o.Values = v
		return
	}
	s.Options = append(s.Options, &Option{Name: name, IsList: true, Values: v})
}

// AddList appends an item; a string option becomes a list [old, value].
func (s *Section) AddList(name, value string) {
	if o := s.Option(name); o != nil {
		o.IsList = true
		o.Values = append(o.Values, value)
		return
	}
	s.Options = append(s.Options, &Option{Name: name, IsList: true, Values: []string{value}})
}

// DelList removes every item equal to value from a list option.
func (s *Section) DelList(name, value string) {
	o := s.Option(name)
	if o == nil || !o.IsList {
		return
	}
	out := o.Values[:0]
	for _, v := range o.Values {
		if v != value {
			out = append(out, v)
		}
	}
	o.Values = out
}

// Delete removes an option; it reports whether it existed.
func (s *Section) Delete(name string) bool {
	for i, o := range s.Options {
		if o.Name == name {
			s.Options = append(s.Options[:i], s.Options[i+1:]...)
			return true
		}
	}
	return false
}

// Package is one config file (/etc/config/<Name>).
type Package struct {
	Name     string
	Sections []*Section
	counter  int // libuci's n_section
}

// NewPackage returns an empty package.
func NewPackage(name string) *Package { return &Package{Name: name} }

// Clone returns a deep copy.
func (p *Package) Clone() *Package {
	q := &Package{Name: p.Name, counter: p.counter}
	for _, s := range p.Sections {
		ns := &Section{Type: s.Type, Name: s.Name, Anonymous: s.Anonymous}
		for _, o := range s.Options {
			ns.Options = append(ns.Options, &Option{Name: o.Name, IsList: o.IsList, Values: append([]string(nil), o.Values...)})
		}
		q.Sections = append(q.Sections, ns)
	}
	return q
}

func (p *Package) index(name string) int {
	for i, s := range p.Sections {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// Section looks a section up by name (including the cfgXXXXXX names of
// anonymous sections) or by the extended form @type[n] / @[n] (n may be
// negative, counting from the end; named sections count too, as in libuci).
// It returns nil when there is no such section or ref is malformed.
func (p *Package) Section(ref string) *Section {
	if !strings.HasPrefix(ref, "@") {
		if i := p.index(ref); i >= 0 {
			return p.Sections[i]
		}
		return nil
	}
	open := strings.IndexByte(ref, '[')
	if open < 0 || !strings.HasSuffix(ref, "]") {
		return nil
	}
	typ := ref[1:open]
	n, err := strconv.Atoi(ref[open+1 : len(ref)-1])
	if err != nil {
		return nil
	}
	var matches []*Section
	for _, s := range p.Sections {
		if typ == "" || s.Type == typ {
			matches = append(matches, s)
		}
	}
	if n < 0 {
		n += len(matches)
	}
	if n < 0 || n >= len(matches) {
		return nil
	}
	return matches[n]
}

// SectionsOfType returns all sections of a type in file order.
func (p *Package) SectionsOfType(typ string) []*Section {
	var out []*Section
	for _, s := range p.Sections {
		if s.Type == typ {
			out = append(out, s)
		}
	}
	return out
}

// Get returns section.option (section may be an extended reference).
func (p *Package) Get(section, option string) (string, bool) {
	s := p.Section(section)
	if s == nil {
		return "", false
	}
	return s.Get(option)
}

// SetSection makes sure a named section of the given type exists and
// returns it; an existing section of another type gets the new type
// (as `uci set pkg.name=type` does).
func (p *Package) SetSection(name, typ string) (*Section, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("uci: %s: invalid section name %q", p.Name, name)
	}
	if !ValidType(typ) {
		return nil, fmt.Errorf("uci: %s: invalid section type %q", p.Name, typ)
	}
	if s := p.Section(name); s != nil {
		s.Type = typ
		return s, nil
	}
	s := &Section{Type: typ, Name: name}
	p.counter++
	p.Sections = append(p.Sections, s)
	return s, nil
}

// AddSection appends an anonymous section (named like `uci add`).
func (p *Package) AddSection(typ string) (*Section, error) {
	if !ValidType(typ) {
		return nil, fmt.Errorf("uci: %s: invalid section type %q", p.Name, typ)
	}
	s := &Section{Type: typ, Anonymous: true}
	p.counter++
	p.Sections = append(p.Sections, s)
	p.fixup(s)
	return s, nil
}

// DeleteSection removes a section by reference; it reports whether it existed.
func (p *Package) DeleteSection(ref string) bool {
	s := p.Section(ref)
	if s == nil {
		return false
	}
	for i, t := range p.Sections {
		if t == s {
			p.Sections = append(p.Sections[:i], p.Sections[i+1:]...)
			return true
		}
	}
	return false
}

// Reorder moves a section to position pos (clamped), like `uci reorder`.
func (p *Package) Reorder(ref string, pos int) bool {
	s := p.Section(ref)
	if s == nil {
		return false
	}
	p.DeleteSection(ref)
	if pos < 0 {
		pos = 0
	}
	if pos > len(p.Sections) {
		pos = len(p.Sections)
	}
	p.Sections = append(p.Sections, nil)
	copy(p.Sections[pos+1:], p.Sections[pos:])
	p.Sections[pos] = s
	return true
}

// djbhash is libuci's hash for anonymous section names.
func djbhash(hash uint32, s string) uint32 {
	if hash == ^uint32(0) {
		hash = 5381
	}
	for i := 0; i < len(s); i++ {
		// libuci adds a (signed on most targets) char; names and values
		// are mostly ASCII, for which signedness does not matter.
		hash = hash*33 + uint32(int32(int8(s[i])))
	}
	return hash & 0x7fffffff
}

// fixup names an anonymous section as libuci's uci_fixup_section does:
// cfg + section counter (%02x, every allocated section counts, named ones
// too) + low 16 bits of the djb hash of the type, option names and string
// values. Current libuci names a section when it is created, before its
// options are parsed, so in practice the hash covers the type only: the
// first section of a stock /etc/config/firewall is cfg01e63d (defaults),
// then cfg02dc81 and cfg03dc81 (zones).
func (p *Package) fixup(s *Section) {
	if s == nil || s.Name != "" {
		return
	}
	h := djbhash(^uint32(0), s.Type)
	for _, o := range s.Options {
		h = djbhash(h, o.Name)
		if !o.IsList {
			h = djbhash(h, o.Value())
		}
	}
	name := fmt.Sprintf("cfg%02x%04x", p.counter, h%(1<<16))
	for p.index(name) >= 0 { // never collide with an existing name
		p.counter++
		name = fmt.Sprintf("cfg%02x%04x", p.counter, h%(1<<16))
	}
	s.Name = name
}

func isAlnumUnderscore(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// ValidName reports whether s is a valid section or option name ([A-Za-z0-9_]+).
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnumUnderscore(s[i]) {
			return false
		}
	}
	return true
}

// ValidPackageName reports whether s is a valid package (file) name ([A-Za-z0-9_-]+).
func ValidPackageName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnumUnderscore(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

// ValidType reports whether s is a valid section type (printable ASCII 33..126).
func ValidType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// ResetSection makes sure a named section exists with the given type and
// no options, keeping its position in the file (a new one is appended). It
// is the idempotent "write this section from scratch" of upgrade scripts.
func (p *Package) ResetSection(name, typ string) (*Section, error) {
	s, err := p.SetSection(name, typ)
	if err != nil {
		return nil, err
	}
	s.Options = nil
	s.Anonymous = false
	return s, nil
}
