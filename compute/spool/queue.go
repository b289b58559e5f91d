package spool

import (
	"io"
	"os"

	"github.com/halfclose/halfclose/compute"
)

// Queue is a FIFO of bytes bounded in memory: what is written stays in
// memory up to a budget, then goes to one unlinked spill file charged to
// the disk budget; what is read is dropped from the front, and its disk
// space is given back as it goes (hole punching, where the file system
// has it; otherwise when the file empties). Bytes in memory are always
// older than bytes in the file, so the order is kept. It is not safe for
// concurrent use.
type Queue struct {
	cfg      compute.SpoolConfig
	memLimit int64

	mem      [][]byte // chunks, oldest first; mem[0][head:] is unread
	head     int
	memCap   int64 // capacity of the chunks
	memBytes int64 // unread bytes in memory
	free     []byte

	// The spill file is a FIFO of segments of segSize bytes: segs are
	// those holding unread bytes (from rIn in the first, to wIn in the
	// last). A segment read to its end is kept as the spare, still charged
	// to the disk budget and in the page cache, for the next segment to be
	// written (a queue read as it is written reuses its pages); past one
	// spare its space is given back (a hole punched), and the segment is
	// reused later as a hole. The file starts over when it empties.
	file     *os.File
	segs     []int64 // file offsets of the segments holding unread bytes
	rIn      int64   // offset in segs[0] of the first unread byte
	wIn      int64   // bytes written in the last segment
	spilled  int64   // unread bytes in the file
	spare    []int64 // segments read to their end, still charged
	holes    []int64 // segments given back, to reuse before growing the file
	fileEnd  int64   // the file's size in segments' bytes
	paid     bool    // the last segment was charged whole when taken (a spare)
	reserved int64   // disk budget held
	buf      []byte
	// byRef: some of the file's bytes went out by reference (a
	// FileSender's sendfile): the kernel may still read their pages from
	// a socket's queue, so a segment read to its end is never written
	// again in place. Its pages are dropped first (a hole punched: the
	// socket keeps the old pages, a later write gets new ones); where
	// holes cannot be punched it stays charged, unused, until the file
	// empties and is cut.
	byRef bool
	seg   int64 // segSize (tests make it smaller)
	// wb writes the spill file behind the queue's writer (writebehind.go),
	// when wbSize > 0: the Spool's queue; others write it themselves.
	wb     *writeBehind
	wbSize int
}

// Queue sizes.
const (
	minChunk = 4 << 10
	maxChunk = 64 << 10
	segSize  = 4 << 20 // the spill file's segments: disk is given back in steps of this much
	maxSpare = 1       // read segments kept charged for reuse
)

// NewQueue returns an empty queue that holds up to memBytes in memory
// (<= 0: cfg.Mem()) and spills past it as cfg says.
func NewQueue(cfg compute.SpoolConfig, memBytes int64) *Queue {
	cfg.Budget()
	if memBytes <= 0 {
		memBytes = cfg.Mem()
	}
	return &Queue{cfg: cfg, memLimit: memBytes, seg: segSize}
}

// Len returns the unread bytes.
func (q *Queue) Len() int64 { return q.memBytes + q.spilled }

// charged returns what the queue holds against its budgets: the unread
// bytes in memory and the disk budget it holds (the file's unread bytes,
// and those read but not given back yet).
func (q *Queue) charged() int64 { return q.memBytes + q.reserved }

// Spilled returns the unread bytes in the spill file.
func (q *Queue) Spilled() int64 { return q.spilled }

// Write appends p, in memory while there is room and nothing is in the
// file, else in the file; it fails with RESOURCE_EXHAUSTED when the disk
// budget has no room, having written nothing of p to the file.
func (q *Queue) Write(p []byte) (int, error) {
	n := 0
	if q.spilled == 0 {
		n = q.writeMem(p)
	}
	if n == len(p) {
		return n, nil
	}
	m, err := q.writeFile(p[n:])
	return n + m, err
}

// writeMem copies what fits of p into memory chunks.
func (q *Queue) writeMem(p []byte) int {
	n := 0
	for n < len(p) {
		k := len(q.mem)
		if k == 0 || len(q.mem[k-1]) == cap(q.mem[k-1]) {
			size := int64(maxChunk)
			if k == 0 || cap(q.mem[k-1]) < maxChunk {
				// start small: most replies are small
				size = int64(max(minChunk, min(maxChunk, len(p)-n)))
				if k > 0 {
					size = max(size, int64(2*cap(q.mem[k-1])))
				}
				size = min(size, maxChunk)
			}
			size = min(size, q.memLimit-q.memCap)
			if size <= 0 {
				return n
			}
			var c []byte
			if int64(cap(q.free)) == size {
				c, q.free = q.free[:0], nil
			} else {
				c = make([]byte, 0, size)
			}
			q.mem = append(q.mem, c)
			q.memCap += size
			k++
		}
		c := q.mem[k-1]
		m := copy(c[len(c):cap(c)], p[n:])
		q.mem[k-1] = c[:len(c)+m]
		q.memBytes += int64(m)
		n += m
	}
	return n
}

