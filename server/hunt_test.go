package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestTCPTimeoutAbortResets: a raw-TCP job aborted by --idle-timeout or
// --header-timeout ends its connection with an RST, not a FIN. With a FIN
// (and nothing written), a client that had sent all its input but not yet
// its own FIN (a producer slow to close its pipe) half-closed afterwards
// and read an empty reply ending in a clean EOF: exactly what a filter
// (`grep`, `sort`) with no output answers, a result for an input the job
// never finished. The reset is what tells it the job was aborted.
func TestTCPTimeoutAbortResets(t *testing.T) {
	env := startEnv(t, envConfig{
		idle:   200 * time.Millisecond,
		tcp:    tcpSettings{HeaderTimeout: 200 * time.Millisecond},
		routes: []string{"testcat"},
	})
	for _, c := range []struct{ name, addr, send, outcome string }{
		{"idle input", env.tcpAddr, "testcat\nall of the input\n", OutcomeIdle},
		{"idle input, route port", env.routes["testcat"], "all of the input\n", OutcomeIdle},
		{"unfinished header", env.tcpAddr, "testc", OutcomeIdle},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.send); err != nil {
				t.Fatal(err)
			}
			if oc := env.obs.nextOutcome(t); oc != c.outcome {
				t.Fatalf("outcome %q, want %q", oc, c.outcome)
			}
			// The job is over: the client now half-closes, as a client
			// done with its input does, and reads the reply.
			conn.(*net.TCPConn).CloseWrite()
			conn.SetReadDeadline(time.Now().Add(defaultTestTimeout))
			got, err := io.ReadAll(conn)
			if len(got) != 0 {
				t.Errorf("an aborted job wrote %q", got)
			}
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("read after the abort: %v, want a connection reset (a clean EOF looks like an empty result)", err)
			}
		})
	}
}

// bytesObserver keeps the input byte count of each job that ended.
type bytesObserver struct{ in chan int64 }

func (o bytesObserver) JobStarted(string) func(string, int64, int64) {
	return func(_ string, in, _ int64) { o.in <- in }
}

// TestGRPCDigestAbortCountsInput: a gRPC Digest job that fails after
// reading input (a limit, a cancel, a declared size not met) reports the
// bytes it read to the job log and metrics, as a Run job and a raw-TCP job
// do. It reported 0: the engine's result on an error was empty.
func TestGRPCDigestAbortCountsInput(t *testing.T) {
	obs := bytesObserver{in: make(chan int64, 10)}
	eng := engine.New(engine.Config{Registry: testRegistry(), MaxInputBytes: 1000})
	client := apiv1.NewComputeServiceClient(dialTest(t, serveService(t, NewComputeService(eng, Options{Observer: obs}))))

	size := int64(900)
	for _, c := range []struct {
		name   string
		header *apiv1.DigestHeader
		data   int
		code   codes.Code
		minIn  int64
	}{
		{"over --max-input-bytes", &apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}}, 4000, codes.ResourceExhausted, 1000},
		{"fewer than expected_size", &apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, ExpectedSize: &size}, 500, codes.DataLoss, 500},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
			defer cancel()
			stream, err := client.Digest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			stream.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: c.header}})
			stream.Send(dataMsg(make([]byte, c.data)))
			_, err = stream.CloseAndRecv()
			if status.Code(err) != c.code {
				t.Fatalf("err %v, want %v", err, c.code)
			}
			if in := testenv.Recv(t, hangTimeout, "the job's input count", obs.in); in < c.minIn {
				t.Errorf("the job reported %d input bytes, want at least %d", in, c.minIn)
			}
		})
	}
}

