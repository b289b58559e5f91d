package compute

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// Engine defaults.
const (
	DefaultMaxJobs       = 64
	DefaultQueueWait     = 2 * time.Second
	DefaultMaxInputBytes = 16 << 30
)

// Config is the engine's limits. Zero fields take the defaults.
type Config struct {
	MaxJobs       int           // jobs running at once
	QueueWait     time.Duration // how long a job over MaxJobs waits for a slot
	MaxInputBytes int64         // input bytes per job
	Spool         SpoolConfig   // reply spool and sort buffers
}

// Engine runs jobs: it bounds how many run at once, enforces the input
// limit, and holds every reply until its input has ended. It knows nothing
// of the transport that feeds it.
type Engine struct {
	cfg   Config
	slots chan struct{}
}

// NewEngine returns an engine with cfg's limits.
func NewEngine(cfg Config) *Engine {
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = DefaultMaxJobs
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	if cfg.MaxInputBytes <= 0 {
		cfg.MaxInputBytes = DefaultMaxInputBytes
	}
	cfg.Spool.disk()
	return &Engine{cfg: cfg, slots: make(chan struct{}, cfg.MaxJobs)}
}

// Config returns the engine's effective limits.
func (e *Engine) Config() Config { return e.cfg }

// Env returns the environment stages of this engine are built with.
func (e *Engine) Env() *Env { return &Env{Spool: e.cfg.Spool} }

// Compile parses and checks a pipeline for this engine.
func (e *Engine) Compile(text string) (*Pipeline, error) { return Compile(e.Env(), text) }

// Acquire takes a job slot, waiting at most QueueWait. The returned release
// must be called exactly once when the job ends.
func (e *Engine) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case e.slots <- struct{}{}:
	default:
		t := time.NewTimer(e.cfg.QueueWait)
		defer t.Stop()
		select {
		case e.slots <- struct{}{}:
		case <-t.C:
			return nil, Exhaustedf("too many jobs: %d running, limit %d", len(e.slots), cap(e.slots))
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() { once.Do(func() { <-e.slots }) }, nil
}

// Running returns how many jobs hold a slot now.
func (e *Engine) Running() int { return len(e.slots) }

// Stats describes a finished job.
type Stats struct {
	InputBytes  int64
	OutputBytes int64
}

// Run runs p over src and writes its output to out. src's io.EOF is the end
// of input; any other error from it aborts the job. Nothing is written to
// out before src has ended: output made earlier waits in a spool. A job
// whose stages finish early still has its input read to the end. On error,
// if nothing was written to out yet, nothing ever will be.
//
// When the job fails before its input has ended (a stage fails, ctx is
// done), a Read of src may be blocked on a client that sends nothing: if
// src is an io.Closer, the engine then calls Close, which must make such a
// Read return.
func (e *Engine) Run(ctx context.Context, p *Pipeline, src io.Reader, out io.Writer) (Stats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if c, ok := src.(io.Closer); ok {
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
	}

	in := NewInput(src, e.cfg.MaxInputBytes)
	spool := NewSpool(e.cfg.Spool)
	defer spool.Close()
	cw := &countingWriter{w: out}

	done := make(chan error, 1)
	go func() { done <- p.run(ctx, cancel, in, spool) }()

	var err error
	select {
	case <-in.Ended():
		if err = spool.Release(cw); err != nil {
			cancel()
			<-done
		} else {
			err = <-done
		}
	case err = <-done:
		if err == nil {
			// The stages are done but the input may not be: it must still
			// end, or this is an abort.
			_, err = io.Copy(io.Discard, in)
		}
		if err == nil {
			err = spool.Release(cw)
		}
	}
	return Stats{InputBytes: in.N(), OutputBytes: cw.n}, err
}

// Input wraps a job's source: it counts bytes, enforces the input limit and
// tells when the input has ended (the source returned io.EOF).
type Input struct {
	r     io.Reader
	n     int64
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

// Read reads from the source.
func (in *Input) Read(p []byte) (int, error) {
	if in.limit > 0 && int64(len(p)) > in.limit-in.n+1 {
		p = p[:in.limit-in.n+1]
	}
	n, err := in.r.Read(p)
	in.n += int64(n)
	if in.limit > 0 && in.n > in.limit {
		return 0, &Error{Code: CodeResourceExhausted, Msg: "input exceeds the limit of " + itoa(in.limit) + " bytes", Err: ErrInputLimit}
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

// inputWriter counts and limits what Input.WriteTo passes on.
type inputWriter struct {
	in *Input
	w  io.Writer
}

func (iw inputWriter) Write(p []byte) (int, error) {
	in := iw.in
	if in.limit > 0 && in.n+int64(len(p)) > in.limit {
		in.n += int64(len(p))
		return 0, &Error{Code: CodeResourceExhausted, Msg: "input exceeds the limit of " + itoa(in.limit) + " bytes", Err: ErrInputLimit}
	}
	n, err := iw.w.Write(p)
	in.n += int64(n)
	return n, err
}

// N returns the bytes read so far.
func (in *Input) N() int64 { return in.n }

// Ended is closed when the source has returned io.EOF.
func (in *Input) Ended() <-chan struct{} { return in.ended }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
