package digest

import (
	"encoding/binary"
	"hash"
	"io"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"lukechampine.com/blake3/guts"

	"github.com/halfclose/halfclose/compute"
)

// BLAKE3 on every core, as a tree of our own over lukechampine's SIMD
// compressor (guts: 16 chunks at once with AVX-512, 8 with AVX2).
//
// The input is a binary tree of 1 KiB chunks. It is hashed in tasks,
// aligned subtrees of 64 chunks (64 KiB), by the writer's goroutine and up
// to GOMAXPROCS-1 helpers that live for one Write, each taking the next
// task not taken; then the writer pushes the tasks' chaining values, in
// the tree's order, onto the chaining-value stack of the BLAKE3 spec (one
// subtree per height at most, merged as they pair up).
//
// A write's whole 16-chunk groups are hashed where they lie, no copy, on
// helpers too when they are over 128 KiB; the bytes around them are
// gathered into a buffer of one group (16 KiB), hashed on the writer's
// goroutine once whole and followed by more input. What is left when the
// digest is asked for is hashed then: its whole chunks but the last, the
// last chunk, then the stack is folded into the root node, which gives
// the digest and the extendable output. A subtree is pushed only if it
// cannot be the root: if more input follows it, or if the input so far is
// not a power of two of chunks.
//
// A hash holds at most one group (16 KiB) and, for small inputs, only
// what it was given (the buffer grows as it fills). Write returns once
// its helpers are done: a hash holds no goroutine between calls.
const (
	b3ChunkSize  = guts.ChunkSize
	b3TaskChunks = 64 // a task: a 64 KiB subtree (height 6)
	b3TaskBytes  = b3TaskChunks * b3ChunkSize
	b3TaskHeight = 6
	b3Parallel   = 2 * b3TaskBytes // helpers only for more than this
	b3SIMDBytes  = guts.MaxSIMD * b3ChunkSize
	b3InPlace    = b3SIMDBytes // writes of this or more are hashed in place
)

// parallelBlake3 is BLAKE3 (default, keyed or derive-key mode) with a
// 32-byte Sum and an extendable output (XOF).
type parallelBlake3 struct {
	key   [8]uint32
	flags uint32

	// The chaining-value stack: stack[i] holds a subtree of 2^i chunks
	// when bit i of chunks is set; chunks counts the chunks pushed.
	stack  [64][8]uint32
	chunks uint64

	buf    []byte // the input after the stack's chunks: under a group, or a whole one
	job    b3Job  // reused by every hashing
	serial bool   // no helpers (MultiHash: the other hashes use the cores)
}

func newParallelBlake3() *parallelBlake3 {
	return &parallelBlake3{key: guts.IV}
}

