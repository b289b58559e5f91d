package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/oracle"
	"github.com/halfclose/halfclose/internal/syncbuf"

	"github.com/halfclose/halfclose/internal/testenv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// testEnv is a ComputeService and a TCPServer over one engine, on real
// loopback listeners.
type testEnv struct {
	grpcAddr string
	tcpAddr  string
	routes   map[string]string // pipeline → address
	client   apiv1.ComputeServiceClient
	obs      *recordingObserver
	svc      Service
	tcp      *TCPServer
	tcpLn    *GentleListener // the command port's listener
}

type tcpSettings struct {
	HeaderTimeout  time.Duration
	MaxHeaderBytes int
	MaxConns       int
	drainTimeout   time.Duration
	cutDrain       time.Duration
	NoSendFile     bool
}

type envConfig struct {
	engine     engine.Config
	idle       time.Duration
	tcp        tcpSettings
	routes     []string
	requireEnd bool // Options.RequireEnd and TCPServer.RequireEnd
	maxMsg     int  // --max-msg-bytes (0: the default)
	// maxMetadata is --max-metadata-bytes (0: no limit), with the HTTP/2
	// header list size halfclosed sets for it.
	maxMetadata int
	// peerJobs and peerRequests are shared by both adapters.
	peerJobs, peerRequests *PeerCap
	streams                *StreamCap // Options.Streams (--grpc-max-requests)
	tcpAuth                *TokenAuth // TCPServer.Auth, with RequireToken
	grpcOpts               []grpc.ServerOption
	// grpcListener wraps the gRPC listener (NewGRPCListener); nil: none.
	grpcListener func(net.Listener) net.Listener
	// logs receives both adapters' log lines (text); nil: none.
	logs *syncbuf.Buffer
}

// recordingObserver keeps the outcome of every job.
type recordingObserver struct {
	mu       sync.Mutex
	outcomes []string // protected by mu
	started  chan string
	ended    chan string
	// waiting gets a value as each job starts to wait for its slots
	// (AdmissionObserver.Waiting), when there is room.
	waiting chan struct{}
	refused []string // reasons of AdmissionObserver.Refused, protected by mu
}

func (o *recordingObserver) Refused(_, reason string) {
	o.mu.Lock()
	o.refused = append(o.refused, reason)
	o.mu.Unlock()
}

func (o *recordingObserver) Waited(string, time.Duration, bool) {}

func (o *recordingObserver) Waiting(delta int) {
	if delta > 0 {
		select {
		case o.waiting <- struct{}{}:
		default:
		}
	}
}

// refusedNow returns the refusal reasons counted so far.
func (o *recordingObserver) refusedNow() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.refused)
}

// waitWaiting waits for a job to start to wait for its slots.
func (o *recordingObserver) waitWaiting(t *testing.T) {
	t.Helper()
	select {
	case <-o.waiting:
	case <-time.After(defaultTestTimeout): // a failure only, never a wait
		t.Fatal("no job waited for a slot")
	}
}

func (o *recordingObserver) JobStarted(cmd string) func(string, int64, int64) {
	select {
	case o.started <- cmd:
	default:
	}
	return func(oc string, _, _ int64) {
		o.mu.Lock()
		o.outcomes = append(o.outcomes, oc)
		o.mu.Unlock()
		select {
		case o.ended <- oc:
		default:
		}
	}
}

// outcomesNow returns the outcomes recorded so far.
func (o *recordingObserver) outcomesNow() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.outcomes)
}

// waitStarted waits for a job to start and returns its command ("" for
// one refused before its header came).
func (o *recordingObserver) waitStarted(t *testing.T) string {
	t.Helper()
	select {
	case cmd := <-o.started:
		return cmd
	case <-time.After(defaultTestTimeout):
		t.Fatal("no job started")
		return ""
	}
}

