package compute

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"sync"

	"github.com/zeebo/blake3"
	"github.com/zeebo/xxh3"
	"golang.org/x/crypto/blake2b"
)

// Algo is a digest algorithm the Digest RPC and the digest commands share.
type Algo struct {
	// Name is how requests name it, e.g. "sha256".
	Name string
	// Size is the digest length in bytes.
	Size int
	// New returns a fresh hash.
	New func() hash.Hash
}

var algos = []*Algo{
	{Name: "md5", Size: md5.Size, New: md5.New},
	{Name: "sha1", Size: sha1.Size, New: sha1.New},
	{Name: "sha224", Size: sha256.Size224, New: sha256.New224},
	{Name: "sha256", Size: sha256.Size, New: sha256.New},
	{Name: "sha384", Size: sha512.Size384, New: sha512.New384},
	{Name: "sha512", Size: sha512.Size, New: sha512.New},
	{Name: "blake2b", Size: blake2b.Size, New: func() hash.Hash { return newBlake2b(blake2b.Size) }},
	{Name: "blake3", Size: 32, New: func() hash.Hash { return blake3.New() }},
	{Name: "cksum", Size: 4, New: func() hash.Hash { return new(posixCRC) }},
	{Name: "crc32c", Size: 4, New: func() hash.Hash { return crc32.New(castagnoli) }},
	{Name: "xxh3", Size: 8, New: func() hash.Hash { return xxh3.New() }},
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// newBlake2b returns unkeyed BLAKE2b with a size-byte digest. The digest
// length is part of BLAKE2b's parameter block, so BLAKE2b-256 is not a
// truncated BLAKE2b-512 (b2sum -l 256 relies on this).
func newBlake2b(size int) hash.Hash {
	h, err := blake2b.New(size, nil)
	if err != nil {
		panic("compute: blake2b size " + itoa(int64(size))) // sizes are checked by callers
	}
	return h
}

// LookupAlgo returns the algorithm called name.
func LookupAlgo(name string) (*Algo, bool) {
	for _, a := range algos {
		if a.Name == name {
			return a, true
		}
	}
	return nil, false
}

// Algos returns every algorithm, in a stable order.
func Algos() []*Algo {
	return append([]*Algo(nil), algos...)
}

// multiHashParallelMin is the write size below which MultiHash hashes
// sequentially: starting goroutines costs more than it saves on small writes.
const multiHashParallelMin = 16 << 10

// MultiHash computes several digests in one pass over the data. With more
// than one algorithm, each large Write feeds the hashes in parallel; the
// goroutines live only for the duration of that Write, so a MultiHash holds
// no goroutines between calls and needs no Close.
type MultiHash struct {
	hashes []hash.Hash
	n      int64
}

// NewMultiHash returns a MultiHash over algos, in that order.
func NewMultiHash(algos []*Algo) *MultiHash {
	m := &MultiHash{hashes: make([]hash.Hash, len(algos))}
	for i, a := range algos {
		m.hashes[i] = a.New()
	}
	return m
}

// Write feeds p to every hash. It returns when all are done with p, so the
// caller may reuse p at once. It never fails.
func (m *MultiHash) Write(p []byte) (int, error) {
	m.n += int64(len(p))
	if len(m.hashes) < 2 || len(p) < multiHashParallelMin {
		for _, h := range m.hashes {
			h.Write(p)
		}
		return len(p), nil
	}
	var wg sync.WaitGroup
	for _, h := range m.hashes[1:] {
		wg.Go(func() { h.Write(p) })
	}
	m.hashes[0].Write(p)
	wg.Wait()
	return len(p), nil
}

// N returns the number of bytes written.
func (m *MultiHash) N() int64 { return m.n }

// Sums returns every digest, in the order of the algorithms given to
// NewMultiHash. It does not change the state.
func (m *MultiHash) Sums() [][]byte {
	out := make([][]byte, len(m.hashes))
	for i, h := range m.hashes {
		out[i] = h.Sum(nil)
	}
	return out
}

// posixCRC is the CRC of POSIX cksum: CRC-32 with polynomial 0x04C11DB7,
// most significant bit first, no initial value, over the data followed by
// its length (least significant byte first, only as many bytes as needed),
// complemented. Its Sum is the 4 bytes of that value, big-endian.
type posixCRC struct {
	crc uint32
	n   uint64
}

var crcTab = func() (t [8][256]uint32) {
	for i := range 256 {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[0][i] = c
	}
	for i := range 256 {
		for k := 1; k < 8; k++ {
			c := t[k-1][i]
			t[k][i] = c<<8 ^ t[0][c>>24]
		}
	}
	return t
}()

// crcUpdate is slicing-by-8 over the MSB-first table.
func crcUpdate(crc uint32, p []byte) uint32 {
	t := &crcTab
	for len(p) >= 8 {
		crc ^= binary.BigEndian.Uint32(p)
		crc = t[7][crc>>24] ^ t[6][crc>>16&0xff] ^ t[5][crc>>8&0xff] ^ t[4][crc&0xff] ^
			t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]]
		p = p[8:]
	}
	for _, b := range p {
		crc = crc<<8 ^ t[0][byte(crc>>24)^b]
	}
	return crc
}

func (c *posixCRC) Write(p []byte) (int, error) {
	c.crc = crcUpdate(c.crc, p)
	c.n += uint64(len(p))
	return len(p), nil
}

func (c *posixCRC) sum32() uint32 {
	crc := c.crc
	for n := c.n; n > 0; n >>= 8 {
		crc = crc<<8 ^ crcTab[0][byte(crc>>24)^byte(n)]
	}
	return ^crc
}

func (c *posixCRC) Sum(b []byte) []byte { return binary.BigEndian.AppendUint32(b, c.sum32()) }
func (c *posixCRC) Reset()              { *c = posixCRC{} }
func (c *posixCRC) Size() int           { return 4 }
func (c *posixCRC) BlockSize() int      { return 8 }
