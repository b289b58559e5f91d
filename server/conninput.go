package server

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/halfclose/halfclose/compute/engine"
)

// connInput is a plain raw-TCP job's input as the engine reads it: the
// job's own reads read the connection (through its proof of end, if any),
// with no goroutine, no buffer and no hand-off between them, and a job
// that waits for its client parks in the netpoller itself. The socket's
// receive buffer is the read-ahead: the client's bytes go on arriving into
// it while the job computes. (TLS connections, whose reads decrypt, are
// read ahead by a goroutine instead: recvAhead.)
//
// A job that reads into its own buffer (Read: grep, sort, ...) reads the
// socket straight into it. A job that takes its input in chunks
// (TakeChunk, WriteTo: the digests) reads into a buffer of connInput's and
// hashes it where it lies: connBufSize for its first bulkAfter bytes,
// bulkBufSize after (takeSize). A goroutine reading ahead of either, so
// that the kernel's copy overlapped with the job's work, cost more CPU
// than its overlap saved wall time on a busy machine, and was removed
// (docs/operations.md, "Throughput"). Past turnsAfter, a job's WriteTo
// (a digest's) reads and hashes on two goroutines that take turns, each
// hashing what it read itself (writeToInTurns, connturns.go): a small
// job never starts the second.
//
// A job that keeps up with its client for bigMarkAfter bytes gets a higher
// SO_RCVLOWAT (setMark), so it wakes less often; one that falls behind
// gets the base mark back.
//
// Close makes a pending read return (the connReader's deadline) and every
// later one fail. The source's first error (io.EOF included) comes after
// the bytes read before it, and again at every later read, which then
// leaves the source alone. One read at a time (the engine's srcMu): only
// Close may run beside a read.
type connInput struct {
	r io.ReadCloser // the connReader, or the proof over it
	// queued returns the bytes waiting in the socket (SIOCINQ); nil:
	// never behind.
	queued func() int
	// setMark raises the socket's SO_RCVLOWAT (true) while the job keeps
	// up, and lowers it back (false) when it falls behind; nil: never.
	setMark func(big bool)
	big     bool  // the mark is raised
	kept    int64 // bytes the job has read since it was last behind
	// took is how many bytes the job's TakeChunks have read: past
	// bulkAfter, they read into buffers of bulkBufSize.
	took int64
	// ends, when not nil, is a context whose end makes every read fail
	// by itself (EndsWith): the connection's, whose end sets its read
	// deadline (handle), while its reader fails a read that meets a
	// deadline once its context has ended.
	ends   context.Context
	err    error       // the source's first error
	closed atomic.Bool // Close was called
	// turnsAfter is how much a job's WriteTo takes alone before it takes
	// turns with a helper (writeToInTurns): turnsAfter, or in tests less;
	// negative: never.
	turnsAfter int64
	turnsTaken int // times WriteTo took turns (tests)
	// pend is input the turns read and did not write (their writer
	// failed first), in pendBuf: the next read's.
	pend    []byte
	pendBuf *[turnBufSize]byte
}

// behindMin is how many bytes must wait in the socket, after a read that
// filled its buffer, for the job to count as behind its client.
const behindMin = 256 << 10

// bigMarkAfter is how much a job reads, without falling behind, before
// its mark is raised: it keeps up with its client, so waking it less
// often costs it nothing.
const bigMarkAfter = 16 << 20

// bulkAfter is how much input a job's TakeChunks read in buffers of
// connBufSize before they read in buffers of bulkBufSize: a small job,
// and one waiting for its first bytes, holds a sixteenth of the memory.
const bulkAfter = 1 << 20

// bulkBufSize is the size of a bulky job's reads (takeSize).
const bulkBufSize = 4 << 20

// bulkBufs recycles the buffers of bulkBufSize (as arrays: see connBufs).
var bulkBufs = sync.Pool{New: func() any { return new([bulkBufSize]byte) }}

// EndsWith reports whether c's reads fail by themselves once ctx ends
// (engine.SelfEnding).
func (c *connInput) EndsWith(ctx context.Context) bool {
	return c.ends != nil && ctx == c.ends
}

