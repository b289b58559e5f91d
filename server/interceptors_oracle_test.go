package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/halfclose/halfclose/internal/syncbuf"
	"github.com/halfclose/halfclose/internal/testenv"
)

// The chain (interceptors.go) has its own metrics reporter (in place of
// providers/prometheus's), its own slog adapter, and logging options that
// leave timestamps to the adapter. These tests keep the chain as it was
// configured before, as the oracle: the same calls through both must give
// the same log lines (key order included) and the same grpc_server_*
// series.

// oracleChain is the chain ChainOptions used to install.
func oracleChain(logger *slog.Logger, sm *grpcprom.ServerMetrics, ta *TokenAuth, rl *PeerLimiter) []grpc.ServerOption {
	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor
	unary = append(unary, sm.UnaryServerInterceptor())
	stream = append(stream, sm.StreamServerInterceptor())
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithDurationField(func(d time.Duration) logging.Fields { return logging.Fields{"grpc.duration", d} }),
	}
	unary = append(unary, logging.UnaryServerInterceptor(oracleSlogAdapter(logger), logOpts...))
	stream = append(stream, logging.StreamServerInterceptor(oracleSlogAdapter(logger), logOpts...))
	authMatch := selector.MatchFunc(needsAuth)
	unary = append(unary, selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(ta.AuthFunc), authMatch))
	stream = append(stream, selector.StreamServerInterceptor(auth.StreamServerInterceptor(ta.AuthFunc), authMatch))
	limitMatch := selector.MatchFunc(needsRateLimit)
	unary = append(unary, selector.UnaryServerInterceptor(rateLimitUnary(rl), limitMatch))
	stream = append(stream, selector.StreamServerInterceptor(rateLimitStream(rl), limitMatch))
	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		args := []any{"panic", p, "stack", string(debug.Stack())}
		args = append(args, logging.ExtractFields(ctx)...)
		logger.ErrorContext(ctx, "handler panic", args...)
		return status.Error(codes.Internal, "internal error")
	})
	unary = append(unary, recovery.UnaryServerInterceptor(rec))
	stream = append(stream, recovery.StreamServerInterceptor(rec))
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...)}
}

// oracleSlogAdapter is the slog adapter the chain used: the fields as
// attributes, less protocol, grpc.component and grpc.start_time.
func oracleSlogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		var attrs []slog.Attr
		for i := 0; i+1 < len(fields); i += 2 {
			k, _ := fields[i].(string)
			switch k {
			case logging.SystemTag[0], logging.ComponentFieldKey, "grpc.start_time":
				continue
			}
			attrs = append(attrs, slog.Any(k, fields[i+1]))
		}
		l.LogAttrs(ctx, slog.Level(lvl), msg, attrs...)
	})
}

// chainRun is what one server's calls left: log lines and grpc_server_*
// series.
type chainRun struct {
	lines   []string            // normalised JSON lines, keys in order
	metrics map[string]string   // series → value (histograms: count)
	helps   map[string]string   // family → type and help
	bounds  map[string][]string // histogram family → bucket bounds
}

