package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// A stream's guard whose handler is done gives back the stream's places
// and leaves no timer armed at once, and the watch of the stream's
// context's end is stopped (its goroutine, started as the context ends,
// was one a call).
func TestStreamGuardEnd(t *testing.T) {
	peers, streams := NewPeerCap(4), NewStreamCap(8, 4)
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry()}), Options{
		PeerRequests: peers, Streams: streams, HeaderTimeout: time.Hour,
	}).(*computeService)
	const ip = "192.0.2.1"
	tapped := func() (*streamGuard, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 4242}})
		gctx, err := svc.TapHandle(ctx, &tap.Info{FullMethodName: apiv1.ComputeService_Digest_FullMethodName})
		if err != nil {
			t.Fatal(err)
		}
		g := gctx.(*streamGuard)
		if peers.Held(ip) != 1 || streams.Open() != 1 {
			t.Fatalf("tapped: %d held, %d open; want 1, 1", peers.Held(ip), streams.Open())
		}
		return g, cancel
	}
	armed := func(g *streamGuard) bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return !g.due.IsZero()
	}

	g, cancel := tapped()
	if !armed(g) {
		t.Fatal("the header timeout is not armed")
	}
	g.done()
	if peers.Held(ip) != 0 || streams.Open() != 0 {
		t.Errorf("after done: %d held, %d open; want 0, 0", peers.Held(ip), streams.Open())
	}
	if armed(g) {
		t.Error("after done: a timer is still armed")
	}
	if g.unwatch() {
		t.Error("after done: the stream's end is still watched")
	}
	cancel()
	g.done() // a second time: nothing to give back
	if peers.Held(ip) != 0 || streams.Open() != 0 {
		t.Errorf("after the end: %d held, %d open; want 0, 0", peers.Held(ip), streams.Open())
	}

	// The end of the context first (a client's reset): the watch runs,
	// on a goroutine of its own, and the handler's done after it finds
	// the watch started; the places are given back once, by either.
	g, cancel = tapped()
	cancel()
	testenv.Recv(t, hangTimeout, "the guard's end after the cancel", g.Done())
	g.done() // returns once the places are back, whoever gave them
	if peers.Held(ip) != 0 || streams.Open() != 0 {
		t.Errorf("done after the end: %d held, %d open; want 0, 0", peers.Held(ip), streams.Open())
	}
}

// A guarded stream's job reads the end of its context from the guard's
// clock, which the guard's watch of that end records: no AfterFunc of the
// job's own (it was 7 allocations a call). Before the end the clock says
// now; after it, the time of the end.
func TestStreamGuardClock(t *testing.T) {
	peers := NewPeerCap(4)
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry()}), Options{PeerRequests: peers}).(*computeService)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // a deadline, as ghz's calls have
	defer cancel()
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 4242}})
	gctx, err := svc.TapHandle(ctx, &tap.Info{FullMethodName: apiv1.ComputeService_Run_FullMethodName})
	if err != nil {
		t.Fatal(err)
	}
	g := gctx.(*streamGuard)
	if n := testing.AllocsPerRun(100, func() { newCancelClock(g, g).done() }); n != 0 {
		t.Errorf("a guarded job's clock: %v allocations, want 0", n)
	}
	clk := newCancelClock(g, g)
	now := time.Now()
	if got := clk.when(now); !got.Equal(now) {
		t.Errorf("before the end: when %v, want now %v", got, now)
	}
	before := time.Now()
	cancel()
	testenv.Recv(t, hangTimeout, "the guard's end", g.Done())
	// The watch runs on a goroutine of its own, at some time after the
	// end: run here, it records the end now unless the watch did first.
	g.ended()
	after := time.Now()
	later := after.Add(time.Minute)
	if got := clk.when(later); got.Before(before) || got.After(after) {
		t.Errorf("after the end: when %v, want between %v and %v", got, before, after)
	}
	clk.done()
	g.done()
}

// TestCancelClockKeepsFirstEnd: the clock keeps the first end recorded
// (a second record, the guard's watch after the job's, does not move it
// later), and a time asked for from before that end is that time: the
// end cannot be after the moment the job saw it.
func TestCancelClockKeepsFirstEnd(t *testing.T) {
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &cancelClock{at: first}
	c.record()
	if got := c.when(first.Add(time.Hour)); !got.Equal(first) {
		t.Errorf("after a second record: when %v, want the first end %v", got, first)
	}
	earlier := first.Add(-time.Second)
	if got := c.when(earlier); !got.Equal(earlier) {
		t.Errorf("when(%v), before the recorded end: %v, want %v", earlier, got, earlier)
	}
}

