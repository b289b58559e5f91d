package spool

import (
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/halfclose/halfclose/compute"
)

// Spool holds a job's output until its input has ended: a Queue, in
// memory up to the budget, then in an unlinked temp file charged to the
// disk budget. Release sends what it holds to the real destination, giving
// memory and disk back as the destination takes it, and goes on sending
// what is written meanwhile until CloseWrite: the writer and the
// destination then run at once, the writer a queue ahead. Once released,
// the spool holds, and charges to the disk budget, no more than it did
// when Release started, or its memory if that is more (it never spills
// more than it had: a writer past that waits for the destination, so the
// reply is backpressured, not spooled). It is safe for one writer and one
// releaser at once.
type Spool struct {
	mem      int64
	held     atomic.Int64 // bytes held, for Held without the lock
	released atomic.Bool  // Release has started: the gate is not asked
	gate     Gate

	mu          sync.Mutex // protects the fields below
	cond        sync.Cond  // signalled on every change of them
	q           *Queue
	draining    bool  // a Release runs: it takes from q what is written
	limit       int64 // while draining, the most q may charge (Queue.charged)
	noSpill     bool  // while draining, the disk budget was full: writes wait for memory
	writeClosed bool  // CloseWrite was called
	closed      bool
	err         error // Abort's
	// lost is the first error of a write held before Release (the disk
	// budget full, the spill file's write failed): what the spool holds is
	// not all that was written, so Release sends none of it and returns
	// this. A write that fails once Release has begun (the spill file's,
	// not the budget: that one waits for the destination) is lost too:
	// Release stops there and returns it, and later writes fail with it,
	// so a reply with a hole never ends as if whole. A stage that goes on after a failed write (uniq kept reading
	// to its end of input, its later writes failing too) ended the input,
	// and its first megabytes went out before the error, where the limit
	// must be the whole answer: RESOURCE_EXHAUSTED, the raw-TCP error line.
	lost error
	// direct is a write handed to Release as it is, not copied into q:
	// once released, an empty q whose room is less than the write (a
	// --spool-mem smaller than the stage's writes) would otherwise pass it
	// on in pieces that small, each its own write to the destination (a
	// gRPC message, a TCP send): at --spool-mem 1, a byte each. Copied in
	// room-sized pieces, a write overlapped the destination only with its
	// last piece (each waited for the one before to go out); handed over
	// whole, it gives that up and saves the copy and the pieces. The
	// writer waits, holding q empty, until Release has written it
	// (directDone, directN bytes taken) or has ended without taking it
	// (directBusy false: the writer takes it back).
	direct     []byte
	directBusy bool // Release is writing direct, without the lock
	directDone bool
	directN    int
}

// New returns an empty spool.
func New(cfg compute.SpoolConfig) *Spool {
	s := &Spool{mem: cfg.Mem(), q: NewQueue(cfg, 0)}
	if runtime.GOMAXPROCS(0) > 1 {
		// On one core the copy into the buffers would only add to the
		// file system's.
		s.q.wbSize = wbBufSize
	}
	s.cond.L = &s.mu
	return s
}

// Gate decides when a write may spill (the engine's read-ahead).
type Gate interface {
	// Wait is called, without the spool's lock, before a write of n bytes
	// that would take what the spool holds (held) past its memory, before
	// Release; it may wait. An error fails the write.
	Wait(held, n int64) error
	// Released is called, with the spool's lock, when Release starts: a
	// write waiting in Wait may go on, and will wait for the lock.
	Released()
}

// SetGate sets the spool's gate. Set it before the first Write.
func (s *Spool) SetGate(g Gate) { s.gate = g }

// FileSender is a destination that can send a file's bytes itself, without
// copying them through the process (a TCP connection: sendfile(2)).
// Release hands it the spilled part of what it releases. SendFile writes
// the n bytes of f at off after what was written before, as Write would,
// and returns how many it took; it must not change f's offset-free
// contents. The kernel may still read the pages it sent after it returns
// (they are referenced, not copied): the spool then never rewrites them in
// place (Queue.byRef).
type FileSender interface {
	io.Writer
	SendFile(f *os.File, off, n int64) (int64, error)
}

// Held returns the bytes the spool holds, in memory and on disk.
func (s *Spool) Held() int64 { return s.held.Load() }

// Mem returns the bytes the spool holds in memory before it spills.
func (s *Spool) Mem() int64 { return s.mem }

