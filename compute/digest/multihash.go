package digest

import (
	"hash"
	"sync"
	"sync/atomic"

	"github.com/halfclose/halfclose/compute"
)

// multiHashParallelMin is the input below which MultiHash hashes
// sequentially, in the caller's goroutine: an input that fits in one
// block costs no goroutine and no wait.
const multiHashParallelMin = mhBlockSize

const (
	// mhBlockSize is the unit MultiHash hands its hashes: large, so that
	// the hashes meet rarely (once per block, not once per 16 KiB frame).
	mhBlockSize = 512 << 10
	// mhBlocks bounds what a MultiHash holds: the slowest hash may lag
	// the fastest by this many blocks (2 MiB).
	mhBlocks = 4
)

// MultiHash computes several digests in one pass over the data. With more
// than one algorithm, the input is copied into blocks that every hash
// reads concurrently, each in a goroutine of its own and at its own pace:
// the slowest hash sets the pace, and the others run beside it. The
// blocks are shared read-only and bounded (mhBlocks): a block goes back
// to the free list once every hash is done with it. Close ends the
// goroutines; until the input passes one block, there are none.
type MultiHash struct {
	hashes []hash.Hash
	n      int64

	cur     *mhBlock        // being filled by Write
	free    chan *mhBlock   // blocks no hash is reading
	work    []chan *mhBlock // per hash: the blocks to hash, in order
	wg      sync.WaitGroup  // the hash goroutines
	started bool            // the goroutines run
	made    int             // blocks allocated (≤ mhBlocks)
	// fault is the first panic of a hash goroutine: that hash is then
	// skipped (its blocks still go back), and the owner's next Write,
	// Sums or Close panics with it on its own goroutine.
	fault  atomic.Pointer[compute.HelperPanic]
	raised bool // the owner panicked with fault: Close does not again
}

type mhBlock struct {
	buf  []byte
	left atomic.Int32 // hashes still to read buf
}

var mhSerialBlake3 = true

// NewMultiHash returns a MultiHash over algos, in that order.
func NewMultiHash(algos []*Algo) *MultiHash {
	m := &MultiHash{hashes: make([]hash.Hash, len(algos))}
	for i, a := range algos {
		m.hashes[i] = a.New()
		if p, ok := m.hashes[i].(*parallelBlake3); ok && len(algos) > 1 && mhSerialBlake3 {
			// The other hashes' goroutines keep the cores busy: helpers
			// would only take turns with them, at a cost.
			p.serial = true
		}
	}
	return m
}

// Write feeds p to every hash. It never fails, and keeps no reference to
// p (the caller may reuse it at once).
func (m *MultiHash) Write(p []byte) (int, error) {
	m.n += int64(len(p))
	if len(m.hashes) < 2 {
		for _, h := range m.hashes {
			h.Write(p)
		}
		return len(p), nil
	}
	total := len(p)
	for len(p) > 0 {
		if m.cur == nil {
			m.cur = m.block()
		}
		k := min(len(p), mhBlockSize-len(m.cur.buf))
		m.cur.buf = append(m.cur.buf, p[:k]...)
		p = p[k:]
		if len(m.cur.buf) == mhBlockSize {
			m.dispatch()
			m.check()
		}
	}
	return total, nil
}

// block returns a free block, waiting for one when all are being read.
func (m *MultiHash) block() *mhBlock {
	if m.made < mhBlocks {
		select {
		case b := <-m.free:
			return b
		default:
		}
		m.made++
		return &mhBlock{buf: make([]byte, 0, mhBlockSize)}
	}
	return <-m.free
}

// dispatch hands the current block to every hash.
func (m *MultiHash) dispatch() {
	if !m.started {
		m.started = true
		m.free = make(chan *mhBlock, mhBlocks)
		m.work = make([]chan *mhBlock, len(m.hashes))
		for i, h := range m.hashes {
			ch := make(chan *mhBlock, mhBlocks)
			m.work[i] = ch
			m.wg.Go(func() {
				ok := true
				for b := range ch {
					if ok {
						ok = m.hash(h, b.buf)
					}
					if b.left.Add(-1) == 0 {
						b.buf = b.buf[:0]
						m.free <- b
					}
				}
			})
		}
	}
	b := m.cur
	m.cur = nil
	b.left.Store(int32(len(m.hashes)))
	for _, ch := range m.work {
		ch <- b
	}
}

// hash writes p to h on h's goroutine, and reports whether h did not
// panic (a panic is recorded in fault: it must not end the process).
func (m *MultiHash) hash(h hash.Hash, p []byte) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			m.fault.CompareAndSwap(nil, compute.NewHelperPanic(v))
			ok = false
		}
	}()
	h.Write(p)
	return true
}

// check panics with a hash goroutine's panic on the owner's goroutine
// (again at each call: no sums ever come from a hash that skipped blocks).
func (m *MultiHash) check() {
	if p := m.fault.Load(); p != nil {
		m.raised = true
		panic(p)
	}
}

// flush makes every hash have read all that was written.
func (m *MultiHash) flush() {
	if m.cur != nil && len(m.cur.buf) > 0 {
		if !m.started {
			for _, h := range m.hashes {
				h.Write(m.cur.buf)
			}
			m.cur.buf = m.cur.buf[:0]
		} else {
			m.dispatch()
		}
	}
	if !m.started {
		return
	}
	if m.cur != nil {
		m.free <- m.cur
		m.cur = nil
	}
	// Every block made is back once every hash is done.
	held := make([]*mhBlock, 0, m.made)
	for len(held) < m.made {
		held = append(held, <-m.free)
	}
	for _, b := range held {
		m.free <- b
	}
}

// N returns the number of bytes written.
func (m *MultiHash) N() int64 { return m.n }

// Sums returns every digest, in the order of the algorithms given to
// NewMultiHash. It does not change the state: more may be written after.
func (m *MultiHash) Sums() [][]byte {
	m.flush()
	m.check()
	out := make([][]byte, len(m.hashes))
	for i, h := range m.hashes {
		out[i] = h.Sum(nil)
	}
	return out
}

// Close ends the hash goroutines, after they have read what was
// dispatched. The MultiHash may not be written after. A hash's panic that
// no Write or Sums raised (the input failed first) is raised here, so
// that the job's recover logs it rather than nothing.
func (m *MultiHash) Close() {
	if !m.started {
		return
	}
	for _, ch := range m.work {
		close(ch)
	}
	m.wg.Wait()
	m.started = false
	m.work = nil
	if !m.raised {
		m.check()
	}
}
