package engine

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/halfclose/halfclose/compute"
)

// Run runs the stages concurrently, each reading the previous one's output
// through a pipe, the first reading in and the last writing out. It returns
// when every stage has returned, with the first failure that happened (in
// time, which is the cause; what other stages saw after it are
// consequences). A failure cancels the context of every stage, so in must
// unblock when ctx is done.
func (p *Pipeline) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err := p.run(ctx, cancel, in, out, nil)
	return err
}

// run is Run with the cancel a failure calls supplied by the caller. It
// also returns the pipeline's exit status, the last stage's
// (compute.SetExitStatus), when no stage failed. Every stage reports its
// diagnostics (compute.Diagnose) to diag when it is not nil.
func (p *Pipeline) run(ctx context.Context, cancel context.CancelFunc, in io.Reader, out io.Writer, diag *compute.Diagnostics) (int, error) {
	if diag != nil {
		ctx = compute.WithDiagnostics(ctx, diag)
	}
	var (
		status   compute.ExitStatus
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error // protected by mu
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}

	r := in
	var upstream *io.PipeReader // the reader of the current stage, when a pipe
	for i, st := range p.Stages {
		var (
			w      io.Writer = out
			pw     *io.PipeWriter
			nextPR *io.PipeReader
			sctx   = ctx
		)
		if i < len(p.Stages)-1 {
			nextPR, pw = io.Pipe()
			w = pw
		} else {
			sctx = compute.WithExitStatus(ctx, &status)
		}
		stage := func(ctx context.Context, st compute.Stage, in io.Reader, myPR *io.PipeReader, w io.Writer, pw *io.PipeWriter) {
			err := runStage(ctx, st, in, w)
			if errors.Is(err, compute.ErrDownstreamDone) {
				err = nil
			}
			if pw != nil {
				pw.CloseWithError(err) // nil: the next stage sees io.EOF
			}
			if myPR != nil {
				myPR.CloseWithError(compute.ErrDownstreamDone)
			}
			if err != nil {
				fail(err)
			}
		}
		if i == len(p.Stages)-1 {
			// The last stage runs on this goroutine, which would only
			// wait for it: a job of one stage (most small jobs) starts
			// no goroutine here, and no hand-off wakes this one.
			stage(sctx, st, r, upstream, w, pw)
			break
		}
		wg.Add(1)
		go func(ctx context.Context, st compute.Stage, in io.Reader, myPR *io.PipeReader, w io.Writer, pw *io.PipeWriter) {
			defer wg.Done()
			stage(ctx, st, in, myPR, w, pw)
		}(sctx, st, r, upstream, w, pw)
		r, upstream = nextPR, nextPR
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return status.Get(), nil
}

// runStage runs st, and turns a panic in it into a server fault: the job
// fails with an internal error (never a result), the stack goes to the
// log with the error's cause, and the server and its other jobs go on. A
// panic in a stage's goroutine dies here: nothing above it could recover
// it, and it would end the process with every job in it. (A goroutine the
// stage starts itself must recover its own.)
func runStage(ctx context.Context, st compute.Stage, in io.Reader, w io.Writer) (err error) {
	defer compute.Recover("stage", &err)
	return st.Run(ctx, in, w)
}
