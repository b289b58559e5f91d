package compute

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// Spool defaults.
const (
	DefaultSpoolMem  = 8 << 20 // bytes a job holds in memory before spilling
	DefaultSpoolDisk = 4 << 30 // bytes all jobs may spill to disk together
)

// SpoolConfig says how much a job may hold in memory and where and how much
// it may spill to disk. It is shared by the reply spool and by sort.
type SpoolConfig struct {
	MemBytes int64       // memory per buffer before spilling; 0 = DefaultSpoolMem
	Dir      string      // where spill files go; "" = os.TempDir()
	Disk     *DiskBudget // shared disk budget; nil = DefaultSpoolDisk of its own
}

func (c *SpoolConfig) mem() int64 {
	if c.MemBytes <= 0 {
		return DefaultSpoolMem
	}
	return c.MemBytes
}

func (c *SpoolConfig) disk() *DiskBudget {
	if c.Disk == nil {
		c.Disk = NewDiskBudget(DefaultSpoolDisk)
	}
	return c.Disk
}

// TempFile creates a spill file in Dir and unlinks it at once, so it
// vanishes with its descriptor even if the process dies. Bytes written to it
// must be reserved with Disk first.
func (c *SpoolConfig) TempFile() (*os.File, error) {
	f, err := os.CreateTemp(c.Dir, "halfclose-spool-*")
	if err != nil {
		return nil, Internal("spool: cannot create spill file", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, Internal("spool: cannot create spill file", err)
	}
	return f, nil
}

// DiskBudget is the disk space all jobs may use for spill files together.
type DiskBudget struct {
	limit int64
	used  atomic.Int64
}

// NewDiskBudget returns a budget of limit bytes.
func NewDiskBudget(limit int64) *DiskBudget { return &DiskBudget{limit: limit} }

// Reserve takes n bytes from the budget, or fails with RESOURCE_EXHAUSTED.
func (b *DiskBudget) Reserve(n int64) error {
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return Exhaustedf("spool: disk budget of %d bytes exhausted", b.limit)
	}
	return nil
}

// Release gives n bytes back.
func (b *DiskBudget) Release(n int64) { b.used.Add(-n) }

// Used returns the bytes reserved now.
func (b *DiskBudget) Used() int64 { return b.used.Load() }

// Limit returns the budget's size.
func (b *DiskBudget) Limit() int64 { return b.limit }

// Spool holds a job's output until its input has ended: in memory up to the
// budget, then in an unlinked temp file charged to the disk budget. Release
// sends what it holds to the real destination and makes later writes go
// straight through. It is safe for one writer and one releaser at once.
type Spool struct {
	cfg SpoolConfig

	mu       sync.Mutex // protects the fields below
	mem      []byte
	file     *os.File
	fileSize int64
	out      io.Writer // non-nil once released
	closed   bool
}

// NewSpool returns an empty spool.
func NewSpool(cfg SpoolConfig) *Spool {
	cfg.disk()
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
	case s.file == nil && int64(len(s.mem)+len(p)) <= s.cfg.mem():
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
		return n, Internal("spool: write failed", err)
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
			return Internal("spool: read failed", err)
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
