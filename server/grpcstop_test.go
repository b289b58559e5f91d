package server

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/engine"
)

// TestForcedStopBeforeDataIsUnavailable: the server's forced stop (the
// end of --shutdown-grace, a second signal: Service.Stop) reaching a call
// whose job waits before its first data message, with the connection
// left open, answers it UNAVAILABLE "server is shutting down", the
// documented status, never a result, and records it unavailable: a
// call still waiting for its header, one whose header came and whose
// job waits for its first data, and one waiting for a --max-jobs slot,
// of Digest and of Run. A receive in the handler's goroutine (the
// header's, the first data's) was not ended by the stop: the call waited
// until the daemon closed the connection a second later
// (statusFlushWait), and its client saw a dropped connection instead; here
// it waited for the test's deadline.
func TestForcedStopBeforeDataIsUnavailable(t *testing.T) {
	for _, step := range []string{"no header", "no data", "slot"} {
		for _, method := range []string{"Digest", "Run"} {
			t.Run(fmt.Sprintf("%s/%s", step, method), func(t *testing.T) {
				entered := make(chan string, 4) // the handlers that began
				watch := grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
					entered <- info.FullMethod
					return handler(srv, ss)
				})
				env := startEnv(t, envConfig{engine: engine.Config{MaxJobs: 1, QueueWait: time.Hour}, grpcOpts: []grpc.ServerOption{watch}})
				var holder apiv1.ComputeService_RunClient
				if step == "slot" {
					var err error
					if holder, err = env.client.Run(jobCtx(t)); err != nil {
						t.Fatal(err)
					}
					holder.Send(runHeader("testcat"))
					holder.Send(runData([]byte("never finished")))
					<-entered
					env.obs.waitWaiting(t)
					env.obs.waitStarted(t)
				}
				var recv func() error // the call's reply: its one message, or its output to the summary
				var send func(string) error
				ctx := jobCtx(t) // a failure only, never a wait
				if method == "Digest" {
					s, err := env.client.Digest(ctx)
					if err != nil {
						t.Fatal(err)
					}
					send = func(string) error { return s.Send(header(apiv1.Algorithm_ALGORITHM_SHA256)) }
					recv = func() error {
						var resp apiv1.DigestResponse
						if err := s.RecvMsg(&resp); err == nil {
							return fmt.Errorf("a result: %v", &resp)
						} else {
							return err
						}
					}
				} else {
					s, err := env.client.Run(ctx)
					if err != nil {
						t.Fatal(err)
					}
					send = func(p string) error { return s.Send(runHeader(p)) }
					recv = func() error {
						_, sum, err := collectRun(s)
						if sum != nil {
							return fmt.Errorf("a summary: %v", sum)
						}
						return err
					}
				}
				switch step {
				case "no header":
					// The handler began; its first receive waits for the header.
					<-entered
				case "no data":
					send("wc -c")
					env.obs.waitWaiting(t)
					env.obs.waitStarted(t) // the job runs, and waits for input
				case "slot":
					send("wc -c")
					env.obs.waitWaiting(t)
				}
				env.svc.Stop()
				err := recv()
				if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "server is shutting down" {
					t.Fatalf("forced stop: %v; want UNAVAILABLE server is shutting down", err)
				}
				if oc := env.obs.nextOutcome(t); oc != OutcomeUnavailable {
					t.Errorf("outcome %q, want %q", oc, OutcomeUnavailable)
				}
				if holder != nil {
					if _, sum, err := collectRun(holder); sum != nil || status.Code(err) != codes.Unavailable {
						t.Errorf("the job holding the slot: summary %v, %v; want UNAVAILABLE", sum, err)
					}
				}
			})
		}
	}
}
