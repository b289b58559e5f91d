package text

import (
	"bytes"
	"io"
	"os"

	"github.com/halfclose/halfclose/compute"
)

// chunkQueue is a FIFO of bytes bounded in memory: the newest chunks stay in
// memory up to the spool's MemBytes, older ones spill to unlinked segment
// files charged to the disk budget. Chunks can be dropped from the front,
// and a segment's disk space is given back once all its chunks are gone. It
// also counts line terminators per chunk for head and tail.
type chunkQueue struct {
	cfg       compute.SpoolConfig
	chunkSize int
	segSize   int64
	memLimit  int64

	chunks  []*qchunk
	head    int   // index of the first live chunk in chunks
	memUsed int64 // bytes of capacity held by in-memory chunks
	total   int64 // bytes in live chunks
	base    int64 // logical offset of the first live chunk
	seg     *qsegment
	scratch []byte
	eol     byte // the terminator counted in qchunk.lines
	lines   int64
	free    []byte // one recycled chunk buffer
	// nextSize is the size of the next new chunk: the first is small and
	// each doubles up to chunkSize, so a small input holds a few KiB.
	nextSize int
	segs     []*qsegment // every segment, for Close
	offs     []int64     // cached offsets of live chunks, for locate
}

// queueReadSize is the buffer spilled bytes are read back through, in
// pieces: a spilled chunk may be as long as its segment (spillOver merges
// the chunks it spills one after another into one), so no read takes a
// whole chunk.
const queueReadSize = 128 << 10

type qchunk struct {
	mem   []byte    // the bytes, while in memory
	seg   *qsegment // where they are, once spilled
	off   int64     // offset in seg
	n     int       // length
	lines int64     // terminators in the chunk
}

type qsegment struct {
	f    *os.File
	size int64 // bytes written (and reserved)
	live int   // chunks not yet dropped
}

func newChunkQueue(cfg compute.SpoolConfig) *chunkQueue {
	mem := cfg.Mem()
	cs := int64(128 << 10)
	if mem/4 < cs {
		cs = max(mem/4, 16)
	}
	// A segment is a file: at least 8 MiB, so that a long input spills
	// into few of them, whatever --spool-mem is (the fds and the index
	// grow with the spilled bytes over the segment size).
	seg := min(max(mem*4, 8<<20), 64<<20)
	return &chunkQueue{cfg: cfg, chunkSize: int(cs), segSize: seg, memLimit: mem, eol: '\n', nextSize: int(min(cs, smallBufSize))}
}

// Len returns the bytes in the queue.
func (q *chunkQueue) Len() int64 { return q.total }

// Lines returns the terminators in the queue.
func (q *chunkQueue) Lines() int64 { return q.lines }

// live returns the live chunks.
func (q *chunkQueue) live() []*qchunk { return q.chunks[q.head:] }

// tail returns the last chunk if it is in memory and has room.
func (q *chunkQueue) tailRoom() *qchunk {
	if n := len(q.chunks); n > q.head {
		c := q.chunks[n-1]
		if c.mem != nil && c.n < len(c.mem) {
			return c
		}
	}
	c := &qchunk{}
	if q.free != nil {
		c.mem, q.free = q.free, nil
	} else {
		c.mem = make([]byte, q.nextSize)
		q.nextSize = min(2*q.nextSize, q.chunkSize)
	}
	q.memUsed += int64(len(c.mem))
	q.chunks = append(q.chunks, c)
	q.offs = q.offs[:0]
	return c
}

// ReadOnce does one Read from r into the queue. It returns io.EOF at the
// end of r, and spills if memory is over budget.
func (q *chunkQueue) ReadOnce(r io.Reader) (int, error) {
	c := q.tailRoom()
	n, err := r.Read(c.mem[c.n:])
	if n > 0 {
		c.lines += int64(bytes.Count(c.mem[c.n:c.n+n], []byte{q.eol}))
		q.lines += int64(bytes.Count(c.mem[c.n:c.n+n], []byte{q.eol}))
		c.n += n
		q.total += int64(n)
		if serr := q.spillOver(); serr != nil {
			return n, serr
		}
	}
	if n == 0 && err == nil && c.n == 0 {
		return 0, nil
	}
	return n, err
}

// Write appends p.
func (q *chunkQueue) Write(p []byte) error {
	for len(p) > 0 {
		c := q.tailRoom()
		k := copy(c.mem[c.n:], p)
		l := int64(bytes.Count(p[:k], []byte{q.eol}))
		c.lines += l
		q.lines += l
		c.n += k
		q.total += int64(k)
		p = p[k:]
		if err := q.spillOver(); err != nil {
			return err
		}
	}
	return nil
}

