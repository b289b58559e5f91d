package server

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/halfclose/halfclose/compute"
)

// streamReader turns the data messages of a client stream into an
// io.Reader whose io.EOF is the client's CloseSend. A goroutine receives
// ahead, so that decoding the next message overlaps with computing on this
// one, and so that Read can give up when the job is cancelled or the client
// goes idle while Recv is still blocked; that goroutine ends when the stream
// does, which is at the latest when the handler returns.
type streamReader struct {
	ctx    context.Context
	chunks chan []byte
	idle   time.Duration
	timer  *time.Timer

	mu  sync.Mutex // protects err
	err error      // why chunks was closed: io.EOF or the abort

	closeOnce sync.Once
	closed    chan struct{} // closed by Close

	cur []byte
}

// Close makes a pending and every later Read fail; the engine calls it when
// a job fails before its input has ended.
func (r *streamReader) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return nil
}

// errReaderClosed is what Read returns after Close; the job's error is the
// failure that made the engine close it.
var errReaderClosed = errors.New("input closed")

// recvAheadMessages is how many messages may wait decoded; with the default
// message size this bounds a job's read-ahead to a few MiB.
const recvAheadMessages = 4

// newStreamReader starts receiving with next, which returns the data of the
// next message, or an error (io.EOF at CloseSend). idle <= 0 disables the
// idle timeout.
func newStreamReader(ctx context.Context, idle time.Duration, next func() ([]byte, error)) *streamReader {
	r := &streamReader{ctx: ctx, chunks: make(chan []byte, recvAheadMessages), idle: idle, closed: make(chan struct{})}
	go func() {
		defer close(r.chunks)
		for {
			b, err := next()
			if err != nil {
				r.mu.Lock()
				r.err = err
				r.mu.Unlock()
				return
			}
			if len(b) == 0 {
				continue
			}
			select {
			case r.chunks <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return r
}

func (r *streamReader) Read(p []byte) (int, error) {
	if len(r.cur) == 0 {
		b, err := r.next()
		if err != nil {
			return 0, err
		}
		r.cur = b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// WriteTo hands whole messages to w without an extra copy.
func (r *streamReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.cur) == 0 {
			b, err := r.next()
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
			r.cur = b
		}
		n, err := w.Write(r.cur)
		total += int64(n)
		r.cur = r.cur[n:]
		if err != nil {
			return total, err
		}
	}
}

func (r *streamReader) next() ([]byte, error) {
	var idleC <-chan time.Time
	if r.idle > 0 {
		if r.timer == nil {
			r.timer = time.NewTimer(r.idle)
		} else {
			r.timer.Reset(r.idle)
		}
		// Stopped as soon as this wait is over: a timer left running
		// would stay in the runtime's timer heap, and reachable, until it
		// fired — a minute's worth of calls' timers for the GC to scan.
		defer r.timer.Stop()
		idleC = r.timer.C
	}
	select {
	case b, ok := <-r.chunks:
		if !ok {
			if err := r.ctx.Err(); err != nil {
				return nil, err
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			return nil, r.err
		}
		return b, nil
	case <-r.ctx.Done():
		return nil, r.ctx.Err()
	case <-r.closed:
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errReaderClosed
	case <-idleC:
		return nil, errIdle(r.idle)
	}
}

// errIdle is the abort of a client that sent nothing for d.
func errIdle(d time.Duration) error {
	return compute.Errorf(compute.CodeDeadline, "no input for %s (idle timeout)", d)
}