// TestTCPTLSTimeoutAbortNoCloseNotify: over TLS an idle-timeout abort
// sends no close_notify. tls.Conn.Close sends one, and a client then read
// an authenticated clean end of an empty reply for a job that was aborted.
func TestTCPTLSTimeoutAbortNoCloseNotify(t *testing.T) {
	p := newTestPKI(t)
	cfg, err := LoadServerTLS(p.ServerCert, p.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	obs := &recordingObserver{started: make(chan string, 100), ended: make(chan string, 100)}
	srv := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), TLSConfig: cfg, Observer: obs, IdleTimeout: 200 * time.Millisecond}
	addr := serveTCP(t, srv)

	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(defaultTestTimeout))
	c := tls.Client(raw, p.ClientTLS(t, false))
	if _, err := io.WriteString(c, "testcat\nall of the input\n"); err != nil {
		t.Fatal(err)
	}
	if oc := obs.nextOutcome(t); oc != OutcomeIdle {
		t.Fatalf("outcome %q, want %q", oc, OutcomeIdle)
	}
	got, err := io.ReadAll(c)
	if len(got) != 0 {
		t.Errorf("an aborted job wrote %q", got)
	}
	if err == nil {
		t.Errorf("the reply ended with close_notify, as a complete (empty) reply does")
	}
}

// TestDeclaredSizeOverflowCountsInput: a job whose input passes its
// declared size (gRPC expected_size, raw-TCP @size) fails DATA_LOSS and
// reports the bytes its client sent, at least those up to the one past
// the size, to the job log and metrics. It reported 0 when the bytes came
// in one gRPC message or one read: they failed before the job read them.
func TestDeclaredSizeOverflowCountsInput(t *testing.T) {
	obs := bytesObserver{in: make(chan int64, 10)}
	eng := engine.New(engine.Config{Registry: testRegistry()})
	client := apiv1.NewComputeServiceClient(dialTest(t, serveService(t, NewComputeService(eng, Options{Observer: obs}))))
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()

	size := int64(1000)
	data := make([]byte, 4000)
	check := func(name string, err error, minIn int64) {
		t.Helper()
		if status.Code(err) != codes.DataLoss {
			t.Fatalf("%s: err %v, want DATA_LOSS", name, err)
		}
		if in := testenv.Recv(t, hangTimeout, "the job's input count", obs.in); in < minIn {
			t.Errorf("%s: the job reported %d input bytes, want at least %d", name, in, minIn)
		}
	}

	ds, err := client.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds.Send(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{
		Algorithms: []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, ExpectedSize: &size}}})
	ds.Send(dataMsg(data))
	_, err = ds.CloseAndRecv()
	check("Digest", err, size+1)

	rs, err := client.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: &apiv1.RunHeader{Pipeline: "wc -c", ExpectedSize: &size}}})
	rs.Send(runData(data))
	rs.CloseSend()
	for err == nil || status.Code(err) == codes.OK {
		_, err = rs.Recv()
	}
	check("Run", err, size+1)

	srv := &TCPServer{Engine: eng, Observer: obs}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveDone := make(chan struct{})
	go func() { srv.Serve(tl); close(serveDone) }()
	t.Cleanup(func() {
		testenv.Within(t, hangTimeout, "the TCP server's Close and Serve's return", func() { srv.Close(); <-serveDone })
	})
	for _, cmd := range []string{"sha256sum", "wc -c"} {
		c, err := net.Dial("tcp", tl.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(defaultTestTimeout))
		// One write: the header, the declared 10 bytes and 10 more.
		if _, err := io.WriteString(c, "@size=10 "+cmd+"\n"+strings.Repeat("x", 20)); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(got), "halfclose: error: DATA_LOSS: ") {
			t.Fatalf("TCP %s: reply %q, want the DATA_LOSS line", cmd, got)
		}
		if in := testenv.Recv(t, hangTimeout, "the job's input count", obs.in); in < 11 {
			t.Errorf("TCP %s: the job reported %d input bytes, want at least 11", cmd, in)
		}
	}
}

// outObserver keeps the outcome and output byte count of each job.
type outObserver struct{ ended chan [2]string }

func (o outObserver) JobStarted(string) func(string, int64, int64) {
	return func(oc string, _, out int64) { o.ended <- [2]string{oc, strconv.FormatInt(out, 10)} }
}

