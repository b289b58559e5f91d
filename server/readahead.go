package server

import (
	"io"
	"sync"
)

// readAhead reads its source in a goroutine into a few buffers, so that
// receiving the next bytes from the network overlaps with computing on the
// last ones, as the gRPC adapter's receive-ahead does. Memory is bounded:
// readAheadBufs buffers of readAheadSize. The goroutine ends after the
// source's first error (io.EOF included) or after Close; Close also closes
// the source, which must then unblock its Read. Wait waits for the
// goroutine, after which the caller may use the source's connection again.
type readAhead struct {
	src  io.ReadCloser
	full chan raChunk // filled buffers, in order
	free chan []byte  // buffers handed back by Read
	stop chan struct{}
	done chan struct{}
	once sync.Once

	cur    raChunk // being read from; owned by Read
	curOff int
}

type raChunk struct {
	buf []byte
	n   int
	err error
}

const (
	readAheadSize = 256 << 10
	readAheadBufs = 4
)

func newReadAhead(src io.ReadCloser) *readAhead {
	r := &readAhead{
		src:  src,
		full: make(chan raChunk, readAheadBufs+1),
		free: make(chan []byte, readAheadBufs),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	for range readAheadBufs - 1 {
		r.free <- make([]byte, readAheadSize)
	}
	go r.loop(make([]byte, readAheadSize))
	return r
}

func (r *readAhead) loop(buf []byte) {
	defer close(r.done)
	for {
		n, err := r.src.Read(buf)
		// full has room for every buffer and a last error, so sends
		// never block.
		r.full <- raChunk{buf: buf, n: n, err: err}
		if err != nil {
			return
		}
		select {
		case buf = <-r.free:
		case <-r.stop:
			// The source is closed: its Read now says why.
			_, err := r.src.Read(buf[:0])
			if err == nil {
				err = errReaderClosed
			}
			r.full <- raChunk{err: err}
			return
		}
	}
}

// Read returns the next bytes read ahead, and the source's error after them.
func (r *readAhead) Read(p []byte) (int, error) {
	for r.curOff >= r.cur.n {
		if r.cur.err != nil {
			return 0, r.cur.err
		}
		if r.cur.buf != nil {
			r.free <- r.cur.buf
		}
		r.cur, r.curOff = <-r.full, 0
	}
	n := copy(p, r.cur.buf[r.curOff:r.cur.n])
	r.curOff += n
	return n, nil
}

// WriteTo hands each buffer read ahead to w, without copying it, until
// the source's end (nil) or error.
func (r *readAhead) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if r.curOff < r.cur.n {
			n, err := w.Write(r.cur.buf[r.curOff:r.cur.n])
			total += int64(n)
			r.curOff += n
			if err != nil {
				return total, err
			}
		}
		if r.cur.err != nil {
			if r.cur.err == io.EOF {
				return total, nil
			}
			return total, r.cur.err
		}
		if r.cur.buf != nil {
			r.free <- r.cur.buf
		}
		r.cur, r.curOff = <-r.full, 0
	}
}

// Close stops reading ahead and closes the source.
func (r *readAhead) Close() error {
	r.once.Do(func() {
		close(r.stop)
		r.src.Close()
	})
	return nil
}

// Wait closes r if its goroutine still runs, and waits for it to end.
func (r *readAhead) Wait() {
	select {
	case <-r.done:
	default:
		r.Close()
		<-r.done
	}
}