// spillOver moves the oldest full in-memory chunks to disk while memory is
// over budget.
func (q *chunkQueue) spillOver() error {
	for q.memUsed > q.memLimit {
		var c *qchunk
		ci := -1
		for i, x := range q.live() {
			if x.mem != nil {
				c, ci = x, q.head+i
				break
			}
		}
		if c == nil || c == q.chunks[len(q.chunks)-1] {
			return nil // only the chunk being filled is in memory
		}
		if q.seg == nil || q.seg.size+int64(c.n) > q.segSize {
			f, err := q.cfg.TempFile()
			if err != nil {
				return err
			}
			if q.seg != nil && q.seg.live == 0 {
				q.closeSeg(q.seg)
			}
			q.seg = &qsegment{f: f}
			q.segs = append(q.segs, q.seg)
		}
		if err := q.cfg.Budget().Reserve(int64(c.n)); err != nil {
			return err
		}
		s := q.seg
		if _, err := s.f.WriteAt(c.mem[:c.n], s.size); err != nil {
			q.cfg.Budget().Release(int64(c.n))
			return compute.SpoolError("write failed", err)
		}
		q.memUsed -= int64(len(c.mem))
		if q.free == nil {
			q.free = c.mem
		}
		c.mem = nil
		if p := q.prevSpilled(ci); p != nil && p.seg == s && p.off+int64(p.n) == s.size {
			// Right after the chunk before it, in the same file: one
			// chunk of the two, so that the index of what was spilled
			// grows with the segments, not with the chunks (a chunk is
			// --spool-mem/4, as small as 16 bytes).
			p.n += c.n
			p.lines += c.lines
			s.size += int64(c.n)
			q.chunks = append(q.chunks[:ci], q.chunks[ci+1:]...)
			q.chunks[len(q.chunks):cap(q.chunks)][0] = nil
			q.offs = q.offs[:0]
			continue
		}
		c.seg, c.off = s, s.size
		s.size += int64(c.n)
		s.live++
	}
	return nil
}

// prevSpilled returns the live chunk before chunks[i] when it is spilled.
func (q *chunkQueue) prevSpilled(i int) *qchunk {
	if i <= q.head {
		return nil
	}
	if p := q.chunks[i-1]; p.mem == nil {
		return p
	}
	return nil
}

// readSpilled reads the bytes [lo, hi) of the spilled chunk c into buf
// (at least hi-lo long).
func (q *chunkQueue) readSpilled(c *qchunk, buf []byte, lo, hi int64) ([]byte, error) {
	if _, err := c.seg.f.ReadAt(buf[:hi-lo], c.off+lo); err != nil {
		return nil, compute.SpoolError("read failed", err)
	}
	return buf[:hi-lo], nil
}

// writeChunk writes the bytes [lo, hi) of c to w, a spilled chunk's in
// pieces of the scratch buffer.
func (q *chunkQueue) writeChunk(w io.Writer, c *qchunk, lo, hi int64) error {
	if c.mem != nil {
		_, err := w.Write(c.mem[lo:hi])
		return err
	}
	buf := q.scratchBuf()
	for lo < hi {
		b, err := q.readSpilled(c, buf, lo, min(hi, lo+int64(len(buf))))
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		lo += int64(len(b))
	}
	return nil
}

func (q *chunkQueue) scratchBuf() []byte {
	if q.scratch == nil {
		q.scratch = make([]byte, queueReadSize)
	}
	return q.scratch
}

// Front returns the first chunk's size and terminator count.
func (q *chunkQueue) Front() (n int64, lines int64, ok bool) {
	if q.head >= len(q.chunks) {
		return 0, 0, false
	}
	c := q.chunks[q.head]
	return int64(c.n), c.lines, true
}

// DropFront removes the first chunk, writing it to w first when w is not
// nil.
func (q *chunkQueue) DropFront(w io.Writer) error {
	c := q.chunks[q.head]
	if w != nil {
		if err := q.writeChunk(w, c, 0, int64(c.n)); err != nil {
			return err
		}
	}
	q.chunks[q.head] = nil
	q.head++
	q.offs = q.offs[:0]
	q.total -= int64(c.n)
	q.lines -= c.lines
	q.base += int64(c.n)
	if c.mem != nil {
		q.memUsed -= int64(len(c.mem))
		if q.free == nil && len(q.chunks) > q.head {
			q.free = c.mem
		}
	} else {
		c.seg.live--
		if c.seg.live == 0 && c.seg != q.seg {
			q.closeSeg(c.seg)
		}
	}
	if q.head > 64 && q.head*2 > len(q.chunks) {
		n := copy(q.chunks, q.chunks[q.head:])
		clear(q.chunks[n:])
		q.chunks = q.chunks[:n]
		q.head = 0
	}
	return nil
}