// TestTCPCutReplyCountsSent: what a failed raw-TCP job's reply buffer
// held never goes out, and the job log and halfclose_output_bytes_total
// count the bytes written to the connection, not those. A testfail whose
// 11 bytes of output were all in the buffer when it failed counted 11,
// and the client got none; it now gets the error line, and the job
// counts 0.
func TestTCPCutReplyCountsSent(t *testing.T) {
	obs := outObserver{ended: make(chan [2]string, 10)}
	srv := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), Observer: obs}
	addr := serveTCP(t, srv)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.WriteString(c, "testfail\nsome output"); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(got), "halfclose: error: ") {
		t.Fatalf("reply %q, %v: want the error line", got, err)
	}
	e := testenv.Recv(t, hangTimeout, "the job's end", obs.ended)
	if e[0] != OutcomeInvalid || e[1] != "0" {
		t.Errorf("the job counted %s output bytes (outcome %s); the client received none of the output", e[1], e[0])
	}
}

// TestGRPCClientDeadlineIsIdle: a call whose client's deadline expires
// (here before its input ended) is counted as a deadline, outcome idle,
// as docs/operations.md says, on Digest and Run. The client's reset of
// the stream comes at the deadline, and before the server's own timer
// (started when the headers arrived): it counted as canceled.
//
// The server tells such a reset from a cancel by its time: within
// deadlineSlack of the server's deadline, which is later than the
// client's by how long the call's headers took to arrive. A try says
// something only when they took well under deadlineSlack (bounded from
// above by when the test saw the job start); on a busy machine they
// took more once in a make test (outcome canceled, as designed), and
// such a try is made again.
func TestGRPCClientDeadlineIsIdle(t *testing.T) {
	for _, method := range []string{"Digest", "Run"} {
		for try := 1; !clientDeadlineIsIdle(t, method); try++ {
			if try == 20 {
				t.Fatalf("%s: in %d tries the call's headers never reached the server within %v of its deadline's start", method, try, deadlineSlack/2)
			}
		}
	}
}

// clientDeadlineIsIdle is one try of TestGRPCClientDeadlineIsIdle on
// method, with a server of its own; false: the headers may have taken
// too long, and the try says nothing.
func clientDeadlineIsIdle(t *testing.T, method string) bool {
	t.Helper()
	env := startEnv(t, envConfig{})
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var recv func() error
	if method == "Digest" {
		s, err := env.client.Digest(ctx)
		if err != nil {
			if status.Code(err) == codes.DeadlineExceeded {
				return false
			}
			t.Fatal(err)
		}
		s.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
		s.Send(dataMsg([]byte("part of the input")))
		recv = func() error { return s.RecvMsg(new(apiv1.DigestResponse)) }
	} else {
		s, err := env.client.Run(ctx)
		if err != nil {
			if status.Code(err) == codes.DeadlineExceeded {
				return false
			}
			t.Fatal(err)
		}
		s.Send(runHeader("wc -c"))
		s.Send(runData([]byte("part of the input")))
		recv = func() error { _, err := s.Recv(); return err }
	}
	select {
	case <-env.obs.started:
	case <-ctx.Done():
		return false // no job yet at the deadline: its headers took 300 ms
	}
	late := time.Since(begin) // at least how long the headers took
	// No end of input: the call ends at its deadline.
	if err := recv(); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("%s: %v, want DEADLINE_EXCEEDED", method, err)
	}
	cancel()
	oc := env.obs.nextOutcome(t)
	if late >= deadlineSlack/2 {
		t.Logf("%s: the job started %v after the deadline's start; again", method, late)
		return false
	}
	if oc != OutcomeIdle {
		t.Errorf("%s: outcome %q at the client's deadline (the job started %v after its start), want %q", method, oc, late, OutcomeIdle)
	}
	return true
}

