package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/syncbuf"
	"github.com/halfclose/halfclose/internal/testenv"
)

// gatedReader yields data, then blocks until the gate is opened, then
// returns end (io.EOF or an abort error). Like the adapters' sources, Close
// (or ctx) unblocks it.
type gatedReader struct {
	ctx    context.Context
	data   []byte
	gate   chan struct{}
	end    error
	once   sync.Once
	closed chan struct{}
}

func (g *gatedReader) Close() error {
	g.once.Do(func() { close(g.closed) })
	return nil
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if len(g.data) > 0 {
		n := copy(p, g.data)
		g.data = g.data[n:]
		return n, nil
	}
	select {
	case <-g.gate:
		return 0, g.end
	case <-g.closed:
		return 0, errors.New("closed")
	case <-g.ctx.Done():
		return 0, g.ctx.Err()
	}
}

// copyStage is cat: it echoes its input as it arrives.
var copyStage = compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
	_, err := io.Copy(out, in)
	return err
})

func testPipeline(stages ...compute.Stage) *engine.Pipeline {
	p := &engine.Pipeline{Text: "test"}
	for range stages {
		p.Names = append(p.Names, "test")
	}
	p.Stages = stages
	return p
}

func TestEngineRepliesOnlyAfterEOF(t *testing.T) {
	ctx, cancel := testenv.Context(t)
	defer cancel()
	e := engine.New(engine.Config{})
	src := &gatedReader{closed: make(chan struct{}), ctx: ctx, data: []byte("hello\n"), gate: make(chan struct{}), end: io.EOF}
	// The last stage echoes its input and says when it has written all of
	// it: from then on only the engine can hold the reply back.
	echoed := make(chan struct{})
	echo := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		b := make([]byte, len("hello\n"))
		if _, err := io.ReadFull(in, b); err != nil {
			return err
		}
		if _, err := out.Write(b); err != nil {
			return err
		}
		close(echoed)
		_, err := io.Copy(out, in)
		return err
	})
	var out syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(ctx, testPipeline(copyStage, echo), src, &out)
		done <- err
	}()
	select {
	case <-echoed:
	case err := <-done:
		t.Fatalf("the pipeline ended before its input did: %v", err)
	}
	// Every stage has echoed the data; the reply must still wait for the
	// end of input.
	if n := out.Len(); n != 0 {
		t.Fatalf("%d bytes written before end of input", n)
	}
	close(src.gate)
	if err := testenv.Recv(t, hangTimeout, "Run's return after the input's end", done); err != nil {
		t.Fatal(err)
	}
	if got := string(out.Bytes()); got != "hello\n" {
		t.Fatalf("output %q", got)
	}
}

func TestEngineAbortWritesNothing(t *testing.T) {
	errReset := errors.New("connection reset by peer")
	for _, size := range []int{0, 10, 1 << 20} {
		ctx, cancel := testenv.Context(t)
		dir := t.TempDir()
		e := engine.New(engine.Config{Spool: compute.SpoolConfig{MemBytes: 1024, Dir: dir}})
		gate := make(chan struct{})
		close(gate)
		src := &gatedReader{closed: make(chan struct{}), ctx: ctx, data: computetest.RandomBytes(1, size), gate: gate, end: errReset}
		var out bytes.Buffer
		_, err := e.Run(ctx, testPipeline(copyStage, copyStage), src, &out)
		cancel()
		if !errors.Is(err, errReset) {
			t.Errorf("size %d: err = %v, want the abort", size, err)
		}
		if out.Len() != 0 {
			t.Errorf("size %d: %d bytes written after an abort", size, out.Len())
		}
		computetest.EmptyDir(t, dir)
	}
}

func TestEngineDrainsAfterEarlyFinish(t *testing.T) {
	first := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		b := make([]byte, 3)
		if _, err := io.ReadFull(in, b); err != nil {
			return err
		}
		_, err := out.Write(b)
		return err
	})
	e := engine.New(engine.Config{})
	input := computetest.RandomBytes(2, 5<<20)
	var out bytes.Buffer
	st, err := e.Run(context.Background(), testPipeline(copyStage, first), bytes.NewReader(input), &out)
	if err != nil {
		t.Fatal(err)
	}
	if st.InputBytes != int64(len(input)) {
		t.Errorf("InputBytes = %d, want %d: the input was not read to its end", st.InputBytes, len(input))
	}
	if !bytes.Equal(out.Bytes(), input[:3]) || st.OutputBytes != 3 {
		t.Errorf("output %x (%d), want %x", out.Bytes(), st.OutputBytes, input[:3])
	}

	// The same early finish, with an input that aborts later: an error,
	// and the three bytes never leave.
	ctx, cancel := testenv.Context(t)
	defer cancel()
	gate := make(chan struct{})
	close(gate)
	errAbort := errors.New("abort")
	out.Reset()
	_, err = e.Run(ctx, testPipeline(first), &gatedReader{closed: make(chan struct{}), ctx: ctx, data: input, gate: gate, end: errAbort}, &out)
	if !errors.Is(err, errAbort) || out.Len() != 0 {
		t.Fatalf("err = %v, output %d bytes; want the abort and nothing", err, out.Len())
	}
}

