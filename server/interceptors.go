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
//     grpc.duration; a handler adds its own fields with AddLogFields;
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

	if gm := cfg.Metrics.ServerMetrics(); gm != nil {
		// go-grpc-middleware's reporting interceptors with a reporter of
		// our own (grpcmetrics.go): the series of providers/prometheus,
		// looked up once per method rather than by label values per call.
		unary = append(unary, interceptors.UnaryServerInterceptor(gm))
		stream = append(stream, interceptors.StreamServerInterceptor(gm))
	}

	logOpts := loggingOptions()
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
	return unary, stream
}

// loggingOptions are the logging middleware's options.
func loggingOptions() []logging.Option {
	return []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		// grpc.start_time is dropped by the adapter, and
		// grpc.request.deadline formatted by it (formatDeadline, once a
		// second): the middleware formats neither per call.
		logging.WithTimestampFormat(""),
		logging.WithDurationField(func(d time.Duration) logging.Fields {
			// A time.Duration: slog writes it as integer nanoseconds in
			// JSON, "1.5ms" in text (a float would go through
			// encoding/json, a good part of the line's cost).
			return logging.Fields{"grpc.duration", d}
		}),
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
	// AddFields appends the call's own fields to these: room for them now
	// saves the appends a slice each.
	f := make(logging.Fields, len(kv), len(kv)+callLogFields)
	copy(f, kv)
	logging.AddFields(ctx, f)
}

// startTimeField is the logging middleware's call start, to the second.
const startTimeField = "grpc.start_time"

// deadlineField is the logging middleware's call deadline, to the second.
const deadlineField = "grpc.request.deadline"

// callLogFields is room for the fields the logging interceptor puts in a
// call's context (service, method, type, peer, and a few to spare).
const callLogFields = 16

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

// slogAdapter is the log/slog adapter from the go-grpc-middleware
// examples, made cheaper for a line per call: it builds the slog.Record
// itself (no caller lookup, which the handlers here do not print; the
// fields become attributes without the ...any round trip) and drops the
// constant protocol=grpc and grpc.component=server fields, which say
// nothing on a server's own log (the middleware's WithDisableLoggingFields
// would rebuild the field list on every call to do the same), and
// grpc.start_time, which is the line's time less grpc.duration. The
// middleware formats timestamps with the empty layout
// (WithTimestampFormat("")): grpc.request.deadline is formatted here, as
// RFC 3339, from the call's context (the middleware's own source of it).
func slogAdapter(l *slog.Logger) logging.Logger {
	h := l.Handler()
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		if ctx == nil {
			ctx = context.Background()
		}
		if !h.Enabled(ctx, slog.Level(lvl)) {
			return
		}
		r := slog.NewRecord(time.Now(), slog.Level(lvl), msg, 0)
		var buf [16]slog.Attr
		attrs := buf[:0]
		for i := 0; i+1 < len(fields); i += 2 {
			k, _ := fields[i].(string)
			v := fields[i+1]
			switch k {
			case logging.SystemTag[0], logging.ComponentFieldKey, startTimeField:
				continue
			case deadlineField:
				if dl, ok := ctx.Deadline(); ok && v == "" {
					v = formatDeadline(dl)
				}
			}
			attrs = append(attrs, slog.Any(k, v))
		}
		if len(fields)%2 == 1 {
			attrs = append(attrs, slog.Any("!BADKEY", fields[len(fields)-1]))
		}
		r.AddAttrs(attrs...)
		_ = h.Handle(ctx, r)
	})
}
