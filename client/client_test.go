package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/leakcheck"
	"github.com/halfclose/halfclose/internal/oracle"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/server"
)

const defaultTestTimeout = 30 * time.Second

// hangTimeout bounds a wait on the code under test that nothing else
// bounds (testenv.Recv, Within, Until): twice defaultTestTimeout, so that
// the work awaited, whose own calls and deadlines run under
// defaultTestTimeout, fails with its own error first on a slow machine,
// and only a step that would never end reaches this one.
const hangTimeout = 2 * defaultTestTimeout

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// newBufconnClient serves a ComputeService over an in-memory listener.
func newBufconnClient(t *testing.T, cfg engine.Config) *Client {
	t.Helper()
	cfg.Registry = builtin.Registry()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	apiv1.RegisterComputeServiceServer(gs, server.NewComputeService(engine.New(cfg), server.Options{}))
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := New(conn)
	c.chunkSize = 1000 // many messages even for small inputs
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestRunAndDigest(t *testing.T) {
	c := newBufconnClient(t, engine.Config{})
	input := bytes.Repeat([]byte("half-close is end of input\n"), 5000)
	var out bytes.Buffer
	sum, err := c.Run(ctxT(t), "wc", bytes.NewReader(input), &out)
	if err != nil {
		t.Fatal(err)
	}
	if want := oracle.Output(t, input, "wc"); out.String() != want {
		t.Errorf("wc: %q, want %q", out.String(), want)
	}
	if sum.GetInputBytes() != int64(len(input)) || sum.GetOutputBytes() != int64(out.Len()) {
		t.Errorf("summary %v", sum)
	}
	resp, err := c.Digest(ctxT(t), bytes.NewReader(input), []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_SHA384}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Fields(oracle.Output(t, input, "sha384sum"))[0]; resp.GetDigests()[0].GetHex() != want {
		t.Errorf("sha384: %s, want %s", resp.GetDigests()[0].GetHex(), want)
	}
}

// failingReader returns data, then an error: an input that breaks.
type failingReader struct{ n int }

var errBroken = errors.New("disk on fire")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errBroken
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestInputErrorCancelsTheCall(t *testing.T) {
	c := newBufconnClient(t, engine.Config{})
	var out bytes.Buffer
	_, err := c.Run(ctxT(t), "sha256sum", &failingReader{n: 5000}, &out)
	if !errors.Is(err, errBroken) || out.Len() != 0 {
		t.Fatalf("Run: %v, %d bytes out; want the input error and nothing", err, out.Len())
	}
	_, err = c.Digest(ctxT(t), &failingReader{n: 5000}, []apiv1.Algorithm{apiv1.Algorithm_ALGORITHM_MD5}, nil)
	if !errors.Is(err, errBroken) {
		t.Fatalf("Digest: %v, want the input error", err)
	}
}

func TestServerErrorEndsUpload(t *testing.T) {
	c := newBufconnClient(t, engine.Config{MaxInputBytes: 10000})
	// The server fails at 10 KB; the client stops sending and reports the
	// status, instead of uploading all of it.
	var out bytes.Buffer
	_, err := c.Run(ctxT(t), "wc -c", bytes.NewReader(make([]byte, 50<<20)), &out)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("err = %v, want ResourceExhausted", err)
	}
	_, err = c.Run(ctxT(t), "nonesuch", strings.NewReader("x"), &out)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `unknown command "nonesuch"`) {
		t.Fatalf("err = %v, want InvalidArgument naming the command", err)
	}
}

// serveTCP starts a raw-TCP server with the builtin commands on a
// loopback port, stopped when the test ends, and returns its listener.
func serveTCP(t *testing.T) net.Listener {
	t.Helper()
	tcp := &server.TCPServer{Engine: engine.New(engine.Config{Registry: builtin.Registry()})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { tcp.Serve(l); close(done) }()
	t.Cleanup(func() { tcp.Close(); <-done })
	return l
}

func TestRunTCP(t *testing.T) {
	l := serveTCP(t)

	input := bytes.Repeat([]byte{0, 1, 2, 255, '\n'}, 100000)
	var out bytes.Buffer
	if err := RunTCP(ctxT(t), l.Addr().String(), nil, "sha1sum", bytes.NewReader(input), &out); err != nil {
		t.Fatal(err)
	}
	if want := oracle.Output(t, input, "sha1sum"); out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	out.Reset()
	err := RunTCP(ctxT(t), l.Addr().String(), nil, "sha1sum -Z", strings.NewReader("x"), &out)
	var te *TCPError
	if !errors.As(err, &te) || te.Code != "INVALID_ARGUMENT" || !strings.Contains(te.Message, `"-Z"`) || out.Len() != 0 {
		t.Fatalf("err = %#v, out %q; want an INVALID_ARGUMENT TCPError naming -Z", err, out.String())
	}
	if err := RunTCP(ctxT(t), l.Addr().String(), nil, "wc\nsha1sum", strings.NewReader("x"), io.Discard); err == nil {
		t.Fatal("a two-line pipeline was accepted")
	}
}

// TestRunNotUTF8: a pattern that is not UTF-8 reaches the server as $'\xHH'
// in the pipeline text and selects what GNU selects; raw bytes that are
// not UTF-8 are an InvalidArgument error saying so (gRPC refused to
// marshal the string: INTERNAL).
func TestRunNotUTF8(t *testing.T) {
	c := newBufconnClient(t, engine.Config{})
	input := []byte("caf\xe9\nx\xff\ncaf\xc3\xa9\n")
	var out bytes.Buffer
	if _, err := c.Run(ctxT(t), `grep -n $'\xe9\\|\xff'`, bytes.NewReader(input), &out); err != nil {
		t.Fatal(err)
	}
	if want := oracle.Output(t, input, "grep", "-n", "\xe9\\|\xff"); out.String() != want {
		t.Errorf("got %q, GNU %q", out.String(), want)
	}
	_, err := c.Run(ctxT(t), "grep -n '\xe9'", bytes.NewReader(input), io.Discard)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("raw \\xe9 in the text: %v, want InvalidArgument saying it is not UTF-8", err)
	}
}

// TestLostStatus: grpc-go's error for a call whose retries all ended while
// sending carries no status; the client gives it UNAVAILABLE, and leaves
// every other error as it is.
func TestLostStatus(t *testing.T) {
	exhausted := fmt.Errorf("max retries exhausted: failed after 4 attempts: %w", io.EOF)
	if s, ok := status.FromError(lostStatus(exhausted)); !ok || s.Code() != codes.Unavailable || !strings.Contains(s.Message(), "failed after 4 attempts") {
		t.Errorf("lostStatus(%v) = %v, want UNAVAILABLE naming the attempts", exhausted, lostStatus(exhausted))
	}
	other := status.Error(codes.DataLoss, "x")
	for _, err := range []error{nil, io.EOF, other, errors.New("read failed"), fmt.Errorf("wrapped: %w", other)} {
		if got := lostStatus(err); got != err {
			t.Errorf("lostStatus(%v) = %v, want it unchanged", err, got)
		}
	}
}
