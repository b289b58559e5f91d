package text

import (
	"context"
	"io"
)

// filterBufSize is the block size of the streaming filters: what they read
// at a time and what a blockWriter gathers before it writes.
const filterBufSize = 128 << 10

// eachBlock reads r until r's io.EOF, in blocks of at most size bytes
// (growBuf's buffer), and hands fn every block it reads — data read along
// with an error first, as io.Reader asks — and checks ctx between blocks.
// It returns nil at io.EOF, else the first error of r, fn or ctx. It is the
// read loop of the streaming filters. fn may change the block, and must
// not keep it.
func eachBlock(ctx context.Context, r io.Reader, size int, fn func(b []byte) error) error {
	buf := newGrowBuf(size)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if ferr := fn(buf[:n]); ferr != nil {
				return ferr
			}
		}
		buf = growBuf(buf, n, size)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// newGrowBuf is the first read buffer of growBuf's: small.
func newGrowBuf(size int) []byte {
	return make([]byte, min(size, smallBufSize))
}

// growBuf returns the buffer for the next read after one of n bytes into
// buf: twice as large, up to size, when that read filled it (the input
// comes faster than the buffer takes it), else buf. A large input is soon
// read in blocks of size; a small one never allocates them. The old buffer
// is not reused, so what still refers to it keeps its bytes.
func growBuf(buf []byte, n, size int) []byte {
	if n < len(buf) || len(buf) >= size {
		return buf
	}
	return make([]byte, min(2*len(buf), size))
}

// writeAll writes b to w when b is not empty.
func writeAll(w io.Writer, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := w.Write(b)
	return err
}
