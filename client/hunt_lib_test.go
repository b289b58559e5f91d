package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/server"
)

// The tests of this file use the library as a program that imports it
// would: Dial against a real server on a loopback port, readers and
// writers that bend the io contracts, and GNU's tools as the oracle.

// libServer serves gRPC on a loopback port with the builtin commands,
// as halfclosed does (its tap handle: header and idle timeouts), and
// returns its address and the outcomes of its jobs.
func libServer(t *testing.T, cfg engine.Config, opts server.Options) (string, *outcomes) {
	t.Helper()
	obs := newOutcomes()
	cfg.Registry = builtin.Registry()
	opts.Observer = obs
	svc := server.NewComputeService(engine.New(cfg), opts)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.InTapHandle(svc.TapHandle), server.CodecOption())
	apiv1.RegisterComputeServiceServer(gs, svc)
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	return l.Addr().String(), obs
}

func sha256Of(t *testing.T, b []byte) string {
	t.Helper()
	return strings.Fields(oracle.Output(t, b, "sha256sum"))[0]
}

var sha256Algo = []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}

// TestHuntLibDigestReturnsOnServerError: Digest returns the server's
// error as soon as it comes, while a Read of the input is blocked (its
// doc said so; it waited for the Read, which may be a terminal).
func TestHuntLibDigestReturnsOnServerError(t *testing.T) {
	addr, obs := libServer(t, engine.Config{MaxInputBytes: 10000}, server.Options{})
	c := dialT(t, addr)
	in := &blockingReader{n: 50000, release: make(chan struct{})}
	defer close(in.release)
	_, err := c.Digest(ctxT(t), in, sha256Algo, nil)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("err = %v, want ResourceExhausted while the input blocks", err)
	}
	testenv.Recv(t, hangTimeout, "the job's start", obs.started)
	if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeLimit {
		t.Fatalf("server outcome %q, want %q", oc, server.OutcomeLimit)
	}
}

// TestHuntLibChunkSize: a chunk size that is not positive is an error
// of Dial (0 made every call spin reading into an empty buffer, a
// negative one panicked in the sending goroutine).
func TestHuntLibChunkSize(t *testing.T) {
	for _, n := range []int{0, -1} {
		c, err := Dial("127.0.0.1:1", WithChunkSize(n))
		if err == nil {
			c.Close()
			t.Errorf("WithChunkSize(%d): Dial succeeded", n)
		} else if !strings.Contains(err.Error(), "chunk size") {
			t.Errorf("WithChunkSize(%d): %v, want an error naming the chunk size", n, err)
		}
	}
}

// TestHuntLibNilReader: a nil reader (or, for Run, writer) is an
// InvalidArgument error before anything is sent, not a panic in a
// goroutine the caller cannot recover from.
func TestHuntLibNilReader(t *testing.T) {
	addr, _ := libServer(t, engine.Config{}, server.Options{})
	c := dialT(t, addr)
	if _, err := c.Digest(ctxT(t), nil, sha256Algo, nil); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Digest(nil): %v, want InvalidArgument", err)
	}
	if _, err := c.Run(ctxT(t), "wc", nil, io.Discard); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Run(nil reader): %v, want InvalidArgument", err)
	}
	if _, err := c.Run(ctxT(t), "wc", strings.NewReader("x"), nil); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Run(nil writer): %v, want InvalidArgument", err)
	}
	if err := RunTCP(ctxT(t), "127.0.0.1:1", nil, "wc", nil, io.Discard); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("RunTCP(nil reader): %v, want an error naming it", err)
	}
	if err := RunTCP(ctxT(t), "127.0.0.1:1", nil, "wc", strings.NewReader("x"), nil); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("RunTCP(nil writer): %v, want an error naming it", err)
	}
}

// shortWriter takes at most max bytes of each Write and says nothing of
// the rest: a Writer that breaks io.Writer's contract.
type shortWriter struct {
	buf bytes.Buffer
	max int
}

func (w *shortWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.max)
	w.buf.Write(p[:n])
	return n, nil
}

