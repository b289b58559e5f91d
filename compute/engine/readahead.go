package engine

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/spool"
)

// A reply may not start before the input has ended, and the engine learns
// of the end only when something reads the source to io.EOF. A stage that
// writes much more than it reads (gunzip: a few MiB in, GiBs out) would
// fill the reply spool, and the disk budget, long before it reads the end
// its client sent at once. So once the reply spool is past its memory, the
// engine reads the input ahead of the stages into a queue of its own, and
// the two grow in step: the queue holds at most as much as the reply, and
// the reply spills past its memory at most as much as has been read ahead
// (a write that would spill more waits for the read-ahead). The input's
// end is then found while the reply is still small, the reply is
// released, and the rest of the output flows to the client as fast as it
// reads, spooling nothing.
//
// The read-ahead starts only once the reply is past what the stages have
// read. A stage that writes less than it reads (grep, gzip) never starts
// it: with output e times its input (e ≤ 1), its reply holds e·I when the
// input of I bytes ends; reading ahead in step would hold 2e·I/(1+e),
// queue and reply together, which is more. A stage that writes more
// (e > 1) is what the read-ahead is for.
//
// A queue that cannot spill (the disk budget is full, or the spill file
// cannot be made) stops the read-ahead: the gate lets the stage's writes
// through while the stage takes what was read (they spill on their own,
// or fail RESOURCE_EXHAUSTED), then the stage reads the source itself,
// and its next write past what was read ahead starts the read-ahead
// again. (The gate once waited for the stopped read-ahead instead: the
// job hung, its input unread.)

// readAheadMem is what the read-ahead queue holds in memory before it
// spills to disk (charged to the disk budget like the reply's spill).
const readAheadMem = 1 << 20

// readAheadBuf is the size of the read-ahead's reads from the source.
const readAheadBuf = 64 << 10

// readAhead is the first stage's input: the source, read directly by the
// stage until the reply spool is past its memory, then read ahead by a
// goroutine into a queue that the stage reads from.
type readAhead struct {
	ctx   context.Context // the job's
	src   *Input
	reply *spool.Spool

	srcMu sync.Mutex // held by whoever reads src: one Read at a time

	mu      sync.Mutex // protects the fields below
	cond    *sync.Cond // signalled on every change of them
	q       *spool.Queue
	pending []byte // read from src when the queue had no room: after q
	err     error  // src's error (io.EOF at the end), after q and pending
	active  bool   // a goroutine reads src (or left pending); the stage reads q
	closed  bool   // the job is over: stop reading ahead, stop waiting
	started bool
	freed   bool  // the reply is released: the gate waits no more
	ahead   int64 // bytes the goroutines have read
	want    int64 // what the reply will hold after the write waiting in gate

	loops sync.WaitGroup // the goroutines reading ahead (one at a time)

	// beforeDirect, when set (tests), is called by Read between its look
	// at the queue and its srcMu, where another stage's gate may start
	// the read-ahead.
	beforeDirect func()
}

func newReadAhead(ctx context.Context, src *Input, reply *spool.Spool, cfg compute.SpoolConfig) *readAhead {
	r := &readAhead{ctx: ctx, src: src, reply: reply, q: spool.NewQueue(cfg, readAheadMem)}
	r.cond = sync.NewCond(&r.mu)
	return r
}

