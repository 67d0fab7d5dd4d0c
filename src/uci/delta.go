package uci

import (
	"slices"
	"strconv"
	"strings"
)

// Delta commands as written to the save directory (libuci delta.c).
const (
	OpChange  = ""
	OpAdd     = "+"
	OpRemove  = "-"
	OpRename  = "@"
	OpReorder = "^"
	OpListAdd = "|"
	OpListDel = "~"
)

// Delta is one pending change: <op><package>.<section>[.<option>][=<value>].
type Delta struct {
	Op       string
	Section  string
	Option   string // "" for section-level changes
	Value    string
	HasValue bool
}

// Line renders the delta line as libuci writes it (value single-quoted,
// each ' closed, escaped and reopened), without the trailing newline.
func (d Delta) Line(pkg string) string {
	var b strings.Builder
	b.WriteString(d.Op)
	b.WriteString(pkg)
	b.WriteByte('.')
	b.WriteString(d.Section)
	if d.Option != "" {
		b.WriteByte('.')
		b.WriteString(d.Option)
	}
	if d.Op == OpRemove && !d.HasValue {
		return b.String()
	}
	b.WriteByte('=')
	quote(&b, d.Value)
	return b.String()
}

// ParseDeltas parses a delta file's content for package pkg. Like libuci it
// skips lines it cannot parse (and lines of other packages) instead of
// failing, to keep as much of the pending changes as possible.
func ParseDeltas(pkg, content string) []Delta {
	var out []Delta
	l := &lexer{src: content, line: 1, file: pkg}
	for {
		for !l.eof() && (isBlank(l.peek()) || l.peek() == '\n') {
			if l.peek() == '\n' {
				l.line++
			}
			l.pos++
		}
		if l.eof() {
			return out
		}
		a, err := l.arg()
		if err != nil {
			return out // unterminated quote: the rest is unusable
		}
		rest, err := l.arg()
		// skip to the end of the line
		for !l.eof() && l.peek() != '\n' {
			l.pos++
		}
		if err != nil || rest != "" || a == "" {
			continue
		}
		if d, ok := parseDeltaTuple(pkg, a); ok {
			out = append(out, d)
		}
	}
}

func parseDeltaTuple(pkg, a string) (Delta, bool) {
	var d Delta
	switch a[0] {
	case '+', '-', '@', '^', '|', '~':
		d.Op = a[:1]
		a = a[1:]
	}
	if i := strings.IndexByte(a, '='); i >= 0 {
		d.Value = a[i+1:]
		d.HasValue = true
		a = a[:i]
	}
	parts := strings.Split(a, ".")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != pkg {
		return d, false
	}
	d.Section = parts[1]
	if !ValidName(d.Section) {
		return d, false
	}
	if len(parts) == 3 {
		d.Option = parts[2]
		if !ValidName(d.Option) {
			return d, false
		}
	}
	if d.Op != OpRemove && !d.HasValue {
		return d, false
	}
	switch d.Op {
	case OpReorder:
		if d.Option != "" {
			return d, false
		}
	case OpRename:
		if !ValidName(d.Value) {
			return d, false
		}
	case OpListAdd, OpListDel:
		if d.Option == "" {
			return d, false
		}
	}
	return d, true
}

