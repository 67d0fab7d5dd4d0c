package uci

import (
	"slices"
	"testing"
)

func TestMarshal(t *testing.T) {
	p := NewPackage("test")
	s, _ := p.SetSection("x", "t")
	s.Set("a", "it's")
	s.SetList("l", []string{"v", ""})
	a, _ := p.AddSection("anon")
	a.Set("b", "multi\nline")
	got := string(p.Marshal())
	want := "\nconfig t 'x'\n\toption a 'it'\\''s'\n\tlist l 'v'\n\tlist l ''\n\nconfig anon\n\toption b 'multi\nline'\n\n"
	if got != want {
		t.Errorf("Marshal:\n%q\nwant\n%q", got, want)
	}
	if got := string(NewPackage("e").Marshal()); got != "\n" {
		t.Errorf("empty package = %q", got)
	}
	if got := string(p.Export()); got[:13] != "package test\n" {
		t.Errorf("Export = %q", got)
	}
}

// Round trip: parse(marshal(parse(x))) == parse(x), and marshal is a fixed point.
func TestRoundTrip(t *testing.T) {
	inputs := []string{
		"config t 'x'\n\toption a 'it'\\''s'\n\tlist l 'v'\n\tlist l ''\n",
		"c t x\no a \"x\\\"y\"\nl l 'l1\nl2'\n\nconfig u\n\toption b 'ab'\"cd\"\n",
		"config interface 'loopback'\r\n\toption device 'lo'\r\n\toption proto 'static' # c\r\n\toption ipaddr '127.0.0.1'\r\n",
		"config t x\noption mul_line_opt_sq 'line 1\nline 2 \\\nline 3'\noption q \"\\\"Hello\\, \\\nWorld.\\'\n\"\n",
		"config 'a.b-c' x\n\toption v '#;\\ \"'\n",
		"config defaults\nconfig zone\noption name lan\nconfig zone\noption name wan\n",
	}
	for _, in := range inputs {
		p1, err := Parse("t", "t", in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		out1 := p1.Marshal()
		p2, err := Parse("t", "t", string(out1))
		if err != nil {
			t.Fatalf("reparse %q: %v", out1, err)
		}
		if !equalModel(p1, p2) {
			t.Errorf("round trip changed the model for %q:\n%q", in, out1)
		}
		if out2 := p2.Marshal(); string(out2) != string(out1) {
			t.Errorf("Marshal not a fixed point:\n%q\n%q", out1, out2)
		}
	}
}

func equalModel(a, b *Package) bool {
	if len(a.Sections) != len(b.Sections) {
		return false
	}
	for i := range a.Sections {
		x, y := a.Sections[i], b.Sections[i]
		if x.Type != y.Type || x.Name != y.Name || x.Anonymous != y.Anonymous || len(x.Options) != len(y.Options) {
			return false
		}
		for j := range x.Options {
			if x.Options[j].Name != y.Options[j].Name || x.Options[j].IsList != y.Options[j].IsList || !slices.Equal(x.Options[j].Values, y.Options[j].Values) {
				return false
			}
		}
	}
	return true
}

func FuzzParse(f *testing.F) {
	f.Add("config t 'x'\n\toption a 'it'\\''s'\n\tlist l ''\n")
	f.Add("c t x; o a \"b\\\nc\" # d\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := Parse("t", "t", in)
		if err != nil {
			return
		}
		out := p.Marshal()
		p2, err := Parse("t", "t", string(out))
		if err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, out)
		}
		if string(p2.Marshal()) != string(out) {
			t.Fatalf("not a fixed point: %q", out)
		}
	})
}

// libuci's own export vectors (tests/shunit2/references/export.*).
func TestExportVectors(t *testing.T) {
	in := "config t 'x'\n\toption mul_line_opt_sq 'line 1\nline 2 \\\nline 3'\n" +
		"\toption mul_line_opt_dq \"\\\"Hello\\, \\\nWorld.\\'\n\"\n"
	p, err := Parse("t", "t", in)
	if err != nil {
		t.Fatal(err)
	}
	want := "\nconfig t 'x'\n\toption mul_line_opt_sq 'line 1\nline 2 \\\nline 3'\n" +
		"\toption mul_line_opt_dq '\"Hello, World.'\\''\n'\n\n"
	if got := string(p.Marshal()); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func FuzzParseDeltas(f *testing.F) {
	f.Add("p.s=t\np.s.o='v'\n+p.cfg01abcd=t\n-p.s.o\n|p.s.l='a'\n~p.s.l='a'\n@p.s=r\n^p.r=0\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, _ := Parse("p", "p", "config t s\n\toption o v\nconfig u\n")
		for _, d := range ParseDeltas("p", in) {
			p.Apply(d)
			// every parsed delta renders to a line that parses back to it
			back := ParseDeltas("p", d.Line("p")+"\n")
			if len(back) != 1 || back[0] != d {
				t.Fatalf("delta %+v renders as %q, parses back as %+v", d, d.Line("p"), back)
			}
		}
		if _, err := Parse("p", "p", string(p.Marshal())); err != nil {
			t.Fatalf("applied deltas give an unparsable file: %v", err)
		}
	})
}