// Wait is the reply spool's gate, called before a write of n bytes that
// would take the reply's held bytes past its memory: it starts the
// read-ahead (again, if it stopped), and waits until the read-ahead has
// read as much as the reply would spill, has found the end of input, or
// has stopped (its queue could not spill) — at the end, until the reply
// is released, for which the engine is on its way: a write meanwhile
// would spill what the client could take at once.
func (r *readAhead) Wait(held, n int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started && !r.closed && r.err == nil && held+n <= r.src.Seen() {
		// The stages have written no more than they have read (grep,
		// gzip): reading ahead would put more on disk, queue and reply
		// together, than the reply alone will ever hold. Let it spill; a
		// later write past what was read starts the read-ahead.
		return nil
	}
	r.want = max(r.want, held+n)
	r.cond.Broadcast()
	for !r.closed && !r.freed {
		catchingUp := r.err == nil && r.pending == nil && r.ahead < held+n-r.reply.Mem()
		if !catchingUp && r.err != io.EOF {
			return nil
		}
		if catchingUp && !r.active {
			// Not started yet, or stopped and its bytes taken by the
			// stage (which read the source itself since): read ahead
			// (again). Nothing else would make it catch up.
			r.active, r.started = true, true
			r.loops.Add(1)
			go r.loop()
		}
		r.cond.Wait()
	}
	if r.closed {
		// The job ended: its cause is another stage's error, recorded
		// first, or the context's.
		if err := r.ctx.Err(); err != nil {
			return err
		}
		return errJobOver
	}
	return nil
}

var errJobOver = errors.New("engine: the job ended")

// Released is the reply spool's: the gate lets writes through.
func (r *readAhead) Released() {
	r.mu.Lock()
	r.freed = true
	r.cond.Broadcast()
	r.mu.Unlock()
}

// abort ends the read-ahead and any wait in the gate: the job is over.
func (r *readAhead) abort() {
	r.mu.Lock()
	r.closed = true
	r.cond.Broadcast()
	r.mu.Unlock()
}

// room reports whether the goroutine may read more: the queue holds less
// than the reply will. (Then the gate's wait ends: the queue is part of
// what was read ahead, and the reply spills its writes past its memory.)
func (r *readAhead) room() bool {
	return r.q.Len() < max(readAheadBuf, r.reply.Held(), r.want)
}

// read is the goroutine's read of the source (an adapter's reader): a
// panic in it fails the job (as the error the stages then read), not
// the process.
func (r *readAhead) read(buf []byte) (n int, err error) {
	defer compute.Recover("read-ahead", &err)
	return r.src.Read(buf)
}

// queue is the goroutine's write to the queue; a panic in it is fault,
// which fails the job as in read. Called with mu held.
func (r *readAhead) queue(p []byte) (n int, err, fault error) {
	defer compute.Recover("read-ahead queue", &fault)
	n, err = r.q.Write(p)
	return n, err, nil
}

func (r *readAhead) loop() {
	defer r.loops.Done()
	buf := make([]byte, readAheadBuf)
	for {
		r.mu.Lock()
		for !r.closed && r.err == nil && r.pending == nil && !r.room() {
			r.cond.Wait()
		}
		if r.closed || r.err != nil || r.pending != nil {
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()

		r.srcMu.Lock()
		r.mu.Lock()
		stop := r.closed || r.err != nil
		r.mu.Unlock()
		if stop {
			r.srcMu.Unlock()
			return
		}
		n, err := r.read(buf)
		r.srcMu.Unlock()

		r.mu.Lock()
		r.ahead += int64(n)
		stopped := false
		if n > 0 {
			if m, werr, fault := r.queue(buf[:n]); fault != nil {
				// A panic in the queue: the job fails with it.
				err = fault
			} else if werr != nil {
				// No room on disk: keep what was read, and stop reading
				// ahead (the reply may still fit). This goroutine ends
				// here, under the lock that shows pending: once the stage
				// has taken it, another may start (Wait).
				r.pending = append([]byte(nil), buf[m:n]...)
				stopped = true
			}
		}
		if err != nil && r.err == nil {
			r.err = err
		}
		r.cond.Broadcast()
		r.mu.Unlock()
		if stopped {
			return
		}
	}
}

// Read returns the input: what was read ahead first, then the source.
func (r *readAhead) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.mu.Lock()
	for {
		if r.q.Len() > 0 {
			n, err := r.q.Read(p)
			r.cond.Broadcast()
			r.mu.Unlock()
			return n, err
		}
		if r.pending != nil {
			n := copy(p, r.pending)
			if r.pending = r.pending[n:]; len(r.pending) == 0 {
				r.pending = nil
				r.active = false // the goroutine has ended: read src directly again
				r.cond.Broadcast()
			}
			r.mu.Unlock()
			return n, nil
		}
		if r.err != nil {
			err := r.err
			r.mu.Unlock()
			return 0, err
		}
		if !r.active {
			break
		}
		r.cond.Wait()
	}
	r.mu.Unlock()

	// Not reading ahead: read the source directly. Should the read-ahead
	// start meanwhile (the gate, on another stage's goroutine), it waits
	// for this read, whose bytes come first; if it has started already,
	// its reads come first (directLocked).
	if r.beforeDirect != nil {
		r.beforeDirect()
	}
	r.srcMu.Lock()
	if !r.directLocked() {
		r.srcMu.Unlock()
		return r.Read(p)
	}
	n, err := r.src.Read(p)
	r.srcMu.Unlock()
	if err != nil {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.cond.Broadcast()
		r.mu.Unlock()
	}
	return n, err
}

