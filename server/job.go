package server

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
)

// jobFunc runs a job and says how many bytes went in and out, and, when it
// succeeded, its exit status.
type jobFunc func(context.Context) (engine.Stats, error)

// compileFunc is an adapter's first step of a job: read and check the
// request, and return the job's name (its command label) and body.
type compileFunc func() (command string, run jobFunc, err error)

// lifecycle is the one path every job takes, whichever adapter it came
// in by: compile → admit: a slot of its peer's and one of the engine's
// (admission.go) → record (observer, log fields) → run. Its error is then
// classified (errors.go) by the adapter: a status on gRPC, an error line
// on TCP.
//
// A drain refuses no job: whatever the adapters accepted (a gRPC stream
// grpc-go took before its GOAWAY, a connection the kernel queued before
// the listener closed) is served; refusing is left to the transport, where
// a client can tell that nothing was processed and try elsewhere.
type lifecycle struct {
	engine *engine.Engine
	obs    Observer
	// adapter names the adapter ("grpc", "tcp") in the admission metrics.
	adapter string
	// peerJobs caps the jobs of one peer IP (--max-jobs-per-peer); nil
	// caps nothing.
	peerJobs *PeerCap
	// stopping is done when the server stops the jobs still running (its
	// shutdown grace is over): every job's context ends with it, and a job
	// that fails once it is done failed because of it (errShuttingDown).
	stopping context.Context
	// emit writes a job's record: the adapter's log line or fields; err
	// is the job's error (nil: it succeeded), for the line's code and
	// level.
	emit func(ctx context.Context, job slog.Attr, err error)
	// onStop, when not nil, is called with a job's context when the
	// server stops it (stopping ends) while do runs: the gRPC adapter's
	// ends a receive that its job's context cannot (streamGuard.shutdown).
	onStop func(ctx context.Context)
	// answer, when not nil, is what a job's client is answered with when
	// the server stopped the job (stopped): the gRPC adapter's stream may
	// have been answered before the stop landed, by a timeout
	// (streamGuard.answer); nil: errShuttingDown.
	answer func(ctx context.Context, err error) error
	// waiter, when not nil, is watched while the job waits for its slots
	// (a raw-TCP connection, for its client's reset: acquireWatched).
	waiter slotWaiter
}

// do runs one job of the peer at peerIP through the lifecycle and returns
// its error.
func (l *lifecycle) do(ctx context.Context, peerIP string, compile compileFunc) error {
	// A job given stopping itself (the TCP adapter's connections) ends
	// with it already: it runs on it as it is, with no context of its own
	// (a cancel context a job was 3 of a 1 KiB route job's ~86
	// allocations). Nothing of such a job waits on its context past do:
	// the engine's goroutines and AfterFuncs, the TLS read-ahead (Wait)
	// and the reset watch end with the job by themselves.
	if ctx != l.stopping {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		stop := cancel
		if l.onStop != nil {
			jobCtx := ctx
			stop = func() { cancel(); l.onStop(jobCtx) }
		}
		defer context.AfterFunc(l.stopping, stop)()
	}

	// A gRPC client's deadline that expires before the job runs (no
	// header yet, or waiting for a slot) is that deadline, as in the job
	// (clientEnd): its reset made it a cancel; and its cancel is said as
	// in the job (the slot's wait gave the bare context.Canceled). Both return as the context ends, so now is when
	// it ended. The raw-TCP adapter's context has no deadline, and ends
	// only with the stop, which stopped() names.
	command, run, err := compile()
	if err != nil {
		return l.reject(ctx, command, clientEnd(ctx, err, time.Now()))
	}
	release, err := l.admit(ctx, peerIP)
	if err != nil {
		return l.reject(ctx, command, clientEnd(ctx, err, time.Now()))
	}
	defer release()
	return l.record(ctx, command, run)
}

// reject records a job refused before it ran (a bad header or pipeline,
// no slot, a limit) and returns err.
func (l *lifecycle) reject(ctx context.Context, command string, err error) error {
	return l.record(ctx, command, func(context.Context) (engine.Stats, error) { return engine.Stats{}, err })
}

// refuse records a connection or stream refused by a limit before it
// carried a job (--max-conns, --max-requests-per-peer, the rate limit):
// a job refused before it ran, counted with its outcome but with no log
// line of its own (the refusal log aggregates them), and returns err.
func (l lifecycle) refuse(ctx context.Context, err error) error {
	l.emit = func(context.Context, slog.Attr, error) {}
	return l.reject(ctx, "", err)
}

// record runs fn and records it: the observer's outcome and byte counts,
// and one "job" group of log fields. Its frame is small (the record is
// made by emitJob): a job that waits for input waits inside fn, and every
// byte of the stack above it is held by each waiting stream.
func (l *lifecycle) record(ctx context.Context, command string, fn jobFunc) error {
	start := time.Now()
	var done func(string, int64, int64)
	if l.obs != nil {
		done = l.obs.JobStarted(command)
	}
	st, err := fn(ctx)
	err = l.stopped(ctx, err)
	l.emitJob(ctx, command, start, st, err, done)
	return err
}

// emitJob tells the observer (done) how the job ended and emits its record.
func (l *lifecycle) emitJob(ctx context.Context, command string, start time.Time, st engine.Stats, err error, done func(string, int64, int64)) {
	oc := outcome(err)
	if done != nil {
		done(oc, st.InputBytes, st.OutputBytes)
	}
	attrs := make([]slog.Attr, 0, 7)
	attrs = append(attrs, slog.String("id", jobID()), slog.String("command", command),
		slog.Int64("in_bytes", st.InputBytes), slog.Int64("out_bytes", st.OutputBytes), slog.Duration("duration", time.Since(start)),
		slog.String("outcome", oc))
	if err != nil {
		attrs = append(attrs, slog.String("error", logDetail(err)))
	} else if st.ExitStatus != 0 {
		// A job that succeeded with a status (grep that selected no
		// line): as a shell shows it, only when not 0.
		attrs = append(attrs, slog.Int("exit_status", st.ExitStatus))
	}
	// One group: the text log shows job.id=… job.outcome=…, JSON a "job"
	// object; and the logging middleware handles one field, not seven.
	l.emit(ctx, slog.Attr{Key: "job", Value: slog.GroupValue(attrs...)}, err)
}

// jobID returns a job's random id: 16 characters of crypto/rand.Text's
// alphabet (80 bits), made with one allocation rather than rand.Text's two
// and its 26 characters cut to 16.
func jobID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // rand.Text's: base32
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	for i := range b {
		b[i] = alphabet[b[i]%32]
	}
	return string(b[:])
}

// stopped returns errShuttingDown for a job that failed because the server
// stopped it: its context ended, its input was closed, its connection's
// deadlines were set (which look like timeouts). A verdict on the input
// itself (a bad flag, a limit, a size mismatch) is the job's, even then,
// and so is the answer its client had before the stop (answer): a gRPC
// stream a timeout answered with DEADLINE_EXCEEDED, the stop landing
// before the job saw that end, was recorded unavailable.
func (l *lifecycle) stopped(ctx context.Context, err error) error {
	if err == nil || l.stopping.Err() == nil {
		return err
	}
	switch compute.CodeOf(err) {
	case compute.CodeInvalid, compute.CodeResourceExhausted, compute.CodeDataLoss, compute.CodeUnavailable:
		return err
	}
	if l.answer != nil {
		return l.answer(ctx, errShuttingDown)
	}
	return errShuttingDown
}
