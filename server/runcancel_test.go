package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
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
	svc.(*computeService).life.emit = func(_ context.Context, a slog.Attr, _ error) {
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
			testenv.Recv(t, hangTimeout, "the stalled job's output held by the engine", stalled)
		} else if r, err := rs.Recv(); err != nil || len(r.GetOutput()) == 0 {
			t.Fatalf("%s: %v, %v; want output", cmd, r, err)
		}
		cancel()
		got := testenv.Recv(t, hangTimeout, "the job's log line after the cancel", lines)
		if want := (map[string]string{"outcome": OutcomeCanceled, "error": "rpc error: code = Canceled desc = context canceled"}); got["outcome"] != want["outcome"] || got["error"] != want["error"] {
			t.Errorf("%s cancelled mid-output: job %v, want %v", cmd, got, want)
		}
	}
}

// lineWriter hands each write (a JSON handler's line) to a channel.
type lineWriter chan []byte

func (w lineWriter) Write(p []byte) (int, error) {
	w <- bytes.Clone(p)
	return len(p), nil
}

// TestCancelWaitingForInputLine: a Run or Digest its client cancels
// while the server waits for its first input byte (the job started, its
// header read) logs the call line every other client cancel does:
// grpc.code Canceled, grpc.error and job.error "rpc error: code =
// Canceled desc = context canceled". The wait's end was the bare
// context.Canceled: job.error "context canceled", grpc.error "rpc error:
// code = Canceled desc = canceled".
func TestCancelWaitingForInputLine(t *testing.T) {
	obs := &recordingObserver{started: make(chan string, 1), ended: make(chan string, 1)}
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry()}), Options{Observer: obs})
	lines := make(lineWriter, 16)
	logger := slog.New(slog.NewJSONHandler(lines, nil))
	gs := grpc.NewServer(append([]grpc.ServerOption{grpc.InTapHandle(svc.TapHandle), CodecOption()}, ChainOptions(ChainConfig{Logger: logger})...)...)
	apiv1.RegisterComputeServiceServer(gs, svc)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	cl := apiv1.NewComputeServiceClient(dialTest(t, l.Addr().String()))

	const want = "rpc error: code = Canceled desc = context canceled"
	for _, method := range []string{"Run", "Digest"} {
		ctx, cancel := context.WithCancel(context.Background())
		var err error
		if method == "Run" {
			var rs apiv1.ComputeService_RunClient
			if rs, err = cl.Run(ctx); err == nil {
				err = rs.Send(runHeader("testcat"))
			}
		} else {
			var ds apiv1.ComputeService_DigestClient
			if ds, err = cl.Digest(ctx); err == nil {
				err = ds.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
			}
		}
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		obs.waitStarted(t) // its header read: it waits for input
		cancel()
		type callLine struct {
			Method string `json:"grpc.method"`
			Code   string `json:"grpc.code"`
			Error  string `json:"grpc.error"`
			Job    struct{ Outcome, Error string }
		}
		var line callLine
		for line.Method != method {
			line = callLine{}
			select {
			case b := <-lines:
				if err := json.Unmarshal(b, &line); err != nil {
					t.Fatalf("%s: %q: %v", method, b, err)
				}
			case <-time.After(defaultTestTimeout): // a failure only, never a wait
				t.Fatalf("%s: no call line", method)
			}
		}
		if line.Code != "Canceled" || line.Error != want || line.Job.Outcome != OutcomeCanceled || line.Job.Error != want {
			t.Errorf("%s cancelled waiting for input: grpc.code %q, grpc.error %q, job %+v; want Canceled, %q, outcome %s and error %[5]q",
				method, line.Code, line.Error, line.Job, want, OutcomeCanceled)
		}
	}
}

// slotWaitObserver signals each job that starts to wait for its slots.
type slotWaitObserver struct{ waiting chan struct{} }

func (slotWaitObserver) JobStarted(string) func(string, int64, int64) {
	return func(string, int64, int64) {}
}
func (slotWaitObserver) Refused(string, string)             {}
func (slotWaitObserver) Waited(string, time.Duration, bool) {}
func (o slotWaitObserver) Waiting(delta int) {
	if delta > 0 {
		o.waiting <- struct{}{}
	}
}

