package text

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/halfclose/halfclose/compute"
)

// lineBufSize is the read buffer of a lineReader, at most.
const lineBufSize = 256 << 10

// smallBufSize is what a buffer that grows on demand starts with: a small
// job (a few KiB) then never pays for a buffer sized for a large one,
// which Go must zero, fault in and collect.
const smallBufSize = 4 << 10

// lineReader reads '\n'-terminated lines with one large buffer and no copy
// for lines that fit in it. A longer line is gathered in a buffer of its
// own, at most limit bytes: a line-oriented stage holds at most that, plus
// the buffer it grows from while it gathers (see growLine).
type lineReader struct {
	cmd   string
	br    *growReader
	limit int
	long  []byte // gathers a line longer than the buffer
	delim byte   // ends a line: '\n' (uniq -z: NUL)
}

func newLineReader(cmd string, r io.Reader, size, limit int) *lineReader {
	return &lineReader{cmd: cmd, br: newGrowReader(r, size), limit: limit, delim: '\n'}
}

// growReader is the part of a bufio.Reader a lineReader uses, ReadSlice,
// with a buffer that starts small and doubles, up to size, while reads
// fill it or a line does not fit: large inputs soon read in blocks of
// size, as with bufio.NewReaderSize(r, size), and a small one never
// allocates them. A line longer than size is bufio.ErrBufferFull, as there.
type growReader struct {
	rd   io.Reader
	buf  []byte
	r, w int // buf[r:w] is read and not yet returned
	size int // the most buf grows to
	err  error
	// filled: the last read filled all the room it was given (more is
	// coming faster than the buffer takes it)
	filled bool
}

func newGrowReader(rd io.Reader, size int) *growReader {
	return &growReader{rd: rd, size: max(size, 16)}
}

// ReadSlice is bufio.Reader's: the bytes up to and including the first
// delim, valid until the next call; bufio.ErrBufferFull and a full buffer
// when none is in size bytes; the bytes left and the reader's error at
// its end.
func (b *growReader) ReadSlice(delim byte) ([]byte, error) {
	searched := 0
	for {
		if i := bytes.IndexByte(b.buf[b.r+searched:b.w], delim); i >= 0 {
			line := b.buf[b.r : b.r+searched+i+1]
			b.r += searched + i + 1
			return line, nil
		}
		searched = b.w - b.r
		if b.err != nil {
			line := b.buf[b.r:b.w]
			b.r = b.w
			err := b.err
			if err != io.EOF {
				b.err = nil // as bufio: a reader's error is returned once
			}
			return line, err
		}
		if searched >= b.size {
			line := b.buf[b.r:b.w]
			b.r = b.w
			return line, bufio.ErrBufferFull
		}
		b.fill()
	}
}

// fill reads once into the buffer, after moving what is unread to its
// start, and doubles the buffer first when it is full or the last read
// filled all the room it was given.
func (b *growReader) fill() {
	if b.r > 0 {
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	if (b.w == len(b.buf) || b.filled) && len(b.buf) < b.size {
		nb := make([]byte, min(max(2*len(b.buf), smallBufSize), b.size))
		copy(nb, b.buf[:b.w])
		b.buf = nb
	}
	for range 100 {
		room := len(b.buf) - b.w
		n, err := b.rd.Read(b.buf[b.w:])
		if n < 0 || n > room {
			panic("text: reader returned a bad count")
		}
		b.w += n
		b.filled = n == room
		if err != nil {
			b.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	b.err = io.ErrNoProgress
}

// next returns the next line without its '\n', and whether it had one. The
// slice is valid until the following call. At the end it returns io.EOF;
// any other error is the reader's (an abort) or a line over the limit.
func (lr *lineReader) next() (line []byte, nl bool, err error) {
	b, err := lr.br.ReadSlice(lr.delim)
	if err == nil {
		if len(b)-1 > lr.limit {
			return nil, false, compute.LineTooLong(lr.cmd, lr.limit)
		}
		return b[:len(b)-1], true, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if err == io.EOF && len(b) > 0 {
			if len(b) > lr.limit {
				return nil, false, compute.LineTooLong(lr.cmd, lr.limit)
			}
			return b, false, nil
		}
		return nil, false, err
	}
	lr.long = lr.long[:0]
	for {
		// The '\n' is not part of the line: a line of exactly limit bytes
		// may need limit+1 here.
		if len(lr.long)+len(b) > lr.limit+1 || len(lr.long)+len(b) == lr.limit+1 && b[len(b)-1] != lr.delim {
			return nil, false, compute.LineTooLong(lr.cmd, lr.limit)
		}
		lr.long = growLine(lr.long, len(b), lr.limit+1)
		lr.long = append(lr.long, b...)
		switch {
		case err == nil:
			return lr.long[:len(lr.long)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
		case err == io.EOF:
			return lr.long, false, nil
		default:
			return nil, false, err
		}
		b, err = lr.br.ReadSlice(lr.delim)
	}
}

// takeLong hands the buffer of the line next returned last, when it was a
// long one, to the caller, who may keep it (sort holds it rather than copy
// it); the reader gathers the next long line in a new buffer. (lr.long may
// be empty with room, the buffer a caller gave back: then the line is not
// in it.)
func (lr *lineReader) takeLong(line []byte) ([]byte, bool) {
	if len(line) == 0 || len(lr.long) == 0 || &line[0] != &lr.long[0] {
		return nil, false
	}
	b := lr.long
	lr.long = nil
	return b[:len(line)], true
}

// growLine returns b with room for n more bytes, growing it by doubling
// but never past limit: a line buffer then holds at most limit bytes, and at
// most one and a half times that while it grows (old and new at once).
func growLine(b []byte, n, limit int) []byte {
	need := len(b) + n
	if need <= cap(b) {
		return b
	}
	c := min(max(2*cap(b), need, 4<<10), limit)
	nb := make([]byte, len(b), c)
	copy(nb, b)
	return nb
}
