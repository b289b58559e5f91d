package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/codename"
)

// The classification of every kind of error a job can end with, by the
// status codes docs/protocol.md lists.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{nil, codes.OK, ""},
		{compute.Invalidf("unknown command %q", "frob"), codes.InvalidArgument, `unknown command "frob"`},
		{fmt.Errorf("stage: %w", compute.Exhaustedf("input exceeds the limit")), codes.ResourceExhausted, "input exceeds the limit"},
		{compute.Errorf(compute.CodeDataLoss, "received 3 bytes, expected 5"), codes.DataLoss, "received 3 bytes, expected 5"},
		{errNoEnd, codes.DataLoss, "input ended without its End message"},
		{errShuttingDown, codes.Unavailable, "server is shutting down"},
		{errIdle(defaultTestTimeout), codes.DeadlineExceeded, "idle timeout"},
		{&connReadError{errIdle(defaultTestTimeout)}, codes.DeadlineExceeded, "idle timeout"},
		{context.Canceled, codes.Canceled, "canceled"},
		{context.DeadlineExceeded, codes.DeadlineExceeded, "deadline exceeded"},
		{os.ErrDeadlineExceeded, codes.DeadlineExceeded, "deadline exceeded"},
		{&connReadError{syscall.ECONNRESET}, codes.Canceled, "canceled"},
		{fmt.Errorf("write: %w", syscall.EPIPE), codes.Canceled, "canceled"},
		{fmt.Errorf("write: %w", syscall.ETIMEDOUT), codes.Canceled, "canceled"},
		{io.ErrUnexpectedEOF, codes.Canceled, "canceled"},
		{status.Error(codes.Canceled, "context canceled"), codes.Canceled, "context canceled"},
		{status.Error(codes.Internal, "grpc: detail"), codes.Internal, "internal error"},
		{compute.Internal("spool: write failed", errors.New("ENOSPC")), codes.Internal, "internal error"},
		{compute.SpoolError("write failed", &os.PathError{Op: "write", Path: "/spool/x", Err: syscall.ENOSPC}), codes.ResourceExhausted, "spool: no space left for spill files on the server"},
		{compute.SpoolError("cannot create spill file", &os.PathError{Op: "open", Path: "/spool", Err: syscall.EROFS}), codes.Unavailable, "spool: spill files cannot be written on this server"},
		{errors.New("disk on fire"), codes.Internal, "internal error"},
	} {
		v := classify(tc.err)
		if v.code != tc.code || !strings.Contains(v.msg, tc.msg) || v.internal != (tc.code == codes.Internal || compute.IsFault(tc.err)) {
			t.Errorf("classify(%v) = %+v, want %v with %q", tc.err, v, tc.code, tc.msg)
		}
		if tc.err == nil {
			continue
		}
		if s := status.Convert(toStatus(slog.New(slog.DiscardHandler), tc.err)); s.Code() != v.code || s.Message() != v.msg {
			t.Errorf("toStatus(%v) = %v, want the verdict %+v", tc.err, s, v)
		}
	}
	if got, want := classify(errShuttingDown).errorLine(), "halfclose: error: UNAVAILABLE: server is shutting down\n"; got != want {
		t.Errorf("error line %q, want %q", got, want)
	}
}

// The same cause gives the same code, message and outcome on both
// adapters: the gRPC status, and the TCP error line.
func TestBothAdaptersClassifyAlike(t *testing.T) {
	reg := testRegistry()
	reg.Register(&compute.Command{Name: "testinternal", Build: func(*compute.Env, []string) (compute.Stage, error) {
		return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
			io.Copy(io.Discard, in)
			return errors.New("disk on fire")
		}), nil
	}})
	env := startEnv(t, envConfig{engine: engine.Config{MaxInputBytes: 10, Registry: reg}})
	for _, tc := range []struct {
		name     string
		pipeline string
		size     int64 // expected size (@size, expected_size); -1: none
		input    string
		code     codes.Code
		msg      string
		outcome  string
	}{
		{"unknown command", "frob", -1, "x", codes.InvalidArgument, `unknown command "frob"`, OutcomeInvalid},
		{"unknown flag", "wc -Q", -1, "x", codes.InvalidArgument, `"-Q"`, OutcomeInvalid},
		{"bad input", "base64 -d", -1, "!!!!", codes.InvalidArgument, "base64", OutcomeInvalid},
		{"input limit", "wc -c", -1, "01234567890", codes.ResourceExhausted, "input exceeds the limit", OutcomeLimit},
		// Both adapters count a short input as DATA_LOSS; TCP calls it an
		// unproven end (aborted), gRPC without require_end a mismatch.
		{"size mismatch", "wc -c", 5, "abc", codes.DataLoss, "5", ""},
		{"server fault", "testinternal", -1, "abc", codes.Internal, "internal error", OutcomeInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream, err := env.client.Run(jobCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			h := &apiv1.RunHeader{Pipeline: tc.pipeline}
			header := tc.pipeline + "\n"
			if tc.size >= 0 {
				h.ExpectedSize = &tc.size
				header = fmt.Sprintf("@size=%d %s", tc.size, header)
			}
			stream.Send(&apiv1.RunRequest{Message: &apiv1.RunRequest_Header{Header: h}})
			stream.Send(runData([]byte(tc.input)))
			stream.CloseSend()
			_, _, err = collectRun(stream)
			s := status.Convert(err)
			if s.Code() != tc.code || !strings.Contains(s.Message(), tc.msg) {
				t.Fatalf("gRPC: %v, want %v with %q", err, tc.code, tc.msg)
			}
			grpcOutcome := env.obs.nextOutcome(t)

			line := tcpCall(t, env.tcpAddr, header, []byte(tc.input))
			prefix := "halfclose: error: " + codename.Of(tc.code) + ": "
			if !strings.HasPrefix(line, prefix) || !strings.Contains(line, tc.msg) || !strings.HasSuffix(line, "\n") {
				t.Fatalf("TCP: %q, want %s… with %q", line, prefix, tc.msg)
			}
			tcpOutcome := env.obs.nextOutcome(t)
			if tc.outcome != "" && (grpcOutcome != tc.outcome || tcpOutcome != tc.outcome) {
				t.Fatalf("outcomes gRPC %q, TCP %q, want %q", grpcOutcome, tcpOutcome, tc.outcome)
			}
		})
	}
}

// A job stopped by the server's forced stop (the shutdown grace is over)
// ends with UNAVAILABLE on both adapters, as docs/operations.md says, and
// counts as unavailable.
func TestForcedStopIsUnavailable(t *testing.T) {
	env := startEnv(t, envConfig{})
	stream, err := env.client.Run(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(runHeader("testcat"))
	stream.Send(runData([]byte("never finished")))
	env.obs.waitStarted(t)

	conn, err := net.Dial("tcp", env.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "testcat\nnever finished")
	env.obs.waitStarted(t)

	env.svc.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace: stop at once
	if err := env.tcp.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, _, err := collectRun(stream); status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "server is shutting down" {
		t.Fatalf("gRPC: %v, want UNAVAILABLE server is shutting down", err)
	}
	reply, _ := io.ReadAll(conn)
	if string(reply) != "halfclose: error: UNAVAILABLE: server is shutting down\n" {
		t.Fatalf("TCP: %q", reply)
	}
	for range 2 {
		if oc := env.obs.nextOutcome(t); oc != OutcomeUnavailable {
			t.Fatalf("outcome %q, want %q", oc, OutcomeUnavailable)
		}
	}
}