// TestGRPCClientDeadlineBeforeJobIsIdle: a client's deadline that expires
// before its job runs (no header yet; waiting for a --max-jobs slot) is a
// deadline too, outcome idle, as it is once the job runs: both counted
// as canceled (the client's RST_STREAM at its deadline), so the metrics
// and the log said the client cancelled where grpcio, grpc-js and grpcurl
// had each reported DEADLINE_EXCEEDED.
func TestGRPCClientDeadlineBeforeJobIsIdle(t *testing.T) {
	env := startEnv(t, envConfig{engine: engine.Config{MaxJobs: 1, QueueWait: time.Hour}})

	// No header: the stream waits for its first message until the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	s, err := env.client.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("no header: %v, want DEADLINE_EXCEEDED", err)
	}
	cancel()
	if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
		t.Errorf("no header: outcome %q at the client's deadline, want %q", oc, OutcomeIdle)
	}
	env.obs.waitStarted(t) // that refused job's start, recorded before its end

	// A job holds the only slot; the next waits for it until its deadline.
	hold, err := env.client.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hold.Send(runHeader("wc -c"))
	env.obs.waitStarted(t)
	for _, method := range []string{"Digest", "Run"} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		var callErr error
		if method == "Digest" {
			s, err := env.client.Digest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			s.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
			_, callErr = s.CloseAndRecv()
		} else {
			s, err := env.client.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			s.Send(runHeader("wc -c"))
			s.CloseSend()
			_, callErr = s.Recv()
		}
		if status.Code(callErr) != codes.DeadlineExceeded {
			t.Fatalf("%s waiting for a slot: %v, want DEADLINE_EXCEEDED", method, callErr)
		}
		cancel()
		if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
			t.Errorf("%s: outcome %q at the client's deadline while waiting for a slot, want %q", method, oc, OutcomeIdle)
		}
	}
	hold.CloseSend()
	for {
		if _, err := hold.Recv(); err != nil {
			if err != io.EOF {
				t.Fatalf("the job holding the slot: %v", err)
			}
			break
		}
	}
}

// TestClientDeadline: a client's cancel counts as its deadline from
// deadlineSlack (100 ms, as the docs say) before it; other errors, and calls with no deadline, are
// as they were.
func TestClientDeadline(t *testing.T) {
	d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithDeadline(context.Background(), d)
	defer cancel()
	for _, c := range []struct {
		ctx  context.Context
		err  error
		now  time.Time
		want codes.Code
	}{
		{ctx, context.Canceled, d.Add(-deadlineSlack - time.Millisecond), codes.Canceled},
		{ctx, context.Canceled, d.Add(-deadlineSlack), codes.DeadlineExceeded},
		// The figures docs/operations.md and docs/clients.md give, not
		// the constant: a cancel from 100 ms before counts.
		{ctx, context.Canceled, d.Add(-100 * time.Millisecond), codes.DeadlineExceeded},
		{ctx, context.Canceled, d.Add(-50 * time.Millisecond), codes.DeadlineExceeded},
		{ctx, context.Canceled, d.Add(-101 * time.Millisecond), codes.Canceled},
		{ctx, context.Canceled, d.Add(time.Second), codes.DeadlineExceeded},
		{ctx, &connReadError{syscall.ECONNRESET}, d, codes.DeadlineExceeded},
		{context.Background(), context.Canceled, d, codes.Canceled},
		{ctx, compute.Invalidf("bad"), d, codes.InvalidArgument},
		{ctx, nil, d, codes.OK},
	} {
		if got := codeOf(clientDeadline(c.ctx, c.err, c.now)); got != c.want {
			t.Errorf("clientDeadline(%v at %v) = %v, want %v", c.err, c.now.Sub(d), got, c.want)
		}
	}
}

