package engine

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/spool"
)

// Engine defaults.
const (
	DefaultMaxJobs       = 64
	DefaultQueueWait     = 2 * time.Second
	DefaultMaxInputBytes = 16 << 30
)

// Config is the engine's limits. Zero fields take the defaults.
type Config struct {
	MaxJobs       int                 // jobs running at once
	QueueWait     time.Duration       // how long a job over MaxJobs waits for a slot; negative: none, refused at once
	MaxInputBytes int64               // input bytes per job
	MaxLineBytes  int                 // longest line a stage holds; 0 = compute.DefaultMaxLineBytes
	Spool         compute.SpoolConfig // reply spool and sort buffers
	// Registry is the commands a pipeline may name (compute/builtin has
	// them all); nil is none, which leaves the engine digests only.
	Registry *compute.Registry
}

// Engine runs jobs: it bounds how many run at once, enforces the input
// limit, and holds every reply until its input has ended. It knows nothing
// of the transport that feeds it.
type Engine struct {
	cfg   Config
	slots chan struct{}
}

// New returns an engine with cfg's limits.
func New(cfg Config) *Engine {
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = DefaultMaxJobs
	}
	if cfg.QueueWait == 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	if cfg.MaxInputBytes <= 0 {
		cfg.MaxInputBytes = DefaultMaxInputBytes
	}
	if cfg.MaxLineBytes <= 0 {
		cfg.MaxLineBytes = compute.DefaultMaxLineBytes
	}
	if cfg.Registry == nil {
		cfg.Registry = compute.NewRegistry()
	}
	cfg.Spool.Budget()
	return &Engine{cfg: cfg, slots: make(chan struct{}, cfg.MaxJobs)}
}

// Config returns the engine's effective limits.
func (e *Engine) Config() Config { return e.cfg }

// Env returns a new environment for the stages of one pipeline of this
// engine: its limits, and a pattern budget of its own.
func (e *Engine) Env() *compute.Env {
	return &compute.Env{
		Spool:        e.cfg.Spool,
		MaxLineBytes: e.cfg.MaxLineBytes,
		Patterns:     compute.NewPatternBudget(compute.MaxPatternInsts),
	}
}

// Compile parses and checks a pipeline for this engine. Its cost is
// bounded before any job slot is taken: the text is at most
// MaxPipelineBytes, and the patterns of all its stages compile to at most
// compute.MaxPatternInsts instructions together.
func (e *Engine) Compile(text string) (*Pipeline, error) {
	return Compile(e.cfg.Registry, e.Env(), text)
}