// Apply applies one delta as libuci replays it on load. It reports whether
// it applied (libuci ignores deltas that do not apply, e.g. an option of a
// section that does not exist).
func (p *Package) Apply(d Delta) bool {
	s := p.Section(d.Section)
	switch d.Op {
	case OpChange, OpAdd:
		if d.Option == "" {
			if d.Value == "" { // libuci: setting an empty value deletes
				return p.DeleteSection(d.Section)
			}
			if !ValidType(d.Value) {
				return false
			}
			if s != nil {
				s.Type = d.Value
				return true
			}
			s = &Section{Type: d.Value, Name: d.Section, Anonymous: d.Op == OpAdd}
			p.counter++
			p.Sections = append(p.Sections, s)
			return true
		}
		if s == nil {
			return false
		}
		s.Set(d.Option, d.Value)
		return true
	case OpRemove:
		if s == nil {
			return false
		}
		if d.Option == "" {
			return p.DeleteSection(d.Section)
		}
		return s.Delete(d.Option)
	case OpRename:
		if s == nil {
			return false
		}
		if d.Option == "" {
			if p.Section(d.Value) != nil {
				return false
			}
			s.Name = d.Value
			return true
		}
		o := s.Option(d.Option)
		if o == nil {
			return false
		}
		s.Delete(d.Value)
		o.Name = d.Value
		return true
	case OpReorder:
		n, err := strconv.ParseUint(d.Value, 10, 31)
		if err != nil || s == nil {
			return false
		}
		return p.Reorder(d.Section, int(n))
	case OpListAdd:
		if s == nil {
			return false
		}
		s.AddList(d.Option, d.Value)
		return true
	case OpListDel:
		if s == nil {
			return false
		}
		s.DelList(d.Option, d.Value)
		return true
	}
	return false
}

// Diff returns the deltas that turn old into new, in an order that replays
// correctly: removed sections, then per section of new (in order) the type
// change or creation and the option changes. Section order changes are
// expressed with reorder deltas only where the relative order differs.
func Diff(old, new *Package) []Delta {
	var out []Delta
	for _, s := range old.Sections {
		if new.Section(s.Name) == nil {
			out = append(out, Delta{Op: OpRemove, Section: s.Name})
		}
	}
	for _, s := range new.Sections {
		os := old.Section(s.Name)
		if os == nil {
			op := OpChange
			if s.Anonymous {
				op = OpAdd
			}
			out = append(out, Delta{Op: op, Section: s.Name, Value: s.Type, HasValue: true})
			out = append(out, optionDeltas(&Section{Name: s.Name}, s)...)
			continue
		}
		if os.Type != s.Type {
			out = append(out, Delta{Section: s.Name, Value: s.Type, HasValue: true})
		}
		out = append(out, optionDeltas(os, s)...)
	}
	// section order
	replay := old.Clone()
	for _, d := range out {
		replay.Apply(d)
	}
	for i, s := range new.Sections {
		if i < len(replay.Sections) && replay.Sections[i].Name == s.Name {
			continue
		}
		d := Delta{Op: OpReorder, Section: s.Name, Value: strconv.Itoa(i), HasValue: true}
		replay.Apply(d)
		out = append(out, d)
	}
	return out
}

func optionDeltas(old, new *Section) []Delta {
	var out []Delta
	if !orderKept(old, new) {
		// rebuild the section's options so that the replayed order matches
		for _, o := range old.Options {
			out = append(out, Delta{Op: OpRemove, Section: new.Name, Option: o.Name})
		}
		old = &Section{Name: old.Name}
	}
	for _, o := range old.Options {
		if new.Option(o.Name) == nil {
			out = append(out, Delta{Op: OpRemove, Section: new.Name, Option: o.Name})
		}
	}
	for _, o := range new.Options {
		oo := old.Option(o.Name)
		if oo != nil && oo.IsList == o.IsList && slices.Equal(oo.Values, o.Values) {
			continue
		}
		if !o.IsList {
			out = append(out, Delta{Section: new.Name, Option: o.Name, Value: o.Value(), HasValue: true})
			continue
		}
		if oo != nil {
			out = append(out, Delta{Op: OpRemove, Section: new.Name, Option: o.Name})
		}
		for _, v := range o.Values {
			out = append(out, Delta{Op: OpListAdd, Section: new.Name, Option: o.Name, Value: v, HasValue: true})
		}
	}
	return out
}

// orderKept reports whether replaying option changes on old (existing options
// keep their place, new ones are appended) yields new's option order.
func orderKept(old, new *Section) bool {
	var order []string
	for _, o := range old.Options {
		if new.Option(o.Name) != nil {
			order = append(order, o.Name)
		}
	}
	for _, o := range new.Options {
		if old.Option(o.Name) == nil {
			order = append(order, o.Name)
		}
	}
	for i, o := range new.Options {
		if order[i] != o.Name {
			return false
		}
	}
	return true
}
