package text

import (
	"context"
	"io"
)

// filterBufSize is the block size of the streaming filters: what they read
// at a time and what a blockWriter gathers before it writes.
const filterBufSize = 128 << 10

// eachBlock reads r into buf until r's io.EOF and hands fn every block it
// reads — data read along with an error first, as io.Reader asks — and
// checks ctx between blocks. It returns nil at io.EOF, else the first error
// of r, fn or ctx. It is the read loop of the streaming filters.
func eachBlock(ctx context.Context, r io.Reader, buf []byte, fn func(b []byte) error) error {
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if ferr := fn(buf[:n]); ferr != nil {
				return ferr
			}
		}
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

// writeAll writes b to w when b is not empty.
func writeAll(w io.Writer, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := w.Write(b)
	return err
}
