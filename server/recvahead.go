package server

import (
	"context"
	"io"
	"sync"
	"time"
)

// recvAhead is the receive-ahead reader of both adapters: it turns a
// source of input chunks (gRPC messages, reads of a connection) into the
// io.Reader a job reads, with io.EOF at the source's proven end. A
// goroutine receives ahead, so that receiving the next chunk overlaps
// with computing on this one, and so that Read can give up when the job is
// cancelled, closed, or its client idle, while the source is still
// blocked.
//
// Memory is bounded by tokens: the goroutine takes one before each
// receive and Read hands it back when the chunk is used up, so at most
// recvAheadChunks chunks wait. A source that reads into buffers (a
// connection) gets its token as the buffer to read into; one that makes
// its own chunks (gRPC messages) ignores it.
//
// The goroutine ends after the source's first error (io.EOF included), or
// once Close has stopped it and the source's pending receive returned:
// Close calls the source's close, which must unblock it if it can (a
// connection's read deadline). A gRPC source cannot be unblocked; its
// Recv returns when the handler does. Wait closes and waits for the
// goroutine, after which the source (the connection) may be used again.
type recvAhead struct {
	ctx   context.Context
	src   chunkSource
	idle  time.Duration // <= 0: no idle timeout here (or enforced by the source)
	timer *time.Timer

	full   chan recvChunk // received chunks, in order, and a last error
	tokens chan []byte    // free buffers (nil slices for sources without)
	closed chan struct{}
	done   chan struct{}
	once   sync.Once

	cur    recvChunk // being read from; owned by Read
	curOff int
}

// chunkSource is where a recvAhead receives from.
type chunkSource interface {
	// next returns the next chunk of input, made in buf when the source
	// reads into buffers, and an error: io.EOF at the end of input.
	next(buf []byte) ([]byte, error)
	// close makes a pending next return, when the source can.
	close()
}

type recvChunk struct {
	data  []byte
	token []byte // handed back once data is used up
	held  bool   // the chunk holds a token
	err   error
}

// recvAheadChunks is how many chunks may wait: with the default message
// and buffer sizes, a few MiB per job.
const recvAheadChunks = 4

// connBufSize is the buffer of one read of a connection.
const connBufSize = 256 << 10

// newRecvAhead starts receiving from src. bufSize > 0 gives src buffers
// of that size to read into; idle > 0 fails a Read that waited that long
// for a chunk; ctx's end fails a waiting Read.
func newRecvAhead(ctx context.Context, src chunkSource, bufSize int, idle time.Duration) *recvAhead {
	r := &recvAhead{
		ctx:    ctx,
		src:    src,
		idle:   idle,
		full:   make(chan recvChunk, recvAheadChunks+1),
		tokens: make(chan []byte, recvAheadChunks),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	for range recvAheadChunks {
		var buf []byte
		if bufSize > 0 {
			buf = make([]byte, bufSize)
		}
		r.tokens <- buf
	}
	go r.loop()
	return r
}

func (r *recvAhead) loop() {
	defer close(r.done)
	for {
		var token []byte
		select {
		case token = <-r.tokens:
		case <-r.closed:
			return
		case <-r.ctx.Done():
			return
		}
		b, err := r.src.next(token)
		// full has room for every token's chunk and a last error, and
		// tokens for every token, so these sends never block.
		if len(b) > 0 {
			r.full <- recvChunk{data: b, token: token, held: true}
		} else {
			r.tokens <- token
		}
		if err != nil {
			r.full <- recvChunk{err: err}
			return
		}
	}
}

// Read returns the next bytes received, and the source's error after them.
func (r *recvAhead) Read(p []byte) (int, error) {
	if err := r.fill(); err != nil {
		return 0, err
	}
	n := copy(p, r.cur.data[r.curOff:])
	r.curOff += n
	return n, nil
}

// WriteTo hands each chunk to w without copying it, until the source's
// end (nil) or error.
func (r *recvAhead) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if err := r.fill(); err == io.EOF {
			return total, nil
		} else if err != nil {
			return total, err
		}
		n, err := w.Write(r.cur.data[r.curOff:])
		total += int64(n)
		r.curOff += n
		if err != nil {
			return total, err
		}
	}
}

// fill makes r.cur hold unread bytes, or returns why there are none.
func (r *recvAhead) fill() error {
	for r.curOff >= len(r.cur.data) {
		if r.cur.err != nil {
			return r.cur.err
		}
		if r.cur.held {
			r.tokens <- r.cur.token
		}
		c, err := r.wait()
		if err != nil {
			r.cur = recvChunk{err: err}
			return err
		}
		r.cur, r.curOff = c, 0
	}
	return nil
}

// wait receives the next chunk: it gives up when the job's context ends,
// when Close is called, and after idle.
func (r *recvAhead) wait() (recvChunk, error) {
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
	case c := <-r.full:
		return c, nil
	case <-r.ctx.Done():
		return recvChunk{}, r.ctx.Err()
	case <-r.closed:
		if err := r.ctx.Err(); err != nil {
			return recvChunk{}, err
		}
		return recvChunk{}, errReaderClosed
	case <-idleC:
		return recvChunk{}, errIdle(r.idle)
	}
}

// Close makes a pending and every later Read fail, and stops receiving;
// the engine calls it when a job fails before its input has ended.
func (r *recvAhead) Close() error {
	r.once.Do(func() {
		close(r.closed)
		r.src.close()
	})
	return nil
}

// Wait closes r if its goroutine still runs, and waits for it to end.
func (r *recvAhead) Wait() {
	select {
	case <-r.done:
	default:
		r.Close()
		<-r.done
	}
}

// messageSource receives a gRPC stream's data messages: next is the
// stream's dataChunks.
type messageSource func() ([]byte, error)

func (f messageSource) next([]byte) ([]byte, error) { return f() }
func (messageSource) close()                        {}

// readerSource reads a connection (through its proof of end, if any) into
// the token buffers.
type readerSource struct{ r io.ReadCloser }

func (s readerSource) next(buf []byte) ([]byte, error) {
	n, err := s.r.Read(buf)
	return buf[:n], err
}

func (s readerSource) close() { s.r.Close() }
