package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/syncbuf"
	"github.com/halfclose/halfclose/internal/testenv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// A hand-written test service, "test.Echo": Echo (unary) returns its input;
// Collect (client streaming) returns its inputs joined. The input "panic"
// makes the handler panic; "fail" returns INVALID_ARGUMENT. Both add a
// log field from inside the handler.
type echoAPI interface {
	isEcho()
}

type echoService struct{}

func (echoService) isEcho() {}

func echoBehave(ctx context.Context, v string) error {
	AddLogFields(ctx, "job.command", "echo")
	switch v {
	case "panic":
		panic("boom: secret detail")
	case "fields":
		// Keys added twice, and keys of the chain's own fields: the
		// chain merges them as go-grpc-middleware's logging did.
		AddLogFields(ctx, "echo.c", 0, "echo.c", 1) // twice in one add, then older
		AddLogFields(ctx, "echo.a", 1)
		AddLogFields(ctx, "echo.b", 2, "echo.a", 3, "grpc.method", "shadow", "grpc.code", "shadow", "grpc.start_time", "x")
	case "fail":
		return status.Error(codes.InvalidArgument, "echo: bad input")
	}
	return nil
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "test.Echo",
	HandlerType: (*echoAPI)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				v := req.(*wrapperspb.StringValue).GetValue()
				if err := echoBehave(ctx, v); err != nil {
					return nil, err
				}
				return wrapperspb.String(v), nil
			}
			if icpt == nil {
				return h(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/test.Echo/Echo"}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Collect",
		ClientStreams: true,
		Handler: func(_ any, ss grpc.ServerStream) error {
			var parts []string
			for {
				in := new(wrapperspb.StringValue)
				err := ss.RecvMsg(in)
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				if in.GetValue() == "hold" {
					// The client learns its stream has reached the
					// handler, and cancels it (callHold); the handler's
					// context ends.
					if err := ss.SendHeader(metadata.Pairs("held", "1")); err != nil {
						return err
					}
					select {
					case <-ss.Context().Done():
					case <-time.After(defaultTestTimeout): // a failure only, never a wait
						return status.Error(codes.FailedPrecondition, "the handler's context is not done")
					}
					// It ends with its context's error. It sent a
					// message, whose fate was grpc-go's race: "context
					// canceled", or, when the handler woke before the
					// reset marked the stream done, an Unavailable
					// "transport ..." error or none; the oracle's line
					// (and sent-message count) of TestChainMatchesMiddleware
					// then differed from the chain's (one CI run).
					return status.FromContextError(ss.Context().Err()).Err()
				}
				if err := echoBehave(ss.Context(), in.GetValue()); err != nil {
					return err
				}
				parts = append(parts, in.GetValue())
			}
			return ss.SendMsg(wrapperspb.String(strings.Join(parts, ",")))
		},
	}},
}

// startTestServer serves test.Echo, grpc.health.v1 and reflection through
// ChainOptions(cfg) on 127.0.0.1:0. Unless cfg.Logger is set, logs go as
// JSON to the returned buffer.
func startTestServer(t *testing.T, cfg ChainConfig, opts ...grpc.ServerOption) (addr string, logs *syncbuf.Buffer) {
	t.Helper()
	logs = &syncbuf.Buffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s := grpc.NewServer(append(opts, ChainOptions(cfg)...)...)
	s.RegisterService(&echoDesc, echoService{})
	healthpb.RegisterHealthServer(s, health.NewServer())
	reflection.Register(s)
	if sm := cfg.Metrics.ServerMetrics(); sm != nil {
		sm.InitializeMetrics(s)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		testenv.Recv(t, hangTimeout, "Serve's return after Stop", done)
	})
	return lis.Addr().String(), logs
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func testCtx(t *testing.T, authz string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	t.Cleanup(cancel)
	if authz != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", authz)
	}
	return ctx
}

