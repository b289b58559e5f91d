package compute

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
)

func init() {
	Register(&Command{
		Name:    "tac",
		Summary: "print the input's lines in reverse order",
		Flags:   tacFlags,
		Build:   buildTac,
	})
}

func buildTac(env *Env, args []string) (Stage, error) {
	f, err := ParseFlags("tac", tacFlags, args)
	if err != nil {
		return nil, err
	}
	if err := noOperandsButStdin("tac", f); err != nil {
		return nil, err
	}
	sep := []byte{'\n'}
	if u, ok := f.Value("s"); ok {
		if u.Value == "" {
			return nil, Invalidf("tac: separator for %s cannot be empty", u.Name)
		}
		sep = []byte(u.Value)
	}
	t := &tacStage{spool: env.Spool, sep: sep, before: f.Has("b")}
	return t, nil
}

var tacFlags = []FlagSpec{
	{Short: 'b', Long: "before", Summary: "attach the separator before instead of after"},
	{Short: 's', Long: "separator", Value: true, Summary: "use STRING as the separator instead of newline"},
}

// noOperandsButStdin is NoOperands, except that a lone "-" (stdin) is
// accepted as GNU accepts it.
func noOperandsButStdin(cmd string, f *Flags) error {
	for _, o := range f.Operands {
		if o != "-" {
			return NoOperands(cmd, &Flags{Operands: []string{o}})
		}
	}
	return nil
}

// tacStage must see all of its input before it can write its first byte, so
// it keeps the input in a chunkQueue (memory, then spill files) and walks it
// backwards.
type tacStage struct {
	spool  SpoolConfig
	sep    []byte
	before bool
}

