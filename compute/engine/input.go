package engine

import (
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/halfclose/halfclose/compute"
)

// Input wraps a job's source: it counts bytes, enforces the input limit and
// tells when the input has ended (the source returned io.EOF).
type Input struct {
	r     io.Reader
	n     int64
	seen  atomic.Int64 // n, for other goroutines (Seen)
	limit int64
	ended chan struct{}
	once  sync.Once
}

// NewInput wraps r with a limit of limit bytes (<= 0: none).
func NewInput(r io.Reader, limit int64) *Input {
	return &Input{r: r, limit: limit, ended: make(chan struct{})}
}

// ErrInputLimit is returned (wrapped in an *Error) when input passes the limit.
var ErrInputLimit = errors.New("input limit")

// Read reads from the source. Once the source has ended, Read returns
// io.EOF without reading it again.
func (in *Input) Read(p []byte) (int, error) {
	select {
	case <-in.ended:
		return 0, io.EOF
	default:
	}
	if in.limit > 0 && int64(len(p)) > in.limit-in.n+1 {
		p = p[:in.limit-in.n+1]
	}
	n, err := in.r.Read(p)
	in.count(int64(n))
	if in.limit > 0 && in.n > in.limit {
		return 0, in.limitError()
	}
	if err == io.EOF {
		in.once.Do(func() { close(in.ended) })
	}
	return n, err
}

// WriteTo hands the input to w without a copy when the source can (the
// adapters' read-ahead buffers), with the same limit and end-of-input
// tracking as Read. It returns nil at the end of input.
func (in *Input) WriteTo(w io.Writer) (int64, error) {
	start := in.n
	wt, ok := in.r.(io.WriterTo)
	if !ok {
		// io.Copy would call this method again: copy by hand.
		bp := digestBufs.Get().(*[]byte)
		defer digestBufs.Put(bp)
		for {
			n, err := in.Read(*bp)
			if n > 0 {
				if _, werr := w.Write((*bp)[:n]); werr != nil {
					return in.n - start, werr
				}
			}
			if err == io.EOF {
				return in.n - start, nil
			}
			if err != nil {
				return in.n - start, err
			}
		}
	}
	_, err := wt.WriteTo(inputWriter{in, w})
	if err == nil {
		in.once.Do(func() { close(in.ended) })
	}
	return in.n - start, err
}

// ChunkTaker is a source that can hand over what it received without a
// copy (the adapters' receive-ahead): TakeChunk returns the next received
// bytes, as segments, and done, which the caller calls once it has used
// them (the source may then reuse or free their buffers; until then it
// does not touch them). err is the source's error after those bytes:
// io.EOF at the end of input.
type ChunkTaker interface {
	TakeChunk() (segs [][]byte, done func(), err error)
}

// WriteChunk writes a chunk's segments to w in order, stopping at the
// first error, and then calls done (when not nil) in every case: the
// buffers go back to their ChunkTaker whether w took them or not.
func WriteChunk(w io.Writer, segs [][]byte, done func()) (int64, error) {
	var total int64
	var err error
	for _, s := range segs {
		var n int
		n, err = w.Write(s)
		total += int64(n)
		if err != nil {
			break
		}
	}
	if done != nil {
		done()
	}
	return total, err
}

// takeChunk is TakeChunk through the input's count, limit and end, or
// ok false when the source cannot hand over chunks.
func (in *Input) takeChunk() (segs [][]byte, done func(), err error, ok bool) {
	ct, ok := in.r.(ChunkTaker)
	if !ok {
		return nil, nil, nil, false
	}
	select {
	case <-in.ended:
		return nil, nil, io.EOF, true
	default:
	}
	segs, done, err = ct.TakeChunk()
	for _, s := range segs {
		in.count(int64(len(s)))
	}
	if in.limit > 0 && in.n > in.limit {
		if done != nil {
			done()
		}
		return nil, nil, in.limitError(), true
	}
	if err == io.EOF {
		in.once.Do(func() { close(in.ended) })
	}
	return segs, done, err, true
}

// inputWriter counts and limits what Input.WriteTo passes on.
type inputWriter struct {
	in *Input
	w  io.Writer
}

func (iw inputWriter) Write(p []byte) (int, error) {
	in := iw.in
	if in.limit > 0 && in.n+int64(len(p)) > in.limit {
		in.count(int64(len(p)))
		return 0, in.limitError()
	}
	n, err := iw.w.Write(p)
	in.count(int64(n))
	return n, err
}

func (in *Input) limitError() error {
	return &compute.Error{Code: compute.CodeResourceExhausted, Msg: "input exceeds the limit of " + strconv.FormatInt(in.limit, 10) + " bytes", Err: ErrInputLimit}
}

// CheckDeclaredSize refuses an input whose client declared its size (a
// gRPC expected_size, a raw-TCP @size) over the limit at once, before any
// of it is sent: it would fail at the limit's byte anyway.
func (e *Engine) CheckDeclaredSize(n int64) error {
	if n <= e.cfg.MaxInputBytes {
		return nil
	}
	return &compute.Error{Code: compute.CodeResourceExhausted, Msg: "input exceeds the limit of " + strconv.FormatInt(e.cfg.MaxInputBytes, 10) + " bytes: " + strconv.FormatInt(n, 10) + " declared", Err: ErrInputLimit}
}

// N returns the bytes read so far (by the goroutine reading).
func (in *Input) N() int64 { return in.n }

// Seen returns the bytes read so far, from any goroutine.
func (in *Input) Seen() int64 { return in.seen.Load() }

func (in *Input) count(k int64) {
	in.n += k
	in.seen.Store(in.n)
}

// Ended is closed when the source has returned io.EOF.
func (in *Input) Ended() <-chan struct{} { return in.ended }

// digestJobBufSize is the read size of a digest job whose source cannot
// hand over its own buffers: large enough that the per-Write cost of
// parallel hashing is noise.
const digestJobBufSize = 1 << 20

// digestBufs recycles those read buffers: a fresh MiB per job would make
// small jobs pay mostly for allocating and zeroing it.
var digestBufs = sync.Pool{New: func() any { b := make([]byte, digestJobBufSize); return &b }}