// nextOutcome waits for a job to end and returns its outcome.
func (o *recordingObserver) nextOutcome(t *testing.T) string {
	t.Helper()
	select {
	case oc := <-o.ended:
		return oc
	case <-time.After(defaultTestTimeout):
		t.Fatal("no job ended")
		return ""
	}
}

func startEnv(t *testing.T, cfg envConfig) *testEnv {
	t.Helper()
	if cfg.engine.Registry == nil {
		cfg.engine.Registry = testRegistry()
	}
	eng := engine.New(cfg.engine)
	obs := &recordingObserver{started: make(chan string, 100), ended: make(chan string, 100), waiting: make(chan struct{}, 100)}
	env := &testEnv{obs: obs, routes: map[string]string{}}
	var logger *slog.Logger
	if cfg.logs != nil {
		logger = slog.New(slog.NewTextHandler(cfg.logs, nil))
	}

	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.svc = NewComputeService(eng, Options{Logger: logger, IdleTimeout: cfg.idle, Observer: obs, RequireEnd: cfg.requireEnd, MaxMsgBytes: cfg.maxMsg,
		HeaderTimeout: cfg.tcp.HeaderTimeout, PeerJobs: cfg.peerJobs, PeerRequests: cfg.peerRequests, Streams: cfg.streams, MaxMetadataBytes: cfg.maxMetadata})
	gopts := append([]grpc.ServerOption{grpc.InTapHandle(env.svc.TapHandle), CodecOption()}, cfg.grpcOpts...)
	if cfg.maxMetadata > 0 {
		gopts = append(gopts, grpc.MaxHeaderListSize(MetadataTransportLimit(cfg.maxMetadata)))
	}
	if cfg.maxMsg > 0 {
		gopts = append(gopts, grpc.MaxRecvMsgSize(cfg.maxMsg), grpc.MaxSendMsgSize(cfg.maxMsg))
	}
	gs := grpc.NewServer(gopts...)
	apiv1.RegisterComputeServiceServer(gs, env.svc)
	var lis net.Listener = gl
	if cfg.grpcListener != nil {
		lis = cfg.grpcListener(gl)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	env.grpcAddr = gl.Addr().String()

	ts := cfg.tcp
	env.tcp = &TCPServer{
		Engine: eng, IdleTimeout: cfg.idle, Observer: obs, Logger: logger,
		HeaderTimeout: ts.HeaderTimeout, MaxHeaderBytes: ts.MaxHeaderBytes, MaxConns: ts.MaxConns,
		RequireEnd: cfg.requireEnd, PeerJobs: cfg.peerJobs, PeerRequests: cfg.peerRequests,
		Auth: cfg.tcpAuth, RequireToken: cfg.tcpAuth != nil, drainTimeout: ts.drainTimeout,
		cutDrain: ts.cutDrain, NoSendFile: ts.NoSendFile,
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.tcpLn = NewGentleListener(tl) // Serve uses it as it is
	serveDone := make(chan struct{})
	go func() { env.tcp.Serve(env.tcpLn); close(serveDone) }()
	env.tcpAddr = tl.Addr().String()
	for _, p := range cfg.routes {
		rl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rp, err := eng.Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		go env.tcp.ServeRoute(rl, rp)
		env.routes[p] = rl.Addr().String()
	}
	t.Cleanup(func() {
		testenv.Within(t, hangTimeout, "the TCP server's Close and Serve's return", func() {
			env.tcp.Close()
			<-serveDone
		})
	})

	conn, err := grpc.NewClient(env.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	env.client = apiv1.NewComputeServiceClient(conn)
	return env
}

func jobCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// oracleHex is the digest a GNU tool prints, without the file name.
func oracleHex(t *testing.T, input []byte, tool string) string {
	return strings.Fields(oracle.Output(t, input, tool))[0]
}

// bulkRandBytes is n random bytes from seed, made in bulk (ChaCha8's
// Read): for the inputs of many MiB, which randBytes, a call a byte,
// took 50 ns a byte of under -race (a 5 MiB input a quarter second).
func bulkRandBytes(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func header(algos ...apiv1.Algorithm) *apiv1.DigestRequest {
	return &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: &apiv1.DigestHeader{Algorithms: algos}}}
}

func dataMsg(b []byte) *apiv1.DigestRequest {
	return &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: b}}
}

