package server

import (
	"context"
	"io"
	"net"
	"sync"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
)

// connInput is a raw-TCP job's input as the engine reads it. While the job
// keeps up with its client, the job's own reads read the connection
// (through its proof of end, if any): no goroutine, no buffer and no
// hand-off between them, and a job that waits for its client parks in the
// netpoller itself. The socket's receive buffer is then the read-ahead:
// the client's bytes go on arriving into it while the job computes.
//
// A job that takes its input in chunks (TakeChunk, WriteTo: the digests)
// reads the socket itself too, in buffers of bulkBufSize once its input
// is bulky (takeSize), and hashes each where it lies. The goroutine below
// reads ahead only where readsAhead is set (tests): on the server it cost
// more CPU than its overlap saved wall time (takeSize).
//
// With readsAhead, once a job falls behind (a read of a whole buffer
// leaves at least aheadMin bytes waiting in the socket), a goroutine reads ahead into
// buffers of aheadBufSize, so that the kernel's copy into the process
// overlaps with the job's work on the bytes before, up to
// recvAheadChunks buffers; a full queue lets it go on once the job has
// used half of it (one wake-up per two buffers, not one per buffer). It
// fills a buffer before handing it over while the job has another one
// queued (fill), and reads under the raised mark, as it only waits for
// the client. It reads on, waiting for the client when the socket is
// empty, until the job has caught up: once the job has had to wait for
// it and nothing waits in the socket (SIOCINQ), the goroutine ends, and
// the job's next read that finds nothing read ahead reads the connection
// itself again.
//
// A job that reads into its own buffer (Read: grep, sort, ...) is never
// read ahead for: it would copy every byte once more, out of the buffer
// read ahead, and pay a hand-off between goroutines per buffer, for an
// overlap that only pays where a core is idle. With the client on the
// same two cores (nc → the command port) none is, and reading ahead cost
// grep -v a sixth more CPU, and grep -c a third, for no shorter wall time
// (docs/operations.md, "Throughput").
//
// Against a goroutine that always reads ahead (recvAhead, as gRPC streams
// and TLS connections have), a job that keeps up saves, per read, a copy
// out of the chunk into the stage's buffer and a hand-off between
// goroutines (a futex wake of the waiting job, the reader's own wake-up
// from the netpoller). A job that keeps up for bigMarkAfter bytes also
// gets a higher SO_RCVLOWAT (setMark), so it wakes less often; one that
// falls behind gets the base mark back, unless the goroutine takes over
// its reads (then the raised mark stays: the goroutine is the one that
// waits for the client).
//
// Read reads into the caller's buffer (straight from the socket, or from
// what was read ahead). TakeChunk and WriteTo (stages that use the bytes
// where they lie: the digests) hand over a buffer until done. Close makes
// a pending read return (the connReader's deadline) and every later one
// fail. The source's first error (io.EOF included) comes after the bytes
// read before it, and again at every later read.
type connInput struct {
	r io.ReadCloser // the connReader, or the proof over it
	// queued returns the bytes waiting in the socket (SIOCINQ); nil:
	// never read ahead.
	queued func() int
	// setMark raises the socket's SO_RCVLOWAT (true) while the job keeps
	// up, and lowers it back (false) when it falls behind; nil: never.
	setMark func(big bool)
	big     bool  // the mark is raised
	kept    int64 // bytes the job has read itself since it was last behind
	// readsAhead: a read by the job (Read or TakeChunk) that finds it
	// behind starts reading ahead (tests; the server never sets it: see
	// takeSize).
	readsAhead bool
	// took is how many bytes the job's own TakeChunks have read: past
	// bulkAfter, they read into buffers of aheadBufSize.
	took int64
	// ends, when not nil, is a context whose end makes every read fail
	// by itself (EndsWith): the connection's, whose end sets its read
	// deadline (handle), while its reader fails a read that meets a
	// deadline once its context has ended.
	ends context.Context

	mu     sync.Mutex
	cond   *sync.Cond // signalled when queue, ahead or closed change as a waiter needs
	queue  []aheadBuf // read ahead, in order
	lent   int        // buffers TakeChunk handed over, not done yet
	off    int        // bytes of queue[0] already read
	err    error      // the source's first error, after queue
	ahead  bool       // the goroutine reads the source: nobody else may
	closed bool       // Close was called
	// starved: the job has waited for the goroutine since it last read;
	// it has caught up, and reads the socket itself once it is empty.
	starved bool
	free    [][]byte // buffers holding nothing, for the next reads
	wg      sync.WaitGroup
	peak    int // the most buffers held (for tests)
	bursts  int // how many times reading ahead started (for tests)
}