func callEcho(ctx context.Context, cc *grpc.ClientConn, v string) (string, error) {
	out := new(wrapperspb.StringValue)
	err := cc.Invoke(ctx, "/test.Echo/Echo", wrapperspb.String(v), out)
	return out.GetValue(), err
}

func callCollect(ctx context.Context, cc *grpc.ClientConn, vs ...string) (string, error) {
	st, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, "/test.Echo/Collect")
	if err != nil {
		return "", err
	}
	for _, v := range vs {
		if err := st.SendMsg(wrapperspb.String(v)); err != nil {
			break // the real error comes from RecvMsg
		}
	}
	if err := st.CloseSend(); err != nil {
		return "", err
	}
	out := new(wrapperspb.StringValue)
	if err := st.RecvMsg(out); err != nil {
		return "", err
	}
	return out.GetValue(), nil
}

// callHold is a Collect call its client cancels once the handler has its
// first message.
func callHold(ctx context.Context, cc *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, "/test.Echo/Collect")
	if err != nil {
		return err
	}
	if err := st.SendMsg(wrapperspb.String("hold")); err != nil {
		return err
	}
	if _, err := st.Header(); err != nil {
		return err
	}
	cancel()
	return st.RecvMsg(new(wrapperspb.StringValue))
}

func wantStatus(t *testing.T, err error, code codes.Code, msgPart string) {
	t.Helper()
	s, _ := status.FromError(err)
	if s.Code() != code || !strings.Contains(s.Message(), msgPart) {
		t.Fatalf("got %v (%q), want %v containing %q", s.Code(), s.Message(), code, msgPart)
	}
}

// logLines parses the JSON log lines whose msg is msg.
func logLines(t *testing.T, logs *syncbuf.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func loadTokens(t *testing.T, content string) *TokenAuth {
	t.Helper()
	a, err := LoadTokenFile(writeFile(t, "tokens", content))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestChainAuth(t *testing.T) {
	addr, _ := startTestServer(t, ChainConfig{Auth: loadTokens(t, "# ops\nsecret-one\n\nsecret-two\n")})
	cc := dial(t, addr, nil)
	tests := []struct {
		name, authz string
		code        codes.Code
		msg         string
	}{
		{"no metadata", "", codes.Unauthenticated, "missing bearer token"},
		{"basic scheme", "Basic secret-one", codes.Unauthenticated, `malformed authorization metadata: want "Bearer TOKEN"`},
		{"no scheme", "secret-one", codes.Unauthenticated, `malformed authorization metadata: want "Bearer TOKEN"`},
		{"empty token", "Bearer ", codes.Unauthenticated, `malformed authorization metadata: want "Bearer TOKEN"`},
		{"wrong token", "Bearer wrong-token-xyz", codes.PermissionDenied, "invalid token"},
		{"token prefix", "Bearer secret-on", codes.PermissionDenied, "invalid token"},
		{"comment as token", "Bearer # ops", codes.PermissionDenied, "invalid token"},
		{"first token", "Bearer secret-one", codes.OK, ""},
		{"second token", "Bearer secret-two", codes.OK, ""},
		{"lower-case scheme", "bearer secret-two", codes.OK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, tc.authz)
			got, err := callEcho(ctx, cc, "hi")
			wantStatus(t, err, tc.code, tc.msg)
			if err == nil && got != "hi" {
				t.Fatalf("echo = %q", got)
			}
			if err != nil && strings.Contains(err.Error(), "wrong-token-xyz") {
				t.Fatalf("error echoes the token: %v", err)
			}
			_, err = callCollect(ctx, cc, "a", "b")
			wantStatus(t, err, tc.code, tc.msg)
		})
	}
}