// digestCall sends msgs, half-closes and returns the response.
func digestCall(t *testing.T, env *testEnv, msgs ...*apiv1.DigestRequest) (*apiv1.DigestResponse, error) {
	t.Helper()
	stream, err := env.client.Digest(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := stream.Send(m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	return stream.CloseAndRecv()
}

func sendChunked(input []byte, size int, send func([]byte) error) error {
	for len(input) > 0 {
		n := min(size, len(input))
		if err := send(input[:n]); err != nil {
			return err
		}
		input = input[n:]
	}
	return nil
}

func TestDigestMatchesGNU(t *testing.T) {
	env := startEnv(t, envConfig{})
	algos := []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256, apiv1.Algorithm_ALGORITHM_MD5, apiv1.Algorithm_ALGORITHM_SHA512, apiv1.Algorithm_ALGORITHM_BLAKE2B}
	tools := []string{"sha256sum", "md5sum", "sha512sum", "b2sum"}
	for _, size := range []int{0, 1, 65535, 65536, 65537, 3 << 20} {
		input := randBytes(uint64(size), size)
		msgs := []*apiv1.DigestRequest{header(algos...)}
		sendChunked(input, 40000, func(b []byte) error { msgs = append(msgs, dataMsg(b)); return nil })
		resp, err := digestCall(t, env, msgs...)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if resp.GetSize() != int64(size) || len(resp.GetDigests()) != len(algos) {
			t.Fatalf("size %d: response %v", size, resp)
		}
		for i, d := range resp.GetDigests() {
			if d.GetAlgorithm() != algos[i] {
				t.Errorf("digest %d is %v, want %v", i, d.GetAlgorithm(), algos[i])
			}
			if want := oracleHex(t, input, tools[i]); d.GetHex() != want || fmt.Sprintf("%x", d.GetRaw()) != want {
				t.Errorf("size %d %s: hex %s raw %x, want %s", size, tools[i], d.GetHex(), d.GetRaw(), want)
			}
		}
	}
}

func TestDigestTextChunks(t *testing.T) {
	env := startEnv(t, envConfig{})
	resp, err := digestCall(t, env, header(apiv1.Algorithm_ALGORITHM_SHA1),
		&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Text{Text: "hello "}},
		dataMsg([]byte("wörld\n")))
	if err != nil {
		t.Fatal(err)
	}
	if want := oracleHex(t, []byte("hello wörld\n"), "sha1sum"); resp.GetDigests()[0].GetHex() != want {
		t.Fatalf("got %s, want %s", resp.GetDigests()[0].GetHex(), want)
	}
}