// aheadBuf is a buffer read ahead: data is buf[:n].
type aheadBuf struct{ buf, data []byte }

// aheadMin is how many bytes must wait in the socket, after a read that
// filled its buffer, for the job to count as behind its client.
const aheadMin = 256 << 10

// aheadBufSize is the size of the buffers the goroutine reads ahead
// into. It fills each (fill) before handing it over, unless the job has
// nothing else to work on: per GiB read ahead, about 1,500 buffers handed
// over between the two goroutines instead of 6,000–10,000 (one per read
// of 256 KiB at most), each hashed in one go. A job's own read (TakeChunk
// when nothing was read ahead) takes a buffer of connBufSize, as a job
// waiting for its client holds one: a quarter of the memory per idle
// connection.
const aheadBufSize = 1 << 20

// bigMarkAfter is how much a job reads itself, without falling behind,
// before its mark is raised: it keeps up with its client, so waking it
// less often costs it nothing.
const bigMarkAfter = 16 << 20

// maxFree bounds the buffers kept for reuse; more go back to the pool.
const maxFree = 2

// EndsWith reports whether c's reads fail by themselves once ctx ends
// (engine.SelfEnding).
func (c *connInput) EndsWith(ctx context.Context) bool {
	return c.ends != nil && ctx == c.ends
}

