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
// for lines that fit in it.
type lineReader struct {
	cmd  string
	br   *bufio.Reader
	long []byte // accumulates a line longer than the buffer
}

func newLineReader(cmd string, r io.Reader, size int) *lineReader {
	return &lineReader{cmd: cmd, br: bufio.NewReaderSize(r, size)}
}

// next returns the next line without its '\n', and whether it had one. The
// slice is valid until the following call. At the end it returns io.EOF;
// any other error is the reader's (an abort) or a line over compute.MaxLineBytes.
func (lr *lineReader) next() (line []byte, nl bool, err error) {
	b, err := lr.br.ReadSlice('\n')
	if err == nil {
		return b[:len(b)-1], true, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if err == io.EOF && len(b) > 0 {
			return b, false, nil
		}
		return nil, false, err
	}
	lr.long = append(lr.long[:0], b...)
	for {
		b, err = lr.br.ReadSlice('\n')
		if len(lr.long)+len(b) > compute.MaxLineBytes {
			return nil, false, compute.Exhaustedf("%s: line longer than %d bytes", lr.cmd, compute.MaxLineBytes)
		}
		lr.long = append(lr.long, b...)
		switch {
		case err == nil:
			return lr.long[:len(lr.long)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			return lr.long, false, nil
		default:
			return nil, false, err
		}
	}
}
