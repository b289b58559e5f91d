package engine

import (
	"math"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/spool"
)

// What a job holds in memory is bounded by design; docs/operations.md
// ("Memory") derives the bound of the whole process from these.
const (
	// StageBufferBytes bounds the fixed buffers of one stage: its read and
	// write buffers, a compressor's state, grep's search buffer and the
	// copies it searches (measured: 1.8 MiB at most, for sort).
	StageBufferBytes = 2 << 20
	// LineCopies bounds how many lines of MaxLineBytes a line-oriented
	// stage holds at once: grep its buffer and, for one long line, a
	// widened (two bytes for a byte >= 0x80) and a lower-cased (-i) copy;
	// sort and uniq the line being read (and the buffer it grew from) and
	// the one held.
	LineCopies = 4
	// PatternBytes bounds the compiled patterns of one pipeline and their
	// matchers, at compute.MaxPatternInsts (about 4 MiB to compile, and
	// 1 to 3 MiB of matchers while they run).
	PatternBytes = 8 << 20
)

// JobMemory returns the most one job of the given number of stages holds
// in the engine: its reply spool (Spool.Mem, and the buffers it writes its
// spill file behind the stages with and reads it back through), the input
// read ahead of the stages (readAheadMem), its patterns (PatternBytes),
// and for each stage its buffers (StageBufferBytes), what a stage that
// must see all of its input keeps before spilling (Spool.Mem: sort, tac,
// tail, head -n -N, cut's first field; sort rounds a Spool.Mem under
// compute.MinSortMem up to it, Spool.SortMem) and LineCopies lines of
// MaxLineBytes. It counts every stage as the worst of them, and is
// math.MaxInt64 where the bound is past it. What the adapter buffers
// comes on top.
func JobMemory(cfg Config, stages int) int64 {
	mem := cfg.Spool.Mem()
	line := int64(cfg.MaxLineBytes)
	if line <= 0 {
		line = compute.DefaultMaxLineBytes
	}
	perStage := addSat(StageBufferBytes+LineCopies*line, cfg.Spool.SortMem())
	reply := addSat(mem, spool.WriteBehindBytes+spool.ReadBackBytes)
	return addSat(addSat(reply, readAheadMem+PatternBytes), mulSat(int64(stages), perStage))
}

// addSat is a+b of two byte counts >= 0, math.MaxInt64 past it: a
// --spool-mem near its largest (4 EiB) wrapped JobMemory's sum negative,
// a bound that meant none.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// mulSat is n*b of counts >= 0, math.MaxInt64 past it.
func mulSat(n, b int64) int64 {
	if n > 0 && b > math.MaxInt64/n {
		return math.MaxInt64
	}
	return n * b
}