// TestHuntLibShortWrite: a Writer that takes part of a Write without an
// error is io.ErrShortWrite, as io.Copy says, never a success over
// truncated output.
func TestHuntLibShortWrite(t *testing.T) {
	addr, _ := libServer(t, engine.Config{}, server.Options{})
	c := dialT(t, addr)
	tl := serveTCP(t)
	input := bytes.Repeat([]byte("a line of output\n"), 1000)
	w := &shortWriter{max: 100}
	if _, err := c.Run(ctxT(t), "head -n 100000", bytes.NewReader(input), w); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("Run: %v after %d of %d bytes, want io.ErrShortWrite", err, w.buf.Len(), len(input))
	}
	w = &shortWriter{max: 100}
	if err := RunTCP(ctxT(t), tl.Addr().String(), nil, "head -n 100000", bytes.NewReader(input), w); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("RunTCP: %v after %d of %d bytes, want io.ErrShortWrite", err, w.buf.Len(), len(input))
	}
}

// firstDataServer is a ComputeService that tells when the first data
// message of a Digest arrives, then digests nothing and answers after
// the end.
type firstDataServer struct {
	apiv1.UnimplementedComputeServiceServer
	gotData chan struct{}
	once    sync.Once
}

func (s *firstDataServer) Digest(stream grpc.ClientStreamingServer[apiv1.DigestRequest, apiv1.DigestResponse]) error {
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&apiv1.DigestResponse{})
		}
		if err != nil {
			return err
		}
		if len(m.GetData()) > 0 {
			s.once.Do(func() { close(s.gotData) })
		}
	}
}