func (t *tacStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	q := newChunkQueue(t.spool)
	defer q.Close()
	for {
		_, err := q.ReadOnce(in)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	var err error
	if len(t.sep) == 1 && !t.before {
		err = t.reverseByte(ctx, q, bw)
	} else {
		err = t.reverseString(ctx, q, bw)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// reverseByte is the common case: a one-byte separator that ends records.
// A record is everything up to and including a separator; the last record
// may lack one and is then printed first, as is (GNU semantics).
func (t *tacStage) reverseByte(ctx context.Context, q *chunkQueue, w *bufio.Writer) error {
	sep := t.sep[0]
	total := q.Len()
	recEnd := total
	// Positions j with a separator at j < total-1 split records at j+1.
	err := q.walkBackward(func(base int64, full []byte) error {
		b := full
		if base+int64(len(b)) == total && len(b) > 0 {
			b = b[:len(b)-1] // a separator at the very end splits nothing
		}
		for {
			i := bytes.LastIndexByte(b, sep)
			if i < 0 {
				return ctx.Err()
			}
			start := base + int64(i) + 1
			if err := writeRecord(w, q, full, base, start, recEnd); err != nil {
				return err
			}
			recEnd = start
			b = b[:i]
		}
	})
	if err != nil {
		return err
	}
	return q.writeRange(w, 0, recEnd)
}

// reverseString handles a multi-byte separator or -b. Like GNU tac it
// finds separators from the end backwards, each match ending at or before
// the start of the one after it.
func (t *tacStage) reverseString(ctx context.Context, q *chunkQueue, w *bufio.Writer) error {
	total := q.Len()
	sl := int64(len(t.sep))
	recEnd, limit := total, total
	var carry []byte // the bytes just after the current chunk, up to len(sep)-1
	err := q.walkBackward(func(base int64, b []byte) error {
		buf := append(b[:len(b):len(b)], carry...)
		end := int(min(int64(len(buf)), limit-base))
		for end > 0 {
			j := bytes.LastIndex(buf[:end], t.sep)
			if j < 0 {
				break
			}
			p := base + int64(j)
			start := p
			if !t.before {
				start = p + sl
			}
			if start < total {
				if err := writeRecord(w, q, b, base, start, recEnd); err != nil {
					return err
				}
				recEnd = start
			}
			limit, end = p, j
		}
		carry = append([]byte(nil), buf[:min(len(buf), len(t.sep)-1)]...)
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	return q.writeRange(w, 0, recEnd)
}

// chunkQueue is a FIFO of bytes bounded in memory: the newest chunks stay in
// memory up to the spool's MemBytes, older ones spill to unlinked segment
// files charged to the disk budget. Chunks can be dropped from the front,
// and a segment's disk space is given back once all its chunks are gone. It
// also counts line terminators per chunk for head and tail.
type chunkQueue struct {
	cfg       SpoolConfig
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
	free    []byte      // one recycled chunk buffer
	segs    []*qsegment // every segment, for Close
	offs    []int64     // cached offsets of live chunks, for locate
}

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

func newChunkQueue(cfg SpoolConfig) *chunkQueue {
	mem := cfg.mem()
	cs := int64(128 << 10)
	if mem/4 < cs {
		cs = max(mem/4, 16)
	}
	seg := min(max(mem*4, 1<<20), 64<<20)
	return &chunkQueue{cfg: cfg, chunkSize: int(cs), segSize: seg, memLimit: mem, eol: '\n'}
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
		c.mem = make([]byte, q.chunkSize)
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
		for _, x := range q.live() {
			if x.mem != nil {
				c = x
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
		if err := q.cfg.disk().Reserve(int64(c.n)); err != nil {
			return err
		}
		s := q.seg
		if _, err := s.f.WriteAt(c.mem[:c.n], s.size); err != nil {
			q.cfg.disk().Release(int64(c.n))
			return Internal("spool: write failed", err)
		}
		c.seg, c.off = s, s.size
		s.size += int64(c.n)
		s.live++
		q.memUsed -= int64(len(c.mem))
		if q.free == nil {
			q.free = c.mem
		}
		c.mem = nil
	}
	return nil
}

// chunkBytes returns c's bytes, reading them into buf if spilled.
func (q *chunkQueue) chunkBytes(c *qchunk, buf []byte) ([]byte, error) {
	if c.mem != nil {
		return c.mem[:c.n], nil
	}
	if _, err := c.seg.f.ReadAt(buf[:c.n], c.off); err != nil {
		return nil, Internal("spool: read failed", err)
	}
	return buf[:c.n], nil
}

func (q *chunkQueue) scratchBuf() []byte {
	if q.scratch == nil {
		q.scratch = make([]byte, q.chunkSize)
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
		b, err := q.chunkBytes(c, q.scratchBuf())
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
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
		q.cfg.disk().Release(s.size)
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

// walkForward calls fn with every chunk's bytes and logical offset (relative
// to the current front), in order.
func (q *chunkQueue) walkForward(fn func(base int64, b []byte) error) error {
	buf := make([]byte, q.chunkSize)
	var off int64
	for _, c := range q.live() {
		b, err := q.chunkBytes(c, buf)
		if err != nil {
			return err
		}
		if err := fn(off, b); err != nil {
			return err
		}
		off += int64(c.n)
	}
	return nil
}

// walkBackward is walkForward from the last chunk to the first.
func (q *chunkQueue) walkBackward(fn func(base int64, b []byte) error) error {
	buf := make([]byte, q.chunkSize)
	off := q.total
	live := q.live()
	for i := len(live) - 1; i >= 0; i-- {
		c := live[i]
		off -= int64(c.n)
		b, err := q.chunkBytes(c, buf)
		if err != nil {
			return err
		}
		if err := fn(off, b); err != nil {
			return err
		}
	}
	return nil
}

// writeRange writes the bytes at logical offsets [a, b) to w.
func (q *chunkQueue) writeRange(w io.Writer, a, b int64) error {
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
			if c.mem != nil {
				if _, err := w.Write(c.mem[lo:hi]); err != nil {
					return err
				}
			} else {
				buf := q.scratchBuf()[:hi-lo]
				if _, err := c.seg.f.ReadAt(buf, c.off+lo); err != nil {
					return Internal("spool: read failed", err)
				}
				if _, err := w.Write(buf); err != nil {
					return err
				}
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
	i   int
	pos int
	buf []byte
	cur []byte
}

func (r *queueReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		live := r.q.live()
		if r.i >= len(live) {
			return 0, io.EOF
		}
		if r.buf == nil {
			r.buf = make([]byte, r.q.chunkSize)
		}
		b, err := r.q.chunkBytes(live[r.i], r.buf)
		if err != nil {
			return 0, err
		}
		r.cur = b
		r.i++
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// writeRecord writes the bytes at [start, end) taking what lies in the
// chunk at base (whose bytes are b) from b, and the rest from the queue.
func writeRecord(w io.Writer, q *chunkQueue, b []byte, base, start, end int64) error {
	chunkEnd := base + int64(len(b))
	if start >= base && start < chunkEnd {
		if _, err := w.Write(b[start-base : min(end, chunkEnd)-base]); err != nil {
			return err
		}
		start = chunkEnd
	}
	return q.writeRange(w, start, end)
}
