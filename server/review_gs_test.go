package server

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// stopOnFailStream is a handler's stream that calls stop once its Recv
// fails: the server's forced stop landing between a timeout that
// answered the client and the job's record.
type stopOnFailStream struct {
	grpc.ServerStream
	stop func()
}

func (s stopOnFailStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err != nil {
		s.stop()
	}
	return err
}

// TestReviewTimeoutThenForcedStopRecordsWhatClientWasTold: the header
// timeout stops a stream blocked in its header's Recv and answers the
// client DEADLINE_EXCEEDED "header timeout: ..."; the server's forced
// stop (Service.Stop, the end of --shutdown-grace) lands as that Recv
// returns, before the job is recorded. The client was told the timeout;
// the job must be recorded idle (as streamguard.go's stopped says: "so
// that the job is recorded as its client was told"). lifecycle.stopped
// turns any CodeDeadline error into errShuttingDown once stopping ended:
// outcome unavailable, call log grpc.code Unavailable.
func TestReviewTimeoutThenForcedStopRecordsWhatClientWasTold(t *testing.T) {
	for _, method := range []string{"Digest", "Run"} {
		t.Run(method, func(t *testing.T) {
			var env *testEnv
			var once sync.Once
			wrap := grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				return handler(srv, stopOnFailStream{ss, func() { once.Do(env.svc.Stop) }})
			})
			env = startEnv(t, envConfig{idle: shortTimeout, tcp: tcpSettings{HeaderTimeout: shortTimeout}, grpcOpts: []grpc.ServerOption{wrap}})
			var err error
			if method == "Digest" {
				s, serr := env.client.Digest(jobCtx(t))
				if serr != nil {
					t.Fatal(serr)
				}
				var resp apiv1.DigestResponse
				if err = s.RecvMsg(&resp); err == nil {
					t.Fatalf("a result: %v", &resp)
				}
			} else {
				s, serr := env.client.Run(jobCtx(t))
				if serr != nil {
					t.Fatal(serr)
				}
				var sum *apiv1.RunSummary
				if _, sum, err = collectRun(s); sum != nil {
					t.Fatalf("a summary: %v", sum)
				}
			}
			oc := env.obs.nextOutcome(t)
			st := status.Convert(err)
			t.Logf("client: %v %q; recorded: %s", st.Code(), st.Message(), oc)
			if st.Code() == codes.DeadlineExceeded && oc != OutcomeIdle {
				t.Errorf("client told DEADLINE_EXCEEDED %q, job recorded %q", st.Message(), oc)
			}
		})
	}
}

// fakeStatusWriter counts the statuses written through it.
type fakeStatusWriter struct{ n atomic.Int32 }

func (f *fakeStatusWriter) WriteStatus(*status.Status) error { f.n.Add(1); return nil }

// TestReviewFireAfterDisarmWritesStatus: a wait that ends as its timer
// fires. fire checks g.due under g.mu, unlocks, and only then calls stop,
// which sets the cause and writes the status without re-checking that the
// wait is still armed. A handler that disarms and sees stopped() == nil
// in that gap goes on (returns its result, OK) while stop then answers
// the client DEADLINE_EXCEEDED. The invariant checked: once a handler
// disarmed and saw stopped() == nil, no status is written by the guard.
func TestReviewFireAfterDisarmWritesStatus(t *testing.T) {
	const n = 20000
	base := runtime.NumGoroutine()
	var gs []*streamGuard
	var sws []*fakeStatusWriter
	var clean []bool
	for range n {
		g := newStreamGuard(context.Background())
		sw := &fakeStatusWriter{}
		g.sw = sw
		g.arm(time.Microsecond, errIdle(time.Microsecond))
		for deadline := time.Now().Add(time.Microsecond); time.Now().Before(deadline); {
		}
		runtime.Gosched() // let the timer's goroutine run beside us
		g.disarm()
		clean = append(clean, g.stopped() == nil)
		gs, sws = append(gs, g), append(sws, sw)
	}
	// Every timer goroutine has ended (fire returned, or stop wrote).
	for end := time.Now().Add(defaultTestTimeout); runtime.NumGoroutine() > base && time.Now().Before(end); {
		runtime.Gosched()
	}
	bad, wrote, dirty := 0, 0, 0
	for i := range gs {
		if sws[i].n.Load() > 0 {
			wrote++
		}
		if !clean[i] {
			dirty++
		}
		if clean[i] && sws[i].n.Load() > 0 {
			bad++
		}
	}
	t.Logf("%d waits: %d stopped() != nil after disarm, %d statuses written, %d violations", n, dirty, wrote, bad)
	if bad > 0 {
		t.Errorf("%d of %d waits: disarmed with stopped() == nil, then the guard wrote a status", bad, n)
	}
}
