package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/server"
)

// TestGoawayRefusedCallIsSentAgain: a call whose stream a GOAWAY refuses
// before it was processed is sent again on a new connection, and its
// digest is that of the whole input. The client's first data message
// used to be a whole chunk (1 MiB): over gRPC's retry buffer (256 KiB),
// it committed the call, which then failed with UNAVAILABLE "the
// connection is draining" (through nginx and HAProxy at a reload:
// docs/deploy.md).
func TestGoawayRefusedCallIsSentAgain(t *testing.T) {
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(engine.New(engine.Config{Registry: builtin.Registry()}), server.Options{}))
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)

	var dials atomic.Int32
	var refused sync.WaitGroup
	refusedData := 0
	dialer := func(ctx context.Context, _ string) (net.Conn, error) {
		if dials.Add(1) > 1 {
			return lis.DialContext(ctx)
		}
		a, b := net.Pipe()
		refused.Add(1)
		go func() {
			defer refused.Done()
			refusedData = refuse(b, refusal{after: 65535}) // HTTP/2's default first window, used up
		}()
		return a, nil
	}
	conn, err := grpc.NewClient("passthrough:///refuser", grpc.WithContextDialer(dialer),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	in := make([]byte, 3<<20)
	r := rand.NewChaCha8([32]byte{'r', 'a', 'm', 'p'})
	r.Read(in)
	want := sha256.Sum256(in)
	resp, err := New(conn).Digest(ctxT(t), bytes.NewReader(in), []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, nil)
	conn.Close()
	testenv.Within(t, hangTimeout, "the refusing listener's connections", refused.Wait)
	if refusedData == 0 {
		t.Fatalf("no data reached the refusing connection: the refusal was not met")
	}
	if err != nil || dials.Load() < 2 {
		t.Fatalf("a call refused by GOAWAY after %d bytes: %v, %d connections; want it sent again on a second", refusedData, err, dials.Load())
	}
	if got := resp.GetDigests()[0].GetHex(); got != hex.EncodeToString(want[:]) || resp.GetSize() != int64(len(in)) {
		t.Fatalf("digest %s of %d bytes, want %x of %d", got, resp.GetSize(), want, len(in))
	}
}
