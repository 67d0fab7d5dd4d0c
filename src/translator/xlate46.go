package translator

const scratchSize = 65536 + 2*Headroom

func (t *Translator) translate46(buf []byte, off, n int, meta Meta, sink Sink) (int, int, Verdict) {
	t.c.dropUnsupported.Add(1)
	return 0, 0, Drop
}
