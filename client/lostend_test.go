package client

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/server"
)

// dropEnd is a stream interceptor that loses every End message and passes
// on the rest, the half-close included: a stream that ends without the
// proof its header asked for, as a middlebox or a caller's interceptor
// that drops a message would leave it.
func dropEnd(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	return endDropper{s}, err
}

type endDropper struct{ grpc.ClientStream }

func (d endDropper) SendMsg(m any) error {
	switch m := m.(type) {
	case *apiv1.DigestRequest:
		if m.GetEnd() != nil {
			return nil
		}
	case *apiv1.RunRequest:
		if m.GetEnd() != nil {
			return nil
		}
	}
	return d.ClientStream.SendMsg(m)
}

// TestLostEndIsNoResult: on a server that does not itself require the
// proof (halfclosed's default, no --require-end), the header's
// require_end is what makes a stream that half-closes without its End an
// abort: Digest and Run whose End is lost get an error, never a result.
// A header without require_end passed every other test (strictServers
// require the End server-wide).
func TestLostEndIsNoResult(t *testing.T) {
	addr, _ := libServer(t, engine.Config{}, server.Options{})
	input := []byte(strings.Repeat("the end is proven\n", 1000))

	plain, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	// The server answers the same calls with their End.
	if _, err := plain.Digest(ctxT(t), bytes.NewReader(input), []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, nil); err != nil {
		t.Fatalf("Digest: %v", err)
	}
	if _, err := plain.Run(ctxT(t), "wc -l", bytes.NewReader(input), new(bytes.Buffer)); err != nil {
		t.Fatalf("Run: %v", err)
	}

	c, err := Dial(addr, WithDialOptions(grpc.WithStreamInterceptor(dropEnd)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Digest(ctxT(t), bytes.NewReader(input), []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA256}, nil)
	if err == nil || resp != nil {
		t.Errorf("Digest with its End lost: %v, %v; want an error and no result", resp, err)
	}
	var out bytes.Buffer
	sum, err := c.Run(ctxT(t), "wc -l", bytes.NewReader(input), &out)
	if err == nil || sum != nil {
		t.Errorf("Run with its End lost: %v, %v (output %q); want an error and no result", sum, err, out.String())
	}
}
