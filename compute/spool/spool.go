package spool

import (
	"io"
	"os"
	"sync"

	"github.com/halfclose/halfclose/compute"
)

// Spool holds a job's output until its input has ended: in memory up to the
// budget, then in an unlinked temp file charged to the disk budget. Release
// sends what it holds to the real destination and makes later writes go
// straight through. It is safe for one writer and one releaser at once.
type Spool struct {
	cfg compute.SpoolConfig

	mu       sync.Mutex // protects the fields below
	mem      []byte
	file     *os.File
	fileSize int64
	out      io.Writer // non-nil once released
	closed   bool
}

// New returns an empty spool.
func New(cfg compute.SpoolConfig) *Spool {
	cfg.Budget()
	return &Spool{cfg: cfg}
}

// Write holds p, or passes it on once released.
func (s *Spool) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return 0, io.ErrClosedPipe
	case s.out != nil:
		return s.out.Write(p)
	case s.file == nil && int64(len(s.mem)+len(p)) <= s.cfg.Mem():
		s.mem = append(s.mem, p...)
		return len(p), nil
	}
	if s.file == nil {
		f, err := s.cfg.TempFile()
		if err != nil {
			return 0, err
		}
		s.file = f
	}
	if err := s.cfg.Disk.Reserve(int64(len(p))); err != nil {
		return 0, err
	}
	n, err := s.file.Write(p)
	s.fileSize += int64(n)
	s.cfg.Disk.Release(int64(len(p) - n))
	if err != nil {
		return n, compute.Internal("spool: write failed", err)
	}
	return n, nil
}

// Release writes what the spool holds to out, in order, and from then on
// passes writes straight to out.
func (s *Spool) Release(out io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return io.ErrClosedPipe
	}
	if len(s.mem) > 0 {
		if _, err := out.Write(s.mem); err != nil {
			return err
		}
	}
	s.mem = nil
	if s.file != nil {
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return compute.Internal("spool: read failed", err)
		}
		if _, err := io.Copy(onlyWriter{out}, s.file); err != nil {
			return err
		}
		s.dropFile()
	}
	s.out = out
	return nil
}

// Close frees the memory and the spill file. Writes after Close fail.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.mem = nil
	s.dropFile()
	return nil
}

func (s *Spool) dropFile() {
	if s.file != nil {
		s.file.Close()
		s.cfg.Disk.Release(s.fileSize)
		s.file, s.fileSize = nil, 0
	}
}

// onlyWriter hides ReadFrom so io.Copy uses a plain buffer loop.
type onlyWriter struct{ io.Writer }
