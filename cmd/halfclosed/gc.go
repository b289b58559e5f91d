package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/flagenv"
)

// defaultGCPercent is --gc-percent's default. halfclosed's live heap is
// small (a few MiB: connections, pools) while a stream of small calls
// allocates quickly, so at Go's default of 100 the collector runs dozens of
// times a second and takes a fifth of the CPU of 1 KiB calls; at 400 it
// runs a quarter as often. The memory limit keeps the worst case bounded.
const defaultGCPercent = 400

// adapterJobBytes is what an adapter buffers for one job at the most
// (docs/operations.md, "Memory"): on gRPC the stream's flow-control
// window (8 MiB), the messages received ahead (4), the one being decoded
// and the output message being sent, of --max-msg-bytes each; on TCP
// 4.3 MiB (a digest job's 4 MiB of input buffers, the read and reply
// buffers), always less. math.MaxInt64 past it: a --max-msg-bytes
// between 2.67 and 4 EiB wrapped 6 messages to a few bytes (3 EiB: a
// job_memory of 43 MiB, under the default's 67 MiB).
func (c *config) adapterJobBytes() int64 {
	if msg := int64(c.maxMsgBytes); msg <= (math.MaxInt64-grpcStreamWindow)/6 {
		return grpcStreamWindow + 6*msg
	}
	return math.MaxInt64
}

// grpcStreamWindow is what grpc-go holds of a stream's received data at
// the most, its flow-control window, whether a job reads it or not: a
// stream waiting for its header or for a job slot holds that much
// (docs/operations.md, "Memory"; --grpc-max-requests caps such streams).
const grpcStreamWindow = 8 << 20

// jobHeapBytes is what one job of one stage may hold in memory at the
// most: the engine's bound (engine.JobMemory) and its adapter's buffers.
// math.MaxInt64 where that is past any count (--print-limits printed a
// negative job_memory for a --spool-mem or --max-msg-bytes near 4 EiB).
func (c *config) jobHeapBytes() int64 {
	job, adapter := engine.JobMemory(c.engineConfig(), 1), c.adapterJobBytes()
	if job > math.MaxInt64-adapter {
		return math.MaxInt64
	}
	return job + adapter
}

// waitingStreams is how many gRPC streams may be open without a job at
// once: those of --grpc-max-requests over --max-jobs, waiting for a slot
// (--job-wait) or for their header, each holding its window
// (grpcStreamWindow). 0 where the cap is off: they are not bounded then,
// and no derived limit counts them.
func (c *config) waitingStreams() int64 {
	if n := c.grpcRequests(); n > c.maxJobs {
		return int64(n - c.maxJobs)
	}
	return 0
}

// liveBytes is what the server's jobs and waiting streams may hold live
// at the most: --max-jobs jobs of one stage (jobHeapBytes) and the
// waitingStreams' windows; math.MaxInt64 past any heap.
func (c *config) liveBytes() int64 {
	job, jobs, waiting := c.jobHeapBytes(), int64(c.maxJobs), c.waitingStreams()
	if job <= 0 || jobs > math.MaxInt64/job {
		return math.MaxInt64
	}
	if waiting > (math.MaxInt64-jobs*job)/grpcStreamWindow {
		return math.MaxInt64
	}
	return jobs*job + waiting*grpcStreamWindow
}

// defaultMemoryLimit is --memory-limit's default: what --max-jobs jobs of
// one stage holding all they may, and the gRPC streams waiting for them
// (liveBytes), would make the heap reach at Go's default GC target (twice
// the live data), plus room for the server itself. The higher
// --gc-percent thus never lets the heap grow past what GOGC=100 would for
// such a load.
func (c *config) defaultMemoryLimit() int64 {
	const serverItself = 256 << 20
	live := c.liveBytes()
	if live > (math.MaxInt64-serverItself)/2 {
		return math.MaxInt64 // no limit: the bounds are past any heap
	}
	return 2*live + serverItself
}

// heapLimit returns the Go heap's soft limit the configuration sets, and
// where it comes from: GOMEMLIMIT in the environment (which the runtime
// has applied already), --memory-limit, or its derived default.
func (c *config) heapLimit() (int64, string) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	}
	if c.memoryLimit != 0 {
		return int64(c.memoryLimit), "--memory-limit"
	}
	return c.defaultMemoryLimit(), "--memory-limit"
}

// applyGC sets the collector's target and soft memory limit from the
// flags, unless GOGC or GOMEMLIMIT are set in the environment, which the
// runtime has applied already.
func (c *config) applyGC(log *slog.Logger) {
	gc := "GOGC"
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(c.gcPercent)
		gc = "--gc-percent"
	}
	l, limit := c.heapLimit()
	debug.SetMemoryLimit(l)
	cur := debug.SetGCPercent(-1)
	debug.SetGCPercent(cur)
	log.Debug("go runtime", "gc_percent", cur, "gc_percent_from", gc,
		"memory_limit", flagenv.FormatBytes(debug.SetMemoryLimit(-1)), "memory_limit_from", limit)
}

// writeLimits answers --print-limits: the bounds docs/operations.md
// ("Memory") sizes a server by, as the program computes them, so that a
// deployment can be checked against them (deploy/validate does) without a
// copy of the formulas. One "name value" line each, byte counts in bytes:
// max_jobs; job_memory, what one job of one stage holds at the most on
// gRPC, job(1) (TCP jobs hold less); memory_limit and memory_limit_from,
// the soft limit of the heap that would be applied and where it comes
// from; grpc_max_requests, the gRPC streams open at once (0: no cap), and
// stream_memory, what one of them holds before it has a job (the
// streams over --max-jobs wait for a slot, each holding that much).
func (c *config) writeLimits(w io.Writer) {
	l, from := c.heapLimit()
	fmt.Fprintf(w, "max_jobs %d\njob_memory %d\nmemory_limit %d\nmemory_limit_from %s\ngrpc_max_requests %d\nstream_memory %d\n",
		c.maxJobs, c.jobHeapBytes(), l, from, c.grpcRequests(), grpcStreamWindow)
}