// newKeyedBlake3 is BLAKE3's keyed mode; key is 32 bytes.
func newKeyedBlake3(key []byte) *parallelBlake3 {
	p := &parallelBlake3{flags: guts.FlagKeyedHash}
	for i := range p.key {
		p.key[i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	return p
}

// newDeriveKeyBlake3 is BLAKE3's key derivation mode for context ctx: the
// hash of the key material written to it.
func newDeriveKeyBlake3(ctx string) *parallelBlake3 {
	c := &parallelBlake3{key: guts.IV, flags: guts.FlagDeriveKeyContext}
	c.Write([]byte(ctx))
	p := newKeyedBlake3(c.Sum(nil))
	p.flags = guts.FlagDeriveKeyMaterial
	return p
}

// b3Task is an aligned subtree: 2^height chunks of data at chunk counter.
type b3Task struct {
	data    []byte
	counter uint64
	height  int
	cv      [8]uint32
}

// b3Job is tasks shared by goroutines: each takes the next task not taken.
type b3Job struct {
	tasks []b3Task
	key   *[8]uint32
	flags uint32
	next  atomic.Int64
	wg    sync.WaitGroup
	// fault is a helper's panic, raised again on the caller's goroutine
	// once every helper is done (run): on a helper it would end the
	// process.
	fault atomic.Pointer[compute.HelperPanic]
	// helpers counts the helper goroutines started (tests).
	helpers int
}

func (j *b3Job) work() {
	for {
		i := int(j.next.Add(1) - 1)
		if i >= len(j.tasks) {
			return
		}
		t := &j.tasks[i]
		t.cv = b3SubtreeCV(t.data, t.height, j.key, t.counter, j.flags)
	}
}

// start hashes the job's tasks on helpers goroutines besides any the
// caller lends with work.
func (j *b3Job) start(helpers int) {
	helpers = min(helpers, len(j.tasks))
	j.helpers += max(helpers, 0)
	j.wg.Add(helpers)
	for range helpers {
		go func() {
			defer j.wg.Done()
			defer func() {
				if v := recover(); v != nil {
					j.fault.CompareAndSwap(nil, compute.NewHelperPanic(v))
				}
			}()
			j.work()
		}()
	}
}

// run hashes the tasks on the caller's goroutine and up to GOMAXPROCS-1
// helpers, and returns when every task is done.
func (j *b3Job) run(parallel bool) {
	j.next.Store(0)
	if parallel {
		j.start(min(runtime.GOMAXPROCS(0), len(j.tasks)) - 1)
	}
	j.workAndWait()
	if p := j.fault.Swap(nil); p != nil {
		panic(p)
	}
}

// workAndWait lends the caller to the tasks, then waits for the helpers,
// even when a task panics on the caller: a helper left running would read
// the caller's data after it was handed back (an adapter's message buffer,
// MultiHash's block), and write into the job's tasks.
func (j *b3Job) workAndWait() {
	defer j.wg.Wait()
	j.work()
}

// b3SubtreeCV is the chaining value of the aligned subtree of 2^height
// chunks in data (a non-root node).
func b3SubtreeCV(data []byte, height int, key *[8]uint32, counter uint64, flags uint32) [8]uint32 {
	n := b3ChunkSize << height
	if height == 0 {
		return guts.ChainingValue(guts.CompressChunk(data[:n], key, counter, flags))
	}
	if n <= b3SIMDBytes {
		// CompressBuffer reads a whole 16-chunk buffer.
		if cap(data) >= b3SIMDBytes {
			return guts.ChainingValue(guts.CompressBuffer((*[b3SIMDBytes]byte)(data[:b3SIMDBytes]), n, key, counter, flags))
		}
		var tmp [b3SIMDBytes]byte
		copy(tmp[:], data[:n])
		return guts.ChainingValue(guts.CompressBuffer(&tmp, n, key, counter, flags))
	}
	// 16-chunk subtrees, then their parents level by level.
	var cvs [b3TaskChunks / guts.MaxSIMD][8]uint32
	if n > b3TaskBytes {
		panic("blake3: subtree larger than a task")
	}
	k := n / b3SIMDBytes
	for i := range k {
		cvs[i] = guts.ChainingValue(guts.CompressBuffer((*[b3SIMDBytes]byte)(data[i*b3SIMDBytes:]), b3SIMDBytes, key, counter+uint64(i*guts.MaxSIMD), flags))
	}
	for ; k > 1; k /= 2 {
		for i := 0; i < k/2; i++ {
			cvs[i] = guts.ChainingValue(guts.ParentNode(cvs[2*i], cvs[2*i+1], key, flags))
		}
	}
	return cvs[0]
}

// appendTasks appends the tasks of len(data)/1 KiB whole chunks starting
// at chunk counter: the aligned subtrees BLAKE3's tree has there (its
// eigentrees), those above a task's size cut into tasks.
func appendTasks(tasks []b3Task, data []byte, counter uint64) []b3Task {
	for _, h := range guts.Eigentrees(counter, uint64(len(data)/b3ChunkSize)) {
		th := min(h, b3TaskHeight)
		for range 1 << (h - th) {
			n := b3ChunkSize << th
			tasks = append(tasks, b3Task{data: data[:n:n], counter: counter, height: th})
			data = data[n:]
			counter += 1 << th
		}
	}
	return tasks
}

// push adds a subtree's chaining value to the stack, merging the subtrees
// it completes. Only for a subtree that more input follows (a merged node
// is never the root).
func push(stack *[64][8]uint32, chunks *uint64, cv [8]uint32, height int, key *[8]uint32, flags uint32) {
	i := height
	for *chunks&(1<<i) != 0 {
		cv = guts.ChainingValue(guts.ParentNode(stack[i], cv, key, flags))
		i++
	}
	stack[i] = cv
	*chunks += 1 << height
}

// hash hashes data, whole chunks at the stack's count, on the caller's
// goroutine and helpers, and pushes the subtrees. Only for data that more
// input follows or that ends at a count of chunks not a power of two.
func (p *parallelBlake3) hash(data []byte) {
	j := &p.job
	j.key, j.flags = &p.key, p.flags
	j.tasks = appendTasks(j.tasks[:0], data, p.chunks)
	j.run(!p.serial && len(data) > b3Parallel)
	for i := range j.tasks {
		push(&p.stack, &p.chunks, j.tasks[i].cv, j.tasks[i].height, &p.key, p.flags)
	}
	clear(j.tasks) // no reference to the caller's data
	j.tasks = j.tasks[:0]
}

// Write never fails and keeps no reference to b.
//
// Whole 16-chunk groups of b are hashed where they lie; what falls
// outside them (the head that completes a group begun by earlier writes,
// a tail under a group) is gathered into a buffer of one group, hashed on
// the writer's goroutine alone as soon as it is whole and more input
// follows. A gRPC stage's writes are 16 KiB frames that start 9 bytes off
// a group (the message's data starts 9 bytes into its first frame), so
// each is gathered: into a 1 MiB block, as before, the copy missed the
// cache (0.1 CPU-s a GiB in the server's profile) and the block was
// hashed by the writer and a helper, beside the receiving goroutine and
// the client on a 2-core machine; a group-sized buffer stays in the
// cache.
func (p *parallelBlake3) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if k := len(p.buf); k == b3InPlace {
			// A whole group, and more input follows.
			p.hash(p.buf)
			p.buf = p.buf[:0]
		}
		if len(p.buf) == 0 && len(b) >= b3InPlace {
			// Whole 16-chunk groups where they lie; a last one that would
			// end the input at a power of two of chunks (the root) is kept
			// back.
			k := len(b) / b3InPlace * b3InPlace
			if c := p.chunks + uint64(k/b3ChunkSize); k == len(b) && c&(c-1) == 0 {
				k -= b3InPlace
			}
			if k > 0 {
				p.hash(b[:k])
				b = b[k:]
				continue
			}
		}
		if len(p.buf) == cap(p.buf) {
			// Grow toward a group: a small input holds only its size.
			c := min(b3InPlace, max(2*cap(p.buf), len(p.buf)+len(b), 1<<10))
			p.buf = append(make([]byte, 0, c), p.buf...)
		}
		k := min(len(b), cap(p.buf)-len(p.buf))
		p.buf = append(p.buf, b[:k]...)
		b = b[k:]
	}
	return n, nil
}

