package text

import (
	"bufio"
	"errors"
	"io"

	"github.com/halfclose/halfclose/compute"
)

// lineBufSize is the read buffer of a lineReader.
const lineBufSize = 256 << 10

// lineReader reads '\n'-terminated lines with one large buffer and no copy
// for lines that fit in it. A longer line is gathered in a buffer of its
// own, at most limit bytes: a line-oriented stage holds at most that, plus
// the buffer it grows from while it gathers (see growLine).
type lineReader struct {
	cmd   string
	br    *bufio.Reader
	limit int
	long  []byte // gathers a line longer than the buffer
	delim byte   // ends a line: '\n' (uniq -z: NUL)
}

func newLineReader(cmd string, r io.Reader, size, limit int) *lineReader {
	return &lineReader{cmd: cmd, br: bufio.NewReaderSize(r, size), limit: limit, delim: '\n'}
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
