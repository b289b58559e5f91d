package server

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
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

// summaryLateStream is a handler's stream whose Send of a Run summary,
// once grpc-go has taken it, returns only when the stream's context has
// ended: the summary's Send returning just as its idle wait expired (a
// busy machine's scheduling, or a client that read just in time).
type summaryLateStream struct{ grpc.ServerStream }

func (s summaryLateStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if r, ok := m.(*apiv1.RunResponse); ok && err == nil && r.GetSummary() != nil {
		<-s.Context().Done() // the reply's idle timeout fired: the guard answered
	}
	return err
}

// summaryHeldStream is a client's Run stream that hands the summary
// to its caller only once held has returned.
type summaryHeldStream struct {
	grpc.ClientStream
	held func()
}

func (s summaryHeldStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if r, ok := m.(*apiv1.RunResponse); ok && err == nil && r.GetSummary() != nil {
		s.held()
	}
	return err
}

// TestReviewSummaryThenTimeoutStatus: a Run summary taken by grpc-go as
// the reply's idle timeout fires (its Send returns as the wait expired;
// modelled by the server's stream returning from that Send only once the
// guard has stopped the stream). The sender now fails the job with the
// timeout ("a summary sent then is followed by that status, not by OK"),
// recorded idle, and the status is DEADLINE_EXCEEDED; but the summary
// went out before the status, and the project's own client
// (client.Client.Run, client.go:497-511) returns at the summary, a
// result and no error, without reading the status. (The client's summary
// is held here until the server recorded the job, so that its cancel
// after returning does not end the stream first.) Before the diff the job
// and the status were OK.
func TestReviewSummaryThenTimeoutStatus(t *testing.T) {
	wrap := grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, summaryLateStream{ss})
	})
	env := startEnv(t, envConfig{idle: shortTimeout, grpcOpts: []grpc.ServerOption{wrap}})
	var oc string
	hold := grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		cs, err := streamer(ctx, desc, cc, method, opts...)
		return summaryHeldStream{cs, func() { oc = env.obs.nextOutcome(t) }}, err
	})
	conn, err := grpc.NewClient(env.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), hold)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var out bytes.Buffer
	sum, err := client.New(conn).Run(jobCtx(t), "testcat", strings.NewReader("hello\n"), &out)
	t.Logf("client: summary %v, err %v, output %q; recorded %s", sum, err, out.String(), oc)
	if (err == nil) != (oc == OutcomeOK) {
		t.Errorf("client got summary %v, error %v; job recorded %q", sum, err, oc)
	}
}