// writeErr is why a write fails now, if it does.
func (s *Spool) writeErr() error {
	switch {
	case s.err != nil:
		return s.err
	case s.closed, s.writeClosed:
		return io.ErrClosedPipe
	case s.draining && s.lost != nil:
		return s.lost // a write of the released reply failed
	}
	return nil
}

// Write holds p, or once released queues it for the destination, waiting
// for room; a p larger than an empty queue's room goes to the destination
// whole (Spool.direct), Write returning once the destination has taken it.
func (s *Spool) Write(p []byte) (int, error) {
	if err := s.gateWait(len(p)); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.write(p)
}

// TakeBuffer is Write, but once the spool spills (before Release) it
// writes a buffer of TakeSize itself to the spill file instead of a copy
// of it, and returns another in exchange (compute.BufferTaker): the
// stage's output buffer becomes the write-behind's, and the copy between
// them is saved. The write-behind holds no more than it does for copies
// (WriteBehindBytes).
func (s *Spool) TakeBuffer(p []byte) ([]byte, int, error) {
	if err := s.gateWait(len(p)); err != nil {
		return p[:0], 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining || s.writeErr() != nil || !s.q.canTake(p) {
		n, err := s.write(p)
		return p[:0], n, err
	}
	next, n, err := s.q.takeFile(p)
	s.held.Store(s.q.Len())
	s.lose(err)
	return next, n, err
}

// Holding reports whether the spool holds what is written until Release
// (compute.BufferTaker): once Release has started, what is written goes
// on to the destination, and a stage should pass its output on at once.
func (s *Spool) Holding() bool { return !s.released.Load() }

// gateWait asks the gate before a write of n bytes that would take the
// spool past its memory, before Release.
func (s *Spool) gateWait(n int) error {
	if s.gate != nil && !s.released.Load() {
		if held := s.held.Load(); held+int64(n) > s.mem {
			return s.gate.Wait(held, int64(n))
		}
	}
	return nil
}

// write is Write, with s.mu held.
func (s *Spool) write(p []byte) (int, error) {
	n := 0
	for {
		if err := s.writeErr(); err != nil {
			return n, err
		}
		if !s.draining {
			// Not released, or its Release failed: hold it all.
			m, err := s.q.Write(p[n:])
			s.held.Store(s.q.Len())
			s.lose(err)
			return n + m, err
		}
		if n == len(p) {
			return n, nil
		}
		m := 0
		room := s.limit - s.q.charged()
		if s.q.Len() == 0 {
			room = max(room, s.mem) // an empty queue takes what fits in memory
			if room < int64(len(p)-n) {
				n += s.handOff(p[n:])
				continue
			}
		}
		if room > 0 {
			part := p[n : n+int(min(room, int64(len(p)-n)))]
			if s.noSpill {
				if s.q.Spilled() == 0 {
					m = s.q.writeMem(part)
				}
			} else {
				var err error
				m, err = s.q.Write(part)
				if compute.CodeOf(err) == compute.CodeResourceExhausted && !compute.IsFault(err) {
					// The disk the spool gave back went to others: wait
					// for the destination instead. (Not a full file
					// system's: behind a write-behind, the bytes it did
					// not take were taken already, and are lost.)
					s.noSpill, err = true, nil
				}
				if err != nil {
					// The released reply lost these bytes (the spill
					// file's write failed): it is cut here, and Release
					// fails rather than send on past the hole, whatever
					// the writer does next.
					s.held.Store(s.q.Len())
					s.lose(err)
					s.cond.Broadcast()
					return n + m, err
				}
			}
		}
		if m > 0 {
			n += m
			s.held.Store(s.q.Len())
			s.cond.Broadcast()
			continue
		}
		s.cond.Wait()
	}
}

// handOff gives b to Release to write as it is (Spool.direct), with s.mu
// held, and returns how much of it the destination took once Release has
// written it, or 0 if Release ended, or the spool failed, before taking it.
// The caller's loop then sees why.
func (s *Spool) handOff(b []byte) int {
	s.direct, s.directDone = b, false
	s.cond.Broadcast()
	for !s.directDone {
		if !s.directBusy && (!s.draining || s.writeErr() != nil) {
			s.direct = nil
			return 0
		}
		s.cond.Wait()
	}
	s.directDone = false
	return s.directN
}

// lose records err, a held write's, as the reply's loss (Spool.lost);
// called with s.mu held.
func (s *Spool) lose(err error) {
	if err != nil && s.lost == nil {
		s.lost = err
	}
}

// CloseWrite says that nothing more will be written: Release returns once
// what was written is out. Writes after it fail.
func (s *Spool) CloseWrite() {
	s.mu.Lock()
	s.writeClosed = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// Abort makes Release and writes, those waiting included, fail with err
// (the job is over: its context is done).
func (s *Spool) Abort(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.cond.Broadcast()
	s.mu.Unlock()
}

// Release writes what the spool holds to out, in order, giving each part
// back once out has taken it, and goes on writing what is written
// meanwhile until CloseWrite; it returns when all of it is out, or with
// the first error of out (then the spool holds what out did not take, and
// later writes, until Close). Only one Release runs at a time.
func (s *Spool) Release(out io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return io.ErrClosedPipe
	case s.err != nil:
		return s.err
	case s.draining:
		return compute.Internal("spool: released twice", nil)
	}
	// released first: a write that follows the gate's Released (the
	// gate lets it through) must not ask the gate again.
	s.released.Store(true)
	if s.gate != nil {
		s.gate.Released()
	}
	if s.lost != nil {
		return s.lost
	}
	s.draining, s.limit = true, max(s.mem, s.q.charged())
	var rb readBack
	defer func() {
		rb.close()
		s.draining = false
		s.cond.Broadcast()
	}()
	for {
		for s.q.Len() == 0 && s.direct == nil && !s.writeClosed && !s.closed && s.err == nil && s.lost == nil {
			s.cond.Wait()
		}
		switch {
		case s.closed:
			return io.ErrClosedPipe
		case s.err != nil:
			return s.err
		case s.lost != nil:
			// A write failed after the release began: what follows
			// the bytes out so far is not all that was written.
			return s.lost
		case s.q.Len() == 0 && s.direct != nil:
			// A write handed over whole (Spool.direct): the writer waits
			// for it, so b stays as it is until the write returns.
			b := s.direct
			s.directBusy = true
			s.mu.Unlock()
			k, err := out.Write(b)
			s.mu.Lock()
			s.direct, s.directBusy, s.directDone, s.directN = nil, false, true, k
			s.cond.Broadcast()
			if err != nil {
				return err
			}
			if s.closed {
				return io.ErrClosedPipe
			}
			continue
		case s.q.Len() == 0: // write-closed, and all of it is out
			s.q.Close()
			return nil
		}
		fs, send := out.(FileSender)
		b, off, n, err := s.q.front(s.q.sendChunk(send))
		if err != nil {
			return err
		}
		f := s.q.file
		if b == nil && send {
			s.q.byRef = true
		}
		if b == nil && !send {
			rb.cur = rb.take(f, off, n)
			n = rb.cur.n
			// Read what follows while out takes this.
			if noff, nn := s.q.fileAt(int64(n), readBufSize); nn > 0 {
				if err := s.q.sync(noff, nn); err != nil {
					return err
				}
				rb.ahead = rb.start(f, noff, int(nn))
			}
		}
		s.mu.Unlock()
		if b == nil && send {
			var k int64
			k, err = fs.SendFile(f, off, int64(n))
			s.mu.Lock()
			if s.closed {
				return io.ErrClosedPipe
			}
			s.q.drop(int(k))
			s.held.Store(s.q.Len())
			s.cond.Broadcast()
			if err != nil {
				return err
			}
			continue
		}
		if b == nil {
			b, err = rb.cur.wait()
			rb.cur = nil
		}
		k := 0
		if err == nil {
			k, err = out.Write(b)
		}
		s.mu.Lock()
		if s.closed {
			return io.ErrClosedPipe
		}
		s.q.drop(k)
		s.held.Store(s.q.Len())
		s.cond.Broadcast()
		if err != nil {
			return err
		}
	}
}

// sendChunk is the most Release takes from the spill file at once: a
// segment's rest when the destination sends it by reference, else what
// fits its read buffer.
func (q *Queue) sendChunk(send bool) int {
	if send {
		return int(q.seg)
	}
	return readBufSize
}

// Close frees the memory and the spill file. Writes after Close fail.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.q.Close()
	s.held.Store(0)
	s.cond.Broadcast()
	return nil
}

var _ compute.BufferTaker = (*Spool)(nil)
