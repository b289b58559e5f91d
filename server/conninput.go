package server

import (
	"io"
	"sync"
)

// connInput is a raw-TCP job's input as the engine reads it: the job's own
// reads read the connection (through its proof of end, if any), with no
// goroutine and no buffer between them. The socket's receive buffer is the
// read-ahead: the client's bytes go on arriving into it while the job
// computes, and a read takes what has come.
//
// Against a goroutine that reads ahead into chunks (recvAhead, as gRPC
// streams have), this saves, per chunk, a copy out of the chunk into the
// stage's buffer and a hand-off between goroutines (a futex wake when the
// job was waiting), and a job that keeps up with its client parks in the
// netpoller itself instead of through a second goroutine. What it gives
// up is overlap between the kernel's copy into the process and the
// stage's work on the previous bytes; on a machine whose cores are busy
// (a local client, other jobs) that overlap costs more in hand-offs than
// it saves (docs/operations.md, "Throughput").
//
// Read reads straight into the caller's buffer. TakeChunk and WriteTo (a
// stage that can use the bytes where they lie: the digests) read into a
// buffer of connBufSize from a pool and hand it over until done. Close
// makes a pending read return (the connReader's deadline); nothing else
// needs stopping. The first error (io.EOF included) is returned by every
// later read.
type connInput struct {
	r   io.ReadCloser // the connReader, or the proof over it
	err error         // the source's first error

	mu   sync.Mutex // protects free, which done may give back on another goroutine
	free []byte     // a read buffer that TakeChunk may use, or nil
}

func newConnInput(r io.ReadCloser) *connInput { return &connInput{r: r} }

// Read reads the connection into p.
func (c *connInput) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

// TakeChunk reads what has come into a buffer of its own and hands it
// over (engine.ChunkTaker): done gives the buffer back. err is the
// source's error after the bytes (io.EOF at the end).
func (c *connInput) TakeChunk() ([][]byte, func(), error) {
	if c.err != nil {
		return nil, nil, c.err
	}
	c.mu.Lock()
	buf := c.free
	c.free = nil
	c.mu.Unlock()
	if buf == nil {
		buf = getConnBuf(connBufSize)
	}
	var n int
	var err error
	for n == 0 && err == nil {
		n, err = c.r.Read(buf)
	}
	if err != nil {
		c.err = err
	}
	done := func() { c.giveBack(buf) }
	if n == 0 {
		done()
		return nil, nil, err
	}
	return [][]byte{buf[:n]}, done, err
}

// giveBack keeps buf for the next TakeChunk, or returns it to the pool.
func (c *connInput) giveBack(buf []byte) {
	c.mu.Lock()
	if c.free == nil {
		c.free, buf = buf, nil
	}
	c.mu.Unlock()
	if buf != nil {
		putConnBuf(buf)
	}
}

// WriteTo hands each read to w without a copy, until the source's end
// (nil) or error.
func (c *connInput) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		segs, done, err := c.TakeChunk()
		var werr error
		for _, s := range segs {
			if werr == nil {
				var k int
				k, werr = w.Write(s)
				total += int64(k)
			}
		}
		if done != nil {
			done()
		}
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
// when a job fails before its input has ended).
func (c *connInput) Close() error { return c.r.Close() }

// Wait gives the read buffer back to its pool: nothing reads c any more
// (the engine's Run has returned), and the connection may be read again.
func (c *connInput) Wait() {
	c.mu.Lock()
	buf := c.free
	c.free = nil
	c.mu.Unlock()
	putConnBuf(buf)
}