// Acquire takes a job slot, waiting at most QueueWait. The returned release
// must be called exactly once when the job ends.
func (e *Engine) Acquire(ctx context.Context) (release func(), err error) {
	if release, ok := e.TryAcquire(); ok {
		return release, nil
	}
	if e.cfg.QueueWait < 0 {
		return nil, compute.Exhaustedf("too many jobs: %d running, limit %d", len(e.slots), cap(e.slots))
	}
	t := time.NewTimer(e.cfg.QueueWait)
	defer t.Stop()
	select {
	case e.slots <- struct{}{}:
	case <-t.C:
		return nil, compute.Exhaustedf("too many jobs: %d running, limit %d", len(e.slots), cap(e.slots))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return e.releaser(), nil
}

// TryAcquire takes a job slot if one is free now, without waiting: ok is
// false when every slot is taken. An adapter that has something to watch
// while its job waits (a connection's reset) starts that watch only when
// TryAcquire fails.
func (e *Engine) TryAcquire() (release func(), ok bool) {
	select {
	case e.slots <- struct{}{}:
		return e.releaser(), true
	default:
		return nil, false
	}
}

// releaser gives back a slot taken, once.
func (e *Engine) releaser() func() {
	var once sync.Once
	return func() { once.Do(func() { <-e.slots }) }
}

// Running returns how many jobs hold a slot now.
func (e *Engine) Running() int { return len(e.slots) }

// Stats describes a finished job.
type Stats struct {
	InputBytes  int64
	OutputBytes int64
	// ExitStatus is the pipeline's exit status when the job succeeded:
	// its last command's, as a shell's (grep that selected no line: 1).
	ExitStatus int
	// Diagnostics are the lines its commands wrote on standard error
	// (compute.Diagnose) when the job succeeded.
	Diagnostics []string
}

// Run runs p over src and writes its output to out. src's io.EOF is the end
// of input; any other error from it aborts the job. Nothing is written to
// out before src has ended: output made earlier waits in a spool, and
// once the spool is past its memory the input is read ahead of the stages
// to find its end sooner (readahead.go). After the end, output flows to
// out as fast as out takes it, written by Run's goroutine while the stages
// go on (they wait for out only once the spool holds as much as it did at
// the end, or its memory). A job whose
// stages finish early still has its input read to the end. On error, if
// nothing was written to out yet, nothing ever will be. A stage that fails
// after the input has ended fails after its output: what the stages wrote
// before the failure goes to out, then Run returns the error (always, not
// only when the engine happened to see the end first).
//
// When the job fails before its input has ended (a stage fails, ctx is
// done), a Read of src may be blocked on a client that sends nothing: if
// src is an io.Closer, the engine then calls Close, which must make such a
// Read return. Run returns only once nothing reads src any more.
//
// A src that is a SelfEnding whose EndsWith(ctx) is true is not closed
// for ctx's end by a job run inline: its reads fail by themselves then.
func (e *Engine) Run(ctx context.Context, p *Pipeline, src io.Reader, out io.Writer) (Stats, error) {
	if bound, ok := e.inline(p); ok {
		return e.runInline(ctx, p, bound, src, out)
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	in := NewInput(src, e.cfg.MaxInputBytes)
	reply := spool.New(e.cfg.Spool)
	defer reply.Close()
	stageIn := newReadAhead(ctx, in, reply, e.cfg.Spool)
	reply.SetGate(stageIn)
	// When ctx ends: the read-ahead is aborted, and src closed (a Read
	// blocked on a client that sends nothing returns). One AfterFunc for
	// both (each costs allocations and a registration with ctx); abort
	// first, as it never waits.
	closer, _ := src.(io.Closer)
	defer context.AfterFunc(ctx, func() {
		stageIn.abort()
		if closer != nil {
			closer.Close()
		}
	})()
	var cw replyWriter = &countingWriter{w: out}
	if fs, ok := out.(spool.FileSender); ok {
		// The spilled reply goes out by reference (sendfile).
		cw = &countingSender{countingWriter{w: out}, fs}
	}

	done := make(chan error, 1)
	var (
		status int // the stages' exit status, set before done is sent
		diag   compute.Diagnostics
	)
	// The reply is sent while the stages still write (Spool.Release), until
	// they are done; the caller's cancellation stops it at once. (A stage's
	// failure does not: what it wrote before goes out first.)
	defer context.AfterFunc(parent, func() { reply.Abort(parent.Err()) })()
	go func() {
		var err error
		status, err = p.run(ctx, cancel, stageIn, reply, &diag)
		reply.CloseWrite()
		done <- err
	}()

	var err error
	select {
	case <-in.Ended():
		if err = reply.Release(cw); err != nil {
			cancel()
			<-done
		} else {
			err = <-done
		}
	case err = <-done:
		if err != nil && ended(in) {
			// The input had ended before the stages failed (a stage
			// sees the end only after Input has recorded it), and both
			// cases were ready when the select ran: as when it picks
			// the end, the output made before the failure goes out
			// first, so the reply follows from the order of events,
			// not from the select's random choice. (A write error of
			// out is the lesser news: the stages' error is the verdict.)
			_ = reply.Release(cw)
		}
		if err == nil {
			// The stages are done but the input may not be: it must still
			// end, or this is an abort.
			_, err = io.Copy(io.Discard, stageIn)
		}
		if err == nil {
			err = reply.Release(cw)
		}
	}
	if err != nil {
		cancel() // unblocks a read-ahead waiting on src
	}
	stageIn.close()
	st := Stats{InputBytes: in.N(), OutputBytes: cw.count()}
	if err == nil {
		st.ExitStatus = status // err == nil: done was received
		st.Diagnostics = diag.Lines()
	}
	return st, err
}

// Inline reports whether Run runs p on its caller's goroutine (inline):
// one stage whose output is small whatever its input, a digest. Such a job
// has nothing left to compute once its input has ended.
func (e *Engine) Inline(p *Pipeline) bool {
	_, ok := e.inline(p)
	return ok
}

// inline reports whether p is one stage whose output is small whatever
// its input (compute.BoundedStage: a digest), within maxInlineOutput and
// the reply spool's memory, and that bound.
// Such a job runs on Run's goroutine (runInline): its writes never reach
// the spool's gate, so nothing has to release the reply or read the input
// ahead while it runs.
func (e *Engine) inline(p *Pipeline) (bound int64, ok bool) {
	if len(p.Stages) != 1 {
		return 0, false
	}
	b, ok := p.Stages[0].(compute.BoundedStage)
	if !ok {
		return 0, false
	}
	n := b.MaxOutput()
	return n, n >= 0 && n <= min(e.cfg.Spool.Mem(), maxInlineOutput)
}

// maxInlineOutput bounds the output of a job run inline: its reply goes
// to out in one Write once the input has ended, where a spool's Release
// writes it a part at a time and stops at the caller's cancellation
// between parts (a gRPC client that stops reading a b3sum -l 1000000
// would have had all of its 2 MB queued in the transport, not part).
const maxInlineOutput = 64 << 10

// runInline is Run for a job that inline accepts, with Run's contract,
// on the caller's goroutine: no goroutine for the stage, no hand-off of
// its end back to Run's, and no context of the job's own. The stage
// reads the source itself, so a read error (a reset, the idle timeout)
// fails it and so the job, as in Run; when ctx ends, the source is
// closed, which makes a read blocked on a client that sends nothing
// return. Its output is held (heldReply: no spool, whose memory it
// fits) until the input has ended, which the stage finds itself (it reads
// to io.EOF) or the drain after it does.
func (e *Engine) runInline(ctx context.Context, p *Pipeline, bound int64, src io.Reader, out io.Writer) (Stats, error) {
	in := NewInput(src, e.cfg.MaxInputBytes)
	closer, _ := src.(io.Closer)
	if se, ok := src.(SelfEnding); closer != nil && (!ok || !se.EndsWith(ctx)) {
		defer context.AfterFunc(ctx, func() { closer.Close() })()
	}
	// The reply is held here, not in a spool: it fits its memory.
	reply := heldReply{max: bound}
	var (
		diag   compute.Diagnostics
		status compute.ExitStatus
	)
	err := runStage(compute.WithExitStatus(compute.WithDiagnostics(ctx, &diag), &status), p.Stages[0], in, &reply)
	if errors.Is(err, compute.ErrDownstreamDone) {
		err = nil
	}
	cw := countingWriter{w: out}
	switch {
	case err != nil && ended(in):
		// As in Run: the output made before a failure after the end
		// goes out first.
		_ = reply.release(ctx, &cw)
	case err == nil:
		// The stage is done but the input may not be: it must still
		// end, or this is an abort.
		if _, err = io.Copy(io.Discard, in); err == nil {
			err = reply.release(ctx, &cw)
		}
	}
	if err != nil && closer != nil {
		// As Run's cancel does: the adapter's source may read ahead on a
		// goroutine of its own, which its Close stops.
		closer.Close()
	}
	st := Stats{InputBytes: in.N(), OutputBytes: cw.n}
	if err == nil {
		st.ExitStatus = status.Get()
		st.Diagnostics = diag.Lines()
	}
	return st, err
}

// SelfEnding is a source that can tell that its reads end by themselves,
// with an error (never io.EOF), once a context ends: a job run inline on
// that context then registers no AfterFunc to close it (a registration
// with the context and its removal, and their allocations, a job: issue
// 14). The raw-TCP adapter's plain connections are such sources for the
// server's stopping context: its end sets their read deadline.
type SelfEnding interface {
	EndsWith(ctx context.Context) bool
}

// heldReply holds the output of a job run inline until its input has
// ended: at most max bytes (the stage's bound, which the spool's memory
// would have held). A stage that writes more breaks its bound: the job
// fails, as a server fault.
type heldReply struct {
	b   []byte
	max int64
}

func (h *heldReply) Write(p []byte) (int, error) {
	if int64(len(h.b)+len(p)) > h.max {
		return 0, compute.Internal("reply: a stage wrote more than its bound", nil)
	}
	h.b = append(h.b, p...)
	return len(p), nil
}

// release writes what h holds to out, unless ctx has ended (the caller's
// cancellation: no reply then, as Run's spool is aborted).
func (h *heldReply) release(ctx context.Context, out io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(h.b) == 0 {
		return nil
	}
	_, err := out.Write(h.b)
	return err
}

// ended reports whether in has ended.
func ended(in *Input) bool {
	select {
	case <-in.Ended():
		return true
	default:
		return false
	}
}

// replyWriter is out, counting what it took.
type replyWriter interface {
	io.Writer
	count() int64
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) count() int64 { return c.n }

// countingSender is a countingWriter of a spool.FileSender.
type countingSender struct {
	countingWriter
	fs spool.FileSender
}

func (c *countingSender) SendFile(f *os.File, off, n int64) (int64, error) {
	k, err := c.fs.SendFile(f, off, n)
	c.n += k
	return k, err
}
