package server

import (
	"bytes"
	"context"
	"io"
	"net"
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
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
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

// stopAfterTimeoutStream is a handler's stream that stops the service
// (its forced stop: the shutdown grace is over) as a Recv or Send that a
// timeout ended returns, before the job sees that end: the stop landing
// between the timeout's answer to the client and the job's record.
type stopAfterTimeoutStream struct {
	grpc.ServerStream
	stop func()
}

func (s stopAfterTimeoutStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err != nil && guardOf(s.Context()).stopped() != nil {
		s.stop()
	}
	return err
}

func (s stopAfterTimeoutStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if err != nil && guardOf(s.Context()).stopped() != nil {
		s.stop()
	}
	return err
}

// TestStopAfterTimeoutRecordsTimeout: a forced stop that lands after a
// timeout has answered the client (DEADLINE_EXCEEDED with the server's
// words: the header's, the first data's, a Send its client does not read)
// leaves the job recorded as that timeout, idle, as its client was told:
// the lifecycle made every job failing once the stop was on
// errShuttingDown, and such a job was logged and counted unavailable.
func TestStopAfterTimeoutRecordsTimeout(t *testing.T) {
	const d = shortTimeout
	// A reply over what the client's window and the server's write
	// quota hold, of a small input (TestTimeoutStatusCarriesServerWords).
	_, gz := unreadReply()
	for _, c := range []struct {
		name, method string
		header       bool
		unread       bool // Run (gunzip -c): the client reads nothing until the job ended
		want         string
	}{
		{"no header", "Digest", false, false, errHeaderTimeout(d).Error()},
		{"no data", "Digest", true, false, errIdle(d).Error()},
		{"no data", "Run", true, false, errIdle(d).Error()},
		{"reply not read", "Run", true, true, errReplyIdle(d).Error()},
	} {
		t.Run(c.name+"/"+c.method, func(t *testing.T) {
			t.Parallel()
			var (
				svc  atomic.Pointer[Service]
				once sync.Once
			)
			stop := func() { once.Do(func() { (*svc.Load()).Stop() }) }
			wrap := grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				return handler(srv, stopAfterTimeoutStream{ss, stop})
			})
			hdr := defaultTestTimeout
			if !c.header {
				hdr = d
			}
			env := startEnv(t, envConfig{idle: d, tcp: tcpSettings{HeaderTimeout: hdr}, grpcOpts: []grpc.ServerOption{wrap}})
			svc.Store(&env.svc)
			conn := dialTest(t, env.grpcAddr, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
			cl := apiv1.NewComputeServiceClient(conn)
			var got error
			oc := ""
			switch c.method {
			case "Digest":
				s, err := cl.Digest(jobCtx(t))
				if err != nil {
					t.Fatal(err)
				}
				if c.header {
					s.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
				}
				var resp apiv1.DigestResponse
				if got = s.RecvMsg(&resp); got == nil {
					t.Fatalf("a result: %v", &resp)
				}
			case "Run":
				s, err := cl.Run(jobCtx(t))
				if err != nil {
					t.Fatal(err)
				}
				if !c.unread {
					s.Send(runHeader("testcat"))
				} else {
					s.Send(runHeader("gunzip -c"))
					s.Send(runData(gz))
					s.CloseSend()
					oc = env.obs.nextOutcome(t)
				}
				_, sum, err := collectRun(s)
				if sum != nil {
					t.Fatalf("a summary: %v", sum)
				}
				got = err
			}
			if st := status.Convert(got); st.Code() != codes.DeadlineExceeded || st.Message() != c.want {
				t.Errorf("client got %v; want DEADLINE_EXCEEDED %q", got, c.want)
			}
			if oc == "" {
				oc = env.obs.nextOutcome(t)
			}
			if oc != OutcomeIdle {
				t.Errorf("outcome %q, want %q, as the client was told", oc, OutcomeIdle)
			}
			if (*svc.Load()).(*computeService).life.stopping.Err() == nil {
				t.Error("the service was not stopped: the case tests nothing")
			}
		})
	}
}

// codesStatusWriter keeps the codes of the statuses written through it.
type codesStatusWriter struct {
	mu    sync.Mutex
	codes []codes.Code
}

func (w *codesStatusWriter) WriteStatus(s *status.Status) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.codes = append(w.codes, s.Code())
	return nil
}

