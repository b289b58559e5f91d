package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ChainConfig selects the middleware ChainOptions installs. Nil fields turn
// their interceptor off, except Logger, which defaults to slog.Default().
type ChainConfig struct {
	Logger    *slog.Logger
	Metrics   *Metrics     // grpc_server_* metrics (Metrics.ServerMetrics)
	Auth      *TokenAuth   // bearer tokens; health and reflection skip it
	RateLimit *PeerLimiter // per peer IP; health and reflection skip it
}

// ChainOptions returns the server options installing, outermost first:
//
//  1. Prometheus server metrics (sees every call, even those refused below);
//  2. logging: one line per finished call at a level set by its code, with
//     grpc.service, grpc.method, peer.address, grpc.code, grpc.error and
//     grpc.duration; a handler adds its own fields with AddLogFields;
//  3. auth (bearer token), except for grpc.health.v1.Health and
//     grpc.reflection.* so probes and grpcurl work without a token;
//  4. rate limiting per peer IP (RESOURCE_EXHAUSTED "rate limit exceeded
//     for peer"), except for health and reflection: they run no job, and
//     grpcurl asks reflection before every call, so a grpcurl health check
//     would be limited, and each grpcurl job would spend several tokens;
//  5. recovery: a panicking handler gives the client INTERNAL "internal
//     error" and the log an error line with the panic value and stack.
//
// Recovery is innermost so the panic is logged and counted as INTERNAL by
// the layers above it.
func ChainOptions(cfg ChainConfig) []grpc.ServerOption {
	unary, stream := interceptorChain(cfg)
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}
}

// interceptorChain returns the interceptors ChainOptions installs,
// outermost first.
func interceptorChain(cfg ChainConfig) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor

	// Metrics, then logging: go-grpc-middleware's reporting interceptors
	// with reporters of our own, both under one interceptor
	// (callReporter): the grpc_server_* series of providers/prometheus,
	// looked up once per method rather than by label values per call
	// (grpcmetrics.go), and the line logging.StreamServerInterceptor
	// wrote, for a tenth of its allocations (calllog.go). Streams go
	// through callReporter.stream, the reporting interceptor in one
	// allocation a call.
	rep := callReporter{m: cfg.Metrics.ServerMetrics(), l: NewCallLog(logger)}
	unary = append(unary, interceptors.UnaryServerInterceptor(rep))
	stream = append(stream, rep.stream())

	if cfg.Auth != nil {
		m := selector.MatchFunc(needsAuth)
		unary = append(unary, selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(cfg.Auth.AuthFunc), m))
		stream = append(stream, cfg.Auth.streamInterceptor()) // the same, less a wrapped stream
	}

	if cfg.RateLimit != nil {
		m := selector.MatchFunc(needsRateLimit)
		unary = append(unary, selector.UnaryServerInterceptor(rateLimitUnary(cfg.RateLimit), m))
		stream = append(stream, selector.StreamServerInterceptor(rateLimitStream(cfg.RateLimit), m))
	}

	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		attrs := []slog.Attr{slog.Any("panic", p), slog.String("stack", string(debug.Stack()))}
		attrs = append(attrs, callLogAttrs(ctx)...) // service, method, peer, the handler's
		logger.LogAttrs(ctx, slog.LevelError, "handler panic", attrs...)
		return status.Error(codes.Internal, "internal error")
	})
	unary = append(unary, recovery.UnaryServerInterceptor(rec))
	stream = append(stream, recovery.StreamServerInterceptor(rec))
	return unary, stream
}

// AddLogFields adds key/value pairs to the log line of the call whose
// context (or stream.Context()) is ctx, e.g.
//
//	server.AddLogFields(ctx, "job.command", name, "job.in_bytes", n)
//
// The fields appear on the call's "finished call" line. Call it from the
// handler's goroutine before the handler returns (the fields are not
// guarded by a lock). Under go-grpc-middleware's own logging interceptor
// (not this chain's), the fields go to logging.AddFields. It does nothing
// outside a logged call.
func AddLogFields(ctx context.Context, kv ...any) {
	if r, ok := ctx.Value(callLogKey{}).(*callReport); ok {
		var buf [8]slog.Attr
		r.add(appendFields(buf[:0], 0, kv))
		return
	}
	logging.AddFields(ctx, kv[:len(kv):len(kv)]) // its appends must not write into kv
}

// startTimeField is the logging middleware's call start, to the second.
const startTimeField = "grpc.start_time"

// deadlineField is the logging middleware's call deadline, to the second.
const deadlineField = "grpc.request.deadline"

const healthService = "grpc.health.v1.Health"

func isHealth(c interceptors.CallMeta) bool { return c.Service == healthService }

func isReflection(c interceptors.CallMeta) bool {
	return strings.HasPrefix(c.Service, "grpc.reflection.")
}

func needsAuth(_ context.Context, c interceptors.CallMeta) bool {
	return !isHealth(c) && !isReflection(c)
}

func needsRateLimit(_ context.Context, c interceptors.CallMeta) bool {
	return !isHealth(c) && !isReflection(c)
}
