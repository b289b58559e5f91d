package digest

import (
	"hash"
	"io"

	lblake3 "lukechampine.com/blake3"
)

// b3parBlock is what parallelBlake3 gathers before hashing: lukechampine's
// BLAKE3 hashes a large write as a tree whose 16-chunk subtrees (16 KiB,
// AVX-512/AVX2 across chunks) run on every core; small writes (a gRPC
// frame is 16 KiB) would each be one subtree on one core.
const b3parBlock = 1 << 20

// parallelBlake3 is BLAKE3 (default mode, 32-byte digest, extendable
// output) that uses every core on large inputs. Writes are gathered into
// 1 MiB blocks (at most that much held per hash).
type parallelBlake3 struct {
	h   *lblake3.Hasher
	buf []byte
}

func newParallelBlake3() *parallelBlake3 {
	return &parallelBlake3{h: lblake3.New(32, nil)}
}

func (p *parallelBlake3) Write(b []byte) (int, error) {
	n := len(b)
	if len(p.buf) == 0 && len(b) >= b3parBlock {
		// Whole blocks straight from the caller.
		k := len(b) - len(b)%b3parBlock
		p.h.Write(b[:k])
		b = b[k:]
	}
	for len(b) > 0 {
		if p.buf == nil {
			p.buf = make([]byte, 0, b3parBlock)
		}
		k := min(len(b), b3parBlock-len(p.buf))
		p.buf = append(p.buf, b[:k]...)
		b = b[k:]
		if len(p.buf) == b3parBlock {
			p.h.Write(p.buf)
			p.buf = p.buf[:0]
		}
	}
	return n, nil
}

// flushed is the hasher with every byte written.
func (p *parallelBlake3) flushed() *lblake3.Hasher {
	if len(p.buf) > 0 {
		p.h.Write(p.buf)
		p.buf = p.buf[:0]
	}
	return p.h
}

func (p *parallelBlake3) Sum(b []byte) []byte { return p.flushed().Sum(b) }
func (p *parallelBlake3) Reset()              { p.h.Reset(); p.buf = p.buf[:0] }
func (p *parallelBlake3) Size() int           { return 32 }
func (p *parallelBlake3) BlockSize() int      { return 64 }

// XOF reads the extendable output.
func (p *parallelBlake3) XOF() io.Reader { return p.flushed().XOF() }

var _ hash.Hash = (*parallelBlake3)(nil)