// root is the root node of the input so far; the state is unchanged.
func (p *parallelBlake3) root() guts.Node {
	stack, chunks := p.stack, p.chunks
	if len(p.buf) == 0 && chunks > 0 {
		// The input ends at the last subtree pushed: fold the stack.
		lo, hi := bits.TrailingZeros64(chunks), bits.Len64(chunks)-1
		if lo == hi {
			panic("blake3: the root was pushed as a subtree")
		}
		cv := stack[lo]
		var n guts.Node
		for i := lo + 1; i <= hi; i++ {
			if chunks&(1<<i) != 0 {
				n = guts.ParentNode(stack[i], cv, &p.key, p.flags)
				cv = guts.ChainingValue(n)
			}
		}
		n.Flags |= guts.FlagRoot
		return n
	}
	// Every whole chunk but the last, on every core.
	last := 0
	if len(p.buf) > 0 {
		last = (len(p.buf) - 1) / b3ChunkSize * b3ChunkSize
	}
	if last > 0 {
		j := &p.job
		j.key, j.flags = &p.key, p.flags
		j.tasks = appendTasks(j.tasks[:0], p.buf[:last], chunks)
		j.run(!p.serial && last > b3Parallel)
		for i := range j.tasks {
			push(&stack, &chunks, j.tasks[i].cv, j.tasks[i].height, &p.key, p.flags)
		}
		j.tasks = j.tasks[:0]
	}
	n := guts.CompressChunk(p.buf[last:], &p.key, chunks, p.flags)
	for i := bits.TrailingZeros64(chunks); i < bits.Len64(chunks); i++ {
		if chunks&(1<<i) != 0 {
			n = guts.ParentNode(stack[i], guts.ChainingValue(n), &p.key, p.flags)
		}
	}
	n.Flags |= guts.FlagRoot
	return n
}

// Sum appends the 32-byte digest.
func (p *parallelBlake3) Sum(b []byte) []byte {
	out := guts.WordsToBytes(guts.CompressNode(p.root()))
	return append(b, out[:32]...)
}

// Reset empties the hash (same mode and key).
func (p *parallelBlake3) Reset() {
	p.chunks = 0
	p.buf = p.buf[:0]
}

func (p *parallelBlake3) Size() int      { return 32 }
func (p *parallelBlake3) BlockSize() int { return 64 }

// XOF reads the extendable output of the input so far (2^64 - 1 bytes).
func (p *parallelBlake3) XOF() io.Reader { return &b3Output{n: p.root()} }

// b3Output is BLAKE3's output: root node compressions with counters 0, 1,
// ..., 16 at a time.
type b3Output struct {
	n   guts.Node
	buf [guts.MaxSIMD * guts.BlockSize]byte
	off uint64
}

func (o *b3Output) Read(b []byte) (int, error) {
	const size = uint64(len(o.buf))
	n := 0
	for len(b) > 0 {
		if o.off == 1<<64-1 {
			return n, io.EOF
		}
		if o.off%size == 0 {
			o.n.Counter = o.off / guts.BlockSize
			guts.CompressBlocks(&o.buf, o.n)
		}
		k := copy(b, o.buf[o.off%size:min(size, o.off%size+(1<<64-1-o.off))])
		b = b[k:]
		n += k
		o.off += uint64(k)
	}
	return n, nil
}

var _ hash.Hash = (*parallelBlake3)(nil)