// TestTimeoutAfterStopAnswersNothing: the converse of
// TestStopAfterTimeoutRecordsTimeout. A job that the forced stop ended
// while its stream had a wait armed (a Send still blocked) is recorded
// unavailable, and its client is answered so by the handler's status:
// the wait running out after the record, before the handler returned
// its status, answered DEADLINE_EXCEEDED, which grpc-go kept; and ending
// the stream there made grpc-go answer the blocked Send's end itself.
func TestTimeoutAfterStopAnswersNothing(t *testing.T) {
	s := NewComputeService(engine.New(engine.Config{Registry: testRegistry()}), Options{}).(*computeService)
	s.Stop()
	l := &s.life
	for _, armed := range []string{"before the record", "after the record"} {
		g := newStreamGuard(context.Background())
		sw := &codesStatusWriter{}
		g.sw = sw
		if armed == "before the record" {
			g.arm(time.Hour, errIdle(time.Hour))
		}
		if got := l.stopped(g, context.Canceled); got != errShuttingDown {
			t.Fatalf("%s: recorded %v, want %v", armed, got, errShuttingDown)
		}
		if armed == "after the record" {
			g.arm(time.Hour, errIdle(time.Hour))
		}
		// The wait runs out: fire, as its timer would, once it is due.
		g.mu.Lock()
		if !g.due.IsZero() {
			g.due = time.Now().Add(-time.Second)
		}
		g.mu.Unlock()
		g.fire()
		sw.mu.Lock()
		if len(sw.codes) != 0 {
			t.Errorf("%s: statuses written by the guard: %v; want none: the handler's, UNAVAILABLE, as the job is recorded", armed, sw.codes)
		}
		sw.mu.Unlock()
		if g.Context.Err() != nil {
			t.Errorf("%s: the stream was ended by the wait, before the handler's status", armed)
		}
		if got := l.stopped(g, context.Canceled); got != errShuttingDown {
			t.Errorf("%s: then recorded %v, want %v", armed, got, errShuttingDown)
		}
		g.cancel()
	}
}

// recordSTS is a stream's ServerTransportStream that notes when a status
// was written through it (the guard's, bind).
type recordSTS struct {
	grpc.ServerTransportStream
	written atomic.Bool
}

func (r *recordSTS) WriteStatus(st *status.Status) error {
	r.written.Store(true)
	return r.ServerTransportStream.(statusWriter).WriteStatus(st)
}

type stsStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s stsStream) Context() context.Context { return s.ctx }

// orderObserver checks, as each job is recorded, that its status was not
// written yet.
type orderObserver struct {
	sts     atomic.Pointer[recordSTS]
	started chan struct{}
	early   chan bool
}

func (o *orderObserver) JobStarted(string) func(string, int64, int64) {
	o.started <- struct{}{}
	return func(string, int64, int64) { o.early <- o.sts.Load().written.Load() }
}

// TestStopAnswersAfterRecord: a job the forced stop ends (its input
// flowing, no receive of the handler's own goroutine) is recorded, and
// its places given back (done), before its client is answered
// UNAVAILABLE, as every job that is not stopped by a timeout: the stop's
// status was written from the record (streamGuard.answer), before the
// job's log line, its metrics and its place under
// --max-requests-per-peer.
func TestStopAnswersAfterRecord(t *testing.T) {
	obs := &orderObserver{started: make(chan struct{}, 1), early: make(chan bool, 1)}
	// A stage that has its first bytes of input: the handler's own
	// goroutine no longer waits in a receive, which the stop answers at
	// once (shutdown), and only the job's context ends the job.
	read := make(chan struct{}, 1)
	reg := testRegistry()
	reg.Register(&compute.Command{Name: "testreadone", Build: func(*compute.Env, []string) (compute.Stage, error) {
		return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
			if _, err := in.Read(make([]byte, 1)); err != nil {
				return err
			}
			read <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}), nil
	}})
	svc := NewComputeService(engine.New(engine.Config{Registry: reg}), Options{Observer: obs})
	wrap := grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		r := &recordSTS{ServerTransportStream: grpc.ServerTransportStreamFromContext(ss.Context())}
		obs.sts.Store(r)
		return handler(srv, stsStream{ss, grpc.NewContextWithServerTransportStream(ss.Context(), r)})
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.InTapHandle(svc.TapHandle), CodecOption(), wrap)
	apiv1.RegisterComputeServiceServer(gs, svc)
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s, err := apiv1.NewComputeServiceClient(conn).Run(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Send(runHeader("testreadone"))
	s.Send(runData([]byte("never finished")))
	testenv.Recv(t, hangTimeout, "the job's start", obs.started)
	testenv.Recv(t, hangTimeout, "the stage's first input", read)
	svc.Stop()
	if early := testenv.Recv(t, hangTimeout, "the job's record", obs.early); early {
		t.Error("the job's status was written before its record")
	}
	if _, _, err := collectRun(s); status.Code(err) != codes.Unavailable {
		t.Errorf("client got %v, want UNAVAILABLE", err)
	}
}