// TestGRPCCancelWaitingForSlotLine: a call its client cancels while it
// waits for a --max-jobs slot logs the cancel as a job cancelled at any
// other point does, job.error "rpc error: code = Canceled desc = context
// canceled", outcome canceled; it logged the bare "context canceled".
func TestGRPCCancelWaitingForSlotLine(t *testing.T) {
	obs := slotWaitObserver{waiting: make(chan struct{}, 2)}
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry(), MaxJobs: 1, QueueWait: time.Hour}), Options{Observer: obs})
	lines := make(chan map[string]string, 2)
	svc.(*computeService).life.emit = func(_ context.Context, a slog.Attr, _ error) {
		m := map[string]string{}
		for _, f := range a.Value.Group() {
			if f.Key == "outcome" || f.Key == "error" {
				m[f.Key] = f.Value.String()
			}
		}
		lines <- m
	}
	cl := apiv1.NewComputeServiceClient(dialTest(t, serveService(t, svc)))
	hold, err := cl.Run(context.Background()) // holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	hold.Send(runHeader("wc -c"))
	testenv.Recv(t, hangTimeout, "the held job's wait for a slot", obs.waiting)
	for _, method := range []string{"Digest", "Run"} {
		ctx, cancel := context.WithCancel(context.Background())
		if method == "Digest" {
			s, err := cl.Digest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			s.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
		} else {
			s, err := cl.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			s.Send(runHeader("wc -c"))
		}
		testenv.Recv(t, hangTimeout, "the job's wait for a slot", obs.waiting)
		cancel()
		got := testenv.Recv(t, hangTimeout, "the job's log line after the cancel", lines)
		if want := (map[string]string{"outcome": OutcomeCanceled, "error": "rpc error: code = Canceled desc = context canceled"}); got["outcome"] != want["outcome"] || got["error"] != want["error"] {
			t.Errorf("%s cancelled waiting for a slot: job %v, want %v", method, got, want)
		}
	}
	hold.CloseSend()
	for {
		if _, err := hold.Recv(); err != nil {
			break
		}
	}
}

// TestDigestCancelMidInputLine: a Digest its client cancels once its
// input flows (the server has received some: the client sent more than
// the stream's 64 KiB window and its own 64 KiB write quota hold unread)
// logs the call line every client cancel does (grpc.code Canceled,
// job.error and grpc.error "rpc error: code = Canceled desc = context
// canceled"): the job's end goes through clientCanceled, as Run's does.
func TestDigestCancelMidInputLine(t *testing.T) {
	svc := NewComputeService(engine.New(engine.Config{Registry: testRegistry()}), Options{})
	lines := make(lineWriter, 16)
	logger := slog.New(slog.NewJSONHandler(lines, nil))
	opts := []grpc.ServerOption{grpc.InTapHandle(svc.TapHandle), CodecOption(),
		// A fixed window: no BDP estimate grows it past what the client
		// may have sent unread.
		grpc.InitialWindowSize(64 << 10), grpc.InitialConnWindowSize(64 << 10)}
	gs := grpc.NewServer(append(opts, ChainOptions(ChainConfig{Logger: logger})...)...)
	apiv1.RegisterComputeServiceServer(gs, svc)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	cl := apiv1.NewComputeServiceClient(dialTest(t, l.Addr().String()))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ds, err := cl.Digest(ctx)
	if err == nil {
		err = ds.Send(header(apiv1.Algorithm_ALGORITHM_SHA256))
	}
	chunk := make([]byte, 32<<10)
	for i := 0; err == nil && i < 8; i++ { // 256 KiB: at least 96 KiB received
		err = ds.Send(dataMsg(chunk))
	}
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	const want = "rpc error: code = Canceled desc = context canceled"
	type callLine struct {
		Method string `json:"grpc.method"`
		Code   string `json:"grpc.code"`
		Error  string `json:"grpc.error"`
		Job    struct {
			Outcome, Error string
			InBytes        int64 `json:"in_bytes"`
		}
	}
	var line callLine
	for line.Method != "Digest" {
		line = callLine{}
		select {
		case b := <-lines:
			if err := json.Unmarshal(b, &line); err != nil {
				t.Fatalf("%q: %v", b, err)
			}
		case <-time.After(defaultTestTimeout): // a failure only, never a wait
			t.Fatal("no call line")
		}
	}
	if line.Job.InBytes == 0 {
		t.Fatalf("the job received no input before the cancel: %+v", line)
	}
	if line.Code != "Canceled" || line.Error != want || line.Job.Outcome != OutcomeCanceled || line.Job.Error != want {
		t.Errorf("Digest cancelled mid-input: grpc.code %q, grpc.error %q, job %+v; want Canceled, %q, outcome %s and error %[4]q",
			line.Code, line.Error, line.Job, want, OutcomeCanceled)
	}
}