// TestHuntLibSlowSourceIsSent: bytes read from a slow source reach the
// server while the next Read waits, as over raw TCP; the client held
// them until it had a whole chunk (1 MiB), so a source slower than a
// chunk per --idle-timeout (a line a second) was aborted by the server
// as idle though it kept sending.
func TestHuntLibSlowSourceIsSent(t *testing.T) {
	srv := &firstDataServer{gotData: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(gs, srv)
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	c := dialT(t, l.Addr().String())

	ctx := ctxT(t)
	in := &blockingReader{n: 10, release: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Digest(ctx, io.MultiReader(in, strings.NewReader("")), sha256Algo, nil)
		errc <- err
	}()
	select {
	case <-srv.gotData:
	case <-ctx.Done():
		t.Error("the 10 bytes read were not sent while the next Read waited")
	}
	close(in.release)
	testenv.Recv(t, hangTimeout, "the call's return after the release", errc)
}

// wrappedEOFReader gives n bytes, then an error that wraps io.EOF: by
// io.Reader's contract not an end (Read returns io.EOF itself), but the
// error of a source that broke (a sub-reader's end reported with
// context).
type wrappedEOFReader struct{ n int }

func (r *wrappedEOFReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, fmt.Errorf("source cut short: %w", io.EOF)
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

// TestHuntLibWrappedEOFIsAnAbort: an error that wraps io.EOF is an input
// error that cancels the call at once (the client took it for a send's
// io.EOF: it neither ended nor cancelled the call, and Run waited for
// the server's idle timeout or the caller's deadline).
func TestHuntLibWrappedEOFIsAnAbort(t *testing.T) {
	addr, obs := libServer(t, engine.Config{}, server.Options{})
	c := dialT(t, addr)
	for _, name := range []string{"Run", "Digest"} {
		t.Run(name, func(t *testing.T) {
			var err error
			if name == "Run" {
				_, err = c.Run(ctxT(t), "sha256sum", &wrappedEOFReader{n: 5000}, io.Discard)
			} else {
				_, err = c.Digest(ctxT(t), &wrappedEOFReader{n: 5000}, sha256Algo, nil)
			}
			if !IsInputError(err) || !strings.Contains(fmt.Sprint(err), "source cut short") {
				t.Fatalf("err = %v, want the input error", err)
			}
			testenv.Recv(t, hangTimeout, "the job's start", obs.started)
			if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeCanceled {
				t.Fatalf("server outcome %q, want %q", oc, server.OutcomeCanceled)
			}
		})
	}
	tl := serveTCP(t)
	err := RunTCP(ctxT(t), tl.Addr().String(), nil, "sha256sum", &wrappedEOFReader{n: 5000}, io.Discard)
	if !IsInputError(err) {
		t.Fatalf("RunTCP: %v, want the input error", err)
	}
}

// eofOnceReader gives data in reads of at most step bytes, the last
// with io.EOF, and fails a Read after that: a reader that must not be
// read past its end (a framed body whose next Read would wait on the
// connection).
type eofOnceReader struct {
	data  []byte
	step  int
	ended bool
}

func (r *eofOnceReader) Read(p []byte) (int, error) {
	if r.ended {
		return 0, errors.New("read after io.EOF")
	}
	n := copy(p, r.data[:min(len(r.data), r.step)])
	r.data = r.data[n:]
	if len(r.data) == 0 {
		r.ended = true
		return n, io.EOF
	}
	return n, nil
}

// TestHuntLibEOFWithData: a Read that returns bytes and io.EOF together
// ends the input with those bytes, and the reader is not read again
// (when the EOF filled a chunk exactly, the client read once more).
// Reads of no bytes and no error are skipped; a reader that makes no
// progress in 100 of them fails with io.ErrNoProgress (it was read
// forever, one CPU busy, until the context ended).
func TestHuntLibEOFWithData(t *testing.T) {
	addr, obs := libServer(t, engine.Config{}, server.Options{})
	c, err := Dial(addr, WithChunkSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	input := randomInput(t, 3000)
	want := sha256Of(t, input)
	for _, step := range []int{1000, 3000, 500, 999} {
		resp, err := c.Digest(ctxT(t), &eofOnceReader{data: input, step: step}, sha256Algo, nil)
		if err != nil || resp.GetDigests()[0].GetHex() != want {
			t.Errorf("reads of %d bytes: %v %v, want %s", step, resp, err, want)
		}
		testenv.Recv(t, hangTimeout, "the job's start", obs.started)
		testenv.Recv(t, hangTimeout, "the job's end", obs.ended)
		var out bytes.Buffer
		if _, err := c.Run(ctxT(t), "sha256sum", &eofOnceReader{data: input, step: step}, &out); err != nil || out.String() != want+"  -\n" {
			t.Errorf("Run, reads of %d bytes: %q %v", step, out.String(), err)
		}
		testenv.Recv(t, hangTimeout, "the job's start", obs.started)
		testenv.Recv(t, hangTimeout, "the job's end", obs.ended)
	}

	tl := serveTCP(t)
	for _, step := range []int{1000, 3000, 500} {
		var out bytes.Buffer
		if err := RunTCP(ctxT(t), tl.Addr().String(), nil, "sha256sum", &eofOnceReader{data: input, step: step}, &out); err != nil || out.String() != want+"  -\n" {
			t.Errorf("RunTCP, reads of %d bytes: %q %v", step, out.String(), err)
		}
	}
	var out bytes.Buffer
	if err := RunTCP(ctxT(t), tl.Addr().String(), nil, "sha256sum", &emptyReads{r: bytes.NewReader(input), empty: 50}, &out); err != nil || out.String() != want+"  -\n" {
		t.Errorf("RunTCP, 50 empty reads before each read: %q %v", out.String(), err)
	}
	if err := RunTCP(ctxT(t), tl.Addr().String(), nil, "sha256sum", &emptyReads{r: bytes.NewReader(input), empty: -1}, &out); !IsInputError(err) || !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("RunTCP, empty reads for ever: %v, want io.ErrNoProgress as an input error", err)
	}

	// Some empty reads between the bytes: the input is whole.
	resp, err := c.Digest(ctxT(t), &emptyReads{r: bytes.NewReader(input), empty: 50}, sha256Algo, nil)
	if err != nil || resp.GetDigests()[0].GetHex() != want {
		t.Errorf("50 empty reads before each read: %v %v, want %s", resp, err, want)
	}
	testenv.Recv(t, hangTimeout, "the job's start", obs.started)
	testenv.Recv(t, hangTimeout, "the job's end", obs.ended)
	// Only empty reads: an input error, the call cancelled.
	_, err = c.Digest(ctxT(t), &emptyReads{r: bytes.NewReader(input), empty: -1}, sha256Algo, nil)
	if !IsInputError(err) || !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("empty reads for ever: %v, want io.ErrNoProgress as an input error", err)
	}
	testenv.Recv(t, hangTimeout, "the job's start", obs.started)
	if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeCanceled {
		t.Fatalf("server outcome %q, want %q", oc, server.OutcomeCanceled)
	}
}

// emptyReads returns (0, nil) empty times before each Read of r; for
// ever when empty is negative.
type emptyReads struct {
	r     io.Reader
	empty int
	left  int
}

func (e *emptyReads) Read(p []byte) (int, error) {
	if e.empty < 0 {
		return 0, nil
	}
	if e.left > 0 {
		e.left--
		return 0, nil
	}
	e.left = e.empty
	return e.r.Read(p)
}

// TestHuntLibEmptyDialTarget: an empty target is Dial's error, not an
// UNAVAILABLE on each call after four attempts.
func TestHuntLibEmptyDialTarget(t *testing.T) {
	for _, target := range []string{"", " "} {
		if c, err := Dial(target); err == nil {
			c.Close()
			t.Errorf("Dial(%q) succeeded", target)
		}
	}
}

// endBlockingReader gives data, then blocks where its io.EOF would be
// until released: an input whose end is just coming.
type endBlockingReader struct {
	data    []byte
	release chan struct{}
}

func (r *endBlockingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		<-r.release
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// cancelWriter cancels the call at its first Write: a caller that gives
// up while the output is arriving.
type cancelWriter struct {
	cancel context.CancelFunc
	n      int
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.cancel()
	w.n += len(p)
	return len(p), nil
}

// TestHuntLibCancelPhases: a call cancelled before it starts, while its
// input is ending, or while its output arrives fails with CANCELED, and
// the server's job (when there is one) ends cancelled, never with a
// result.
func TestHuntLibCancelPhases(t *testing.T) {
	addr, obs := libServer(t, engine.Config{}, server.Options{})
	c := dialT(t, addr)

	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	if _, err := c.Run(ctx, "wc", strings.NewReader("x\n"), io.Discard); status.Code(err) != codes.Canceled {
		t.Errorf("Run, cancelled before: %v, want Canceled", err)
	}
	if _, err := c.Digest(ctx, strings.NewReader("x\n"), sha256Algo, nil); status.Code(err) != codes.Canceled {
		t.Errorf("Digest, cancelled before: %v, want Canceled", err)
	}

	// Cancelled as the input ends: no End goes out.
	for _, name := range []string{"Run", "Digest"} {
		ctx, cancel := context.WithCancel(ctxT(t))
		in := &endBlockingReader{data: randomInput(t, 3000), release: make(chan struct{})}
		errc := make(chan error, 1)
		go func() {
			var err error
			if name == "Run" {
				_, err = c.Run(ctx, "sha256sum", in, io.Discard)
			} else {
				_, err = c.Digest(ctx, in, sha256Algo, nil)
			}
			errc <- err
		}()
		testenv.Recv(t, hangTimeout, "the job's start", obs.started)
		cancel()
		close(in.release)
		if err := testenv.Recv(t, hangTimeout, "the call's return after the cancel", errc); status.Code(err) != codes.Canceled {
			t.Errorf("%s, cancelled as the input ends: %v, want Canceled", name, err)
		}
		if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeCanceled {
			t.Errorf("%s, cancelled as the input ends: server outcome %q, want %q", name, oc, server.OutcomeCanceled)
		}
	}

	// Cancelled while the output arrives: 2 MiB of it, more than the
	// flow-control windows of this client hold (64 KiB), so the summary
	// cannot have come yet.
	small, err := Dial(addr, WithDialOptions(grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10)))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	ctx, cancel = context.WithCancel(ctxT(t))
	defer cancel()
	w := &cancelWriter{cancel: cancel}
	_, err = small.Run(ctx, "tr a b", bytes.NewReader(make([]byte, 2<<20)), w)
	if status.Code(err) != codes.Canceled {
		t.Errorf("Run, cancelled mid-output: %v after %d bytes, want Canceled", err, w.n)
	}
	testenv.Recv(t, hangTimeout, "the job's start", obs.started)
	if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeCanceled {
		t.Errorf("Run, cancelled mid-output: server outcome %q, want %q", oc, server.OutcomeCanceled)
	}
}

// TestHuntLibDeadline: a deadline that passes while the input is being
// read ends the call with DEADLINE_EXCEEDED (or CANCELED, the server's
// reset when its copy of the deadline fired first), and the server's job
// with no result.
func TestHuntLibDeadline(t *testing.T) {
	addr, obs := libServer(t, engine.Config{}, server.Options{})
	c := dialT(t, addr)
	ctx, cancel := context.WithTimeout(ctxT(t), 500*time.Millisecond)
	defer cancel()
	in := &blockingReader{n: 5000, release: make(chan struct{})}
	defer close(in.release)
	_, err := c.Run(ctx, "sha256sum", in, io.Discard)
	if code := status.Code(err); code != codes.DeadlineExceeded && code != codes.Canceled {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	testenv.Recv(t, hangTimeout, "the job's start", obs.started)
	if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeIdle && oc != server.OutcomeCanceled {
		t.Fatalf("server outcome %q, want %q or %q", oc, server.OutcomeIdle, server.OutcomeCanceled)
	}
}

// TestHuntLibConcurrentUse: one Client serves many goroutines at once,
// each call with its own input and answer (run it under -race).
func TestHuntLibConcurrentUse(t *testing.T) {
	addr, _ := libServer(t, engine.Config{}, server.Options{})
	c, err := Dial(addr, WithChunkSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const workers = 12
	inputs := make([][]byte, workers)
	sums := make([]string, workers)
	for i := range inputs {
		inputs[i] = randomInput(t, 10000+i*7919)
		sums[i] = sha256Of(t, inputs[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*3)
	for i := range workers {
		wg.Go(func() {
			for range 3 {
				var out bytes.Buffer
				if _, err := c.Run(ctxT(t), "sha256sum", bytes.NewReader(inputs[i]), &out); err != nil || out.String() != sums[i]+"  -\n" {
					errs <- fmt.Errorf("worker %d Run: %q %v", i, out.String(), err)
				}
				resp, err := c.Digest(ctxT(t), struct{ io.Reader }{bytes.NewReader(inputs[i])}, sha256Algo, nil)
				if err != nil || resp.GetDigests()[0].GetHex() != sums[i] || resp.GetSize() != int64(len(inputs[i])) {
					errs <- fmt.Errorf("worker %d Digest: %v %v", i, resp, err)
				}
			}
		})
	}
	testenv.Within(t, 4*hangTimeout, "the calls", wg.Wait) // many calls, each under ctxT
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHuntLibClose: a call after Close fails with CANCELED and sends
// nothing; Close again says the connection is closing. A Client of New
// leaves its caller's connection open.
func TestHuntLibClose(t *testing.T) {
	addr, _ := libServer(t, engine.Config{}, server.Options{})
	c, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Capabilities(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctxT(t), "wc", strings.NewReader("x\n"), io.Discard); status.Code(err) != codes.Canceled {
		t.Errorf("Run after Close: %v, want Canceled", err)
	}
	if _, err := c.Digest(ctxT(t), strings.NewReader("x\n"), sha256Algo, nil); status.Code(err) != codes.Canceled {
		t.Errorf("Digest after Close: %v, want Canceled", err)
	}
	if err := c.Close(); status.Code(err) != codes.Canceled {
		t.Errorf("second Close: %v, want Canceled", err)
	}
}

// TestHuntLibUnreachable: a server that is not there is UNAVAILABLE,
// naming the address, once gRPC's retries gave up.
func TestHuntLibUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c := dialT(t, addr)
	_, err = c.Digest(ctxT(t), strings.NewReader("x"), sha256Algo, nil)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), addr) {
		t.Errorf("err = %v, want Unavailable naming %s", err, addr)
	}
	for _, target := range []string{"a,b", "127.0.0.1:1,"} {
		if _, err := Dial(target); err == nil || !strings.Contains(err.Error(), "host:port") {
			t.Errorf("Dial(%q): %v, want an error saying host:port", target, err)
		}
	}
}

// TestHuntLibExpectations: a declared size or digest the input does not
// match is DATA_LOSS, and the server counts the job aborted.
func TestHuntLibExpectations(t *testing.T) {
	addr, obs := libServer(t, engine.Config{}, server.Options{})
	c := dialT(t, addr)
	input := randomInput(t, 100000)
	sum := sha256Of(t, input)
	size := func(n int64) *int64 { return &n }
	hex := func(h string) []*apiv1.ExpectedDigest {
		return []*apiv1.ExpectedDigest{{Algorithm: apiv1.Algorithm_ALGORITHM_SHA256, Value: &apiv1.ExpectedDigest_Hex{Hex: h}}}
	}
	zeros := strings.Repeat("0", 64)
	for _, tc := range []struct {
		name string
		opts *DigestOptions
		want codes.Code
	}{
		{"right size and digest", &DigestOptions{ExpectedSize: size(100000), ExpectedDigests: hex(sum), EndDigests: hex(sum)}, codes.OK},
		{"size too small", &DigestOptions{ExpectedSize: size(99999)}, codes.DataLoss},
		{"size too large", &DigestOptions{ExpectedSize: size(100001)}, codes.DataLoss},
		{"wrong expected digest", &DigestOptions{ExpectedDigests: hex(zeros)}, codes.DataLoss},
		{"wrong End digest", &DigestOptions{EndDigests: hex(zeros)}, codes.DataLoss},
	} {
		resp, err := c.Digest(ctxT(t), bytes.NewReader(input), sha256Algo, tc.opts)
		if status.Code(err) != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if tc.want == codes.OK && resp.GetDigests()[0].GetHex() != sum {
			t.Errorf("%s: %s, want %s", tc.name, resp.GetDigests()[0].GetHex(), sum)
		}
		if tc.want != codes.OK && resp != nil {
			t.Errorf("%s: a response with the error: %v", tc.name, resp)
		}
		testenv.Recv(t, hangTimeout, "the job's start", obs.started)
		oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended)
		if (tc.want == codes.OK) != (oc == server.OutcomeOK) {
			t.Errorf("%s: server outcome %q", tc.name, oc)
		}
	}
}

var errDiskFull = errors.New("disk full")

// failWriter fails every Write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

// TestHuntLibWriterError: the output writer's error is the call's error
// (errors.Is finds it), never a success.
func TestHuntLibWriterError(t *testing.T) {
	addr, _ := libServer(t, engine.Config{}, server.Options{})
	c := dialT(t, addr)
	tl := serveTCP(t)
	input := bytes.Repeat([]byte("line\n"), 100000)
	if _, err := c.Run(ctxT(t), "head -n 100000", bytes.NewReader(input), failWriter{}); !errors.Is(err, errDiskFull) {
		t.Errorf("Run: %v, want the writer's error", err)
	}
	err := RunTCP(ctxT(t), tl.Addr().String(), nil, "head -n 100000", bytes.NewReader(input), failWriter{})
	if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "writing output") {
		t.Errorf("RunTCP: %v, want the writer's error, saying it was writing", err)
	}
}

// miscountingServer reads each call's input to its end and answers as if
// it had received off bytes more: a server or proxy at fault.
type miscountingServer struct {
	apiv1.UnimplementedComputeServiceServer
	off int64
}

func (s *miscountingServer) Digest(stream grpc.ClientStreamingServer[apiv1.DigestRequest, apiv1.DigestResponse]) error {
	var n int64
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&apiv1.DigestResponse{Size: n + s.off})
		}
		if err != nil {
			return err
		}
		n += int64(len(m.GetData()))
	}
}

