package server

import (
	"errors"
	"io"
	"sync"

	"github.com/halfclose/halfclose/compute"
)

// A large job that takes its input through WriteTo (a digest) reads and
// hashes on two goroutines that take turns: each reads a buffer of
// turnBufSize from the socket in its turn, then writes it (hashes it) in
// its turn, so one reads while the other hashes, and each buffer is
// hashed by the goroutine, and most often on the core, that copied it
// there. (A goroutine reading ahead into buffers that the job hashed cost
// the server a third more CPU a GiB, its copy out of the socket and the
// hash reading across cores; docs/operations.md, "Throughput".) Reads
// and writes keep the input's order: the turns alternate, and the first
// error (the writer's, or the source's, io.EOF included, after the bytes
// read before it) ends both.
//
// A job only takes turns once its WriteTo has taken turnsAfter bytes on
// its own (TakeChunk): a small job never starts the second goroutine.
// WriteTo returns only once the helper has returned: no read of the
// connection outlives it. So a writer's error that fails the job (the
// input limit, a panic, the job's end) closes the input, as the engine
// does next (Run's contract), or WriteTo would wait for the other
// goroutine's read on a client that sends nothing more (until its FIN or
// --idle-timeout). After compute.ErrDownstreamDone (a stage that needs
// no more input: the job reads on to the end) the input stays open, and
// bytes the other goroutine read but could not write are kept, with the
// error after them, for the job's next read.

// turnsAfter is how much input a job's WriteTo takes alone before it
// takes turns with a helper goroutine.
const turnsAfter = 8 << 20

// turnBufSize is each goroutine's buffer when they take turns: the two
// hold the bulkBufSize one goroutine held.
const turnBufSize = bulkBufSize / 2

// turnBufs recycles the turns' buffers (as arrays: see connBufs). An
// interface, so that a test can check that each goes back exactly once
// (twice, and two jobs would share it).
var turnBufs bufPool = &sync.Pool{New: func() any { return new([turnBufSize]byte) }}

// bufPool is a sync.Pool's Get and Put.
type bufPool interface {
	Get() any
	Put(any)
}

// turns is the state the two goroutines share, each field under the
// turn that says so.
type turns struct {
	c *connInput
	w io.Writer
	// read and write pass the turns: a token in read[i] lets goroutine i
	// read next, in write[i] write next.
	read, write [2]chan struct{}
	stop        chan struct{} // closed by the goroutine that ends the job's turns
	helperDone  chan struct{} // closed when the helper has returned

	total int64 // written, under the write turn
	err   error // the first error, under the write turn (then stop)

	// left is what a goroutine read and did not write, as stop came
	// (at most one has any: the other had the failing write turn): its
	// bytes, its buffer and its source error.
	left struct {
		b   []byte
		buf *[turnBufSize]byte
		err error
	}
}

// writeToInTurns is WriteTo for a large job (see turns).
func (c *connInput) writeToInTurns(w io.Writer) (int64, error) {
	t := &turns{c: c, w: w, stop: make(chan struct{}), helperDone: make(chan struct{})}
	for i := range 2 {
		t.read[i] = make(chan struct{}, 1)
		t.write[i] = make(chan struct{}, 1)
	}
	t.read[0] <- struct{}{}
	t.write[0] <- struct{}{}
	c.turnsTaken++
	go func() {
		defer close(t.helperDone)
		t.take(1)
	}()
	t.take(0)
	<-t.helperDone
	if t.left.buf != nil {
		c.pend, c.pendBuf = t.left.b, t.left.buf
	}
	if t.left.err != nil && c.err == nil {
		c.err = t.left.err
	}
	if t.err == io.EOF {
		return t.total, nil
	}
	return t.total, t.err
}

// take is goroutine i's part: read in its turn, write in its turn, until
// an error ends the turns.
func (t *turns) take(i int) {
	o := 1 - i
	buf := turnBufs.Get().(*[turnBufSize]byte)
	kept := false
	defer func() {
		if !kept {
			turnBufs.Put(buf)
		}
	}()
	for {
		select {
		case <-t.read[i]:
		case <-t.stop:
			return
		}
		select {
		case <-t.stop:
			return // stop and the turn came together: no more reads
		default:
		}
		n, rerr := t.c.readTurn(buf[:])
		if rerr == nil {
			t.read[o] <- struct{}{}
		}
		select {
		case <-t.write[i]:
		case <-t.stop:
			// The other ended the turns (its write failed) while this
			// one read: what it read is the job's next input.
			t.left.b, t.left.err = buf[:n], rerr
			if n > 0 {
				t.left.buf, kept = buf, true
			}
			return
		}
		if n > 0 {
			k, werr := t.writeTurn(buf[:n])
			t.total += int64(k)
			if werr != nil {
				t.err = werr
				if !errors.Is(werr, compute.ErrDownstreamDone) {
					// The job has failed: its input is closed now, as
					// the engine closes it next, so that the other's
					// read, pending on a client that sends nothing
					// more, returns.
					t.c.Close()
				}
			}
		}
		if rerr != nil {
			t.c.err = rerr // the first: none before the turns, nor since
			if t.err == nil {
				t.err = rerr
			}
		}
		if t.err != nil {
			close(t.stop)
			return
		}
		t.write[o] <- struct{}{}
	}
}

// readTurn is one read of the source in a turn (a panic in it is its
// error, which fails the job, not the process): what has arrived, at
// least a byte, or the source's error.
func (c *connInput) readTurn(buf []byte) (n int, err error) {
	defer compute.Recover("connection read", &err)
	for n == 0 && err == nil {
		n, err = c.r.Read(buf)
	}
	c.direct(n, len(buf), nil)
	return n, err
}

// writeTurn writes b in a turn (a panic in the writer is its error).
func (t *turns) writeTurn(b []byte) (n int, err error) {
	defer compute.Recover("connection write", &err)
	return t.w.Write(b)
}
