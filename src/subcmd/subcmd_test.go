package subcmd

import (
	"context"
	"flag"
	"log/slog"
	"testing"
)

func TestDispatch(t *testing.T) {
	var got []string
	cmds := []Command{{Name: "run", Help: "run it", Run: func(a []string) int { got = a; return 7 }}}
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"run", "--root", "/x"}, 7},
		{nil, 2},
		{[]string{"nope"}, 2},
		{[]string{"--help"}, 0},
	}
	for _, tc := range tests {
		if code := Dispatch("prog", cmds, tc.args); code != tc.want {
			t.Errorf("Dispatch(%q) = %d, want %d", tc.args, code, tc.want)
		}
	}
	if len(got) != 2 || got[0] != "--root" {
		t.Errorf("run got args %q", got)
	}
}

func TestLogFlag(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		debug bool
	}{{nil, false}, {[]string{"--debug"}, true}} {
		var lf LogFlag
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		lf.Register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := lf.Logger("daemon", "x").Enabled(context.Background(), slog.LevelDebug); got != tc.debug {
			t.Errorf("%q: debug enabled = %v", tc.args, got)
		}
	}
}