// directLocked reports, with srcMu held, whether the stage may still read
// the source itself: nothing is read ahead, and no goroutine started
// reading ahead since the stage looked (it may have read the bytes that
// come next, between the stage's look and its srcMu).
func (r *readAhead) directLocked() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.q.Len() == 0 && r.pending == nil && r.err == nil && !r.active
}

// WriteTo hands the input to w: what was read ahead through Read, and
// while nothing is read ahead, the source's chunks without a copy when it
// can hand them over (ChunkTaker). The chunk is taken under srcMu, as a
// direct Read is, but written after srcMu is released: it is the
// caller's until done, so a read-ahead starting meanwhile neither waits
// for w nor touches it (and what it reads comes after). It returns nil at
// the end of input.
func (r *readAhead) WriteTo(w io.Writer) (int64, error) {
	var total int64
	var bp *[]byte // as io.Copy's buffer: the writes are what they were before WriteTo
	defer func() {
		if bp != nil {
			copyBufs.Put(bp) // w kept none of it: io.Writer's contract
		}
	}()
	for {
		r.mu.Lock()
		direct := r.q.Len() == 0 && r.pending == nil && r.err == nil && !r.active
		r.mu.Unlock()
		if direct {
			r.srcMu.Lock()
			if !r.directLocked() {
				r.srcMu.Unlock()
				continue
			}
			segs, done, err, ok := r.src.takeChunk()
			r.srcMu.Unlock()
			if ok {
				n, werr := WriteChunk(w, segs, done)
				total += n
				if err != nil {
					r.mu.Lock()
					if r.err == nil {
						r.err = err
					}
					r.cond.Broadcast()
					r.mu.Unlock()
				}
				switch {
				case werr != nil:
					return total, werr
				case err == io.EOF:
					return total, nil
				case err != nil:
					return total, err
				}
				continue
			}
		}
		if bp == nil {
			bp = copyBufs.Get().(*[]byte)
		}
		buf := *bp
		n, err := r.Read(buf)
		if n > 0 {
			k, werr := w.Write(buf[:n])
			total += int64(k)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// copyBufs hold WriteTo's buffers: a small job's whole input passes
// through one (a digest's, or the rest after head -n 5 is done), and a
// new one for each was most of what such a job allocated.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// close stops the read-ahead and waits for its goroutine, which the
// caller must unblock if it is in a Read of the source (the engine closes
// the source); then it frees the queue.
func (r *readAhead) close() {
	r.mu.Lock()
	r.closed = true
	r.cond.Broadcast()
	r.mu.Unlock()
	r.loops.Wait()
	r.mu.Lock()
	r.q.Close()
	r.mu.Unlock()
}

var _ io.Reader = (*readAhead)(nil)