func (q *chunkQueue) closeSeg(s *qsegment) {
	if s.f != nil {
		s.f.Close()
		q.cfg.Budget().Release(s.size)
		s.f = nil
	}
}

// Close frees memory and spill files.
func (q *chunkQueue) Close() {
	for _, s := range q.segs {
		q.closeSeg(s)
	}
	q.segs, q.seg = nil, nil
	q.chunks, q.head, q.scratch, q.free = nil, 0, nil, nil
}

// walkBackward calls fn with the queue's bytes and their logical offset
// (relative to the current front), in pieces from the last to the first:
// an in-memory chunk whole, a spilled one in pieces of queueReadSize from
// its end.
func (q *chunkQueue) walkBackward(fn func(base int64, b []byte) error) error {
	var buf []byte // for a spilled chunk
	off := q.total
	live := q.live()
	for i := len(live) - 1; i >= 0; i-- {
		c := live[i]
		off -= int64(c.n)
		if c.mem != nil {
			if err := fn(off, c.mem[:c.n]); err != nil {
				return err
			}
			continue
		}
		if buf == nil {
			buf = make([]byte, queueReadSize)
		}
		for hi := int64(c.n); hi > 0; {
			lo := max(hi-int64(len(buf)), 0)
			b, err := q.readSpilled(c, buf, lo, hi)
			if err != nil {
				return err
			}
			if err := fn(off+lo, b); err != nil {
				return err
			}
			hi = lo
		}
	}
	return nil
}

// queueRangeHook, when set (by a test), is told of each writeRange: a
// reader that calls it a byte at a time shows in the count.
var queueRangeHook func()

// writeRange writes the bytes at logical offsets [a, b) to w.
func (q *chunkQueue) writeRange(w io.Writer, a, b int64) error {
	if queueRangeHook != nil {
		queueRangeHook()
	}
	if a >= b {
		return nil
	}
	live := q.live()
	// Find the chunk holding a: chunks are equal-sized except possibly
	// short ones, so search linearly from a guess.
	i, off := q.locate(a)
	for ; i < len(live) && off < b; i++ {
		c := live[i]
		lo := max(a-off, 0)
		hi := min(b-off, int64(c.n))
		if lo < hi {
			if err := q.writeChunk(w, c, lo, hi); err != nil {
				return err
			}
		}
		off += int64(c.n)
	}
	return nil
}

// locate returns the index of the live chunk holding logical offset a and
// that chunk's offset. Chunks other than the last are full (chunkSize)
// unless they were written by short reads, so it starts from the guess
// a/chunkSize and corrects.
func (q *chunkQueue) locate(a int64) (int, int64) {
	live := q.live()
	if len(q.offs) != len(live) {
		q.offs = q.offs[:0]
		var off int64
		for _, c := range live {
			q.offs = append(q.offs, off)
			off += int64(c.n)
		}
	}
	// binary search for the last chunk with offset <= a
	lo, hi := 0, len(live)
	for hi-lo > 1 {
		m := (lo + hi) / 2
		if q.offs[m] <= a {
			lo = m
		} else {
			hi = m
		}
	}
	if len(live) == 0 {
		return 0, 0
	}
	return lo, q.offs[lo]
}

// Reader returns a reader over the queue's bytes from the front.
func (q *chunkQueue) Reader() io.Reader {
	return &queueReader{q: q}
}

type queueReader struct {
	q   *chunkQueue
	i   int   // the live chunk read next
	at  int64 // what of it was read
	buf []byte
	cur []byte
}

func (r *queueReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		live := r.q.live()
		if r.i >= len(live) {
			return 0, io.EOF
		}
		c := live[r.i]
		if c.mem != nil {
			r.cur = c.mem[:c.n]
			r.i++
			continue
		}
		if r.buf == nil {
			r.buf = make([]byte, queueReadSize)
		}
		b, err := r.q.readSpilled(c, r.buf, r.at, min(int64(c.n), r.at+int64(len(r.buf))))
		if err != nil {
			return 0, err
		}
		r.cur = b
		if r.at += int64(len(b)); r.at == int64(c.n) {
			r.i, r.at = r.i+1, 0
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// partial returns 1 when the queue ends with an unterminated line.
func (q *chunkQueue) partial() int64 {
	live := q.live()
	for i := len(live) - 1; i >= 0; i-- {
		c := live[i]
		if c.n == 0 {
			continue
		}
		var b [1]byte
		if c.mem != nil {
			b[0] = c.mem[c.n-1]
		} else if _, err := c.seg.f.ReadAt(b[:], c.off+int64(c.n)-1); err != nil {
			return 0
		}
		if b[0] != q.eol {
			return 1
		}
		return 0
	}
	return 0
}