func (s *miscountingServer) Run(stream grpc.BidiStreamingServer[apiv1.RunRequest, apiv1.RunResponse]) error {
	var n int64
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return stream.Send(&apiv1.RunResponse{Message: &apiv1.RunResponse_Summary{Summary: &apiv1.RunSummary{InputBytes: n + s.off}}})
		}
		if err != nil {
			return err
		}
		n += int64(len(m.GetData()))
	}
}

// TestHuntLibReplyCountsTheInput: a reply that counts other input than
// what was sent is DATA_LOSS, not a result (docs/clients.md asks every
// client to check it, RunTCP did; Digest and Run took it).
func TestHuntLibReplyCountsTheInput(t *testing.T) {
	for _, off := range []int64{0, -1, 1} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gs := grpc.NewServer()
		apiv1.RegisterComputeServiceServer(gs, &miscountingServer{off: off})
		go gs.Serve(l)
		t.Cleanup(gs.Stop)
		c := dialT(t, l.Addr().String())
		want := codes.DataLoss
		if off == 0 {
			want = codes.OK
		}
		input := randomInput(t, 5000)
		if _, err := c.Digest(ctxT(t), bytes.NewReader(input), sha256Algo, nil); status.Code(err) != want {
			t.Errorf("Digest, off by %d: %v, want %v", off, err, want)
		}
		if _, err := c.Run(ctxT(t), "wc", bytes.NewReader(input), io.Discard); status.Code(err) != want {
			t.Errorf("Run, off by %d: %v, want %v", off, err, want)
		}
	}
}

