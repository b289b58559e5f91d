package compute

import (
	"os"
	"sync"
	"sync/atomic"
)

// Env is what a stage may use from its server: the spool settings for
// memory budgets and spill files, the longest line it may hold, and what
// its patterns may compile to. The zero Env is usable (defaults). An
// engine makes one Env per pipeline it compiles.
type Env struct {
	Spool SpoolConfig
	// MaxLineBytes is the longest line a line-oriented stage holds;
	// 0 = DefaultMaxLineBytes.
	MaxLineBytes int
	// Patterns is the pipeline's pattern budget, shared by its stages;
	// nil = MaxPatternInsts for each stage.
	Patterns *PatternBudget
}

// LineLimit returns the longest line a stage may hold.
func (e *Env) LineLimit() int {
	if e == nil || e.MaxLineBytes <= 0 {
		return DefaultMaxLineBytes
	}
	return e.MaxLineBytes
}

// Spool defaults.
const (
	DefaultSpoolMem  = 8 << 20 // bytes a job holds in memory before spilling
	DefaultSpoolDisk = 4 << 30 // bytes all jobs may spill to disk together

	// MinSortMem is the least memory budget sort works with: a smaller
	// Mem is rounded up to it. Below it sort's runs get so small (at
	// 4 KiB, a line each) that its spill files and merge passes, not its
	// comparisons, cost the CPU: 50 MB at 4 KiB once took 160 times the
	// default's. (GNU sort's floor is lower, a few hundred bytes, but it
	// reads each run it merges through a 256 KiB buffer whatever its -S.)
	MinSortMem = 512 << 10
)

// SpoolConfig says how much a job may hold in memory and where and how much
// it may spill to disk. It is shared by the reply spool and by sort.
type SpoolConfig struct {
	MemBytes int64       // memory per buffer before spilling; 0 = DefaultSpoolMem
	Dir      string      // where spill files go; "" = os.TempDir()
	Disk     *DiskBudget // shared disk budget; nil = DefaultSpoolDisk of its own
	// SortMinBytes is the least memory budget sort works with (SortMem):
	// 0 = MinSortMem; negative = none, Mem as it is (for tests of sort's
	// spill and merge: many runs of a small input).
	SortMinBytes int64
}

// Mem returns the memory a buffer may hold before it spills.
func (c *SpoolConfig) Mem() int64 {
	if c.MemBytes <= 0 {
		return DefaultSpoolMem
	}
	return c.MemBytes
}

// SortMem returns the memory budget of a sort: Mem, rounded up to
// SortMinBytes.
func (c *SpoolConfig) SortMem() int64 {
	floor := c.SortMinBytes
	if floor == 0 {
		floor = MinSortMem
	}
	return max(c.Mem(), floor)
}

// Budget returns the disk budget, making one of DefaultSpoolDisk when
// Disk is nil.
func (c *SpoolConfig) Budget() *DiskBudget {
	if c.Disk == nil {
		c.Disk = NewDiskBudget(DefaultSpoolDisk)
	}
	return c.Disk
}

// TempFile creates a spill file in Dir that vanishes with its descriptor,
// even if the process dies: unlinked at once on Unix, opened
// delete-on-close on Windows (tempfile_windows.go). Bytes written to it
// must be reserved with Disk first.
func (c *SpoolConfig) TempFile() (*os.File, error) {
	f, err := createUnlinked(c.Dir)
	if err != nil {
		err = SpoolError("cannot create spill file", err)
		switch {
		case spoolUnusable(err):
			c.Budget().setUnusable(err)
		case spoolFull(err):
			// The directory is there and writable, only full (no
			// inode left): no longer broken, whatever it was (a
			// full disk leaves /readyz alone).
			c.Budget().setUnusable(nil)
		}
		return nil, err
	}
	if b := c.Budget(); b.unusable.Load() {
		b.setUnusable(nil)
	}
	return f, nil
}

// DiskBudget is the disk space all jobs may use for spill files together.
type DiskBudget struct {
	limit int64
	used  atomic.Int64
	// unusable: the last spill file that was tried could not be created
	// for a reason other than room (SpoolError's UNAVAILABLE: the
	// directory removed, read-only, failing); the next one created
	// clears it. The server's readiness asks it (Unusable), and its
	// gRPC health waits for its changes (Changed).
	unusable atomic.Bool

	mu      sync.Mutex    // protects changed and cause, and orders unusable's changes
	changed chan struct{} // closed when unusable changes; nil: none made since
	cause   error         // the create's error that set unusable
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

// Unusable reports whether the last spill file tried under this budget
// could not be created for a reason other than room: the spool's
// directory is broken until a spill file is created again.
func (b *DiskBudget) Unusable() bool { return b.unusable.Load() }

// Changed returns a channel closed when Unusable next changes. Ask it
// before Unusable: a change between the two closes it.
func (b *DiskBudget) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	return b.changed
}

// Cause returns the error of the spill file's create that made the
// spool unusable, or nil while it is not.
func (b *DiskBudget) Cause() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cause
}

// setUnusable marks the spool unusable for cause, or not (nil), and
// closes Changed's channel when Unusable changes. The mark changes under
// mu with its cause: swapped before it, a mark and a clear that crossed
// took mu in the other order and left the cause of the one that lost
// (usable with a Cause, unusable with none).
func (b *DiskBudget) setUnusable(cause error) {
	v := cause != nil
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.unusable.Load() == v {
		return
	}
	b.unusable.Store(v)
	b.cause = cause
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// Limit returns the budget's size.
func (b *DiskBudget) Limit() int64 { return b.limit }
