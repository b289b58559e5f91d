package server

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halfclose/halfclose/compute"
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
// connection's read deadline); a gRPC stream's receive ends when its
// handler returns. Wait closes and waits for the
// goroutine, after which the source (the connection) may be used again.
//
// A source that can time out a receive of its own (a gRPC stream with its
// guard: a waitingSource) is received from in Read until its first data
// arrives, and the goroutine starts only then: a job whose client sends
// nothing costs no goroutine here. The goroutine is one of aheadWorkers',
// kept between streams with its grown stack (aheadworkers.go).
type recvAhead struct {
	ctx   context.Context
	src   chunkSource
	idle  time.Duration // <= 0: no idle timeout here (or enforced by the source)
	timer *time.Timer
	// watch renews an idle wait while a message is still arriving (a gRPC
	// stream's, inputWatch); nil: every wait ends after idle.
	watch *inputWatch

	full    chan recvChunk // received chunks, in order, and a last error
	tokens  chan []byte    // free buffers (nil slices for sources without)
	closed  chan struct{}
	done    chan struct{}
	once    sync.Once
	started atomic.Bool // the goroutine was started
	bufSize int         // of the token buffers (0: none)

	cur    recvChunk // being read from; owned by Read
	curOff int

	dropMu  sync.Mutex // protects dropped, and orders the goroutine's sends to full with release
	dropped bool       // release was called: held bytes received from now on are released at once
}

// waitingSource is a chunkSource that can give up a receive itself: after
// idle (when > 0), or when close is called.
type waitingSource interface {
	chunkSource
	nextWithin(idle time.Duration) ([]byte, *heldData, error)
}

// chunkSource is where a recvAhead receives from.
type chunkSource interface {
	// next returns the next chunk of input, made in buf when the source
	// reads into buffers, or held (a gRPC message's bytes in grpc-go's
	// buffers, which the reader releases once used), and an error: io.EOF
	// at the end of input.
	next(buf []byte) ([]byte, *heldData, error)
	// close makes a pending next return, when the source can.
	close()
}

type recvChunk struct {
	data  []byte   // the segment being read
	rest  [][]byte // the segments after data
	token []byte   // handed back once data is used up
	held  bool     // the chunk holds a token
	hd    *heldData
	err   error
}

// chunkOf is the chunk of b, or of hd's segments when hd is not nil.
func chunkOf(b []byte, hd *heldData) recvChunk {
	if hd == nil {
		return recvChunk{data: b}
	}
	c := recvChunk{hd: hd}
	if len(hd.segs) > 0 {
		c.data, c.rest = hd.segs[0], hd.segs[1:]
	}
	return c
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
		ctx:     ctx,
		src:     src,
		idle:    idle,
		closed:  make(chan struct{}),
		bufSize: bufSize,
	}
	if _, lazy := src.(waitingSource); !lazy {
		r.start()
	}
	return r
}

// start makes the channels and buffers, and starts the goroutine. (A lazy
// reader makes them only then: an idle stream holds none.)
func (r *recvAhead) start() {
	r.full = make(chan recvChunk, recvAheadChunks+1)
	r.tokens = make(chan []byte, recvAheadChunks)
	r.done = make(chan struct{})
	// The buffers are taken when first needed (a small job reads into
	// one or two), from a pool for the usual size; Wait gives them back.
	for range recvAheadChunks {
		r.tokens <- nil
	}
	r.started.Store(true)
	aheadPool.run(r) // on a goroutine of its own, reused (aheadworkers.go)
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
		if token == nil && r.bufSize > 0 {
			token = getConnBuf(r.bufSize)
		}
		b, hd, err := r.next(token)
		// full has room for every token's chunk and a last error, and
		// tokens for every token, so these sends never block.
		r.dropMu.Lock()
		if r.dropped {
			hd.release()
			b, hd = nil, nil
		}
		if len(b) > 0 || hd != nil {
			c := chunkOf(b, hd)
			c.token, c.held = token, true
			r.full <- c
		} else {
			r.tokens <- token
		}
		if err != nil {
			r.full <- recvChunk{err: err}
		}
		r.dropMu.Unlock()
		if err != nil {
			return
		}
	}
}