func (q *Queue) writeFile(p []byte) (int, error) {
	if q.file == nil {
		f, err := q.cfg.TempFile()
		if err != nil {
			return 0, err
		}
		q.file = f
		if q.wbSize > 0 {
			q.wb = newWriteBehind(f, q.wbSize, q.seg)
		}
	}
	// All of p is reserved at once, and what lands in a spare segment
	// (charged already) given back.
	if err := q.cfg.Disk.Reserve(int64(len(p))); err != nil {
		return 0, err
	}
	q.reserved += int64(len(p))
	n := 0
	for n < len(p) {
		if len(q.segs) == 0 || q.wIn == q.seg {
			q.takeSegment()
		}
		k := min(len(p)-n, int(q.seg-q.wIn))
		m, err := q.writeAt(p[n:n+k], q.segs[len(q.segs)-1]+q.wIn)
		q.wIn += int64(m)
		q.spilled += int64(m)
		if q.paid {
			q.giveBack(int64(m))
		}
		n += m
		if err != nil {
			q.giveBack(int64(len(p) - n))
			return n, compute.SpoolError("write failed", err)
		}
	}
	return n, nil
}

// canTake reports whether takeFile may take p: the queue spills (all
// it is written goes to the file) through a write-behind, and p is a
// buffer of TakeSize.
func (q *Queue) canTake(p []byte) bool {
	return q.spilled > 0 && q.wb != nil && len(p) > 0 && cap(p) == TakeSize && q.wb.canTake()
}

// takeFile is writeFile for a p that canTake: the write-behind writes p
// itself, not a copy, and it returns an empty buffer of TakeSize in
// exchange (on an error, p[:0]: p stays the caller's).
func (q *Queue) takeFile(p []byte) ([]byte, int, error) {
	if err := q.cfg.Disk.Reserve(int64(len(p))); err != nil {
		return p[:0], 0, err
	}
	if err := q.wb.waitTake(); err != nil {
		q.cfg.Disk.Release(int64(len(p)))
		return p[:0], 0, compute.SpoolError("write failed", err)
	}
	q.reserved += int64(len(p))
	var rs [4]wbRun
	runs := rs[:0]
	for n := 0; n < len(p); {
		if len(q.segs) == 0 || q.wIn == q.seg {
			q.takeSegment()
		}
		k := min(len(p)-n, int(q.seg-q.wIn))
		// Each run in a segment of its own, as writeBehind.WriteAt
		// cuts them.
		runs = append(runs, wbRun{q.segs[len(q.segs)-1] + q.wIn, int64(k)})
		q.wIn += int64(k)
		q.spilled += int64(k)
		if q.paid {
			q.giveBack(int64(k))
		}
		n += k
	}
	return q.wb.give(p, runs), len(p), nil
}

// writeAt writes p to the file at off, through the write-behind if the
// queue has one.
func (q *Queue) writeAt(p []byte, off int64) (int, error) {
	if q.wb != nil {
		return q.wb.WriteAt(p, off)
	}
	return q.file.WriteAt(p, off)
}

// sync waits until the file's bytes [off, off+n) are written, when a
// write-behind writes them.
func (q *Queue) sync(off, n int64) error {
	if q.wb == nil {
		return nil
	}
	return q.wb.sync(off, n)
}

// takeSegment appends a segment to write: the spare, else a hole, else
// one past the file's end.
func (q *Queue) takeSegment() {
	var off int64
	q.paid = false
	switch {
	case len(q.spare) > 0:
		off, q.spare = q.spare[len(q.spare)-1], q.spare[:len(q.spare)-1]
		q.paid = true
	case len(q.holes) > 0:
		off, q.holes = q.holes[len(q.holes)-1], q.holes[:len(q.holes)-1]
	default:
		off = q.fileEnd
		q.fileEnd += q.seg
	}
	q.segs = append(q.segs, off)
	q.wIn = 0
}

func (q *Queue) giveBack(n int64) {
	q.cfg.Disk.Release(n)
	q.reserved -= n
}

// fileFront returns the file offset of the oldest unread byte and how
// many bytes, up to max, follow it in its segment.
func (q *Queue) fileFront(max int64) (off, n int64) {
	end := q.seg
	if len(q.segs) == 1 {
		end = q.wIn
	}
	return q.segs[0] + q.rIn, min(max, end-q.rIn)
}

// Read moves up to len(p) of the oldest bytes into p. It returns io.EOF
// when the queue is empty (a later Write may fill it again).
func (q *Queue) Read(p []byte) (int, error) {
	if q.Len() == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && q.memBytes > 0 {
		c := q.mem[0][q.head:]
		m := copy(p[n:], c)
		n += m
		q.consumeMem(m)
	}
	for n < len(p) && q.spilled > 0 {
		off, k := q.fileFront(int64(len(p) - n))
		if err := q.sync(off, k); err != nil {
			return n, err
		}
		m, err := q.file.ReadAt(p[n:n+int(k)], off)
		n += m
		q.consumeFile(int64(m))
		if err != nil && !(err == io.EOF && int64(m) == k) {
			return n, compute.SpoolError("read failed", err)
		}
	}
	return n, nil
}

