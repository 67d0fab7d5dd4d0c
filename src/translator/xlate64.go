package translator

func (t *Translator) translate64(buf []byte, off, n int, meta Meta, sink Sink) (int, int, Verdict) {
	t.c.dropUnsupported.Add(1)
	return 0, 0, Drop
}