// next is the goroutine's receive: a panic in the source (grpc-go's
// RecvMsg, the message's checks) is the source's error, which fails the
// job, not the process.
func (r *recvAhead) next(token []byte) (b []byte, hd *heldData, err error) {
	defer compute.Recover("receive-ahead", &err)
	return r.src.next(token)
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
		if len(r.cur.rest) > 0 {
			r.cur.data, r.cur.rest, r.curOff = r.cur.rest[0], r.cur.rest[1:], 0
			continue
		}
		if r.cur.err != nil {
			return r.cur.err
		}
		r.cur.hd.release()
		r.cur.hd = nil
		if r.cur.held {
			r.tokens <- r.cur.token
		}
		if !r.started.Load() {
			if err := r.first(); err != nil {
				r.cur = recvChunk{err: err}
				return err
			}
			continue
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

// TakeChunk hands over the unread bytes of the next chunk (engine.ChunkTaker):
// the caller reads them in place and calls done, which gives their
// buffers back (grpc-go's, or a token to read into again); Read and
// TakeChunk go on after them.
func (r *recvAhead) TakeChunk() ([][]byte, func(), error) {
	if err := r.fill(); err != nil {
		return nil, nil, err
	}
	c := r.cur
	segs := make([][]byte, 0, 1+len(c.rest))
	segs = append(segs, c.data[r.curOff:])
	segs = append(segs, c.rest...)
	r.cur, r.curOff = recvChunk{}, 0
	done := func() {
		c.hd.release()
		if c.held {
			r.tokens <- c.token
		}
	}
	return segs, done, nil
}

// prime waits for the first input of a waitingSource, before the job
// reads: the wait then holds less stack (a job's reader is deep in the
// engine), and a Run job starts its stages only once input has come. An
// error is the job's: the input's error, and Read's too.
func (r *recvAhead) prime() error {
	if r.started.Load() {
		return nil
	}
	for !r.started.Load() && r.cur.err == nil {
		if err := r.first(); err != nil {
			r.cur = recvChunk{err: err}
		}
	}
	if r.cur.err == io.EOF {
		return nil // an empty input: Read says so
	}
	return r.cur.err
}

// first receives, in Read, from a waitingSource whose data has not started
// to flow; once some has come, the goroutine receives the rest ahead.
func (r *recvAhead) first() error {
	ws := r.src.(waitingSource)
	// The job's end (its context) unblocks the receive, as Close does,
	// where the source can be unblocked: a gRPC stream's receive cannot
	// (guardedSource.close does nothing), and watching the context for
	// it was an AfterFunc a call, two allocations and the context's lock.
	var stop func() bool
	if _, guarded := r.src.(guardedSource); !guarded {
		stop = context.AfterFunc(r.ctx, r.src.close)
	}
	b, hd, err := ws.nextWithin(r.idle)
	if stop != nil {
		stop()
	}
	select {
	case <-r.closed:
		hd.release()
		if err := r.ctx.Err(); err != nil {
			return err
		}
		return errReaderClosed
	default:
	}
	if err != nil && compute.CodeOf(err) != compute.CodeDeadline {
		// The job's end (the job's context is the stream's, which the
		// source's guard cancels too: its idle timeout is the reason then).
		if cerr := r.ctx.Err(); cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		hd.release()
		return err
	}
	if len(b) > 0 || hd != nil {
		r.cur, r.curOff = chunkOf(b, hd), 0
		r.start()
	}
	return nil
}

// wait receives the next chunk: it gives up when the job's context ends,
// when Close is called, and after idle.
func (r *recvAhead) wait() (recvChunk, error) {
	var idleC <-chan time.Time
	if r.idle > 0 {
		if r.watch != nil {
			r.watch.start(time.Now(), r.idle)
		}
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
	for {
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
			if r.watch != nil {
				if again := r.watch.expired(time.Now()); again > 0 {
					r.timer.Reset(again)
					continue
				}
			}
			return recvChunk{}, errIdle(r.idle)
		}
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

// release closes r and releases the held bytes it has received and any it
// receives from now on: the job reads no more (the engine has returned).
// Its goroutine may still be blocked in a receive (a gRPC stream's ends
// when its handler returns): what that brings is released at once.
func (r *recvAhead) release() {
	r.Close()
	r.dropMu.Lock()
	r.dropped = true
	for drained := false; !drained && r.full != nil; {
		select {
		case c := <-r.full:
			c.hd.release()
		default:
			drained = true
		}
	}
	r.dropMu.Unlock()
	r.cur.hd.release()
	r.cur = recvChunk{err: errReaderClosed}
}

// settle waits for the goroutine, if it was started, to end on its own:
// only for a source whose receive returns at once (a gRPC stream that has
// ended), so that what it received last (see streamGuard.failed) is
// known.
func (r *recvAhead) settle() {
	if r.started.Load() {
		<-r.done
	}
}

// Wait closes r if its goroutine still runs, and waits for it to end.
// Nothing may read r after: its buffers go back to their pool.
func (r *recvAhead) Wait() {
	if !r.started.Load() {
		r.Close()
		return
	}
	select {
	case <-r.done:
	default:
		r.Close()
		<-r.done
	}
	// The goroutine is gone: every buffer is in tokens, in full, or cur.
	putConnBuf(r.cur.token)
	r.cur = recvChunk{err: errReaderClosed}
	for drained := false; !drained; {
		select {
		case t := <-r.tokens:
			putConnBuf(t)
		case c := <-r.full:
			c.hd.release()
			putConnBuf(c.token)
		default:
			drained = true
		}
	}
}

// connBufs recycles the read buffers of connections (connBufSize). The
// pools of buffers hold pointers to arrays, which a buffer converts back
// to without allocating: a *[]byte made at each Put (&b of a copy) was
// an allocation, about 3 a 1 KiB TCP job (issue 14).
var connBufs = sync.Pool{New: func() any { return new([connBufSize]byte) }}

func getConnBuf(size int) []byte {
	if size != connBufSize {
		return make([]byte, size)
	}
	return connBufs.Get().(*[connBufSize]byte)[:]
}

// putConnBuf returns b to connBufs if it is one of its buffers: a slice
// of a whole array of connBufSize (its capacity says so: it starts at
// the array's start).
func putConnBuf(b []byte) {
	if cap(b) == connBufSize {
		connBufs.Put((*[connBufSize]byte)(b[:connBufSize]))
	}
}

// messageSource receives a gRPC stream's data messages: next is the
// stream's dataChunks. It cannot be unblocked: its Recv returns when the
// handler does. (Streams have a guardedSource, unless the server lacks the
// service's tap handle.)
type messageSource func() ([]byte, *heldData, error)

func (f messageSource) next([]byte) ([]byte, *heldData, error) { return f() }
func (messageSource) close()                                   {}

// guardedSource receives a gRPC stream's data messages (recv is the
// stream's dataChunks); its guard stops a receive that waits longer than
// the idle timeout.
type guardedSource struct {
	recv func() ([]byte, *heldData, error)
	g    *streamGuard
	idle error // errIdle(the idle timeout)
}

func (s guardedSource) nextWithin(idle time.Duration) ([]byte, *heldData, error) {
	// Received in the handler's goroutine (recvAhead.first), which only
	// the stream's end unblocks: a forced stop ends it (beginRecv).
	if err := s.g.beginRecv(); err != nil {
		return nil, nil, err
	}
	s.g.armInput(idle, s.idle)
	b, hd, err := s.recv()
	s.g.disarm()
	s.g.endRecv()
	if cause := s.g.stopped(); cause != nil {
		// The data (or the half-close) came as the idle timeout ran
		// out, which has answered the client already (streamGuard.fire):
		// an abort, as told.
		hd.release()
		return nil, nil, cause
	}
	return b, hd, err
}

func (s guardedSource) next([]byte) ([]byte, *heldData, error) { return s.recv() }

// close does not stop the stream: grpc-go would answer the client at once
// with the end of the stream's context (CANCELLED), before the handler
// could give the job's status. A blocked receive ends when the handler
// returns, or with the connection (a forced stop).
func (guardedSource) close() {}

// readerSource reads a connection (through its proof of end, if any) into
// the token buffers.
type readerSource struct{ r io.ReadCloser }

func (s readerSource) next(buf []byte) ([]byte, *heldData, error) {
	n, err := s.r.Read(buf)
	return buf[:n], nil, err
}

func (s readerSource) close() { s.r.Close() }
