package server

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
)

// fakeStatusWriter counts the statuses written through it.
type fakeStatusWriter struct{ n atomic.Int32 }

func (f *fakeStatusWriter) WriteStatus(*status.Status) error { f.n.Add(1); return nil }

// TestFireAfterDisarmWritesNoStatus: waits that end as their timer
// fires. Once a handler disarmed and saw stopped() == nil it goes on (to
// its result and OK), so the guard must write no status for that wait
// then. fire once checked g.due under g.mu, unlocked, and only then set
// the cause and wrote the status: 1 such wait in some 400,000, 1-3 in
// 20,000 with -race.
func TestFireAfterDisarmWritesNoStatus(t *testing.T) {
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

// TestSummaryThenTimeoutStatusIsNoResult: a Run summary taken by grpc-go
// as the reply's idle timeout fires (its Send returns as the wait
// expired; modelled by the server's stream returning from that Send only
// once the guard has stopped the stream). The job is recorded idle and
// the status after the summary is DEADLINE_EXCEEDED: client.Run reads on
// to that status and returns it, no result (it once returned at the
// summary). The client's summary is held here until the server recorded
// the job, so that its cancel after returning does not end the stream
// first.
func TestSummaryThenTimeoutStatusIsNoResult(t *testing.T) {
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