func TestEngineInputLimit(t *testing.T) {
	e := engine.New(engine.Config{MaxInputBytes: 1000})
	var out bytes.Buffer
	_, err := e.Run(context.Background(), testPipeline(copyStage), bytes.NewReader(make([]byte, 1001)), &out)
	if compute.CodeOf(err) != compute.CodeResourceExhausted || out.Len() != 0 {
		t.Fatalf("err = %v, %d bytes out; want RESOURCE_EXHAUSTED and nothing", err, out.Len())
	}
	out.Reset()
	if _, err := e.Run(context.Background(), testPipeline(copyStage), bytes.NewReader(make([]byte, 1000)), &out); err != nil || out.Len() != 1000 {
		t.Fatalf("at the limit: err = %v, %d bytes out", err, out.Len())
	}
}

func TestSpoolSpillsAndBudget(t *testing.T) {
	dir := t.TempDir()
	input := computetest.RandomBytes(3, 3<<20)
	e := engine.New(engine.Config{Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: dir, Disk: compute.NewDiskBudget(4 << 20)}})
	var out bytes.Buffer
	if _, err := e.Run(context.Background(), testPipeline(copyStage), bytes.NewReader(input), &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), input) {
		t.Fatal("spilled output differs from input")
	}
	if used := e.Config().Spool.Disk.Used(); used != 0 {
		t.Errorf("disk budget still holds %d bytes", used)
	}
	computetest.EmptyDir(t, dir)

	// Over the disk budget: RESOURCE_EXHAUSTED, nothing written, nothing
	// left. (The reply and the read-ahead share the 4 MiB: they run out
	// with about 2.5 MiB copied and 5 MiB read, so an input of 5 MiB could
	// end first, and a reply released at its end waits for the client
	// instead of spilling: the input is well past that.)
	out.Reset()
	_, err := e.Run(context.Background(), testPipeline(copyStage), bytes.NewReader(computetest.RandomBytes(4, 12<<20)), &out)
	if compute.CodeOf(err) != compute.CodeResourceExhausted || out.Len() != 0 {
		t.Fatalf("err = %v, %d bytes out; want RESOURCE_EXHAUSTED and nothing", err, out.Len())
	}
	if used := e.Config().Spool.Disk.Used(); used != 0 {
		t.Errorf("disk budget still holds %d bytes", used)
	}
	computetest.EmptyDir(t, dir)
}

func TestEngineAcquire(t *testing.T) {
	e := engine.New(engine.Config{MaxJobs: 1, QueueWait: 20 * time.Millisecond})
	release, err := e.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Acquire(context.Background()); compute.CodeOf(err) != compute.CodeResourceExhausted {
		t.Fatalf("second job: %v, want RESOURCE_EXHAUSTED", err)
	}
	// A job that waits gets the slot when it is freed within the wait.
	e2 := engine.New(engine.Config{MaxJobs: 1, QueueWait: testenv.Timeout(t)})
	r2, _ := e2.Acquire(context.Background())
	got := make(chan error, 1)
	go func() {
		r, err := e2.Acquire(context.Background())
		if err == nil {
			r()
		}
		got <- err
	}()
	r2()
	if err := testenv.Recv(t, hangTimeout, "the second job's return", got); err != nil {
		t.Fatalf("waiting job: %v", err)
	}
	release()
	release() // a second call is harmless
	if e.Running() != 0 {
		t.Fatalf("Running = %d after release", e.Running())
	}
}

func TestPipelineFailureCancelsOthers(t *testing.T) {
	ctx, cancel := testenv.Context(t)
	defer cancel()
	boom := compute.Invalidf("boom")
	failing := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		b := make([]byte, 1)
		if _, err := in.Read(b); err != nil {
			return err
		}
		return boom
	})
	// The source never ends: only the cancellation can end the first stage.
	src := &gatedReader{closed: make(chan struct{}), ctx: ctx, data: []byte("x"), gate: make(chan struct{}), end: io.EOF}
	var out bytes.Buffer
	_, err := engine.New(engine.Config{}).Run(ctx, testPipeline(copyStage, failing), src, &out)
	if !errors.Is(err, boom) || out.Len() != 0 {
		t.Fatalf("err = %v, %d bytes; want boom and nothing", err, out.Len())
	}
	if ctx.Err() != nil {
		t.Fatal("pipeline only returned at the test timeout")
	}
}

func TestPipelineDownstreamDoneIsNotAnError(t *testing.T) {
	producer := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		if _, err := io.Copy(io.Discard, in); err != nil {
			return err
		}
		chunk := make([]byte, 64<<10)
		for range 1000 {
			if _, err := out.Write(chunk); err != nil {
				return err
			}
		}
		return nil
	})
	takeOne := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		b := make([]byte, 1)
		_, err := io.ReadFull(in, b)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	})
	var out bytes.Buffer
	if _, err := engine.New(engine.Config{}).Run(context.Background(), testPipeline(producer, takeOne), bytes.NewReader([]byte("in")), &out); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 1 {
		t.Fatalf("output %d bytes, want 1", out.Len())
	}
}

