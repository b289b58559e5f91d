package spool

import (
	"os"
	"sync"

	"github.com/halfclose/halfclose/compute"
)

// A spill is the reply's stage writing, the file system's copy into the
// page cache on top (a fifth of a frequent grep's CPU). On the stage's
// goroutine that copy is on the job's critical path while the other cores
// wait; a writeBehind moves it to a goroutine of its own: the queue's
// WriteAt copies the bytes into one of two buffers (a memory copy, much
// cheaper than the file system's) and returns, and the goroutine writes
// the full buffers to the file in order, in large writes. Anything that
// reads a part of the file (or punches it, or cuts it) first waits until
// the writes of that part are done (sync), so the queue sees the file as if
// every write had been done at once.

// Write-behind sizes.
const (
	wbBufSize = 1 << 20 // a buffer: the file's writes are this large
	wbBufs    = 2       // one filled by the queue, one written to the file
	// WriteBehindBytes is the memory a spool's write-behind holds at most.
	WriteBehindBytes = wbBufs * wbBufSize
)

// wbMaxWrite bounds each write to the file. The file system gives a large
// write large pages (folios), and in a virtual machine those come, more
// often than small ones, from memory the host has taken back: measured on
// the 2-core VM, 512 MiB spilled in 1 MiB writes cost 0.1 s of CPU or, in
// one run of three, 2 s (the copy into pages the host faults in); in
// 64 KiB writes 0.16-0.26 s every time.
const wbMaxWrite = 64 << 10

// wbPool keeps write-behind buffers between spools: a job that spills
// takes them from jobs that did, rather than allocating (and clearing) two
// MiB each time.
var wbPool = sync.Pool{New: func() any { return new(wbBuf) }}

// TakeSize is the capacity of the buffers a spool takes from its writer
// (Spool.TakeBuffer) and gives back in exchange: a stage's output buffer.
const TakeSize = 64 << 10

// takePool keeps the buffers of TakeSize a write-behind has written
// (their wbBuf holds them), to give to the writer in exchange for the next
// one it hands over.
var takePool = sync.Pool{New: func() any { return &wbBuf{data: make([]byte, 0, TakeSize)} }}

// wbBuf is a buffer of bytes to write and where they go: runs of
// consecutive file offsets, in the order of the buffer.
type wbBuf struct {
	data  []byte
	runs  []wbRun
	taken bool // data is a writer's buffer of TakeSize, taken (give)
}

type wbRun struct{ off, n int64 }

func (b *wbBuf) overlaps(off, n int64) bool {
	for _, r := range b.runs {
		if r.off < off+n && off < r.off+r.n {
			return true
		}
	}
	return false
}

// writeBehind writes to one file from a goroutine of its own; see above.
// Its methods are safe for one writer and any number of syncs at once.
type writeBehind struct {
	f    *os.File
	size int   // buffer size (tests make it smaller)
	seg  int64 // the queue's segments: no write crosses a multiple of it

	mu      sync.Mutex // protects the fields below
	cond    sync.Cond  // signalled on every change of them
	fill    *wbBuf     // the buffer WriteAt fills, if any
	queue   []*wbBuf   // full buffers, oldest first; the goroutine writes queue[0]
	room    int        // bytes of buffers that may still be taken (of wbBufs × size)
	running bool       // the goroutine runs
	closed  bool
	err     error // the first failed write's: the file lost bytes
	done    chan struct{}
}

func newWriteBehind(f *os.File, size int, seg int64) *writeBehind {
	w := &writeBehind{f: f, size: size, seg: seg, room: wbBufs * size}
	w.cond.L = &w.mu
	return w
}

// WriteAt queues p to be written at off, waiting while both buffers are
// full. An error is that of an earlier write: the file lost bytes.
func (w *writeBehind) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for n < len(p) {
		if w.err != nil {
			return n, w.err
		}
		if w.closed {
			return n, os.ErrClosed
		}
		if w.fill == nil {
			if w.room < w.size {
				w.start()
				w.cond.Wait()
				continue
			}
			w.room -= w.size
			w.fill = w.take()
		}
		b := w.fill
		at := off + int64(n)
		m := copy(b.data[len(b.data):cap(b.data)], p[n:min(len(p), n+int(w.seg-at%w.seg))])
		// A run never crosses a segment's start: the file system makes
		// its pages (folios) no larger than the write, so each lies in
		// one segment, and punching a segment frees its pages rather
		// than zeroing them in place (which a socket sending them by
		// reference would see: Queue.byRef).
		if k := len(b.runs); k > 0 && b.runs[k-1].off+b.runs[k-1].n == at && at%w.seg != 0 {
			b.runs[k-1].n += int64(m)
		} else {
			b.runs = append(b.runs, wbRun{at, int64(m)})
		}
		b.data = b.data[:len(b.data)+m]
		n += m
		if len(b.data) == cap(b.data) {
			w.push()
		}
	}
	return n, nil
}