func TestDigestErrors(t *testing.T) {
	env := startEnv(t, envConfig{engine: engine.Config{MaxInputBytes: 1000}})
	sha := apiv1.Algorithm_ALGORITHM_SHA256
	abcHex := oracleHex(t, []byte("abc"), "sha256sum")
	size := func(n int64) *int64 { return &n }
	hdr := func(h *apiv1.DigestHeader) *apiv1.DigestRequest {
		return &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Header{Header: h}}
	}
	expect := func(a apiv1.Algorithm, hex string) []*apiv1.ExpectedDigest {
		return []*apiv1.ExpectedDigest{{Algorithm: a, Value: &apiv1.ExpectedDigest_Hex{Hex: hex}}}
	}
	tests := []struct {
		name    string
		msgs    []*apiv1.DigestRequest
		code    codes.Code
		message string
	}{
		{"no messages", nil, codes.InvalidArgument, "missing header"},
		{"data first", []*apiv1.DigestRequest{dataMsg([]byte("abc"))}, codes.InvalidArgument, "missing header"},
		{"no algorithm", []*apiv1.DigestRequest{header()}, codes.InvalidArgument, "no algorithm"},
		{"unspecified algorithm", []*apiv1.DigestRequest{header(apiv1.Algorithm_ALGORITHM_UNSPECIFIED)}, codes.InvalidArgument, "ALGORITHM_UNSPECIFIED"},
		{"unknown algorithm", []*apiv1.DigestRequest{header(apiv1.Algorithm(99))}, codes.InvalidArgument, "unsupported algorithm"},
		{"duplicate algorithm", []*apiv1.DigestRequest{header(sha, sha)}, codes.InvalidArgument, "named twice"},
		{"second header", []*apiv1.DigestRequest{header(sha), dataMsg([]byte("a")), header(sha)}, codes.InvalidArgument, "unexpected header"},
		{"negative size", []*apiv1.DigestRequest{hdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{sha}, ExpectedSize: size(-1)})}, codes.InvalidArgument, "expected_size"},
		{"bad hex", []*apiv1.DigestRequest{hdr(&apiv1.DigestHeader{ExpectedDigests: expect(sha, "xyz")})}, codes.InvalidArgument, "not hexadecimal"},
		{"short digest", []*apiv1.DigestRequest{hdr(&apiv1.DigestHeader{ExpectedDigests: expect(sha, "abcd")})}, codes.InvalidArgument, "has 4 hex digits, want 64"},
		{"digest a hex digit short", []*apiv1.DigestRequest{hdr(&apiv1.DigestHeader{ExpectedDigests: expect(sha, strings.Repeat("a", 63))})}, codes.InvalidArgument, "expected ALGORITHM_SHA256 digest has 63 hex digits, want 64"},
		{"digest a hex digit long", []*apiv1.DigestRequest{hdr(&apiv1.DigestHeader{ExpectedDigests: expect(sha, strings.Repeat("A", 65))})}, codes.InvalidArgument, "has 65 hex digits, want 64"},
		{"digest of 64 non-hex", []*apiv1.DigestRequest{hdr(&apiv1.DigestHeader{ExpectedDigests: expect(sha, strings.Repeat("g", 64))})}, codes.InvalidArgument, "not hexadecimal"},
		{"digest short raw", []*apiv1.DigestRequest{hdr(&apiv1.DigestHeader{ExpectedDigests: []*apiv1.ExpectedDigest{{Algorithm: sha, Value: &apiv1.ExpectedDigest_Raw{Raw: []byte("ab")}}}})}, codes.InvalidArgument, "has 2 bytes, want 32"},
		{"size short", []*apiv1.DigestRequest{hdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{sha}, ExpectedSize: size(4)}), dataMsg([]byte("abc"))}, codes.DataLoss, "received 3 bytes, expected 4"},
		{"size over", []*apiv1.DigestRequest{hdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{sha}, ExpectedSize: size(2)}), dataMsg([]byte("abc"))}, codes.DataLoss, "exceeds the expected size of 2"},
		{"digest mismatch", []*apiv1.DigestRequest{hdr(&apiv1.DigestHeader{ExpectedDigests: expect(sha, strings.Repeat("0", 64))}), dataMsg([]byte("abc"))}, codes.DataLoss, "sha256 digest mismatch"},
		{"input limit", []*apiv1.DigestRequest{header(sha), dataMsg(make([]byte, 600)), dataMsg(make([]byte, 600))}, codes.ResourceExhausted, "input exceeds the limit of 1000 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := digestCall(t, env, tc.msgs...)
			if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.message) {
				t.Fatalf("got %v (resp %v), want %v containing %q", err, resp, tc.code, tc.message)
			}
		})
	}

	// The same expectations, met: a result.
	resp, err := digestCall(t, env, hdr(&apiv1.DigestHeader{ExpectedSize: size(3), ExpectedDigests: expect(sha, strings.ToUpper(abcHex))}), dataMsg([]byte("abc")))
	if err != nil || resp.GetDigests()[0].GetHex() != abcHex {
		t.Fatalf("matching expectations: %v %v", resp, err)
	}
}

