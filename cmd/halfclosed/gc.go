package main

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"

	"github.com/halfclose/halfclose/internal/flagenv"
)

// defaultGCPercent is --gc-percent's default. halfclosed's live heap is
// small (a few MiB: connections, pools) while a stream of small calls
// allocates quickly, so at Go's default of 100 the collector runs dozens of
// times a second and takes a fifth of the CPU of 1 KiB calls; at 400 it
// runs a quarter as often. The memory limit keeps the worst case bounded.
const defaultGCPercent = 400

// jobHeapBytes is what one job may hold in memory at the most: a reply
// spool and a sort buffer of --spool-mem each.
func (c *config) jobHeapBytes() int64 { return 2 * int64(c.spoolMem) }

// defaultMemoryLimit is --memory-limit's default: what --max-jobs jobs
// holding all they may would make the heap reach at Go's default GC target
// (twice the live data), plus room for the server itself. The higher
// --gc-percent thus never lets the heap grow past what GOGC=100 would.
func (c *config) defaultMemoryLimit() int64 {
	const serverItself = 256 << 20
	per := 2 * c.jobHeapBytes()
	if per <= 0 || int64(c.maxJobs) > (math.MaxInt64-serverItself)/per {
		return math.MaxInt64 // no limit: the bounds are past any heap
	}
	return int64(c.maxJobs)*per + serverItself
}

// applyGC sets the collector's target and soft memory limit from the
// flags, unless GOGC or GOMEMLIMIT are set in the environment, which the
// runtime has applied already.
func (c *config) applyGC(log *slog.Logger) {
	gc, limit := "GOGC", "GOMEMLIMIT"
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(c.gcPercent)
		gc = "--gc-percent"
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		l := int64(c.memoryLimit)
		if l == 0 {
			l = c.defaultMemoryLimit()
		}
		debug.SetMemoryLimit(l)
		limit = "--memory-limit"
	}
	cur := debug.SetGCPercent(-1)
	debug.SetGCPercent(cur)
	log.Debug("go runtime", "gc_percent", cur, "gc_percent_from", gc,
		"memory_limit", flagenv.FormatBytes(debug.SetMemoryLimit(-1)), "memory_limit_from", limit)
}
