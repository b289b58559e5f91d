package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
)

// TestRunCancelMidOutputLine: a Run cancelled by its client while its
// output is sent logs one error, whichever end saw the cancel first: a
// stage that returns the context's error with its output written
// (teststall) and one blocked in
// sending its output (testflood) both end with job.error "rpc error: code
// = Canceled desc = context canceled", outcome canceled. The stage's
// bare "context canceled" was logged in 2 of 60 cancelled Runs of a cat.
func TestRunCancelMidOutputLine(t *testing.T) {
	reg := testRegistry()
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	reg.Register(&compute.Command{Name: "testflood", Build: func(*compute.Env, []string) (compute.Stage, error) {
		return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
			for {
				if _, err := out.Write(chunk); err != nil {
					return err
				}
			}
		}), nil
	}})
	stalled := make(chan struct{}, 1)
	reg.Register(&compute.Command{Name: "teststall", Build: func(*compute.Env, []string) (compute.Stage, error) {
		return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
			if _, err := out.Write(chunk); err != nil {
				return err
			}
			stalled <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}), nil
	}})
	svc := NewComputeService(engine.New(engine.Config{Registry: reg}), Options{})
	lines := make(chan map[string]string, 1)
	svc.(*computeService).life.emit = func(_ context.Context, a slog.Attr) {
		m := map[string]string{}
		for _, f := range a.Value.Group() {
			if f.Key == "outcome" || f.Key == "error" {
				m[f.Key] = f.Value.String()
			}
		}
		lines <- m
	}
	cl := apiv1.NewComputeServiceClient(dialTest(t, serveService(t, svc)))
	for _, cmd := range []string{"testflood", "teststall"} {
		ctx, cancel := context.WithCancel(context.Background())
		rs, err := cl.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rs.Send(runHeader(cmd))
		rs.CloseSend()
		if cmd == "teststall" {
			<-stalled // its output written, held by the engine
		} else if r, err := rs.Recv(); err != nil || len(r.GetOutput()) == 0 {
			t.Fatalf("%s: %v, %v; want output", cmd, r, err)
		}
		cancel()
		got := <-lines
		if want := (map[string]string{"outcome": OutcomeCanceled, "error": "rpc error: code = Canceled desc = context canceled"}); got["outcome"] != want["outcome"] || got["error"] != want["error"] {
			t.Errorf("%s cancelled mid-output: job %v, want %v", cmd, got, want)
		}
	}
}