func TestDigestAborts(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		env := startEnv(t, envConfig{}) // no idle timeout to race the cancel
		ctx, cancel := context.WithCancel(jobCtx(t))
		stream, err := env.client.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stream.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
		stream.Send(dataMsg(make([]byte, 1000)))
		env.obs.waitStarted(t)
		cancel()
		if oc := env.obs.nextOutcome(t); oc != "canceled" {
			t.Fatalf("outcome %q, want canceled", oc)
		}
		if _, err := stream.CloseAndRecv(); status.Code(err) != codes.Canceled {
			t.Fatalf("err = %v, want Canceled", err)
		}
	})
	t.Run("idle", func(t *testing.T) {
		env := startEnv(t, envConfig{idle: 200 * time.Millisecond})
		stream, err := env.client.Digest(jobCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		stream.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
		stream.Send(dataMsg([]byte("partial")))
		// Send nothing more, and do not half-close: the idle timeout
		// aborts the job.
		err = stream.RecvMsg(new(apiv1.DigestResponse))
		if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(status.Convert(err).Message(), "idle timeout") {
			t.Fatalf("err = %v, want DeadlineExceeded idle timeout", err)
		}
	})
}

// resetAfterEnd is a stream whose client reset it once its input had
// ended (grpc-js sends END_STREAM, then RST_STREAM, when a call is
// cancelled or its deadline expires): every send fails as grpc-go's does
// on a stream the client reset.
type resetAfterEnd struct{ grpc.ServerStream }

func (resetAfterEnd) SendMsg(any) error { return status.Error(codes.Canceled, "context canceled") }

// connClosed is a stream whose connection closed under it (the client
// process exited mid-reply): every send fails as grpc-go's does then.
type connClosed struct{ grpc.ServerStream }

func (connClosed) SendMsg(any) error { return status.Error(codes.Unavailable, "transport is closing") }

// TestReplyNotDeliveredIsNoOK: a job whose reply could not be sent, its
// stream reset after the half-close, is counted as canceled, not ok: its
// call ends CANCELED, and no result reached the client. Digest sends its
// one response, and Run its summary, after the job's own work.
func TestReplyNotDeliveredIsNoOK(t *testing.T) {
	var closed atomic.Bool // the next streams' connection closes, not resets
	reset := grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if closed.Load() {
			return h(srv, connClosed{ss})
		}
		return h(srv, resetAfterEnd{ss})
	})
	env := startEnv(t, envConfig{grpcOpts: []grpc.ServerOption{reset}})
	t.Run("Digest", func(t *testing.T) {
		_, err := digestCall(t, env, header(apiv1.Algorithm_ALGORITHM_SHA256), dataMsg([]byte("abc")))
		if status.Code(err) != codes.Canceled {
			t.Fatalf("err = %v, want Canceled", err)
		}
		if oc := env.obs.nextOutcome(t); oc != "canceled" {
			t.Fatalf("outcome %q of a Digest whose response was never sent, want canceled", oc)
		}
	})
	t.Run("Run", func(t *testing.T) {
		// tac of no input prints nothing: the summary is the one message
		// the job sends.
		_, _, err := runCall(t, env, runHeader("tac"))
		if status.Code(err) != codes.Canceled {
			t.Fatalf("err = %v, want Canceled", err)
		}
		if oc := env.obs.nextOutcome(t); oc != "canceled" {
			t.Fatalf("outcome %q of a Run whose summary was never sent, want canceled", oc)
		}
	})
	t.Run("Run, connection closed", func(t *testing.T) {
		// Was "unavailable", the outcome of a server shutting down.
		closed.Store(true)
		runCall(t, env, runHeader("tac"))
		if oc := env.obs.nextOutcome(t); oc != "canceled" {
			t.Fatalf("outcome %q of a Run whose connection closed mid-reply, want canceled", oc)
		}
	})
}