// TestStagePanicRecordedOnce: a job whose stage panics after its output
// has started is one job, ended internal, on the raw-TCP command port and
// on gRPC Run: one log line, jobs_total by one, in flight back to 0, and
// its client gets an error (a reset, a status), never an end.
func TestStagePanicRecordedOnce(t *testing.T) {
	reg := testRegistry()
	reg.Register(&compute.Command{Name: "testpanic", Build: func(*compute.Env, []string) (compute.Stage, error) {
		return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
			if _, err := io.Copy(out, in); err != nil {
				return err
			}
			panic("testpanic")
		}), nil
	}})
	eng := engine.New(engine.Config{Registry: reg})
	preg := NewRegistry()
	m := NewMetrics(preg)
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logs}, nil))
	gaddr := serveService(t, NewComputeService(eng, Options{Observer: NewObserver(m), Logger: logger}))
	srv := &TCPServer{Engine: eng, Observer: NewObserver(m), Logger: logger}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveDone := make(chan struct{})
	go func() { srv.Serve(tl); close(serveDone) }()
	t.Cleanup(func() {
		testenv.Within(t, hangTimeout, "the TCP server's Close and Serve's return", func() { srv.Close(); <-serveDone })
	})

	c, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	// Its output is past the connection's 256 KiB reply buffer, so some of
	// it has reached the socket when the stage panics: a reset, not the
	// error line a job failing with nothing sent yet gets.
	fmt.Fprintf(c, "testpanic\n%s", bytes.Repeat([]byte("some output\n"), 1<<20/12))
	c.(*net.TCPConn).CloseWrite()
	if got, err := io.ReadAll(c); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("TCP: reply %q, %v: want a reset", got, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	rs, err := apiv1.NewComputeServiceClient(dialTest(t, gaddr)).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs.Send(runHeader("testpanic"))
	rs.Send(runData([]byte("some output")))
	rs.CloseSend()
	for {
		r, err := rs.Recv()
		if err != nil {
			if status.Code(err) != codes.Internal {
				t.Errorf("Run: %v, want INTERNAL", err)
			}
			break
		}
		if r.GetSummary() != nil {
			t.Fatal("Run: a summary for a job whose stage panicked")
		}
	}
	// The gRPC job is recorded before its status goes out; the TCP job
	// before its reset.
	fams := scrape(t, preg)
	if v := metricValue(t, fams, "halfclose_jobs_total", map[string]string{"outcome": OutcomeInternal}); v != 2 {
		t.Errorf("jobs_total{outcome=internal} = %v, want 2", v)
	}
	if n := len(fams["halfclose_jobs_total"].GetMetric()); n != 1 {
		t.Errorf("%d jobs_total series, want the one", n)
	}
	if v := metricValue(t, fams, "halfclose_jobs_in_flight", nil); v != 0 {
		t.Errorf("in flight %v, want 0", v)
	}
	logMu.Lock()
	lines := strings.Count(logs.String(), `"job":{`)
	panics := strings.Count(logs.String(), "testpanic")
	logMu.Unlock()
	if lines != 1 || panics < 1 {
		t.Errorf("%d TCP job lines (%d naming the panic), want 1:\n%s", lines, panics, logs.String())
	}
}

// lockedWriter is w under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestTCPResetReplyCountsDelivered: a raw-TCP reply reset before its
// client read it (the idle timeout of a client that reads nothing) counts
// what reached the client, not what the kernel had taken: the reset drops
// the send queue. It counted the megabytes queued, the client got its
// receive buffer's worth.
func TestTCPResetReplyCountsDelivered(t *testing.T) {
	obs := outObserver{ended: make(chan [2]string, 10)}
	srv := &TCPServer{Engine: engine.New(engine.Config{Registry: testRegistry()}), Observer: obs, IdleTimeout: 200 * time.Millisecond}
	addr := serveTCP(t, srv)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := c.(*net.TCPConn)
	tc.SetReadBuffer(64 << 10)
	c.SetDeadline(time.Now().Add(defaultTestTimeout))
	go func() {
		io.WriteString(c, "testcat\n")
		c.Write(make([]byte, 8<<20))
		tc.CloseWrite()
	}()
	// Nothing is read until the job has ended (the idle timeout).
	e := testenv.Recv(t, hangTimeout, "the job's end", obs.ended)
	got, err := io.Copy(io.Discard, c)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read %d bytes, %v: want a reset", got, err)
	}
	out, _ := strconv.ParseInt(e[1], 10, 64)
	if e[0] != OutcomeIdle || out > got || got > 0 && out == 0 {
		t.Errorf("the job counted %d output bytes (outcome %s); the client received %d", out, e[0], got)
	}
}

