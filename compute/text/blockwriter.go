package text

import (
	"io"
	"slices"
)

// blockWriter is a bufio.Writer-like buffer of size bytes that passes big
// writes straight through. The buffer starts small and doubles as writes
// fill it: a small output never allocates size. Its first write error is
// sticky, as bufio.Writer's: every later Write and Flush returns it.
type blockWriter struct {
	w    io.Writer
	buf  []byte
	size int
	err  error
}

func newBlockWriter(w io.Writer) *blockWriter { return newBlockWriterSize(w, filterBufSize) }

func newBlockWriterSize(w io.Writer, size int) *blockWriter {
	return &blockWriter{w: w, buf: make([]byte, 0, min(size, smallBufSize)), size: size}
}

func (b *blockWriter) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(b.buf)+len(p) > cap(b.buf) && cap(b.buf) < b.size && len(p) < b.size/2 {
		b.buf = slices.Grow(b.buf, min(max(2*cap(b.buf), len(b.buf)+len(p)), b.size)-len(b.buf))
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.Flush(); err != nil {
			return 0, err
		}
		if len(p) >= b.size/2 {
			n, err := b.w.Write(p)
			b.err = err
			return n, err
		}
		if len(p) > cap(b.buf) {
			b.buf = slices.Grow(b.buf, min(max(2*cap(b.buf), len(p)), b.size))
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// WriteByte writes c.
func (b *blockWriter) WriteByte(c byte) error {
	if len(b.buf) == cap(b.buf) {
		if cap(b.buf) < b.size {
			b.buf = slices.Grow(b.buf, min(2*cap(b.buf), b.size)-len(b.buf))
		} else if err := b.Flush(); err != nil {
			return err
		}
	}
	if b.err != nil {
		return b.err
	}
	b.buf = append(b.buf, c)
	return nil
}

func (b *blockWriter) Flush() error {
	if b.err != nil {
		return b.err
	}
	if len(b.buf) == 0 {
		return nil
	}
	_, b.err = b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return b.err
}