// WriteTo writes every unread byte to w, oldest first, dropping each part
// once w has taken it: memory chunks as they are, the file through a
// buffer.
func (q *Queue) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for q.memBytes > 0 {
		c := q.mem[0][q.head:]
		n, err := w.Write(c)
		total += int64(n)
		q.consumeMem(n)
		if err != nil {
			return total, err
		}
	}
	for q.spilled > 0 {
		if q.buf == nil {
			q.buf = make([]byte, maxChunk)
		}
		off, k := q.fileFront(int64(len(q.buf)))
		if err := q.sync(off, k); err != nil {
			return total, err
		}
		b := q.buf[:k]
		m, err := q.file.ReadAt(b, off)
		if err != nil && !(err == io.EOF && m == len(b)) {
			return total, compute.SpoolError("read failed", err)
		}
		n, err := w.Write(b[:m])
		total += int64(n)
		q.consumeFile(int64(n))
		if err != nil {
			return total, err
		}
	}
	q.buf = nil
	return total, nil
}

// front returns where the oldest unread bytes are: the rest of the
// oldest memory chunk (b), or, when nothing is in memory, up to max bytes
// of the spill file at off (b nil), written. Those bytes stay as they
// are, whatever is written meanwhile, until drop drops them; the queue
// must not be empty. An error is the file's: it lost bytes.
func (q *Queue) front(max int) (b []byte, off int64, n int, err error) {
	if q.memBytes > 0 {
		c := q.mem[0][q.head:]
		return c, 0, len(c), nil
	}
	off, n64 := q.fileFront(int64(max))
	return nil, off, int(n64), q.sync(off, n64)
}

// drop drops the n oldest bytes, of what front returned.
func (q *Queue) drop(n int) {
	if n <= 0 {
		return
	}
	if q.memBytes > 0 {
		q.consumeMem(n)
	} else {
		q.consumeFile(int64(n))
	}
}

func (q *Queue) consumeMem(n int) {
	q.head += n
	q.memBytes -= int64(n)
	if q.head == len(q.mem[0]) && (len(q.mem) > 1 || len(q.mem[0]) == cap(q.mem[0])) {
		c := q.mem[0]
		q.mem[0] = nil
		q.mem = q.mem[1:]
		q.memCap -= int64(cap(c))
		q.head = 0
		if q.free == nil {
			q.free = c // one spare: a queue that is read as it is written allocates no more
		}
	}
	if q.memBytes == 0 && len(q.mem) == 1 {
		// the last chunk, read to its end: reuse it from the start
		q.mem[0] = q.mem[0][:0]
		q.head = 0
	}
}

func (q *Queue) consumeFile(n int64) {
	q.rIn += n
	q.spilled -= n
	if q.spilled == 0 {
		// Empty: start the file over, giving all its space back (or, if
		// it cannot be cut, keeping its segments as spares). (Every
		// byte written was read, so none is left to write.)
		if err := q.file.Truncate(0); err == nil {
			q.giveBack(q.reserved)
			q.segs, q.spare, q.holes, q.fileEnd = q.segs[:0], q.spare[:0], q.holes[:0], 0
		} else {
			for _, off := range q.segs {
				q.retire(off)
			}
			q.segs = q.segs[:0]
		}
		q.rIn, q.wIn = 0, 0
		return
	}
	if q.rIn == q.seg && len(q.segs) > 1 {
		off := q.segs[0]
		q.segs = q.segs[1:]
		q.rIn = 0
		q.retire(off)
	}
}

// retire disposes of a segment read to its end: kept as the spare, or
// given back as a hole.
func (q *Queue) retire(off int64) {
	switch {
	case len(q.spare) < maxSpare && !q.byRef:
		q.spare = append(q.spare, off)
	case punchHole(q.file, off, q.seg):
		q.giveBack(q.seg)
		q.holes = append(q.holes, off)
	case q.byRef:
		// Sent by reference and no holes here: not reused, kept
		// charged until the file empties.
	default:
		// No holes on this file system: kept charged until the
		// file empties, and reused meanwhile.
		q.spare = append(q.spare, off)
	}
}

// Close frees the memory and the spill file and gives its disk budget
// back. The queue is empty afterwards; it may be written again.
func (q *Queue) Close() {
	q.mem, q.head, q.memCap, q.memBytes, q.free, q.buf = nil, 0, 0, 0, nil, nil
	if q.wb != nil {
		q.wb.close()
		q.wb = nil
	}
	if q.file != nil {
		q.file.Close()
		q.file = nil
		q.cfg.Disk.Release(q.reserved)
	}
	q.reserved, q.segs, q.spare, q.holes, q.fileEnd, q.rIn, q.wIn, q.spilled = 0, nil, nil, nil, 0, 0, 0, 0
	q.byRef = false
}
