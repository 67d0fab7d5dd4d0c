package uci

import "strings"

// quote writes a value in single quotes, each ' closed, escaped and reopened
// (libuci's uci_escape).
func quote(b *strings.Builder, s string) {
	b.WriteByte('\'')
	b.WriteString(strings.ReplaceAll(s, "'", `'\''`))
	b.WriteByte('\'')
}

// Marshal renders the package exactly as `uci commit` writes it.
func (p *Package) Marshal() []byte {
	var b strings.Builder
	for _, s := range p.Sections {
		b.WriteString("\nconfig ")
		if strings.ContainsAny(s.Type, "'\"\\#;") {
			// libuci writes the type unquoted, so such a type does not
			// survive a rewrite (openwrt/uci#23); quoting keeps it intact.
			quote(&b, s.Type)
		} else {
			b.WriteString(s.Type)
		}
		if !s.Anonymous {
			b.WriteByte(' ')
			quote(&b, s.Name)
		}
		b.WriteByte('\n')
		for _, o := range s.Options {
			if o.IsList {
				for _, v := range o.Values {
					b.WriteString("\tlist ")
					b.WriteString(o.Name)
					b.WriteByte(' ')
					quote(&b, v)
					b.WriteByte('\n')
				}
				continue
			}
			b.WriteString("\toption ")
			b.WriteString(o.Name)
			b.WriteByte(' ')
			quote(&b, o.Value())
			b.WriteByte('\n')
		}
	}
	b.WriteByte('\n')
	return []byte(b.String())
}

// Export renders the package as `uci export` does (with the package line).
func (p *Package) Export() []byte {
	return append([]byte("package "+p.Name+"\n"), p.Marshal()...)
}