func newConnInput(r io.ReadCloser, tc tcpConn) *connInput {
	c := &connInput{r: r, turnsAfter: turnsAfter}
	if tc != nil {
		c.queued = func() int { return recvQueued(tc) }
	}
	return c
}

// before returns the error a read returns without reading the source:
// after Close, or after the source's error.
func (c *connInput) before() error {
	if c.closed.Load() {
		return errReaderClosed
	}
	return c.err
}

// Read reads the input into p.
func (c *connInput) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(c.pend) > 0 && !c.closed.Load() {
		n := copy(p, c.pend)
		c.takePend(n)
		return n, nil
	}
	if err := c.before(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.direct(n, len(p), err)
	return n, err
}

// direct records the outcome of a read of the source of size bytes: its
// error, and whether the job is behind (then it gets the base mark) or
// has long kept up (then the mark is raised).
func (c *connInput) direct(n, size int, err error) {
	if err != nil {
		if c.err == nil {
			c.err = err
		}
		return
	}
	if n == size && c.queued != nil && c.queued() >= behindMin {
		c.kept = 0
		c.raiseMark(false)
		return
	}
	if c.kept += int64(n); c.kept >= bigMarkAfter {
		c.raiseMark(true)
	}
}

// raiseMark sets the raised mark (big) or the base one, if it is not set
// already.
func (c *connInput) raiseMark(big bool) {
	if c.big != big && c.setMark != nil {
		c.setMark(big)
		c.big = big
	}
}

// takeSize is how much a TakeChunk reads at most: once past bulkAfter, a
// buffer of bulkBufSize, which the hash then takes in one go. Reads of
// 1 MiB made a GiB through a sha256sum route cost the server 0.87 CPU-s,
// reads of 4 MiB 0.79 (docs/operations.md, "Throughput"). A read still
// returns what has arrived (under the mark): it never waits for the
// buffer to fill.
func (c *connInput) takeSize() int {
	if c.took >= bulkAfter {
		return bulkBufSize
	}
	return connBufSize
}

// getTakeBuf returns a buffer of size (connBufSize or bulkBufSize) from
// its pool.
func getTakeBuf(size int) []byte {
	if size == bulkBufSize {
		return bulkBufs.Get().(*[bulkBufSize]byte)[:]
	}
	return getConnBuf(size)
}

// putTakeBuf returns b to its pool (bulkBufs, or connBufs), as the array
// it is a whole slice of (see connBufs).
func putTakeBuf(b []byte) {
	if cap(b) == bulkBufSize {
		bulkBufs.Put((*[bulkBufSize]byte)(b[:bulkBufSize]))
		return
	}
	putConnBuf(b)
}

// TakeChunk hands over the next bytes, read into a buffer of takeSize
// (engine.ChunkTaker); done gives the buffer back. err is the source's
// error after the bytes (io.EOF at the end).
func (c *connInput) TakeChunk() ([][]byte, func(), error) {
	if len(c.pend) > 0 && !c.closed.Load() {
		b := c.pend
		c.takePend(len(b))
		return [][]byte{b}, nil, nil
	}
	if err := c.before(); err != nil {
		return nil, nil, err
	}
	buf := getTakeBuf(c.takeSize())
	var n int
	var err error
	for n == 0 && err == nil {
		n, err = c.r.Read(buf)
	}
	c.took += int64(n)
	c.direct(n, len(buf), err)
	if n == 0 {
		putTakeBuf(buf)
		return nil, nil, err
	}
	return [][]byte{buf[:n]}, func() { putTakeBuf(buf) }, err
}

// WriteTo hands the input to w without a copy, until the source's end
// (nil) or error.
func (c *connInput) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if c.turnsAfter >= 0 && c.took >= c.turnsAfter && len(c.pend) == 0 && c.before() == nil {
			n, err := c.writeToInTurns(w)
			return total + n, err
		}
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

// takePend marks n bytes of pend read. Its buffer is left to the
// collector (a rare path: the turns' writer failed first).
func (c *connInput) takePend(n int) {
	if c.pend = c.pend[n:]; len(c.pend) == 0 {
		c.pend, c.pendBuf = nil, nil
	}
}

// Close makes a pending and every later read fail (the engine calls it
// when a job fails before its input has ended).
func (c *connInput) Close() error {
	c.closed.Store(true)
	return c.r.Close()
}