// TestEngineFailureAfterEndReleasesOutput: a stage that fails after the
// input has ended (it read the end) fails after its output: the output
// made before the failure goes out, then the error, every time. (The
// adapters turn that into a reset TCP connection, or a status after the
// output.) Before, the engine's select chose at random between the end of
// input and the failure when both were ready, and the output was dropped
// about half of those times.
func TestEngineFailureAfterEndReleasesOutput(t *testing.T) {
	boom := compute.Invalidf("failed after its output")
	failAfter := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		return boom
	})
	e := engine.New(engine.Config{})
	for i := range 500 {
		var out bytes.Buffer
		st, err := e.Run(context.Background(), testPipeline(failAfter), bytes.NewReader([]byte("some output")), &out)
		if !errors.Is(err, boom) || out.String() != "some output" || st.OutputBytes != int64(out.Len()) {
			t.Fatalf("run %d: err = %v, output %q (%d counted); want the output, then the failure", i, err, out.String(), st.OutputBytes)
		}
	}
}

// TestPipelineExitStatus: a pipeline's exit status is its last stage's,
// as a shell's (a status reported by any other stage is dropped), and a
// job that fails has none.
func TestPipelineExitStatus(t *testing.T) {
	status := func(st int) compute.Stage {
		return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
			if _, err := io.Copy(out, in); err != nil {
				return err
			}
			if st != 0 {
				compute.SetExitStatus(ctx, st)
			}
			return nil
		})
	}
	failing := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		compute.SetExitStatus(ctx, 3)
		if _, err := io.Copy(io.Discard, in); err != nil {
			return err
		}
		return compute.Invalidf("boom")
	})
	for _, c := range []struct {
		name    string
		stages  []compute.Stage
		want    int
		wantErr bool
	}{
		{"one stage, 0", []compute.Stage{status(0)}, 0, false},
		{"one stage, 1", []compute.Stage{status(1)}, 1, false},
		{"the last of three", []compute.Stage{status(0), status(0), status(2)}, 2, false},
		{"not the first", []compute.Stage{status(1), status(0)}, 0, false},
		{"not the middle", []compute.Stage{status(0), status(5), status(0)}, 0, false},
		{"a failure has none", []compute.Stage{status(0), failing}, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			st, err := engine.New(engine.Config{}).Run(context.Background(), testPipeline(c.stages...), bytes.NewReader([]byte("in\n")), &out)
			if (err != nil) != c.wantErr || st.ExitStatus != c.want {
				t.Fatalf("status %d, err %v; want %d, error %v", st.ExitStatus, err, c.want, c.wantErr)
			}
			if !c.wantErr && out.String() != "in\n" {
				t.Fatalf("output %q", out.String())
			}
		})
	}
}

// TestStagePanicIsAnInternalError: a stage that panics, first or last,
// fails its job as a server fault with nothing written, and the panic
// dies in its goroutine (before, it ended the process with every job in
// it); the engine then runs the next job.
func TestStagePanicIsAnInternalError(t *testing.T) {
	boom := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		if _, err := io.ReadFull(in, make([]byte, 3)); err != nil {
			return err
		}
		panic("boom")
	})
	e := engine.New(engine.Config{})
	for _, p := range []*engine.Pipeline{testPipeline(boom), testPipeline(copyStage, boom), testPipeline(boom, copyStage)} {
		var out bytes.Buffer
		_, err := e.Run(context.Background(), p, strings.NewReader("input\n"), &out)
		if compute.CodeOf(err) != compute.CodeInternal || out.Len() != 0 {
			t.Fatalf("%d stages: err %v (code %v), output %q; want an internal error and no output", len(p.Stages), err, compute.CodeOf(err), out.String())
		}
		if !strings.Contains(fmt.Sprint(errors.Unwrap(err)), "boom") {
			t.Errorf("the cause %q does not name the panic", errors.Unwrap(err))
		}
	}
	var out bytes.Buffer
	if _, err := e.Run(context.Background(), testPipeline(copyStage), strings.NewReader("next\n"), &out); err != nil || out.String() != "next\n" {
		t.Errorf("the next job: %v, %q", err, out.String())
	}
}

// TestEngineAcquireNoWait: a negative QueueWait (--job-wait 0) refuses a
// job over MaxJobs at once, before it looks at its context: a cancelled
// one still gets RESOURCE_EXHAUSTED, where a job that waits (the 2 s
// default New put in place of any wait under 1 ns) sees the cancel.
func TestEngineAcquireNoWait(t *testing.T) {
	e := engine.New(engine.Config{MaxJobs: 1, QueueWait: -1})
	if got := e.Config().QueueWait; got >= 0 {
		t.Fatalf("QueueWait = %v, want the negative one given", got)
	}
	release, err := e.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Acquire(ctx); compute.CodeOf(err) != compute.CodeResourceExhausted {
		t.Fatalf("second job: %v, want RESOURCE_EXHAUSTED at once", err)
	}
}