// runChainCalls serves test.Echo and health with opts on 127.0.0.1:0 and
// makes the same calls every time.
func runChainCalls(t *testing.T, logs *syncbuf.Buffer, reg *prometheus.Registry, initMetrics func(*grpc.Server), opts ...grpc.ServerOption) chainRun {
	t.Helper()
	// Stop waits for the handlers, and so for the lines of the calls
	// their clients left (callHold).
	s := grpc.NewServer(append([]grpc.ServerOption{grpc.WaitForHandlers(true)}, opts...)...)
	s.RegisterService(&echoDesc, echoService{})
	healthpb.RegisterHealthServer(s, health.NewServer())
	initMetrics(s)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(lis) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			s.Stop()
			testenv.Recv(t, hangTimeout, "Serve's return after Stop", done)
		}
	}
	defer stop()
	cc := dial(t, lis.Addr().String(), nil)

	good := testCtx(t, "Bearer tok")
	noDeadline := metadataCtx(t, "Bearer tok")
	calls := []func() error{
		func() error { _, err := callEcho(good, cc, "ok"); return err },
		func() error { _, err := callEcho(good, cc, "fail"); return err },
		func() error { _, err := callEcho(good, cc, "panic"); return err },
		func() error { _, err := callEcho(noDeadline, cc, "no deadline"); return err },
		func() error { _, err := callCollect(good, cc, "a", "b"); return err },
		func() error { _, err := callCollect(good, cc, "a", "fail"); return err },
		func() error { _, err := callCollect(good, cc, "a", "panic"); return err },
		func() error { _, err := callCollect(noDeadline, cc, "c"); return err },
		func() error { _, err := callEcho(good, cc, "fields"); return err },
		func() error { _, err := callCollect(good, cc, "fields", "a", "fields"); return err },
		func() error { return callHold(good, cc) },
		func() error { _, err := callEcho(testCtx(t, ""), cc, "x"); return err },
		func() error { _, err := callEcho(testCtx(t, "Bearer nope"), cc, "x"); return err },
		func() error { _, err := callCollect(testCtx(t, "Basic tok"), cc, "x"); return err },
		func() error {
			_, err := healthpb.NewHealthClient(cc).Check(testCtx(t, ""), &healthpb.HealthCheckRequest{})
			return err
		},
		// The limiter's burst is 11 and the calls above spent 11 (auth
		// failures and health spend none): these are refused.
		func() error { _, err := callEcho(good, cc, "x"); return err },
		func() error { _, err := callCollect(good, cc, "x"); return err },
	}
	var got []string
	for _, call := range calls {
		got = append(got, status.Code(call()).String())
	}
	want := "OK InvalidArgument Internal OK OK InvalidArgument Internal OK OK OK Canceled Unauthenticated PermissionDenied Unauthenticated OK ResourceExhausted ResourceExhausted"
	if strings.Join(got, " ") != want {
		t.Fatalf("codes = %v, want %s", got, want)
	}

	stop()
	run := chainRun{metrics: map[string]string{}, helps: map[string]string{}, bounds: map[string][]string{}}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		run.lines = append(run.lines, normaliseLine(t, sc.Bytes()))
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "grpc_server_") {
			continue
		}
		run.helps[f.GetName()] = f.GetType().String() + " " + f.GetHelp()
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.Counter != nil:
				run.metrics[key] = fmt.Sprint(m.GetCounter().GetValue())
			case m.Histogram != nil:
				run.metrics[key] = fmt.Sprint(m.GetHistogram().GetSampleCount())
				var bs []string
				for _, b := range m.GetHistogram().GetBucket() {
					bs = append(bs, fmt.Sprint(b.GetUpperBound()))
				}
				run.bounds[f.GetName()] = bs
			}
		}
	}
	return run
}

// metadataCtx is testCtx without a deadline.
func metadataCtx(t *testing.T, authz string) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", authz)
}

// normaliseLine returns a JSON log line with its keys in order and what
// varies from run to run replaced: the time, the duration, the stack, the
// deadline and the client's port.
func normaliseLine(t *testing.T, line []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var out []string
	var walk func(prefix string)
	walk = func(prefix string) {
		if _, err := dec.Token(); err != nil { // {
			t.Fatalf("log line %s: %v", line, err)
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatalf("log line %s: %v", line, err)
			}
			key := prefix + k.(string)
			if r, _ := peekByte(dec); r == '{' {
				walk(key + ".")
				continue
			}
			v, err := dec.Token()
			if err != nil {
				t.Fatalf("log line %s: %v", line, err)
			}
			s := fmt.Sprint(v)
			switch key {
			case "time", "job.id":
				s = "<set>"
			case "grpc.duration", "job.duration":
				if n, err := v.(json.Number).Int64(); err != nil || n <= 0 {
					t.Fatalf("log line %s: %s %v", line, key, v)
				}
				s = "<duration>"
			case "grpc.request.deadline":
				if _, err := time.Parse(time.RFC3339, s); err != nil {
					t.Fatalf("log line %s: deadline: %v", line, err)
				}
				s = "<deadline>"
			case "stack":
				if !strings.Contains(s, "goroutine ") || !strings.Contains(s, "echoBehave") {
					t.Fatalf("log line %s: no stack through the handler", line)
				}
				s = "<stack>"
			case "peer.address":
				host, _, err := net.SplitHostPort(s)
				if err != nil {
					t.Fatalf("log line %s: peer %v", line, err)
				}
				s = host
			}
			out = append(out, key+"="+s)
		}
		if _, err := dec.Token(); err != nil { // }
			t.Fatalf("log line %s: %v", line, err)
		}
	}
	walk("")
	return strings.Join(out, " ")
}

