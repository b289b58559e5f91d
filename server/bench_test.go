package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/grpcopts"
)

// BenchmarkGRPCRunSha256 streams 64 MiB per op through Run "sha256sum" on
// a loopback socket: the gRPC adapter's cost on top of hashing.
func BenchmarkGRPCRunSha256(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer(grpcopts.ServerOptions()...)
	apiv1.RegisterComputeServiceServer(gs, NewComputeService(engine.New(engine.Config{Registry: builtin.Registry()}), Options{}))
	go gs.Serve(l)
	defer gs.Stop()
	conn, err := grpc.NewClient(l.Addr().String(), append(grpcopts.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := apiv1.NewComputeServiceClient(conn)
	chunk := make([]byte, 256<<10)
	const size = 64 << 20
	b.SetBytes(size)
	for b.Loop() {
		stream, err := c.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		stream.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: &apiv1.RunHeader{Pipeline: "sha256sum"}}})
		msg := &apiv1.RunRequest_Data{Data: chunk}
		for range size / len(chunk) {
			if err := stream.Send(&apiv1.RunRequest{Message: msg}); err != nil {
				b.Fatal(err)
			}
		}
		stream.CloseSend()
		for {
			_, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkTCPRouteSmallJob runs 1 KiB sha256sum jobs through a route
// port as `nc -N` does (connect, the input, shutdown(SHUT_WR), the reply
// to the server's FIN), one at a time, with the daemon's observer (its
// metrics), a JSON log of every job (discarded) and its per-peer caps:
// issue 14's small jobs. Its allocations a job are the server's and this
// client's (net.Dial, the reply): compare them between commits, not with
// the daemon's go_memstats_mallocs_total.
func BenchmarkTCPRouteSmallJob(b *testing.B) {
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	s := &TCPServer{
		Engine:       eng,
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Observer:     NewObserver(NewMetrics(prometheus.NewRegistry())),
		PeerJobs:     NewPeerCap(4),
		PeerRequests: NewPeerCap(256),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p, err := eng.Compile("sha256sum")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.ServeRoute(l, p); close(done) }()
	defer func() { s.Close(); <-done }()
	input := bytes.Repeat([]byte("0123456789abcdef"), 64)
	sum := sha256.Sum256(input)
	want := hex.EncodeToString(sum[:]) + "  -\n"
	addr := l.Addr().String()
	reply := make([]byte, 256)
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Write(input)
		c.(*net.TCPConn).CloseWrite()
		n, err := io.ReadFull(c, reply[:len(want)])
		if err != nil || string(reply[:n]) != want {
			b.Fatalf("reply %q, %v", reply[:n], err)
		}
		if n, err := c.Read(reply); n != 0 || err != io.EOF {
			b.Fatalf("after the reply: %d bytes, %v; want its FIN", n, err)
		}
		c.Close()
	}
}
