package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

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
	RateLimit *PeerLimiter // per peer IP; health skips it
}

// ChainOptions returns the server options installing, outermost first:
//
//  1. Prometheus server metrics (sees every call, even those refused below);
//  2. logging: one line per finished call at a level set by its code, with
//     grpc.service, grpc.method, peer.address, grpc.code, grpc.error and
//     grpc.time_ms; a handler adds its own fields with AddLogFields;
//  3. auth (bearer token), except for grpc.health.v1.Health and
//     grpc.reflection.* so probes and grpcurl work without a token;
//  4. rate limiting per peer IP (RESOURCE_EXHAUSTED "rate limit exceeded
//     for peer"), except for health;
//  5. recovery: a panicking handler gives the client INTERNAL "internal
//     error" and the log an error line with the panic value and stack.
//
// Recovery is innermost so the panic is logged and counted as INTERNAL by
// the layers above it.
func ChainOptions(cfg ChainConfig) []grpc.ServerOption {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor

	if sm := cfg.Metrics.ServerMetrics(); sm != nil {
		unary = append(unary, sm.UnaryServerInterceptor())
		stream = append(stream, sm.StreamServerInterceptor())
	}

	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithDisableLoggingFields(logging.SystemTag[0], logging.ComponentFieldKey),
		logging.WithDurationField(func(d time.Duration) logging.Fields {
			return logging.Fields{"grpc.time_ms", float64(d.Microseconds()) / 1000}
		}),
	}
	unary = append(unary, logging.UnaryServerInterceptor(slogAdapter(logger), logOpts...))
	stream = append(stream, logging.StreamServerInterceptor(slogAdapter(logger), logOpts...))

	if cfg.Auth != nil {
		m := selector.MatchFunc(needsAuth)
		unary = append(unary, selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(cfg.Auth.AuthFunc), m))
		stream = append(stream, selector.StreamServerInterceptor(auth.StreamServerInterceptor(cfg.Auth.AuthFunc), m))
	}

	if cfg.RateLimit != nil {
		m := selector.MatchFunc(needsRateLimit)
		unary = append(unary, selector.UnaryServerInterceptor(rateLimitUnary(cfg.RateLimit), m))
		stream = append(stream, selector.StreamServerInterceptor(rateLimitStream(cfg.RateLimit), m))
	}

	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		args := []any{"panic", p, "stack", string(debug.Stack())}
		args = append(args, logging.ExtractFields(ctx)...) // service, method, peer
		logger.ErrorContext(ctx, "handler panic", args...)
		return status.Error(codes.Internal, "internal error")
	})
	unary = append(unary, recovery.UnaryServerInterceptor(rec))
	stream = append(stream, recovery.StreamServerInterceptor(rec))

	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}
}

// AddLogFields adds key/value pairs to the log line of the call whose
// context (or stream.Context()) is ctx, e.g.
//
//	server.AddLogFields(ctx, "job.command", name, "job.in_bytes", n)
//
// The fields appear on the call's "finished call" line. Call it from the
// handler's goroutine before the handler returns (the fields are not
// guarded by a lock). It does nothing outside a logged call.
func AddLogFields(ctx context.Context, kv ...any) {
	logging.AddFields(ctx, logging.Fields(kv))
}

const healthService = "grpc.health.v1.Health"

func isHealth(c interceptors.CallMeta) bool { return c.Service == healthService }

func isReflection(c interceptors.CallMeta) bool {
	return strings.HasPrefix(c.Service, "grpc.reflection.")
}

func needsAuth(_ context.Context, c interceptors.CallMeta) bool {
	return !isHealth(c) && !isReflection(c)
}

func needsRateLimit(_ context.Context, c interceptors.CallMeta) bool {
	return !isHealth(c)
}

// slogAdapter is the log/slog adapter from the go-grpc-middleware examples.
func slogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}