// take returns an empty buffer, from the pool if it has one of the size.
func (w *writeBehind) take() *wbBuf {
	b := wbPool.Get().(*wbBuf)
	if cap(b.data) != w.size {
		b.data = make([]byte, 0, w.size)
	}
	return b
}

// push queues the buffer being filled for the goroutine, starting it if
// it does not run. Called with mu held.
func (w *writeBehind) push() {
	w.queue = append(w.queue, w.fill)
	w.fill = nil
	w.start()
}

// start starts the goroutine if it does not run and a buffer is queued.
// Called with mu held.
func (w *writeBehind) start() {
	if !w.running && len(w.queue) > 0 {
		w.running = true
		w.done = make(chan struct{})
		go w.loop(w.done)
	}
	w.cond.Broadcast()
}

// canTake reports whether the write-behind can hold a taken buffer (the
// buffers it may hold are not smaller: tests make them so).
func (w *writeBehind) canTake() bool { return wbBufs*w.size >= TakeSize }

// waitTake waits until a buffer of TakeSize may be taken, and holds its
// room: give must follow. An error is that of an earlier write.
func (w *writeBehind) waitTake() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fill != nil {
		// The bytes copied before go first: the file is written in
		// order.
		w.push()
	}
	for {
		switch {
		case w.err != nil:
			return w.err
		case w.closed:
			return os.ErrClosed
		case w.room >= TakeSize:
			w.room -= TakeSize
			return nil
		}
		w.start()
		w.cond.Wait()
	}
}

// give queues p, a buffer of TakeSize that waitTake made room for, to be
// written at runs (consecutive parts of p, in order), and returns an empty
// buffer of TakeSize in exchange. The goroutine is started once a buffer's
// worth (size) is queued, or when a writer or a sync waits for it.
func (w *writeBehind) give(p []byte, runs []wbRun) []byte {
	// The pool's buffer is swapped for p under the same header.
	b := takePool.Get().(*wbBuf)
	next := b.data[:0]
	b.data, b.taken = p, true
	b.runs = append(b.runs[:0], runs...)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.put(b)
		return next
	}
	w.queue = append(w.queue, b)
	if queued := len(w.queue) * TakeSize; queued >= w.size || w.room < TakeSize {
		w.start()
	}
	return next
}

// loop writes the queued buffers in order, and ends when none is left.
func (w *writeBehind) loop(done chan struct{}) {
	defer close(done)
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) > 0 && !w.closed && w.err == nil {
		b := w.queue[0]
		w.mu.Unlock()
		err := w.write(b)
		w.mu.Lock()
		w.queue = w.queue[1:]
		w.put(b)
		if err != nil && w.err == nil {
			if compute.CodeOf(err) == 0 {
				err = compute.SpoolError("write failed", err)
			}
			w.err = err
		}
		w.cond.Broadcast()
	}
	w.running = false
	w.cond.Broadcast()
}

// write writes b's runs to the file. A panic in it (a bookkeeping fault
// of the runs) is its error: the goroutine goes on, and the job fails as
// on a failed write, not the process.
func (w *writeBehind) write(b *wbBuf) (err error) {
	defer compute.Recover("spool write-behind", &err)
	pos := int64(0)
	for _, r := range b.runs {
		for k := int64(0); k < r.n; k += wbMaxWrite {
			m := min(wbMaxWrite, r.n-k)
			if _, err := w.f.WriteAt(b.data[pos+k:pos+k+m], r.off+k); err != nil {
				return err
			}
		}
		pos += r.n
	}
	return nil
}

// put gives a buffer back. Called with mu held.
func (w *writeBehind) put(b *wbBuf) {
	w.room += cap(b.data)
	b.data, b.runs = b.data[:0], b.runs[:0]
	if b.taken {
		b.taken = false
		takePool.Put(b)
		return
	}
	wbPool.Put(b)
}

// sync waits until the bytes queued for [off, off+n) are in the file, and
// returns the error of a failed write if there was one (the file lost
// bytes, maybe those).
func (w *writeBehind) sync(off, n int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fill != nil && w.fill.overlaps(off, n) {
		w.push()
	}
	w.start()
	for w.err == nil && !w.closed && w.pending(off, n) {
		w.cond.Wait()
	}
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return os.ErrClosed
	}
	return nil
}

// pending reports whether a queued buffer has bytes for [off, off+n).
// Called with mu held.
func (w *writeBehind) pending(off, n int64) bool {
	for _, b := range w.queue {
		if b.overlaps(off, n) {
			return true
		}
	}
	return false
}

// close drops what is not written yet and waits for the goroutine: the
// file may be closed after it.
func (w *writeBehind) close() {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	running, done := w.running, w.done
	w.mu.Unlock()
	if running {
		<-done
	}
	w.mu.Lock()
	if w.fill != nil {
		w.put(w.fill)
		w.fill = nil
	}
	for _, b := range w.queue {
		w.put(b)
	}
	w.queue = nil
	w.mu.Unlock()
}