// peekByte returns the next non-space byte of dec's input.
func peekByte(dec *json.Decoder) (byte, error) {
	rest := dec.Buffered()
	var b [1]byte
	for {
		if _, err := rest.Read(b[:]); err != nil {
			return 0, err
		}
		if b[0] != ' ' && b[0] != ':' && b[0] != ',' {
			return b[0], nil
		}
	}
}

// TestChainMatchesMiddleware makes the same calls through the chain and
// through the go-grpc-middleware chain it replaced, and compares every log
// line and every grpc_server_* series.
func TestChainMatchesMiddleware(t *testing.T) {
	ta := loadTokens(t, "tok\n")
	buckets := prometheus.ExponentialBuckets(0.001, 4, 10)

	oldLogs := &syncbuf.Buffer{}
	oldLog := slog.New(slog.NewJSONHandler(oldLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	oldReg := prometheus.NewRegistry()
	sm := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(buckets)))
	oldReg.MustRegister(sm)
	old := runChainCalls(t, oldLogs, oldReg, func(s *grpc.Server) { sm.InitializeMetrics(s) },
		oracleChain(oldLog, sm, ta, NewPeerLimiter(0.001, 11))...)

	newLogs := &syncbuf.Buffer{}
	newReg := prometheus.NewRegistry()
	m := NewMetrics(newReg)
	// The line's parts go through HandleAttrs, as to halfclosed's handler.
	ph := &partsHandler{Handler: slog.NewJSONHandler(newLogs, &slog.HandlerOptions{Level: slog.LevelDebug})}
	got := runChainCalls(t, newLogs, newReg, func(s *grpc.Server) { m.ServerMetrics().InitializeMetrics(s) },
		ChainOptions(ChainConfig{
			Logger:    slog.New(ph),
			Metrics:   m,
			Auth:      ta,
			RateLimit: NewPeerLimiter(0.001, 11),
		})...)

	if n := ph.calls.Load(); n != 17 {
		t.Errorf("%d lines through HandleAttrs, want 17 (a line per call)", n)
	}
	if len(old.lines) != 17+2 { // a line per call, and one per panic
		t.Fatalf("the oracle logged %d lines:\n%s", len(old.lines), strings.Join(old.lines, "\n"))
	}
	// A call its client cancels (callHold) may end after the next one
	// started: the lines are compared in order of their text.
	slices.Sort(old.lines)
	slices.Sort(got.lines)
	for i := range max(len(old.lines), len(got.lines)) {
		var o, g string
		if i < len(old.lines) {
			o = old.lines[i]
		}
		if i < len(got.lines) {
			g = got.lines[i]
		}
		if o != g {
			t.Errorf("log line %d:\n got %s\nwant %s", i, g, o)
		}
	}
	if !mapsEqual(old.helps, got.helps) {
		t.Errorf("families:\n got %v\nwant %v", got.helps, old.helps)
	}
	if !mapsEqual(old.metrics, got.metrics) {
		t.Errorf("series differ:\n%s", diffMaps(got.metrics, old.metrics))
	}
	for f, b := range old.bounds {
		if !slices.Equal(b, got.bounds[f]) {
			t.Errorf("%s buckets %v, want %v", f, got.bounds[f], b)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func diffMaps(got, want map[string]string) string {
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if got[k] != want[k] {
			fmt.Fprintf(&b, "%s: got %q, want %q\n", k, got[k], want[k])
		}
	}
	return b.String()
}

// partsHandler is an AttrsHandler that writes the record of the parts
// through its slog.Handler, counting the lines so written.
type partsHandler struct {
	slog.Handler
	calls atomic.Int64
}

func (h *partsHandler) HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	h.calls.Add(1)
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(attrs...)
	return h.Handler.Handle(ctx, r)
}
