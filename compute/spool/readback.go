package spool

import (
	"io"
	"os"
	"sync"

	"github.com/halfclose/halfclose/compute"
)

// A Release to a destination that cannot send the file itself (a hash in
// process, a gRPC stream) reads the spilled reply back through memory.
// It reads the next part of the file while the destination takes the
// previous one, so that the read's copy and the destination's work run on
// two cores, and it reads in large parts (fewer calls, and fewer, larger
// messages for a destination that makes one of each write).

// readBufSize is a read-back part; a Release holds two.
const readBufSize = 1 << 20

// ReadBackBytes is the memory a Release holds to read the spill file back.
const ReadBackBytes = 2 * readBufSize

var readPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// readBack is one Release's reads of the spill file: at most one read
// runs, into the buffer that the destination is not writing out.
type readBack struct {
	bufs  [2]*[]byte
	next  int       // the buffer the next read goes into
	cur   *fileRead // the read of what out takes now
	ahead *fileRead // the read of what follows it
}

// fileRead is a read of n bytes of a file at off, maybe under way.
type fileRead struct {
	off  int64
	n    int
	buf  []byte
	err  error
	done chan struct{}
}

// start reads n bytes of f at off into the next buffer, in a goroutine.
func (r *readBack) start(f *os.File, off int64, n int) *fileRead {
	if r.bufs[r.next] == nil {
		r.bufs[r.next] = readPool.Get().(*[]byte)
	}
	fr := &fileRead{off: off, n: n, buf: (*r.bufs[r.next])[:n], done: make(chan struct{})}
	r.next ^= 1
	go func() {
		defer close(fr.done)
		m, err := f.ReadAt(fr.buf, off)
		if err != nil && !(err == io.EOF && m == n) {
			fr.err = compute.SpoolError("read failed", err)
		}
	}()
	return fr
}

// take returns the read of the n bytes of f at off: the read ahead if it
// was of them (n is then what it read, no more), else one started now.
func (r *readBack) take(f *os.File, off int64, n int) *fileRead {
	fr := r.ahead
	r.ahead = nil
	if fr != nil {
		if fr.off == off && fr.n <= n {
			return fr
		}
		<-fr.done // not of these bytes (out failed): its buffer is free once done
	}
	return r.start(f, off, n)
}

// wait returns what fr read.
func (fr *fileRead) wait() ([]byte, error) {
	<-fr.done
	return fr.buf, fr.err
}

// close waits for the reads under way and gives the buffers back.
func (r *readBack) close() {
	for _, fr := range []*fileRead{r.cur, r.ahead} {
		if fr != nil {
			<-fr.done
		}
	}
	r.cur, r.ahead = nil, nil
	for i, b := range r.bufs {
		if b != nil {
			readPool.Put(b)
			r.bufs[i] = nil
		}
	}
}

// fileAt returns the file offset of the unread byte skip bytes past the
// oldest one in the file, and how many bytes, up to max, follow it in its
// segment (0 if the file has no such byte).
func (q *Queue) fileAt(skip, max int64) (off, n int64) {
	if skip >= q.spilled {
		return 0, 0
	}
	pos := q.rIn + skip
	for i, s := range q.segs {
		end := q.seg
		if i == len(q.segs)-1 {
			end = q.wIn
		}
		if pos < end {
			return s + pos, min(max, end-pos)
		}
		pos -= q.seg
	}
	return 0, 0
}