// noSummaryServer answers Run with output and a status OK, but no
// summary: a server that is not halfclose's, or a proxy that lost the
// last message.
type noSummaryServer struct {
	apiv1.UnimplementedComputeServiceServer
}

func (noSummaryServer) Run(stream grpc.BidiStreamingServer[apiv1.RunRequest, apiv1.RunResponse]) error {
	for {
		if _, err := stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
	}
	return stream.Send(&apiv1.RunResponse{Message: &apiv1.RunResponse_Output{Output: []byte("part of it\n")}})
}

// TestHuntLibNoSummary: a Run reply without its summary is an error, and
// a gRPC status as the package doc says (INTERNAL; it was a plain error,
// status.Code UNKNOWN).
func TestHuntLibNoSummary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(gs, noSummaryServer{})
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	c := dialT(t, l.Addr().String())
	var out bytes.Buffer
	sum, err := c.Run(ctxT(t), "wc", strings.NewReader("x\n"), &out)
	if status.Code(err) != codes.Internal || sum != nil || !strings.Contains(err.Error(), "without a summary") {
		t.Fatalf("Run: %v, %v (output %q); want INTERNAL saying the summary is missing", sum, err, out.String())
	}
}

// badCountReader returns a count outside 0..len(p): a broken Reader.
type badCountReader struct{ extra int }

