package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
)

// BenchmarkChainLayers is the cost of each middleware layer on small
// Digest calls (1 KiB), on a loopback socket, so a regression in one layer
// shows by name.
func BenchmarkChainLayers(b *testing.B) {
	dir := b.TempDir()
	tokPath := dir + "/tokens"
	if err := writeFileB(tokPath, "bench-token\n"); err != nil {
		b.Fatal(err)
	}
	ta, err := LoadTokenFile(tokPath)
	if err != nil {
		b.Fatal(err)
	}
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
			apiv1.RegisterComputeServiceServer(gs, NewComputeService(compute.NewEngine(compute.Config{MaxJobs: 1024}), Options{Logger: discard}))
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
