package spool

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/halfclose/halfclose/compute"
)

// Spool holds a job's output until its input has ended: a Queue, in
// memory up to the budget, then in an unlinked temp file charged to the
// disk budget. Release sends what it holds to the real destination, giving
// memory and disk back as the destination takes it, and makes later writes
// go straight through (a writer then waits for the destination: the reply
// is backpressured, never spooled, once the input has ended). It is safe
// for one writer and one releaser at once.
type Spool struct {
	mem      int64
	held     atomic.Int64 // bytes held, for Held without the lock
	released atomic.Bool
	gate     Gate

	mu     sync.Mutex // protects the fields below
	q      *Queue
	out    io.Writer // non-nil once released
	closed bool
}

// New returns an empty spool.
func New(cfg compute.SpoolConfig) *Spool {
	return &Spool{mem: cfg.Mem(), q: NewQueue(cfg, 0)}
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

// Held returns the bytes the spool holds, in memory and on disk.
func (s *Spool) Held() int64 { return s.held.Load() }

// Mem returns the bytes the spool holds in memory before it spills.
func (s *Spool) Mem() int64 { return s.mem }

// Write holds p, or passes it on once released.
func (s *Spool) Write(p []byte) (int, error) {
	if s.gate != nil && !s.released.Load() {
		if held := s.held.Load(); held+int64(len(p)) > s.mem {
			if err := s.gate.Wait(held, int64(len(p))); err != nil {
				return 0, err
			}
		}
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return 0, io.ErrClosedPipe
	case s.out != nil:
		defer s.mu.Unlock()
		return s.out.Write(p)
	}
	n, err := s.q.Write(p)
	s.held.Store(s.q.Len())
	s.mu.Unlock()
	return n, err
}

// Release writes what the spool holds to out, in order, giving each part
// back once out has taken it, and from then on passes writes straight to
// out. Writers wait meanwhile.
func (s *Spool) Release(out io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return io.ErrClosedPipe
	}
	if s.gate != nil {
		s.gate.Released()
	}
	_, err := s.q.WriteTo(onlyWriter{out})
	s.held.Store(s.q.Len())
	if err != nil {
		return err
	}
	s.q.Close()
	s.out = out
	s.released.Store(true)
	return nil
}

// Close frees the memory and the spill file. Writes after Close fail.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.q.Close()
	s.held.Store(0)
	return nil
}

// onlyWriter hides ReadFrom so nothing copies through a buffer of its own.
type onlyWriter struct{ io.Writer }