func TestChainHealthAndReflectionSkipAuth(t *testing.T) {
	addr, _ := startTestServer(t, ChainConfig{Auth: loadTokens(t, "tok\n")})
	cc := dial(t, addr, nil)
	ctx := testCtx(t, "")

	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health without token: %v, %v", resp, err)
	}

	st, err := rpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	r, err := st.Recv()
	if err != nil {
		t.Fatalf("reflection without token: %v", err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), "test.Echo") {
		t.Fatalf("reflection services = %v", names)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Fatalf("reflection end: %v", err)
	}

	_, err = callEcho(ctx, cc, "x")
	wantStatus(t, err, codes.Unauthenticated, "missing bearer token")
}

func TestChainRecovery(t *testing.T) {
	addr, logs := startTestServer(t, ChainConfig{})
	cc := dial(t, addr, nil)
	ctx := testCtx(t, "")

	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"unary", func() error { _, err := callEcho(ctx, cc, "panic"); return err }},
		{"stream", func() error { _, err := callCollect(ctx, cc, "a", "panic"); return err }},
	} {
		err := call.do()
		wantStatus(t, err, codes.Internal, "internal error")
		if s := status.Convert(err).Message(); s != "internal error" {
			t.Fatalf("%s: message %q leaks more than \"internal error\"", call.name, s)
		}
	}
	// The server still serves.
	if got, err := callEcho(ctx, cc, "after"); err != nil || got != "after" {
		t.Fatalf("after panic: %q, %v", got, err)
	}

	panics := logLines(t, logs, "handler panic")
	if len(panics) != 2 {
		t.Fatalf("got %d panic log lines, want 2:\n%s", len(panics), logs)
	}
	for i, p := range panics {
		if p["level"] != "ERROR" || p["panic"] != "boom: secret detail" {
			t.Fatalf("panic line %d: %v", i, p)
		}
		stack, _ := p["stack"].(string)
		if !strings.Contains(stack, "goroutine ") || !strings.Contains(stack, "echoBehave") {
			t.Fatalf("panic line %d has no stack through the handler: %q", i, stack)
		}
	}
	if panics[0]["grpc.method"] != "Echo" || panics[1]["grpc.method"] != "Collect" {
		t.Fatalf("panic lines lack the method: %v", panics)
	}
	// Logging sits outside recovery, so it records the call as INTERNAL.
	var codesSeen []string
	for _, l := range logLines(t, logs, "finished call") {
		codesSeen = append(codesSeen, l["grpc.code"].(string))
	}
	if strings.Join(codesSeen, ",") != "Internal,Internal,OK" {
		t.Fatalf("logged codes = %v", codesSeen)
	}
}

func TestChainLogging(t *testing.T) {
	addr, logs := startTestServer(t, ChainConfig{})
	cc := dial(t, addr, nil)
	ctx := testCtx(t, "")

	if _, err := callEcho(ctx, cc, "ok"); err != nil {
		t.Fatal(err)
	}
	_, err := callEcho(ctx, cc, "fail")
	wantStatus(t, err, codes.InvalidArgument, "bad input")
	if _, err := callCollect(ctx, cc, "a", "b"); err != nil {
		t.Fatal(err)
	}

	lines := logLines(t, logs, "finished call")
	if len(lines) != 3 || len(logLines(t, logs, "started call")) != 0 {
		t.Fatalf("want exactly one line per call, got:\n%s", logs)
	}
	want := []struct{ method, code, level string }{
		{"Echo", "OK", "INFO"},
		{"Echo", "InvalidArgument", "INFO"},
		{"Collect", "OK", "INFO"},
	}
	for i, w := range want {
		l := lines[i]
		if l["grpc.service"] != "test.Echo" || l["grpc.method"] != w.method ||
			l["grpc.code"] != w.code || l["level"] != w.level {
			t.Errorf("line %d = %v, want %+v", i, l, w)
		}
		if p, _ := l["peer.address"].(string); !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("line %d peer = %v", i, l["peer.address"])
		}
		if d, ok := l["grpc.duration"].(float64); !ok || d <= 0 || d != float64(int64(d)) {
			t.Errorf("line %d has no grpc.duration in integer nanoseconds: %v", i, l)
		}
		if l["job.command"] != "echo" {
			t.Errorf("line %d lacks the handler's field: %v", i, l)
		}
		for _, k := range []string{"protocol", "grpc.component", "grpc.start_time"} {
			if _, ok := l[k]; ok {
				t.Errorf("line %d has the dropped field %s", i, k)
			}
		}
	}
	if e, _ := lines[1]["grpc.error"].(string); !strings.Contains(e, "bad input") {
		t.Errorf("error line lacks grpc.error: %v", lines[1])
	}
}

