package compute

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
)

// Stage is one running command of a pipeline. Run reads in until io.EOF
// (the half-close) and writes its output to out. An error from in other than
// io.EOF is an abort: Run must return it (wrapped or not) and must not treat
// what it read so far as the whole input. Run must return promptly when ctx
// is done. A Stage may stop reading early (head -n 1); the engine drains the
// rest of the input itself.
type Stage interface {
	Run(ctx context.Context, in io.Reader, out io.Writer) error
}

// BoundedStage is a Stage that knows the most it can write, whatever its
// input: a digest prints a line per operand. The engine runs a job of one
// such stage, whose bound is small (engine.Engine.Run), on the caller's
// goroutine: its output never waits for the reply to be released, so
// nothing else has to release it meanwhile.
type BoundedStage interface {
	Stage
	// MaxOutput returns the most bytes Run writes, or a negative number
	// when there is no bound.
	MaxOutput() int64
}

// FileInputStage is a Stage whose GNU output depends on whether its
// standard input is a regular file: wc pads its columns to the digits of
// the file's size then, and to at least 7 for a pipe; head -n N seeks it
// back after the N-th line and tac reads it back from its end, for each
// "-" operand; grep -T pads its numbers to the digits of the size (19
// for a pipe). A pipeline's first
// stage is told so when the client says its input is a regular file
// (engine.Pipeline.SetInputFile); every other stage reads a pipe.
type FileInputStage interface {
	Stage
	// SetInputFile says the input is a regular file of size bytes.
	SetInputFile(size int64)
}

// FileTimeStage is a Stage whose GNU output depends on the modification
// time of its standard input when that is a regular file: gzip -l lists
// it (GNU's fstat of stdin) in place of the epoch. A pipeline's first
// stage is told it when the client says its input is a regular file and
// gives its time (engine.Pipeline.SetInputFileTime), and only when the
// stage wants it (WantsInputFileTime, which the CLI asks of its own
// compile of the pipeline before it sends the time: a server older than
// the TCP header's @mtime refuses that option whatever the command).
type FileTimeStage interface {
	Stage
	// WantsInputFileTime reports whether the stage, as its flags made
	// it, prints anything of the time (gzip -l with -v).
	WantsInputFileTime() bool
	// SetInputFileTime says the input is a regular file modified at
	// mtime, in seconds since the Unix epoch.
	SetInputFileTime(mtime int64)
}

// BufferTaker is a stage's output that can take a full buffer itself
// rather than copy it (the reply spool, once it spills: the buffer is
// written to the spill file as it is). A stage that buffers its output
// may hand its buffer over instead of writing it.
type BufferTaker interface {
	io.Writer
	// TakeBuffer writes p as Write does, and may keep p itself rather
	// than copy it: then it returns another empty buffer of p's capacity
	// to fill next, and the caller must not touch p again; otherwise it
	// returns p[:0]. n and err are Write's.
	TakeBuffer(p []byte) (next []byte, n int, err error)
	// Holding reports whether what is written now is held rather than
	// passed on (the reply spool before its release): only then may the
	// stage keep what it selected until its buffer is full. Once it is
	// false, the stage passes its output on as it would to a pipe.
	Holding() bool
}

// StageFunc adapts a function to Stage.
type StageFunc func(ctx context.Context, in io.Reader, out io.Writer) error

// Run calls f.
func (f StageFunc) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	return f(ctx, in, out)
}

// Command is a command that can appear in a pipeline.
type Command struct {
	// Name is the word that invokes it, e.g. "sha256sum".
	Name string
	// Summary is a one-line description for Capabilities.
	Summary string
	// Flags are the flags it accepts, for parsing and for Capabilities.
	Flags []FlagSpec
	// Build checks args (the words after the name) and returns the stage.
	// A bad flag, operand or value is an *Error with CodeInvalid whose
	// message names it, e.g. `grep: unknown flag "-Q"`.
	Build func(env *Env, args []string) (Stage, error)
}

// ErrDownstreamDone is what an upstream stage's writes return once the stage
// it feeds has finished early (head -n 1): the pipeline's SIGPIPE. A stage
// returns it as is (or wrapped); the pipeline does not count it as a failure.
var ErrDownstreamDone = errors.New("compute: downstream stage finished")

// DoneFlag returns a flag that turns true once ctx is done, and a func that
// stops watching ctx (call it when the stage returns). Loading the flag
// costs about a nanosecond, so a stage may check it once per line or per
// comparison, where ctx.Err (a mutex) would cost more than the work: that
// is how a stage returns promptly after a cancel whatever its input.
func DoneFlag(ctx context.Context) (done *atomic.Bool, release func()) {
	done = new(atomic.Bool)
	if ctx.Err() != nil {
		done.Store(true)
		return done, func() {}
	}
	stop := context.AfterFunc(ctx, func() { done.Store(true) })
	return done, func() { stop() }
}
