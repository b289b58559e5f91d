package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/server"
)

// A gRPC server's greeting, as grpc-go sends it: SETTINGS (two settings),
// WINDOW_UPDATE on stream 0.
var greeting = []byte{
	0, 0, 12, 4, 0, 0, 0, 0, 0, 0, 5, 0, 0, 64, 0, 0, 4, 0, 128, 0, 0,
	0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 15, 0, 1,
}

func TestH2Guard(t *testing.T) {
	runErr := errors.New("reset")
	for _, tc := range []struct {
		name    string
		writes  [][]byte
		runErr  error
		wantOut []byte
		wrong   bool
	}{
		{"greeting, then EOF", [][]byte{greeting}, nil, nil, true},
		{"greeting in pieces, then a reset", [][]byte{greeting[:5], greeting[5:20], greeting[20:]}, runErr, nil, true},
		{"ordinary output", [][]byte{[]byte("abc  -\n")}, nil, []byte("abc  -\n"), false},
		{"binary output that starts like SETTINGS", [][]byte{greeting[:9], []byte("more bytes")}, nil, append(append([]byte{}, greeting[:9]...), "more bytes"...), false},
		{"a partial frame at the end is output", [][]byte{greeting[:12]}, nil, greeting[:12], false},
		{"a failure after ordinary output keeps its error", [][]byte{[]byte("x")}, runErr, []byte("x"), false},
	} {
		var out bytes.Buffer
		g := &h2Guard{w: &out, addr: "127.0.0.1:1"}
		for _, w := range tc.writes {
			if n, err := g.Write(w); n != len(w) || err != nil {
				t.Fatalf("%s: Write = %d, %v", tc.name, n, err)
			}
		}
		err := g.finish(context.Background(), tc.runErr)
		var wrong *wrongProtocolError
		if errors.As(err, &wrong) != tc.wrong || !tc.wrong && err != tc.runErr || !bytes.Equal(out.Bytes(), tc.wantOut) {
			t.Errorf("%s: err %v, output %q; want wrong-protocol %v, output %q", tc.name, err, out.Bytes(), tc.wrong, tc.wantOut)
		}
	}
}

func TestProgressText(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 29: "1.5 GiB", 40 << 20: "40.0 MiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		340 * time.Millisecond: "300ms", 7 * time.Second: "7s", 65 * time.Second: "1m05s", 2*time.Hour + 3*time.Minute: "2h03m",
	} {
		if got := roundDuration(d); got != want {
			t.Errorf("roundDuration(%v) = %q, want %q", d, got, want)
		}
	}
	p := &progress{label: "f", total: 100 << 20, start: time.Now().Add(-2 * time.Second)}
	p.n.Store(50 << 20)
	if got := p.lineLocked(false); !bytes.HasPrefix([]byte(got), []byte("f: 50.0 MiB / 100.0 MiB   50%  ")) || !bytes.Contains([]byte(got), []byte("  ETA ")) {
		t.Errorf("line %q", got)
	}
}

// TestTimeoutWording: the CLI's own --timeout is named in the user's
// terms in each of grpc-go's wordings for it, the one for a deadline that
// passed before any connection was ready included (a loaded machine);
// a DEADLINE_EXCEEDED the server chose keeps its message.
func TestTimeoutWording(t *testing.T) {
	r := &runner{o: options{timeout: 10 * time.Millisecond, addr: "127.0.0.1:1"}}
	want := "DEADLINE_EXCEEDED: the call took longer than --timeout 10ms, and was aborted"
	passed, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for _, msg := range []string{
		"context deadline exceeded",
		"context deadline exceeded while waiting for connections to become ready",
	} {
		if got := r.describe(ownDeadline(passed, status.Error(codes.DeadlineExceeded, msg))); got != want {
			t.Errorf("%q: got %q, want %q", msg, got, want)
		}
	}
	if got := r.describe(status.Error(codes.DeadlineExceeded, "context deadline exceeded while waiting for connections to become ready")); got != want {
		t.Errorf("waiting for connections: got %q, want %q", got, want)
	}
	server := "no input for 1m0s (idle timeout)"
	if got := r.describe(status.Error(codes.DeadlineExceeded, server)); !strings.Contains(got, server) {
		t.Errorf("the server's own message: got %q", got)
	}

	// grpc-go's words when the server's RST_STREAM for the same deadline
	// came before the client's own timer fired (seen under load): the
	// deadline had passed, so it is --timeout's. Before it, and without
	// one, the server's words stay.
	rst := status.Error(codes.DeadlineExceeded, "stream terminated by RST_STREAM with error code: CANCEL")
	if got := r.describe(ownDeadline(passed, rst)); got != want {
		t.Errorf("RST_STREAM after the deadline: got %q, want %q", got, want)
	}
	ahead, cancel2 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel2()
	for _, ctx := range []context.Context{ahead, context.Background()} {
		if got := r.describe(ownDeadline(ctx, status.Error(codes.DeadlineExceeded, server))); !strings.Contains(got, server) {
			t.Errorf("the server's own message before the deadline: got %q", got)
		}
	}
	// With no --timeout, grpc-go's bare words are the server's reply
	// idle timeout.
	none := &runner{o: options{addr: "127.0.0.1:1"}}
	if got := none.describe(status.Error(codes.DeadlineExceeded, "context deadline exceeded")); got != serverIdleMessage {
		t.Errorf("no --timeout: got %q, want %q", got, serverIdleMessage)
	}
	// With a --timeout that had not passed, too: the server's idle
	// timeout fired first (it once said "took longer than --timeout 1h").
	bare := status.Error(codes.DeadlineExceeded, "context deadline exceeded")
	if got := r.describe(ownDeadline(ahead, bare)); got != serverIdleMessage {
		t.Errorf("--timeout not passed: got %q, want %q", got, serverIdleMessage)
	}
	// A listing (Capabilities) has a deadline of its own without
	// --timeout, and the server's idle timeout does not guard it.
	list := &runner{o: options{addr: "127.0.0.1:1"}, listing: true}
	if got := list.describe(ownDeadline(passed, bare)); !strings.Contains(got, "did not answer within "+listTimeout.String()) {
		t.Errorf("listing past its own limit: got %q", got)
	}
	if got := list.describe(bare); strings.Contains(got, "idle-timeout") {
		t.Errorf("listing: got %q", got)
	}
	if err := ownDeadline(passed, status.Error(codes.Internal, "x")); status.Code(err) != codes.Internal {
		t.Errorf("another code after the deadline became %v", err)
	}
}

// TestServerIdleNotTimeout: a call with a --timeout far off whose input
// stalls past the server's --idle-timeout reports the server's timeout,
// not its own --timeout (it said "took longer than --timeout 1h").
func TestServerIdleNotTimeout(t *testing.T) {
	t.Parallel()
	eng := engine.New(engine.Config{Registry: builtin.Registry()})
	svc := server.NewComputeService(eng, server.Options{IdleTimeout: 200 * time.Millisecond})
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.InTapHandle(svc.TapHandle))
	apiv1.RegisterComputeServiceServer(gs, svc)
	go gs.Serve(gl)
	t.Cleanup(gs.Stop)
	stalled, w := io.Pipe() // no byte, no end
	defer w.Close()
	code, out, errs := runCLIIn(t, stalled, "--progress=false", "--addr", gl.Addr().String(), "--timeout", "1h", "wc", "-c")
	if code != 1 || out != "" || !strings.HasPrefix(errs, "halfclose: DEADLINE_EXCEEDED: ") || strings.Contains(errs, "--timeout") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and the server's idle timeout named", code, out, errs)
	}
}
