package subcmd

import (
	"flag"
	"log/slog"
	"os"
)

// LogFlag is the one logging option of the subcommands that log: --debug.
// The logger it makes is passed down as the Logger field of a package's
// Options (nil there means slog.Default()), the one way the packages take
// a logger. Logging is log/slog (standard library) rather than logrus,
// which the design card names: nothing to vendor, a smaller binary.
type LogFlag struct{ debug bool }

// Register adds --debug to fs.
func (l *LogFlag) Register(fs *flag.FlagSet) {
	fs.BoolVar(&l.debug, "debug", false, "log debug messages")
}

// Logger returns a text logger on stderr at level info, or debug with
// --debug, with attrs (key, value pairs) on every line.
func (l *LogFlag) Logger(attrs ...any) *slog.Logger {
	level := slog.LevelInfo
	if l.debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With(attrs...)
}
