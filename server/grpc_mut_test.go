package server

import (
	"context"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// Tests found missing by a mutation hunt on the gRPC adapter's abort
// paths.

// TestGRPCHeaderTimeoutOverWithHeader: --header-timeout bounds the wait for
// the header only: a stream whose header came in time is not aborted once
// the timeout has passed (firstHeader disarms it), with no idle timeout to
// re-arm the guard. The clock is a second stream, opened after the first
// one's header, that sends none: once its header timeout has aborted it,
// the first one's would have too, had it stayed armed. A header that came
// late (a loaded machine: the stream was refused before it, a job with no
// command) tests nothing: the case runs again with a longer timeout.
func TestGRPCHeaderTimeoutOverWithHeader(t *testing.T) {
	withHeaderTimeouts(t, func(timeout time.Duration) bool {
		return grpcHeaderTimeoutOverWithHeader(t, timeout)
	})
}

// withHeaderTimeouts runs a test whose header must come in time with
// header timeouts in turn, until run reports its header came in time: the
// first keeps it short, the others hold on a loaded machine.
func withHeaderTimeouts(t *testing.T, run func(timeout time.Duration) bool) {
	t.Helper()
	for _, timeout := range []time.Duration{shortTimeout, 2 * time.Second, 10 * time.Second} {
		if run(timeout) {
			return
		}
		t.Logf("the header came after %s: again with a longer timeout", timeout)
	}
	t.Fatal("no header came within the longest timeout")
}

// grpcHeaderTimeoutOverWithHeader runs the test with timeout; false when
// the first stream's header came too late to test anything.
func grpcHeaderTimeoutOverWithHeader(t *testing.T, timeout time.Duration) bool {
	env := startEnv(t, envConfig{tcp: tcpSettings{HeaderTimeout: timeout}})
	sha := apiv1.Algorithm_ALGORITHM_SHA256
	ctx, cancel := context.WithCancel(jobCtx(t))
	defer cancel()
	stream, err := env.client.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// io.EOF: the server ended the stream (its header was late)
	sendErr := stream.Send(digestHdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{sha}, RequireEnd: true}))
	if sendErr != nil && sendErr != io.EOF {
		t.Fatal(sendErr)
	}
	if env.obs.waitStarted(t) == "" { // refused: its header was late
		if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
			t.Fatalf("the first stream, refused before its header: outcome %q, want %q", oc, OutcomeIdle)
		}
		return false
	}
	if sendErr != nil {
		t.Fatalf("sending the header: %v", sendErr)
	}

	clock, err := env.client.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := clock.RecvMsg(new(apiv1.DigestResponse)); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("the header-less stream: %v, want DEADLINE_EXCEEDED", err)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeIdle {
		t.Fatalf("the header-less stream's outcome %q, want %q", oc, OutcomeIdle)
	}

	abc := []byte("abc")
	if err := stream.Send(dataMsg(abc)); err != nil {
		t.Fatalf("sending data after the header timeout: %v", err)
	}
	if err := stream.Send(digestEnd(3)); err != nil {
		t.Fatalf("sending the End after the header timeout: %v", err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("a stream with its header aborted: %v", err)
	}
	if got, want := resp.GetDigests()[0].GetHex(), oracleHex(t, abc, "sha256sum"); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
	if oc := env.obs.nextOutcome(t); oc != OutcomeOK {
		t.Fatalf("outcome %q, want %q", oc, OutcomeOK)
	}
	return true
}
