package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/cputime"
	"github.com/halfclose/halfclose/internal/grpcopts"
)

// BenchmarkDigestChain is make bench's chain row in process: 1 KiB SHA-256
// Digest calls (header, one data message, half-close) over bufconn, to a
// ComputeService served as halfclosed serves it, with no interceptors
// ("bare") and with the full chain ("full": metrics, JSON logging, bearer
// auth; rate limit off, as in make bench). Client and server
// share the process: allocs/op and cpu-µs/op (the process's user+system
// time per call, steadier than ns/op on a shared machine) are both sides';
// the difference between the two is the chain's.
//
//	go test -run X -bench DigestChain -benchmem ./server
func BenchmarkDigestChain(b *testing.B) {
	ta := benchTokens(b)
	for _, tc := range []struct {
		name  string
		chain bool
		// caps: the caps halfclosed's defaults set in the tap handle,
		// --max-requests-per-peer (peer) and --grpc-max-requests
		// (streams).
		peer, streams bool
	}{{"bare", false, false, false}, {"full", true, false, false}, {"full-peer", true, true, false}, {"full-peer-streams", true, true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			// The lines are encoded, not written: halfclosed writes them
			// in batches (--log-flush), while a write(2) per line under
			// the handler's lock would serialise the calls here.
			logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
			var metrics *Metrics
			opts := append(grpcopts.ServerOptions(), CodecOption())
			if tc.chain {
				metrics = NewMetrics(prometheus.NewRegistry())
				opts = append(opts, ChainOptions(ChainConfig{Logger: logger, Metrics: metrics, Auth: ta})...)
			}
			svcOpts := Options{Logger: logger, Observer: NewObserver(metrics)}
			if tc.peer {
				svcOpts.PeerRequests = NewPeerCap(256)
			}
			if tc.streams {
				svcOpts.Streams = NewStreamCap(256, 64)
			}
			svc := NewComputeService(engine.New(engine.Config{MaxJobs: 1024, Registry: builtin.Registry()}), svcOpts)
			gs := grpc.NewServer(append(opts, grpc.InTapHandle(svc.TapHandle))...)
			apiv1.RegisterComputeServiceServer(gs, svc)
			if sm := metrics.ServerMetrics(); sm != nil {
				sm.InitializeMetrics(gs)
			}
			l := bufconn.Listen(1 << 20)
			done := make(chan struct{})
			go func() { defer close(done); _ = gs.Serve(l) }()
			defer func() { gs.Stop(); <-done }()
			conn, err := grpc.NewClient("passthrough:///bufconn",
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }),
				grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			c := apiv1.NewComputeServiceClient(conn)
			// Both get the token and a deadline, as ghz's calls have.
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer bench-token")
			hdr, data := header(apiv1.Algorithm_ALGORITHM_SHA256), dataMsg(bytes.Repeat([]byte("x"), 1024))
			call := func() error {
				s, err := c.Digest(ctx)
				if err != nil {
					return err
				}
				if err := s.Send(hdr); err != nil {
					return err
				}
				if err := s.Send(data); err != nil {
					return err
				}
				_, err = s.CloseAndRecv()
				return err
			}
			if err := call(); err != nil { // connection up, pools warm
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(4)
			cpu0 := processCPU(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := call(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// processCPU is the process's user and system time so far.
func processCPU(b *testing.B) time.Duration {
	d, err := cputime.Process()
	if err != nil {
		b.Fatal(err)
	}
	return d
}
