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

	file     *os.File
	rOff     int64 // file offset of the first unread byte
	wOff     int64 // file offset of the next write
	given    int64 // disk budget given back: bytes before this offset
	reserved int64 // disk budget held: wOff - given
	buf      []byte
}

// Queue sizes.
const (
	minChunk  = 4 << 10
	maxChunk  = 64 << 10
	punchStep = 1 << 20 // disk given back in steps of this much
)

// NewQueue returns an empty queue that holds up to memBytes in memory
// (<= 0: cfg.Mem()) and spills past it as cfg says.
func NewQueue(cfg compute.SpoolConfig, memBytes int64) *Queue {
	cfg.Budget()
	if memBytes <= 0 {
		memBytes = cfg.Mem()
	}
	return &Queue{cfg: cfg, memLimit: memBytes}
}

// Len returns the unread bytes.
func (q *Queue) Len() int64 { return q.memBytes + q.wOff - q.rOff }

// charged returns what the queue holds against its budgets: the unread
// bytes in memory and the disk budget it holds (the file's unread bytes,
// and those read but not given back yet).
func (q *Queue) charged() int64 { return q.memBytes + q.reserved }

// Spilled returns the unread bytes in the spill file.
func (q *Queue) Spilled() int64 { return q.wOff - q.rOff }

// Write appends p, in memory while there is room and nothing is in the
// file, else in the file; it fails with RESOURCE_EXHAUSTED when the disk
// budget has no room, having written nothing of p to the file.
func (q *Queue) Write(p []byte) (int, error) {
	n := 0
	if q.wOff == q.rOff {
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
	}
	if err := q.cfg.Disk.Reserve(int64(len(p))); err != nil {
		return 0, err
	}
	n, err := q.file.WriteAt(p, q.wOff)
	q.wOff += int64(n)
	q.reserved += int64(n)
	q.cfg.Disk.Release(int64(len(p) - n))
	if err != nil {
		return n, compute.Internal("spool: write failed", err)
	}
	return n, nil
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
	if n < len(p) && q.wOff > q.rOff {
		m, err := q.file.ReadAt(p[n:min(int64(len(p)), int64(n)+q.wOff-q.rOff)], q.rOff)
		n += m
		q.consumeFile(int64(m))
		if err != nil && err != io.EOF {
			return n, compute.Internal("spool: read failed", err)
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
	for q.wOff > q.rOff {
		if q.buf == nil {
			q.buf = make([]byte, maxChunk)
		}
		b := q.buf[:min(int64(len(q.buf)), q.wOff-q.rOff)]
		m, err := q.file.ReadAt(b, q.rOff)
		if err != nil && !(err == io.EOF && m == len(b)) {
			return total, compute.Internal("spool: read failed", err)
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
// of the spill file at off (b nil). Those bytes stay as they are, whatever
// is written meanwhile, until drop drops them; the queue must not be
// empty.
func (q *Queue) front(max int) (b []byte, off int64, n int) {
	if q.memBytes > 0 {
		c := q.mem[0][q.head:]
		return c, 0, len(c)
	}
	return nil, q.rOff, int(min(int64(max), q.wOff-q.rOff))
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
	q.rOff += n
	if q.rOff == q.wOff {
		// Empty: start the file over, giving all its space back.
		if err := q.file.Truncate(0); err == nil {
			q.cfg.Disk.Release(q.reserved)
			q.reserved, q.given, q.rOff, q.wOff = 0, 0, 0, 0
		}
		return
	}
	if q.rOff-q.given >= punchStep {
		end := q.rOff &^ (4<<10 - 1) // whole pages
		if end > q.given && punchHole(q.file, q.given, end-q.given) {
			q.cfg.Disk.Release(end - q.given)
			q.reserved -= end - q.given
			q.given = end
		}
	}
}

// Close frees the memory and the spill file and gives its disk budget
// back. The queue is empty afterwards; it may be written again.
func (q *Queue) Close() {
	q.mem, q.head, q.memCap, q.memBytes, q.free, q.buf = nil, 0, 0, 0, nil, nil
	if q.file != nil {
		q.file.Close()
		q.file = nil
		q.cfg.Disk.Release(q.reserved)
	}
	q.reserved, q.given, q.rOff, q.wOff = 0, 0, 0, 0
}