func newConnInput(r io.ReadCloser, tc *net.TCPConn) *connInput {
	c := &connInput{r: r}
	if tc != nil {
		c.queued = func() int { return recvQueued(tc) }
	}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// next waits until the job may use the source's bytes: it returns true
// when some were read ahead (queue[0]), false when the caller is to read
// the source itself, or the error to return. Called with mu held.
func (c *connInput) next() (bool, error) {
	for {
		switch {
		case c.closed:
			return false, errReaderClosed
		case len(c.queue) > 0:
			return true, nil
		case c.err != nil:
			return false, c.err
		case !c.ahead:
			return false, nil
		}
		c.starved = true
		c.cond.Wait()
	}
}

// held is how many buffers hold bytes for the job: queued or lent. The
// goroutine reads into one more only while they are fewer than
// recvAheadChunks. Called with mu held.
func (c *connInput) held() int { return len(c.queue) + c.lent }

// pop drops queue[0], whose bytes are used up or lent. Called with mu
// held.
func (c *connInput) pop() {
	c.queue[0] = aheadBuf{}
	c.queue = c.queue[1:]
	c.off = 0
	c.freed()
}

// freed lets the goroutine read on once the buffers held are down to half.
// Called with mu held.
func (c *connInput) freed() {
	if c.held() <= recvAheadChunks/2 {
		c.cond.Broadcast()
	}
}

// Read reads the input into p.
func (c *connInput) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	queued, err := c.next()
	if err != nil {
		c.mu.Unlock()
		return 0, err
	}
	if queued {
		b := c.queue[0]
		n := copy(p, b.data[c.off:])
		if c.off += n; c.off == len(b.data) {
			c.pop()
			c.putLocked(b.buf)
		}
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := c.r.Read(p)
	c.direct(n, len(p), err, c.readsAhead)
	return n, err
}

// direct records the outcome of a read of the source by the job: its
// error, and whether the job is behind (then it gets the base mark, and
// reading ahead starts if ahead) or has long kept up (then the mark is
// raised).
func (c *connInput) direct(n, size int, err error, ahead bool) {
	behind := err == nil && n == size && c.queued != nil && c.queued() >= aheadMin
	if err == nil && !behind {
		if c.kept += int64(n); c.kept >= bigMarkAfter {
			c.raiseMark(true)
		}
		return
	}
	if behind {
		c.kept = 0
		// The goroutine that reads ahead only waits for the client: it
		// gets the raised mark. A job that reads the socket itself and
		// is behind gets the base mark.
		c.raiseMark(ahead)
		if !ahead {
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if c.err == nil {
			c.err = err
		}
		return
	}
	if !c.closed {
		c.ahead, c.starved = true, false
		c.bursts++
		c.wg.Add(1)
		go c.readAhead()
	}
}

// raiseMark sets the raised mark (big) or the base one, if it is not set
// already. Only the reader of the source calls it: the job before it
// starts the goroutine reading ahead.
func (c *connInput) raiseMark(big bool) {
	if c.big != big && c.setMark != nil {
		c.setMark(big)
		c.big = big
	}
}

// readAhead reads what waits in the socket into buffers, until the socket
// is empty, the source's error, or Close.
func (c *connInput) readAhead() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		if c.held() >= recvAheadChunks {
			for c.held() > recvAheadChunks/2 && !c.closed {
				c.cond.Wait()
			}
		}
		if c.closed {
			c.ahead = false
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		buf := c.getLocked()
		starved := c.starved
		c.starved = false
		c.mu.Unlock()

		// Nothing waits in the socket: a job that has caught up reads it
		// itself from now on; one still busy with what was read ahead
		// has the goroutine wait for its client.
		var n int
		var err error
		if !starved || c.queued() > 0 {
			n, err = c.fillAhead(buf)
		}

		c.mu.Lock()
		if n > 0 {
			c.queue = append(c.queue, aheadBuf{buf: buf, data: buf[:n]})
			c.peak = max(c.peak, c.held())
		} else {
			c.putLocked(buf)
		}
		if err != nil && c.err == nil {
			c.err = err
		}
		stop := n == 0 || err != nil
		if stop {
			c.ahead = false
		}
		c.cond.Broadcast()
		c.mu.Unlock()
		if stop {
			return
		}
	}
}

// fillAhead is the goroutine's fill: a panic in the source's Read (the
// connection's, TLS's) is the source's error, which fails the job, not
// the process.
func (c *connInput) fillAhead(buf []byte) (n int, err error) {
	defer compute.Recover("tcp read-ahead", &err)
	return c.fill(buf)
}

// fill reads the source into buf until buf is full or the source's
// error, or until the job has nothing else to work on: nothing else is
// queued for it (or it waits, or Close was called). Then it gets what was
// read so far. So a read that waits for the client, holding the bytes
// read before, only ever delays the job's work on them while it still
// has a whole buffer queued before them; if the client then pauses, the
// job waits for it with those bytes unhashed, which delays nothing it
// could send (a reply starts after the client's FIN, which ends the read
// at once) by more than the time to hash one buffer. The idle timeout is
// the read's, as always. A read that waits does so under the raised
// mark, so a buffer fills in a few reads.
func (c *connInput) fill(buf []byte) (int, error) {
	n, err := c.r.Read(buf)
	for err == nil && n < len(buf) {
		c.mu.Lock()
		handOver := len(c.queue) == 0 || c.starved || c.closed
		c.mu.Unlock()
		if handOver {
			break
		}
		var k int
		k, err = c.r.Read(buf[n:])
		n += k
	}
	return n, err
}

// getLocked returns a buffer of aheadBufSize to read into. Called with mu
// held.
func (c *connInput) getLocked() []byte {
	if k := len(c.free); k > 0 {
		b := c.free[k-1]
		c.free = c.free[:k-1]
		return b
	}
	return aheadBufs.Get().(*[aheadBufSize]byte)[:]
}

// getDirect returns a buffer for the job's own read: one of bulkBufSize
// once the input is bulky (takeSize), else a free one of aheadBufSize if
// the goroutine left one, else one of connBufSize. Called with mu held.
func (c *connInput) getDirect() []byte {
	switch {
	case c.takeSize() == bulkBufSize:
		return bulkBufs.Get().(*[bulkBufSize]byte)[:]
	case len(c.free) > 0:
		return c.getLocked()
	}
	return getConnBuf(connBufSize)
}

// bulkAfter is how much input a job's TakeChunks read in buffers of
// connBufSize before they read in buffers of bulkBufSize: a small job,
// and one waiting for its first bytes, holds a sixteenth of the memory.
const bulkAfter = 1 << 20

// bulkBufSize is the size of a bulky job's own reads (takeSize).
const bulkBufSize = 4 << 20

// bulkBufs recycles the buffers of bulkBufSize.
var bulkBufs = sync.Pool{New: func() any { return new([bulkBufSize]byte) }}

// takeSize is how much a TakeChunk of the job's own reads at most: once
// past bulkAfter, a buffer of bulkBufSize, which the hash then takes in
// one go. A digest job reads its socket itself however far behind its
// client it is, as a stage that reads into its own buffer does: a
// goroutine reading ahead into buffers of 1 MiB, so that the kernel's
// copy overlapped with the hash, made a GiB through a sha256sum route
// cost the server 1.06 CPU-s against 0.87 for the job's own reads of
// 1 MiB and 0.79 for reads of 4 MiB, and took longer (docs/operations.md,
// "Throughput"). Where the goroutine reads ahead (readsAhead), the job's
// own reads stay connBufSize: the goroutine's buffers are the large ones.
func (c *connInput) takeSize() int {
	if c.took >= bulkAfter && !c.readsAhead {
		return bulkBufSize
	}
	return connBufSize
}

// putLocked keeps b for reuse, or returns it to its pool. Called with mu
// held.
func (c *connInput) putLocked(b []byte) {
	if cap(b) != aheadBufSize {
		putAheadBuf(b)
		return
	}
	if len(c.free) < maxFree {
		c.free = append(c.free, b)
		return
	}
	putAheadBuf(b)
}

// aheadBufs recycles the buffers of aheadBufSize.
var aheadBufs = sync.Pool{New: func() any { return new([aheadBufSize]byte) }}

// putAheadBuf returns b to its pool (aheadBufs, bulkBufs, or connBufs),
// as the array it is a whole slice of (see connBufs).
func putAheadBuf(b []byte) {
	switch cap(b) {
	case bulkBufSize:
		bulkBufs.Put((*[bulkBufSize]byte)(b[:bulkBufSize]))
	case aheadBufSize:
		aheadBufs.Put((*[aheadBufSize]byte)(b[:aheadBufSize]))
	default:
		putConnBuf(b)
	}
}

// TakeChunk hands over the next bytes in a buffer (engine.ChunkTaker):
// what was read ahead, or a read of the source; done gives the buffer
// back. err is the source's error after the bytes (io.EOF at the end).
func (c *connInput) TakeChunk() ([][]byte, func(), error) {
	c.mu.Lock()
	queued, err := c.next()
	if err != nil {
		c.mu.Unlock()
		return nil, nil, err
	}
	var b aheadBuf
	c.lent++ // before pop: the buffer stays held
	if queued {
		b = c.queue[0]
		b.data = b.data[c.off:]
		c.pop()
	} else {
		b.buf = c.getDirect()
	}
	c.mu.Unlock()
	done := func() {
		c.mu.Lock()
		c.lent--
		c.putLocked(b.buf)
		c.freed()
		c.mu.Unlock()
	}
	if queued {
		return [][]byte{b.data}, done, nil
	}
	var n int
	p := b.buf[:min(len(b.buf), c.takeSize())]
	for n == 0 && err == nil {
		n, err = c.r.Read(p)
	}
	c.took += int64(n)
	c.direct(n, len(p), err, c.readsAhead)
	if n == 0 {
		done()
		return nil, nil, err
	}
	return [][]byte{b.buf[:n]}, done, err
}

// WriteTo hands the input to w without a copy, until the source's end
// (nil) or error.
func (c *connInput) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		segs, done, err := c.TakeChunk()
		n, werr := engine.WriteChunk(w, segs, done)
		total += n
		switch {
		case werr != nil:
			return total, werr
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, err
		}
	}
}

// Close makes a pending and every later read fail (the engine calls it
// when a job fails before its input has ended), and stops reading ahead.
func (c *connInput) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return c.r.Close()
}

// Wait stops reading ahead, if the goroutine still runs, waits for it,
// and gives the buffers back to their pool. Nothing may read c after; the
// connection may then be read again.
func (c *connInput) Wait() {
	c.mu.Lock()
	running := c.ahead
	c.mu.Unlock()
	if running {
		c.Close()
	}
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.queue {
		putAheadBuf(b.buf)
	}
	for _, b := range c.free {
		putAheadBuf(b)
	}
	c.queue, c.free = nil, nil
}
