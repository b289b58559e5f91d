package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
)

// BenchmarkChainLayers is the cost of each middleware layer on small
// Digest calls (1 KiB), on a loopback socket, so a regression in one layer
// shows by name.
func BenchmarkChainLayers(b *testing.B) {
	ta := benchTokens(b)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name string
		cfg  *ChainConfig
	}{
		{"none", nil},
		{"recovery", &ChainConfig{Logger: slog.New(slog.DiscardHandler)}},
		{"metrics", &ChainConfig{Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(prometheus.NewRegistry())}},
		{"logging", &ChainConfig{Logger: discard}},
		{"auth", &ChainConfig{Logger: slog.New(slog.DiscardHandler), Auth: ta}},
		{"full", &ChainConfig{Logger: discard, Metrics: NewMetrics(prometheus.NewRegistry()), Auth: ta}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var opts []grpc.ServerOption
			if tc.cfg != nil {
				opts = ChainOptions(*tc.cfg)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			gs := grpc.NewServer(opts...)
			apiv1.RegisterComputeServiceServer(gs, NewComputeService(engine.New(engine.Config{MaxJobs: 1024, Registry: builtin.Registry()}), Options{Logger: discard}))
			go gs.Serve(l)
			defer gs.Stop()
			conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			c := apiv1.NewComputeServiceClient(conn)
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer bench-token")
			data := bytes.Repeat([]byte("x"), 1024)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s, err := c.Digest(ctx)
					if err != nil {
						b.Fatal(err)
					}
					s.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
					s.Send(dataMsg(data))
					if _, err := s.CloseAndRecv(); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkStreamInterceptors is the CPU and allocations the stream
// interceptors add to one call, without a network: each layer's own cost,
// the handler being an empty one that adds its job fields to the log line.
func BenchmarkStreamInterceptors(b *testing.B) {
	dir := b.TempDir()
	ta := benchTokens(b)
	logf, err := os.Create(dir + "/log")
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	jsonLog := slog.New(slog.NewJSONHandler(logf, nil))
	for _, tc := range []struct {
		name string
		cfg  ChainConfig
	}{
		{"silent", ChainConfig{Logger: slog.New(slog.DiscardHandler)}},
		{"logging", ChainConfig{Logger: jsonLog}},
		{"logging-nowrite", ChainConfig{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}},
		{"full", ChainConfig{Logger: jsonLog, Metrics: NewMetrics(prometheus.NewRegistry()), Auth: ta}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			_, chain := interceptorChain(tc.cfg)
			info := &grpc.StreamServerInfo{FullMethod: apiv1.ComputeService_Digest_FullMethodName, IsClientStream: true}
			ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer bench-token"))
			ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}})
			ss := &benchStream{ctx: ctx}
			job := slog.GroupValue(slog.String("id", "0123456789abcdef"), slog.String("command", "digest:sha256"),
				slog.Int64("in_bytes", 1024), slog.Int64("out_bytes", 32), slog.String("outcome", "ok"))
			handler := func(_ any, s grpc.ServerStream) error {
				AddLogFields(s.Context(), "job", job)
				return nil
			}
			b.ReportAllocs()
			for b.Loop() {
				h := handler
				for i := len(chain) - 1; i >= 0; i-- {
					next, ic := h, chain[i]
					h = func(srv any, s grpc.ServerStream) error { return ic(srv, s, info, next) }
				}
				if err := h(nil, ss); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchStream is a ServerStream with nothing behind it.
type benchStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *benchStream) Context() context.Context     { return s.ctx }
func (s *benchStream) SetHeader(metadata.MD) error  { return nil }
func (s *benchStream) SendHeader(metadata.MD) error { return nil }
func (s *benchStream) SetTrailer(metadata.MD)       {}

// benchTokens is a TokenAuth accepting "bench-token".
func benchTokens(b *testing.B) *TokenAuth {
	path := b.TempDir() + "/tokens"
	if err := writeFileB(path, "bench-token\n"); err != nil {
		b.Fatal(err)
	}
	ta, err := LoadTokenFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return ta
}

// BenchmarkStreamLayers is each layer of the chain alone, as ChainOptions
// installs it, and the layers it replaced ("-before"; "logging-reporting"
// is our logging under the middleware's reporting interceptor, "metrics"
// the metrics alone under it): CPU and allocations per stream call,
// without a network, around a handler that adds its job fields (the way
// the ComputeService does) to the log line.
func BenchmarkStreamLayers(b *testing.B) {
	ta := benchTokens(b)
	jsonDiscard := slog.New(slog.NewJSONHandler(io.Discard, nil))
	buckets := prometheus.ExponentialBuckets(0.001, 4, 10)
	oldOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithDurationField(func(d time.Duration) logging.Fields { return logging.Fields{"grpc.duration", d} }),
	}
	job := slog.GroupValue(slog.String("id", "0123456789abcdef"), slog.String("command", "digest:sha256"),
		slog.Int64("in_bytes", 1024), slog.Int64("out_bytes", 32), slog.String("outcome", "ok"))
	for _, tc := range []struct {
		name string
		ic   func() grpc.StreamServerInterceptor
	}{
		{"none", func() grpc.StreamServerInterceptor {
			return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				return h(srv, ss)
			}
		}},
		{"metrics", func() grpc.StreamServerInterceptor {
			return interceptors.StreamServerInterceptor(NewMetrics(prometheus.NewRegistry()).ServerMetrics())
		}},
		{"metrics-before", func() grpc.StreamServerInterceptor {
			return grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(buckets))).StreamServerInterceptor()
		}},
		{"logging", func() grpc.StreamServerInterceptor {
			return callReporter{l: NewCallLog(jsonDiscard)}.stream()
		}},
		{"logging-reporting", func() grpc.StreamServerInterceptor { // under the middleware's reporting interceptor
			return interceptors.StreamServerInterceptor(NewCallLog(jsonDiscard))
		}},
		{"logging-before", func() grpc.StreamServerInterceptor {
			return logging.StreamServerInterceptor(oracleSlogAdapter(jsonDiscard), oldOpts...)
		}},
		{"auth", func() grpc.StreamServerInterceptor { return ta.streamInterceptor() }},
		{"auth-before", func() grpc.StreamServerInterceptor {
			return selector.StreamServerInterceptor(auth.StreamServerInterceptor(ta.AuthFunc), selector.MatchFunc(needsAuth))
		}},
		{"recovery", func() grpc.StreamServerInterceptor {
			return recovery.StreamServerInterceptor(recovery.WithRecoveryHandlerContext(func(context.Context, any) error { return nil }))
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ic := tc.ic()
			info := &grpc.StreamServerInfo{FullMethod: apiv1.ComputeService_Digest_FullMethodName, IsClientStream: true}
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // a deadline, as ghz's calls have
			defer cancel()
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer bench-token"))
			ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}})
			ss := &benchStream{ctx: ctx}
			handler := func(_ any, s grpc.ServerStream) error {
				AddLogFields(s.Context(), "job", job)
				return nil
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := ic(nil, ss, info, handler); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