// TestGRPCEarlyCancelNotDeadline: a client that cancels its call well
// before its deadline is counted canceled, even when the job ends only at
// the deadline (a stage slow to stop: here one that, cancelled, returns
// at its context's deadline). clientDeadline took the time the job
// returned for the time of the cancel, and counted it idle.
//
// The deadline is what is tested, so it is a real one: 1 s, doubled for
// another try when, its stage running, less than half of it was left to
// cancel the call in, or less than 4 deadlineSlack (a busy machine: the
// job had not started within 1 s once in 20 runs: "no job started").
func TestGRPCEarlyCancelNotDeadline(t *testing.T) {
	for d := time.Second; !earlyCancelNotDeadline(t, d); d *= 2 {
		if d >= 32*time.Second {
			t.Fatalf("the call's deadline (%v) left too little of it to cancel the call in, every try", d)
		}
		t.Logf("the call's deadline (%v) left too little of it to cancel the call in: again with %v", d, 2*d)
	}
}

// earlyCancelNotDeadline is one try of TestGRPCEarlyCancelNotDeadline
// with a call deadline of d; false: too little of it was left to
// cancel the call in, and the try says nothing.
func earlyCancelNotDeadline(t *testing.T, d time.Duration) bool {
	t.Helper()
	reg := testRegistry()
	running, stopped := make(chan struct{}, 1), make(chan bool, 1)
	reg.Register(&compute.Command{Name: "testslowstop", Build: func(*compute.Env, []string) (compute.Stage, error) {
		return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
			running <- struct{}{}
			<-ctx.Done()
			d, ok := ctx.Deadline()
			stopped <- ok
			if ok {
				<-time.After(time.Until(d)) // the work it does before it looks at ctx again
			}
			return ctx.Err()
		}), nil
	}})
	env := startEnv(t, envConfig{engine: engine.Config{Registry: reg}})
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	dl, _ := ctx.Deadline()
	s, err := env.client.Run(ctx)
	if err != nil {
		if ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded {
			return false
		}
		t.Fatal(err)
	}
	s.Send(runHeader("testslowstop"))
	s.Send(runData([]byte("part of the input")))
	// The stage itself running, not only the job started (JobStarted):
	// a job cancelled between the two never runs its stage, which then
	// has no end to report.
	select {
	case <-running:
	case <-ctx.Done():
		return false
	}
	// Long before: half the deadline left, and far more than the
	// deadlineSlack within which a cancel counts as the deadline.
	if left := time.Until(dl); left < d/2 || left < 4*deadlineSlack {
		return false
	}
	cancel() // long before the deadline
	_, err = s.Recv()
	if code := status.Code(err); code != codes.Canceled {
		if code == codes.DeadlineExceeded {
			return false
		}
		t.Fatalf("Recv: %v, want CANCELED", err)
	}
	if !testenv.Recv(t, hangTimeout, "the stage's end", stopped) {
		t.Fatal("the stage's context has no deadline")
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeCanceled {
		t.Errorf("outcome %q for a call cancelled long before its deadline, want %q", oc, OutcomeCanceled)
	}
	return true
}

// serveService serves svc over gRPC on a loopback port for the test and
// returns its address.
func serveService(t *testing.T, svc apiv1.ComputeServiceServer) string {
	t.Helper()
	gs := grpc.NewServer(CodecOption())
	apiv1.RegisterComputeServiceServer(gs, svc)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	return l.Addr().String()
}

// dialTest is a plaintext client connection to addr, with opts, closed
// with the test.
func dialTest(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
