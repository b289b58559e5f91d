package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"testing"

	"google.golang.org/grpc"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/grpcopts"
	"github.com/halfclose/halfclose/server"
)

// BenchmarkRunTransport sends 64 MiB per op through Run "head -c 0" (the
// command discards its input) on a loopback socket, with the client's
// data messages of each size: the transport's cost on both ends, in one
// process. Compare the sizes' ns/op (and -cpuprofile) on a quiet machine.
func BenchmarkRunTransport(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer(append(grpcopts.ServerOptions(), server.CodecOption())...)
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(engine.New(engine.Config{Registry: builtin.Registry()}), server.Options{}))
	go gs.Serve(l)
	defer gs.Stop()
	input := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	for _, size := range []int{256 << 10, DefaultChunkSize} {
		b.Run(fmt.Sprintf("chunk=%dKiB", size>>10), func(b *testing.B) {
			c, err := Dial(l.Addr().String(), WithChunkSize(size))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.SetBytes(int64(len(input)))
			for b.Loop() {
				sum, err := c.Run(context.Background(), "head -c 0", bytes.NewReader(input), io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				if sum.GetInputBytes() != int64(len(input)) {
					b.Fatalf("server read %d bytes, want %d", sum.GetInputBytes(), len(input))
				}
			}
		})
	}
}
