package server

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestJobID: 16 characters of crypto/rand.Text's base32 alphabet, as
// rand.Text()[:16] gave, and no two alike.
func TestJobID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := jobID()
		if len(id) != 16 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("job id %q", id)
		}
		if seen[id] {
			t.Fatalf("job id %q twice", id)
		}
		seen[id] = true
	}
}

// TestLifecycleStopped: once the server stops its jobs, a job that failed
// because of it (its context, its input closed, a timeout the stop set)
// is UNAVAILABLE, but a verdict on the input itself stays the job's: a
// size that did not match, an end without its proof (DATA_LOSS), a bad
// request, a limit. Before the stop every error is the job's.
func TestLifecycleStopped(t *testing.T) {
	stopping, stop := context.WithCancel(context.Background())
	l := &lifecycle{stopping: stopping}
	errs := []error{
		compute.Invalidf("bad flag"),
		compute.Exhaustedf("input exceeds the limit"),
		compute.Errorf(compute.CodeDataLoss, "received 3 bytes, expected 4"),
		errNoEnd,
		errShuttingDown,
		context.Canceled,
		errIdle(time.Second),
		compute.Errorf(compute.CodeInternal, "spool"),
	}
	for _, err := range errs {
		if got := l.stopped(context.Background(), err); got != err {
			t.Errorf("before the stop: stopped(%v) = %v", err, got)
		}
	}
	if l.stopped(context.Background(), nil) != nil {
		t.Error("stopped(nil) is not nil")
	}
	stop()
	for i, err := range errs {
		want := err
		if i >= 5 {
			want = errShuttingDown
		}
		if got := l.stopped(context.Background(), err); got != want {
			t.Errorf("after the stop: stopped(%v) = %v, want %v", err, got, want)
		}
	}
	if l.stopped(context.Background(), nil) != nil {
		t.Error("after the stop: stopped(nil) is not nil")
	}
}

// TestLifecycleJobContext: a job given the server's stopping context (a
// TCP connection's) runs on it as it is, with no context of its own made
// per job; any other job (a gRPC stream's) runs on a context of its own
// that ends with do and with the stop.
func TestLifecycleJobContext(t *testing.T) {
	stopping, stop := context.WithCancel(context.Background())
	defer stop()
	l := &lifecycle{engine: engine.New(engine.Config{Registry: builtin.Registry()}), stopping: stopping,
		emit: func(context.Context, slog.Attr, error) {}}
	run := func(parent context.Context, during func(context.Context)) context.Context {
		var got context.Context
		err := l.do(parent, "192.0.2.1", func() (string, jobFunc, error) {
			return "sha256sum", func(ctx context.Context) (engine.Stats, error) {
				got = ctx
				if during != nil {
					during(ctx)
				}
				return engine.Stats{}, nil
			}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := run(stopping, nil); got != stopping {
		t.Errorf("a job given the stopping context ran on %v, not on it", got)
	}
	stream, endStream := context.WithCancel(context.Background())
	defer endStream()
	got := run(stream, func(ctx context.Context) {
		if ctx == stream || ctx.Err() != nil {
			t.Errorf("a stream's job runs on %v (err %v), not a live context of its own", ctx, ctx.Err())
		}
	})
	if got.Err() == nil {
		t.Error("a stream's job context outlived do")
	}
	run(stream, func(ctx context.Context) {
		stop()
		<-ctx.Done() // the stop ends it
	})
}

// pastDeadline is a context whose deadline is d, whatever ends it: a
// gRPC call whose client's deadline came (or is within deadlineSlack),
// with no timer of the test's to race.
type pastDeadline struct {
	context.Context
	d time.Time
}

func (c pastDeadline) Deadline() (time.Time, bool) { return c.d, true }

// TestLifecycleStopAtClientDeadline: a job the server's stop ends before
// it runs (waiting for its header, or for a --max-jobs or
// --max-jobs-per-peer slot) is the stop, outcome unavailable, even when
// the call's deadline has come: the end of its context is not the
// client's deadline (clientDeadline, applied there since bbproto), which
// it is without the stop.
func TestLifecycleStopAtClientDeadline(t *testing.T) {
	for _, where := range []string{"header", "slot", "peer slot"} {
		for _, stopped := range []bool{false, true} {
			stopping, stop := context.WithCancel(context.Background())
			eng := engine.New(engine.Config{Registry: builtin.Registry(), MaxJobs: 1, QueueWait: time.Hour})
			var peers *PeerCap
			var err error
			hold := func() {}
			switch where {
			case "slot":
				if hold, err = eng.Acquire(context.Background()); err != nil {
					t.Fatal(err)
				}
			case "peer slot":
				peers = NewPeerCap(1)
				if hold, _, err = peers.Acquire(context.Background(), "192.0.2.1", 0); err != nil {
					t.Fatal(err)
				}
			}
			obs := slotWaitObserver{waiting: make(chan struct{}, 1)}
			var outcomes []string
			l := &lifecycle{engine: eng, stopping: stopping, peerJobs: peers, obs: outcomeObserver{slotWaitObserver: obs, outcomes: &outcomes},
				emit: func(context.Context, slog.Attr, error) {}}
			parent, cancel := context.WithCancel(context.Background())
			ctx := pastDeadline{parent, time.Now().Add(-time.Millisecond)}
			// The client's reset, or the stop, ends the call.
			end := cancel
			if stopped {
				end = stop
			}
			errc := make(chan error, 1)
			go func() {
				errc <- l.do(ctx, "192.0.2.1", func() (string, jobFunc, error) {
					if where == "header" {
						// A Recv waits on the stream's context, which the
						// stop ends with grpc.Server.Stop, after it.
						end()
						cancel()
						return "", nil, status.FromContextError(ctx.Err()).Err()
					}
					return "sha256sum", func(context.Context) (engine.Stats, error) { return engine.Stats{}, nil }, nil
				})
			}()
			if where != "header" {
				testenv.Recv(t, hangTimeout, "the job's wait for a slot", obs.waiting)
				end()
			}
			err = testenv.Recv(t, hangTimeout, "the job's return", errc)
			want, wantOutcome := error(context.DeadlineExceeded), OutcomeIdle
			if stopped {
				want, wantOutcome = errShuttingDown, OutcomeUnavailable
			}
			if err != want || len(outcomes) != 1 || outcomes[0] != wantOutcome {
				t.Errorf("%s, stopped %v: %v, outcomes %v; want %v, %s", where, stopped, err, outcomes, want, wantOutcome)
			}
			hold()
			cancel()
			stop()
		}
	}
}

// outcomeObserver records the outcome of each job.
type outcomeObserver struct {
	slotWaitObserver
	outcomes *[]string
}

func (o outcomeObserver) JobStarted(string) func(string, int64, int64) {
	return func(oc string, _, _ int64) { *o.outcomes = append(*o.outcomes, oc) }
}