// TestGuardPlacesEveryEnd: a stream's places under --max-requests-per-peer
// and --grpc-max-requests come back once, whichever way its call ends:
// its handler's end gives them back and stops the watch of its context's
// end, which gives them back for a stream whose handler never ran; both
// may run. A place given back twice would let the address hold more than
// its limit (the server's count goes below 0), one never given back would
// refuse the address for good. After calls ended every way (several of
// each), the address holds none, and exactly its limit again.
func TestGuardPlacesEveryEnd(t *testing.T) {
	const ip = "127.0.0.1"
	reqs, streams := NewPeerCap(2), NewStreamCap(8, 2)
	reg := testRegistry()
	reg.Register(&compute.Command{Name: "testpanic", Build: func(*compute.Env, []string) (compute.Stage, error) {
		return compute.StageFunc(func(context.Context, io.Reader, io.Writer) error { panic("testpanic") }), nil
	}})
	env := startEnv(t, envConfig{
		peerRequests: reqs, streams: streams,
		engine: engine.Config{Registry: reg, MaxJobs: 1, QueueWait: time.Hour},
		tcp:    tcpSettings{HeaderTimeout: time.Second},
	})
	idle := func() bool { return reqs.Held(ip) == 0 && reqs.Peers() == 0 && streams.Open() == 0 }
	run := func(ctx context.Context, msgs ...*apiv1.RunRequest) apiv1.ComputeService_RunClient {
		t.Helper()
		s, err := env.client.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			s.Send(m)
		}
		return s
	}
	// Every call that reaches its handler is one job, started and ended.
	ended := func(what string, err error, want codes.Code) {
		t.Helper()
		env.obs.waitStarted(t)
		env.obs.nextOutcome(t)
		if status.Code(err) != want {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
	}
	big := bytes.Repeat([]byte("x"), 1<<20)
	for range 3 {
		ctx, cancel := context.WithCancel(jobCtx(t))
		s := run(ctx) // no header
		waitFor(t, func() bool { return reqs.Held(ip) == 1 })
		cancel()
		_, _, err := collectRun(s)
		ended("cancel before the header", err, codes.Canceled)

		ctx, cancel = context.WithTimeout(jobCtx(t), 300*time.Millisecond)
		_, _, err = collectRun(run(ctx))
		cancel()
		ended("deadline before the header", err, codes.DeadlineExceeded)

		_, _, err = collectRun(run(jobCtx(t)))
		ended("header timeout", err, codes.DeadlineExceeded)

		hctx, hcancel := context.WithCancel(jobCtx(t))
		hold := run(hctx, runHeader("wc -c")) // the only slot
		env.obs.waitStarted(t)
		ctx, cancel = context.WithCancel(jobCtx(t))
		s = run(ctx, runHeader("wc -c"))
		waitFor(t, func() bool { return reqs.Held(ip) == 2 })
		cancel()
		_, _, err = collectRun(s)
		env.obs.nextOutcome(t) // the job that waited for the slot (it started, a refusal)
		if status.Code(err) != codes.Canceled {
			t.Errorf("cancel waiting for a slot: %v", err)
		}
		hcancel()
		_, _, err = collectRun(hold)
		env.obs.nextOutcome(t)
		if status.Code(err) != codes.Canceled {
			t.Errorf("cancel with no input: %v", err)
		}
		env.obs.waitStarted(t) // the refused job's start

		ctx, cancel = context.WithCancel(jobCtx(t))
		s = run(ctx, runHeader("wc -c"), runData(big))
		env.obs.waitStarted(t)
		cancel()
		_, _, err = collectRun(s)
		env.obs.nextOutcome(t)
		if status.Code(err) != codes.Canceled {
			t.Errorf("cancel mid-input: %v", err)
		}

		ctx, cancel = context.WithTimeout(jobCtx(t), 300*time.Millisecond)
		_, _, err = collectRun(run(ctx, runHeader("wc -c"), runData(big)))
		cancel()
		ended("deadline mid-input", err, codes.DeadlineExceeded)

		ctx, cancel = context.WithCancel(jobCtx(t))
		s = run(ctx, runHeader("testcat"))
		for range 8 {
			s.Send(runData(big))
		}
		s.CloseSend()
		if _, err := s.Recv(); err != nil { // output flows
			t.Fatal(err)
		}
		cancel()
		_, _, err = collectRun(s)
		ended("cancel mid-output", err, codes.Canceled)

		_, _, err = collectRun(run(jobCtx(t), runHeader("no-such-command")))
		ended("bad pipeline", err, codes.InvalidArgument)

		s = run(jobCtx(t), runHeader("testpanic"), runData(big))
		s.CloseSend()
		_, _, err = collectRun(s)
		ended("a panicking stage", err, codes.Internal)

		d, err := env.client.Digest(jobCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		d.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
		d.Send(dataMsg(big))
		_, err = d.CloseAndRecv()
		ended("a Digest", err, codes.OK)
	}
	waitFor(t, idle)

	// The address holds exactly its limit again: two streams, the third
	// refused.
	ctx, cancel := context.WithCancel(jobCtx(t))
	for range 2 {
		run(ctx)
	}
	waitFor(t, func() bool { return reqs.Held(ip) == 2 })
	_, _, err := collectRun(run(jobCtx(t)))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a third stream: %v, want RESOURCE_EXHAUSTED", err)
	}
	if n := streams.Open(); n != 2 {
		t.Errorf("two streams open: the server counts %d", n)
	}
	cancel()
	waitFor(t, idle)
}

// TestGuardPlacesNoHandler: a stream refused between the tap handle and
// its handler (an interceptor: a missing token, the rate limit) has no
// handler to give back its places: the watch of its context's end does.
func TestGuardPlacesNoHandler(t *testing.T) {
	const ip = "127.0.0.1"
	reqs, streams := NewPeerCap(1), NewStreamCap(8, 1)
	refuse := grpc.ChainStreamInterceptor(func(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error {
		return status.Error(codes.Unauthenticated, "refused")
	})
	env := startEnv(t, envConfig{peerRequests: reqs, streams: streams, grpcOpts: []grpc.ServerOption{refuse}})
	for range 3 {
		s, err := env.client.Run(jobCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		s.Send(runHeader("wc -c"))
		if _, _, err := collectRun(s); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("a refused stream: %v, want UNAUTHENTICATED", err)
		}
		waitFor(t, func() bool { return reqs.Held(ip) == 0 && reqs.Peers() == 0 && streams.Open() == 0 })
	}
}
