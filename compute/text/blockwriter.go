package text

import (
	"io"
	"slices"
)

// blockWriter is a bufio.Writer-like buffer of filterBufSize that passes
// big writes straight through. The buffer starts small and doubles as
// writes fill it: a small output never allocates filterBufSize.
type blockWriter struct {
	w   io.Writer
	buf []byte
}

func newBlockWriter(w io.Writer) *blockWriter {
	return &blockWriter{w: w, buf: make([]byte, 0, smallBufSize)}
}

func (b *blockWriter) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > cap(b.buf) && cap(b.buf) < filterBufSize && len(p) < filterBufSize/2 {
		b.buf = slices.Grow(b.buf, min(max(2*cap(b.buf), len(b.buf)+len(p)), filterBufSize)-len(b.buf))
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.Flush(); err != nil {
			return 0, err
		}
		if len(p) >= filterBufSize/2 {
			return b.w.Write(p)
		}
		if len(p) > cap(b.buf) {
			b.buf = slices.Grow(b.buf, min(max(2*cap(b.buf), len(p)), filterBufSize))
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *blockWriter) Flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}
