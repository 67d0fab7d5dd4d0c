package uci

import (
	"fmt"
	"strings"
)

// ParseError is a strict-mode parse error, as libuci reports it.
type ParseError struct {
	File string // file name or package name
	Line int    // 1-based line where the failing command starts or the error was found
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// lexer implements libuci's argument rules over the whole input.
type lexer struct {
	src  string
	pos  int
	line int
	file string
}

func (l *lexer) errf(format string, a ...any) error {
	return &ParseError{File: l.file, Line: l.line, Msg: fmt.Sprintf(format, a...)}
}

func (l *lexer) eof() bool { return l.pos >= len(l.src) }

func (l *lexer) peek() byte { return l.src[l.pos] }

// isBlank is isspace() without the newline, which ends a command.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

func (l *lexer) skipBlanks() {
	for !l.eof() && isBlank(l.peek()) {
		l.pos++
	}
}

// continuation consumes a newline (or CRLF) right after a backslash and
// reports whether there was one.
func (l *lexer) continuation() bool {
	if strings.HasPrefix(l.src[l.pos:], "\n") {
		l.pos++
		l.line++
		return true
	}
	if strings.HasPrefix(l.src[l.pos:], "\r\n") {
		l.pos += 2
		l.line++
		return true
	}
	return false
}

// arg reads one argument: concatenated pieces up to unquoted whitespace,
// ';', '#' (comment) or end of line. It returns "" when there is none.
func (l *lexer) arg() (string, error) {
	l.skipBlanks()
	var b strings.Builder
	for !l.eof() {
		c := l.peek()
		switch {
		case c == '\'':
			l.pos++
			end := strings.IndexByte(l.src[l.pos:], '\'')
			if end < 0 {
				return "", l.errf("EOF with unterminated '")
			}
			s := l.src[l.pos : l.pos+end]
			l.line += strings.Count(s, "\n")
			b.WriteString(s)
			l.pos += end + 1
		case c == '"':
			l.pos++
			for {
				if l.eof() {
					return "", l.errf("EOF with unterminated \"")
				}
				d := l.peek()
				if d == '"' {
					l.pos++
					break
				}
				if d == '\\' {
					l.pos++
					if l.eof() {
						return "", l.errf("EOF with unterminated \"")
					}
					if l.continuation() {
						continue
					}
					b.WriteByte(l.peek())
					l.pos++
					continue
				}
				if d == '\n' {
					l.line++
				}
				b.WriteByte(d)
				l.pos++
			}
		case c == '\\':
			l.pos++
			if l.eof() || l.continuation() {
				continue
			}
			b.WriteByte(l.peek())
			l.pos++
		case c == '#' || c == ';' || c == '\n' || isBlank(c):
			return b.String(), nil
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return b.String(), nil
}

// endCommand checks that no further argument follows and consumes the
// command terminator (comment, ';' or newline). It reports whether the
// terminator was ';' (another command follows on the same line).
func (l *lexer) endCommand() error {
	extra, err := l.arg()
	if err != nil {
		return err
	}
	if extra != "" {
		return l.errf("too many arguments")
	}
	// empty quoted arguments ('' '') are allowed, like libuci
	for !l.eof() {
		c := l.peek()
		switch {
		case c == ';':
			l.pos++
			return nil
		case c == '#':
			for !l.eof() && l.peek() != '\n' {
				l.pos++
			}
		case c == '\n':
			l.pos++
			l.line++
			return nil
		case isBlank(c):
			l.pos++
		default:
			extra, err := l.arg()
			if err != nil {
				return err
			}
			if extra != "" {
				return l.errf("too many arguments")
			}
		}
	}
	return nil
}

// Parse reads a UCI file in libuci's strict mode. name is the package name
// (the file name); file is used in error messages.
func Parse(name, file, content string) (*Package, error) {
	p := NewPackage(name)
	l := &lexer{src: content, line: 1, file: file}
	var cur *Section
	for {
		l.skipBlanks()
		if l.eof() {
			break
		}
		switch l.peek() {
		case '\n':
			l.pos++
			l.line++
			continue
		case ';':
			l.pos++
			continue
		case '#':
			for !l.eof() && l.peek() != '\n' {
				l.pos++
			}
			continue
		}
		line := l.line
		cmd, err := l.arg()
		if err != nil {
			return nil, err
		}
		errAt := func(format string, a ...any) error {
			return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, a...)}
		}
		switch cmd {
		case "":
			// e.g. a line of just '' — nothing to do
		case "package", "p":
			pkg, err := l.arg()
			if err != nil {
				return nil, err
			}
			if !ValidPackageName(pkg) {
				return nil, errAt("invalid package name %q", pkg)
			}
			// ignored when loading a config file (the file name is the package)
		case "config", "c":
			typ, err := l.arg()
			if err != nil {
				return nil, err
			}
			secName, err := l.arg()
			if err != nil {
				return nil, err
			}
			if typ == "" {
				return nil, errAt("insufficient arguments")
			}
			if !ValidType(typ) {
				return nil, errAt("invalid character in type field %q", typ)
			}
			if secName != "" && !ValidName(secName) {
				return nil, errAt("invalid character in name field %q", secName)
			}
			cur = nil
			if secName != "" {
				if s := p.Section(secName); s != nil {
					if s.Type != typ {
						return nil, errAt("section of different type overwrites prior section with same name %q", secName)
					}
					cur = s
				}
			}
			if cur == nil {
				cur = &Section{Type: typ, Name: secName, Anonymous: secName == ""}
				p.counter++
				p.Sections = append(p.Sections, cur)
				p.fixup(cur)
			}
		case "option", "o", "list", "l":
			opt, err := l.arg()
			if err != nil {
				return nil, err
			}
			val, err := l.arg()
			if err != nil {
				return nil, err
			}
			if cur == nil {
				return nil, errAt("option/list command found before the first section")
			}
			if opt == "" {
				return nil, errAt("insufficient arguments")
			}
			if !ValidName(opt) {
				return nil, errAt("invalid character in name field %q", opt)
			}
			if cmd[0] == 'o' {
				cur.Set(opt, val)
			} else {
				cur.AddList(opt, val)
			}
		default:
			return nil, errAt("invalid command %q", cmd)
		}
		if err := l.endCommand(); err != nil {
			return nil, err
		}
	}
	return p, nil
}
