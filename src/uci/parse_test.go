package uci

import (
	"reflect"
	"strings"
	"testing"
)

// opt is a compact expected option: list items or a string value.
type opt struct {
	list bool
	vals []string
}

func str(v string) opt       { return opt{vals: []string{v}} }
func lst(v ...string) opt    { return opt{list: true, vals: v} }
func sec(typ string) section { return section{typ: typ} }

type section struct {
	typ  string
	opts map[string]opt
}

func (s section) with(kv ...any) section {
	s.opts = map[string]opt{}
	for i := 0; i < len(kv); i += 2 {
		s.opts[kv[i].(string)] = kv[i+1].(opt)
	}
	return s
}

func modelOf(p *Package) map[string]section {
	m := map[string]section{}
	for _, s := range p.Sections {
		ss := section{typ: s.Type, opts: map[string]opt{}}
		for _, o := range s.Options {
			ss.opts[o.Name] = opt{list: o.IsList, vals: o.Values}
		}
		m[s.Name] = ss
	}
	return m
}

// The vectors of uci.md §7 (libuci's behaviour).
func TestParseVectors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]section
	}{
		{"1 basic", "config t 'x'\n\toption a 'b'\n", map[string]section{"x": sec("t").with("a", str("b"))}},
		{"2 short forms", "c t x\no a b\nl l1 v\n", map[string]section{"x": sec("t").with("a", str("b"), "l1", lst("v"))}},
		{"3 trailing comment", "config t x\noption a b # c\n", map[string]section{"x": sec("t").with("a", str("b"))}},
		{"4 hash mid-word", "config t x\noption a b#c\n", map[string]section{"x": sec("t").with("a", str("b"))}},
		{"5 hash quoted", "config t x\noption a 'b#c'\n", map[string]section{"x": sec("t").with("a", str("b#c"))}},
		{"6 empty option", "config t x\noption a ''\noption b\n", map[string]section{"x": sec("t").with()}},
		{"6b empty deletes", "config t x\noption a 'v'\noption a ''\n", map[string]section{"x": sec("t").with()}},
		{"7 empty list item", "config t x\nlist a ''\n", map[string]section{"x": sec("t").with("a", lst(""))}},
		{"8 quote escape", "config t x\noption a 'it'\\''s'\n", map[string]section{"x": sec("t").with("a", str("it's"))}},
		{"9 concatenation", "config t x\noption a 'ab'\"cd\"\n", map[string]section{"x": sec("t").with("a", str("abcd"))}},
		{"10 dq escape", "config t x\noption a \"x\\\"y\"\n", map[string]section{"x": sec("t").with("a", str(`x"y`))}},
		{"11 dq no C escapes", "config t x\noption a \"x\\ny\"\n", map[string]section{"x": sec("t").with("a", str("xny"))}},
		{"12 sq backslash literal", "config t x\noption a 'x\\ny'\n", map[string]section{"x": sec("t").with("a", str(`x\ny`))}},
		{"13 sq multi-line", "config t x\noption a 'l1\nl2'\n", map[string]section{"x": sec("t").with("a", str("l1\nl2"))}},
		{"14 dq continuation", "config t x\noption a \"l1\\\nl2\"\n", map[string]section{"x": sec("t").with("a", str("l1l2"))}},
		{"14b dq continuation crlf", "config t x\r\noption a \"l1\\\r\nl2\"\r\n", map[string]section{"x": sec("t").with("a", str("l1l2"))}},
		{"14c dq bare newline kept", "config t x\noption a \"l1\nl2\"\n", map[string]section{"x": sec("t").with("a", str("l1\nl2"))}},
		{"15 unquoted continuation", "config t x\noption a x\\\ny\n", map[string]section{"x": sec("t").with("a", str("xy"))}},
		{"16 quoted names", "config 'type' 'name'\n\toption 'opt' 'v'\n", map[string]section{"name": sec("type").with("opt", str("v"))}},
		{"17 semicolon", "config t 'x'; option a b\n", map[string]section{"x": sec("t").with("a", str("b"))}},
		{"17b semicolons", "config t x;option a b;option c d # e;f\n", map[string]section{"x": sec("t").with("a", str("b"), "c", str("d"))}},
		{"18 package line", "package network\n\nconfig t x\n", map[string]section{"x": sec("t").with()}},
		{"19 crlf", "config t 'x'\r\n\toption a 'b'\r\n", map[string]section{"x": sec("t").with("a", str("b"))}},
		{"20 no final newline", "config t x\noption a b", map[string]section{"x": sec("t").with("a", str("b"))}},
		{"21 duplicate list items", "config t x\nlist a 'v'\nlist a 'v'\n", map[string]section{"x": sec("t").with("a", lst("v", "v"))}},
		{"22 option then list", "config t x\noption a 'v'\nlist a 'w'\n", map[string]section{"x": sec("t").with("a", lst("v", "w"))}},
		{"23 list then option", "config t x\nlist a 'v'\noption a 'w'\n", map[string]section{"x": sec("t").with("a", str("w"))}},
		{"24 merge named", "config t 'x'\noption a 1\nconfig t 'x'\noption b 2\n", map[string]section{"x": sec("t").with("a", str("1"), "b", str("2"))}},
		{"repeated option", "config t x\noption a 1\noption a 2\n", map[string]section{"x": sec("t").with("a", str("2"))}},
		{"comments and blanks", "# head\n\n  # indented\nconfig t x # c\n\toption a b\n", map[string]section{"x": sec("t").with("a", str("b"))}},
		{"leading escaped quote", "config t x\noption a \\'b\n", map[string]section{"x": sec("t").with("a", str("'b"))}},
		{"export.data sq", "config t x\noption mul_line_opt_sq 'line 1\nline 2 \\\nline 3'\n", map[string]section{"x": sec("t").with("mul_line_opt_sq", str("line 1\nline 2 \\\nline 3"))}},
		{"export.data dq", "config t x\noption mul_line_opt_dq \"\\\"Hello\\, \\\nWorld.\\'\n\"\n", map[string]section{"x": sec("t").with("mul_line_opt_dq", str("\"Hello, World.'\n"))}},
		{"type with punctuation", "config 'a.b-c' x\n", map[string]section{"x": sec("a.b-c").with()}},
		{"empty trailing arg ok", "config t x ''\n", map[string]section{"x": sec("t").with()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("test", "test", tc.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := modelOf(p)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"25 type conflict", "config t 'x'\nconfig u 'x'\n", "test:2: section of different type"},
		{"26 hyphen in section", "config t 'foo-bar'\n", "test:1: invalid character in name field"},
		{"26b hyphen in option", "config t x\noption foo-bar v\n", "test:2: invalid character in name field"},
		{"27 too many", "config t x\noption a b c\n", "test:2: too many arguments"},
		{"27b config too many", "config t x y\n", "test:1: too many arguments"},
		{"28 option first", "option a b\n", "test:1: option/list command found before the first section"},
		{"28b list first", "\n\nlist a b\n", "test:3: option/list command found before the first section"},
		{"29 unterminated sq", "config t x\noption a 'b\n", "EOF with unterminated '"},
		{"unterminated dq", "config t x\noption a \"b\n", "EOF with unterminated \""},
		{"invalid command", "config t x\nfoo a b\n", "test:2: invalid command"},
		{"missing type", "config\n", "test:1: insufficient arguments"},
		{"missing option name", "config t x\noption\n", "test:2: insufficient arguments"},
		{"line after multi-line", "config t x\noption a 'l1\nl2'\noption b c d\n", "test:4: too many arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test", "test", tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
}

// Vector 30 and the anonymous section names (libuci: counter + type hash).
func TestAnonymousSections(t *testing.T) {
	in := "config defaults\n\toption syn_flood '1'\n\nconfig zone\n\toption name 'lan'\n\nconfig zone ''\n\toption name 'wan'\n\nconfig rule 'named'\n\nconfig include\n"
	p, err := Parse("firewall", "firewall", in)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, s := range p.Sections {
		names = append(names, s.Name)
	}
	want := []string{"cfg01e63d", "cfg02dc81", "cfg03dc81", "named", "cfg05af89"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
	lookups := map[string]string{
		"@zone[0]": "cfg02dc81", "@zone[1]": "cfg03dc81", "@zone[-1]": "cfg03dc81", "@zone[-2]": "cfg02dc81",
		"@[0]": "cfg01e63d", "@[3]": "named", "@[-1]": "cfg05af89", "@rule[0]": "named", "cfg03dc81": "cfg03dc81",
	}
	for ref, want := range lookups {
		s := p.Section(ref)
		if s == nil || s.Name != want {
			t.Errorf("Section(%q) = %v, want %s", ref, s, want)
		}
	}
	for _, bad := range []string{"@zone[2]", "@zone[-3]", "@zone", "@zone[x]", "nosuch", "@zone[0]x"} {
		if s := p.Section(bad); s != nil {
			t.Errorf("Section(%q) = %s, want nil", bad, s.Name)
		}
	}
	if v, ok := p.Get("@zone[1]", "name"); !ok || v != "wan" {
		t.Errorf("Get(@zone[1].name) = %q %v", v, ok)
	}
	s, _ := p.AddSection("forwarding")
	if !strings.HasPrefix(s.Name, "cfg06") || len(s.Name) != 9 {
		t.Errorf("AddSection name = %s", s.Name)
	}
}
