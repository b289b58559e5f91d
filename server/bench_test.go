package server

import (
	"context"
	"io"
	"net"
	"testing"

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
