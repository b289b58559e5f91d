package grep

import (
	"io"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/spool"
)

// outSize is the output buffer's size: the reply spool's TakeSize, so
// that a spilling spool takes the buffer itself (compute.BufferTaker)
// rather than copying it into its own.
const outSize = spool.TakeSize

// outBuf is grep's output buffer, bufio.Writer's methods that grep uses.
// Unlike bufio.Writer, when its destination is a compute.BufferTaker a
// full buffer is handed over, and the buffer it gets back is filled next.
// After an error every write fails with it, and what was not written is
// dropped (grep's run ends at the error).
type outBuf struct {
	buf   []byte
	dst   io.Writer
	taker compute.BufferTaker // dst, when it takes buffers
	err   error
}

func newOutBuf() *outBuf { return &outBuf{buf: make([]byte, 0, outSize)} }

// reset makes dst the destination, dropping what is buffered.
func (w *outBuf) reset(dst io.Writer) {
	w.buf, w.dst, w.err = w.buf[:0], dst, nil
	w.taker, _ = dst.(compute.BufferTaker)
}

// Available returns the free bytes of the buffer.
func (w *outBuf) Available() int { return cap(w.buf) - len(w.buf) }

// AvailableBuffer returns the buffer's free space, empty, to append to
// and pass to Write.
func (w *outBuf) AvailableBuffer() []byte { return w.buf[len(w.buf):len(w.buf)] }

// Flush writes what is buffered.
func (w *outBuf) Flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	var n int
	var err error
	if w.taker != nil {
		var next []byte
		next, n, err = w.taker.TakeBuffer(w.buf)
		if cap(next) > 0 {
			w.buf = next[:0]
		}
	} else {
		n, err = w.dst.Write(w.buf)
	}
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
		return err
	}
	w.buf = w.buf[:0]
	return nil
}

// flushRead is the flush after each read of the input: what it selected
// goes on at once to a stage that reads it, or to the client once the
// reply spool is released. A destination that takes buffers and holds
// what it is written (the reply spool before its release) gets only full
// ones, until the last: it holds the reply until the input ends anyway,
// and its spill file is then written in whole buffers at offsets that are
// multiples of their size, whole pages (a part of a page written twice
// costs the file system a second pass over it).
func (w *outBuf) flushRead() error {
	if w.taker != nil && w.taker.Holding() {
		return w.err
	}
	return w.Flush()
}

// Write buffers p, writing the buffer each time it fills. A p at least
// as large as the buffer, with the buffer empty, is written as it is.
func (w *outBuf) Write(p []byte) (int, error) {
	nn := 0
	for len(p) > w.Available() && w.err == nil {
		var n int
		if len(w.buf) == 0 {
			n, w.err = w.dst.Write(p)
			if w.err == nil && n < len(p) {
				w.err = io.ErrShortWrite
			}
		} else {
			n = copy(w.buf[len(w.buf):cap(w.buf)], p)
			w.buf = w.buf[:len(w.buf)+n]
			w.Flush()
		}
		nn += n
		p = p[n:]
	}
	if w.err != nil {
		return nn, w.err
	}
	n := copy(w.buf[len(w.buf):cap(w.buf)], p)
	w.buf = w.buf[:len(w.buf)+n]
	return nn + n, nil
}

// WriteByte buffers c.
func (w *outBuf) WriteByte(c byte) error {
	if w.err != nil {
		return w.err
	}
	if w.Available() == 0 && w.Flush() != nil {
		return w.err
	}
	w.buf = append(w.buf, c)
	return nil
}

// WriteString buffers s.
func (w *outBuf) WriteString(s string) (int, error) {
	nn := 0
	for len(s) > w.Available() && w.err == nil {
		n := copy(w.buf[len(w.buf):cap(w.buf)], s)
		w.buf = w.buf[:len(w.buf)+n]
		nn += n
		s = s[n:]
		w.Flush()
	}
	if w.err != nil {
		return nn, w.err
	}
	n := copy(w.buf[len(w.buf):cap(w.buf)], s)
	w.buf = w.buf[:len(w.buf)+n]
	return nn + n, nil
}

// newOutBufTo returns an outBuf writing to dst.
func newOutBufTo(dst io.Writer) *outBuf {
	w := newOutBuf()
	w.reset(dst)
	return w
}
