package digest

import (
	"hash"
	"sync"
)

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