func TestChainRateLimit(t *testing.T) {
	// 0.001/s: no token comes back during the test, so no timing matters.
	addr, _ := startTestServer(t, ChainConfig{RateLimit: NewPeerLimiter(0.001, 2)})
	cc := dial(t, addr, nil)
	ctx := testCtx(t, "")
	for i := range 2 {
		if _, err := callEcho(ctx, cc, "x"); err != nil {
			t.Fatalf("call %d within burst: %v", i, err)
		}
	}
	_, err := callEcho(ctx, cc, "x")
	wantStatus(t, err, codes.ResourceExhausted, "rate limit exceeded for peer")
	_, err = callCollect(ctx, cc, "x")
	wantStatus(t, err, codes.ResourceExhausted, "rate limit exceeded for peer")

	// Health probes are not rate limited.
	for range 3 {
		if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("health under rate limit: %v", err)
		}
	}
}

// TestChainOrder checks the layering through what each layer sees:
// metrics and logging see calls refused by auth and the rate limit, and
// auth runs before the rate limit, so unauthenticated calls spend no token.
func TestChainOrder(t *testing.T) {
	reg := NewRegistry()
	m := NewMetrics(reg)
	addr, logs := startTestServer(t, ChainConfig{
		Metrics:   m,
		Auth:      loadTokens(t, "tok\n"),
		RateLimit: NewPeerLimiter(0.001, 2),
	})
	cc := dial(t, addr, nil)

	_, err := callEcho(testCtx(t, ""), cc, "x")
	wantStatus(t, err, codes.Unauthenticated, "missing bearer token")
	_, err = callEcho(testCtx(t, "Bearer nope"), cc, "x")
	wantStatus(t, err, codes.PermissionDenied, "invalid token")
	good := testCtx(t, "Bearer tok")
	for i := range 2 {
		if _, err := callEcho(good, cc, "x"); err != nil {
			t.Fatalf("call %d: %v (auth failures spent rate-limit tokens?)", i, err)
		}
	}
	_, err = callEcho(good, cc, "x")
	wantStatus(t, err, codes.ResourceExhausted, "rate limit")

	var logged []string
	for _, l := range logLines(t, logs, "finished call") {
		logged = append(logged, l["grpc.code"].(string))
	}
	if got := strings.Join(logged, ","); got != "Unauthenticated,PermissionDenied,OK,OK,ResourceExhausted" {
		t.Fatalf("logged codes = %s", got)
	}

	fams := scrape(t, reg)
	for code, want := range map[string]float64{
		"Unauthenticated": 1, "PermissionDenied": 1, "OK": 2, "ResourceExhausted": 1, "Internal": 0,
	} {
		got := metricValue(t, fams, "grpc_server_handled_total",
			map[string]string{"grpc_service": "test.Echo", "grpc_method": "Echo", "grpc_code": code})
		if got != want {
			t.Errorf("grpc_server_handled_total{code=%s} = %v, want %v", code, got, want)
		}
	}
	if got := histCount(t, fams, "grpc_server_handling_seconds",
		map[string]string{"grpc_service": "test.Echo", "grpc_method": "Echo"}); got != 5 {
		t.Errorf("grpc_server_handling_seconds count = %d, want 5", got)
	}
}
