package server

import (
	"testing"

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
// the first one's would have too, had it stayed armed.
func TestGRPCHeaderTimeoutOverWithHeader(t *testing.T) {
	env := startEnv(t, envConfig{tcp: tcpSettings{HeaderTimeout: shortTimeout}})
	sha := apiv1.Algorithm_ALGORITHM_SHA256
	stream, err := env.client.Digest(jobCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(digestHdr(&apiv1.DigestHeader{Algorithms: []apiv1.Algorithm{sha}, RequireEnd: true})); err != nil {
		t.Fatal(err)
	}
	env.obs.waitStarted(t) // the header is in

	clock, err := env.client.Digest(jobCtx(t))
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
}