func (r badCountReader) Read(p []byte) (int, error) {
	if r.extra < 0 {
		return -1, nil
	}
	return len(p) + r.extra, nil
}

// TestHuntLibBadReadCount: a Read that returns a count outside 0..len(p)
// is an input error that aborts the call, not a panic in the goroutine
// sending the input (which took the caller's whole program down).
func TestHuntLibBadReadCount(t *testing.T) {
	addr, _ := libServer(t, engine.Config{}, server.Options{})
	c := dialT(t, addr)
	tl := serveTCP(t)
	for _, extra := range []int{1, -1} {
		if _, err := c.Digest(ctxT(t), badCountReader{extra}, sha256Algo, nil); !IsInputError(err) {
			t.Errorf("Digest, extra %d: %v, want an input error", extra, err)
		}
		if _, err := c.Run(ctxT(t), "wc", badCountReader{extra}, io.Discard); !IsInputError(err) {
			t.Errorf("Run, extra %d: %v, want an input error", extra, err)
		}
		if err := RunTCP(ctxT(t), tl.Addr().String(), nil, "wc", badCountReader{extra}, io.Discard); !IsInputError(err) {
			t.Errorf("RunTCP, extra %d: %v, want an input error", extra, err)
		}
	}
}

// TestHuntLibCancelPhasesTCP: RunTCP cancelled as its input ends, or while
// its output arrives, returns context.Canceled, and the server's job
// (cancelled as the input ended) is reset, never answered.
func TestHuntLibCancelPhasesTCP(t *testing.T) {
	_, tcpAddr, obs := strictServers(t)

	ctx, cancel := context.WithCancel(ctxT(t))
	in := &endBlockingReader{data: randomInput(t, 3000), release: make(chan struct{})}
	errc := make(chan error, 1)
	go func() { errc <- RunTCP(ctx, tcpAddr, nil, "sha256sum", in, io.Discard) }()
	testenv.Recv(t, hangTimeout, "the job's start", obs.started)
	cancel()
	close(in.release)
	if err := testenv.Recv(t, hangTimeout, "the call's return after the cancel", errc); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled as the input ends: %v, want context.Canceled", err)
	}
	if oc := testenv.Recv(t, hangTimeout, "the job's end", obs.ended); oc != server.OutcomeReset {
		t.Errorf("cancelled as the input ends: server outcome %q, want %q", oc, server.OutcomeReset)
	}

	ctx, cancel = context.WithCancel(ctxT(t))
	defer cancel()
	w := &cancelWriter{cancel: cancel}
	if err := RunTCP(ctx, tcpAddr, nil, "tr a b", bytes.NewReader(make([]byte, 4<<20)), w); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled mid-output: %v after %d bytes, want context.Canceled", err, w.n)
	}
	testenv.Recv(t, hangTimeout, "the job's start", obs.started)
	testenv.Recv(t, hangTimeout, "the job's end", obs.ended)
}
