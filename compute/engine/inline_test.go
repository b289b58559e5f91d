package engine_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// boundedStage is fn with a bound on its output (compute.BoundedStage):
// the engine runs a job of one such stage on the caller's goroutine.
type boundedStage struct {
	fn    compute.StageFunc
	bound int64
}

func (b boundedStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	return b.fn(ctx, in, out)
}

func (b boundedStage) MaxOutput() int64 { return b.bound }

// goroutineID is the calling goroutine's number, from its stack's first
// line ("goroutine 7 [running]:").
func goroutineID() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	return strings.Fields(string(buf[:n]))[1]
}

// TestEngineInlineJob: a job of one stage with a bound on its output
// of at most 64 KiB that fits the reply spool's memory runs on Run's
// goroutine (no hand-off between goroutines a job); a job whose stage
// states no bound, or one past those, or of two stages, runs on a
// goroutine of its own, as any other.
func TestEngineInlineJob(t *testing.T) {
	var at string
	record := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		at = goroutineID()
		_, err := io.Copy(out, in)
		return err
	})
	small := engine.New(engine.Config{Spool: compute.SpoolConfig{MemBytes: 1024, Dir: t.TempDir()}})
	big := engine.New(engine.Config{}) // a spool memory of MiBs
	for _, tc := range []struct {
		name   string
		e      *engine.Engine
		p      *engine.Pipeline
		inline bool
	}{
		{"bounded", small, testPipeline(boundedStage{record, 1024}), true},
		{"no bound", small, testPipeline(boundedStage{record, -1}), false},
		{"bound past the spool's memory", small, testPipeline(boundedStage{record, 1025}), false},
		{"bound of 64 KiB", big, testPipeline(boundedStage{record, 64 << 10}), true},
		{"bound past 64 KiB", big, testPipeline(boundedStage{record, 64<<10 + 1}), false},
		{"unbounded stage", small, testPipeline(record), false},
		{"two stages", small, testPipeline(copyStage, boundedStage{record, 10}), false},
	} {
		var out bytes.Buffer
		if _, err := tc.e.Run(t.Context(), tc.p, strings.NewReader("hello\n"), &out); err != nil || out.String() != "hello\n" {
			t.Fatalf("%s: output %q, err %v", tc.name, out.String(), err)
		}
		if inline := at == goroutineID(); inline != tc.inline {
			t.Errorf("%s: ran on Run's goroutine: %v, want %v", tc.name, inline, tc.inline)
		}
	}
}

// TestEngineInlineAbort: a job run on Run's goroutine keeps Run's
// contract: a source that fails (a reset, the idle timeout) fails it with
// nothing written, whether the stage read to the end or stopped before
// it; one that waits for a client that sends nothing is closed when the
// job's context ends; a failure after the end comes after the output.
func TestEngineInlineAbort(t *testing.T) {
	e := engine.New(engine.Config{})
	data := []byte("some input")
	early := boundedStage{func(ctx context.Context, in io.Reader, out io.Writer) error {
		_, err := io.WriteString(out, "early\n") // and reads nothing
		return err
	}, 100}
	late := boundedStage{func(ctx context.Context, in io.Reader, out io.Writer) error {
		n, err := io.Copy(io.Discard, in)
		if err != nil {
			return err
		}
		_, err = io.WriteString(out, strings.Repeat("x", int(n)))
		return err
	}, 100}
	for sname, st := range map[string]boundedStage{"early": early, "late": late} {
		for name, src := range sources(data, errCut) {
			var out bytes.Buffer
			_, err := e.Run(t.Context(), testPipeline(st), src(), &out)
			if !errors.Is(err, errCut) || out.Len() != 0 {
				t.Errorf("%s stage, %s: %d bytes written, err %v; want nothing and the source's error", sname, name, out.Len(), err)
			}
		}
		for name, src := range sources(data, io.EOF) {
			var out bytes.Buffer
			if _, err := e.Run(t.Context(), testPipeline(st), src(), &out); err != nil || out.Len() == 0 {
				t.Errorf("%s stage, %s, input ended: output %q, err %v", sname, name, out.String(), err)
			}
		}
	}

	// A source that blocks until closed: only the engine's Close on the
	// context's end can end the job.
	ctx, cancel := context.WithCancel(t.Context())
	reading := make(chan struct{})
	src := &gatedReader{closed: make(chan struct{}), ctx: context.Background(), data: data, gate: make(chan struct{}), end: io.EOF}
	waiting := boundedStage{func(ctx context.Context, in io.Reader, out io.Writer) error {
		if _, err := io.ReadFull(in, make([]byte, len(data))); err != nil {
			return err
		}
		io.WriteString(out, "partial\n")
		close(reading)
		_, err := io.Copy(io.Discard, in)
		return err
	}, 100}
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		_, err := e.Run(ctx, testPipeline(waiting), src, &out)
		done <- err
	}()
	testenv.Recv(t, hangTimeout, "the job's first read", reading)
	cancel()
	if err := testenv.Recv(t, hangTimeout, "Run's return after the cancel", done); err == nil || out.Len() != 0 {
		t.Errorf("context ended while the source waited: %d bytes written, err %v; want nothing and an error", out.Len(), err)
	}

	boom := compute.Invalidf("failed after its output")
	failAfter := boundedStage{func(ctx context.Context, in io.Reader, out io.Writer) error {
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
		return boom
	}, 100}
	out.Reset()
	st, err := e.Run(t.Context(), testPipeline(failAfter), bytes.NewReader(data), &out)
	if !errors.Is(err, boom) || out.String() != string(data) || st.OutputBytes != int64(len(data)) {
		t.Errorf("failure after the end: err %v, output %q (%d counted); want the output, then the failure", err, out.String(), st.OutputBytes)
	}

	over := boundedStage{func(ctx context.Context, in io.Reader, out io.Writer) error {
		_, err := io.Copy(out, in)
		return err
	}, int64(len(data) - 1)}
	out.Reset()
	if _, err = e.Run(t.Context(), testPipeline(over), bytes.NewReader(data), &out); compute.CodeOf(err) != compute.CodeInternal || out.Len() != 0 {
		t.Errorf("a stage past its bound: output %q, err %v; want nothing and an internal error", out.String(), err)
	}
}

// selfEnding is a source whose reads end only with its context
// (engine.SelfEnding for it): its Close does nothing.
type selfEnding struct{ *gatedReader }

func (s *selfEnding) EndsWith(ctx context.Context) bool { return ctx == s.ctx }

func (s *selfEnding) Close() error { return nil }

// closeCounter is selfEnding without EndsWith.
type closeCounter struct{ s *selfEnding }

func (c closeCounter) Read(p []byte) (int, error) { return c.s.Read(p) }
func (c closeCounter) Close() error               { return c.s.Close() }

// TestEngineInlineSelfEnding: a job run inline whose source says its
// reads end with the job's context registers nothing with that context
// to close it (fewer allocations a job than the same source without
// EndsWith); when the context ends, the source's read ends the job with
// nothing written, as a Close would have.
func TestEngineInlineSelfEnding(t *testing.T) {
	e := engine.New(engine.Config{})
	data := []byte("input")
	st := boundedStage{func(ctx context.Context, in io.Reader, out io.Writer) error {
		if _, err := io.Copy(io.Discard, in); err != nil {
			return err
		}
		_, err := io.WriteString(out, "done\n")
		return err
	}, 100}
	ctx := t.Context()
	newSrc := func() *selfEnding {
		return &selfEnding{gatedReader: &gatedReader{closed: make(chan struct{}), ctx: ctx, data: data, gate: make(chan struct{}), end: io.EOF}}
	}
	allocs := func(wrap func(*selfEnding) io.Reader) float64 {
		return testing.AllocsPerRun(50, func() {
			s := newSrc()
			close(s.gate)
			if _, err := e.Run(ctx, testPipeline(st), wrap(s), io.Discard); err != nil {
				t.Fatal(err)
			}
		})
	}
	self := allocs(func(s *selfEnding) io.Reader { return s })
	plain := allocs(func(s *selfEnding) io.Reader { return closeCounter{s} })
	t.Logf("allocations a job: %v self-ending, %v not", self, plain)
	if self >= plain {
		t.Errorf("a self-ending source's job made %v allocations, %v without EndsWith: the engine watched its context", self, plain)
	}

	jctx, cancel := context.WithCancel(ctx)
	s := newSrc()
	s.ctx = jctx
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		_, err := e.Run(jctx, testPipeline(st), s, &out)
		done <- err
	}()
	cancel()
	if err := testenv.Recv(t, hangTimeout, "Run's return after the cancel", done); !errors.Is(err, context.Canceled) || out.Len() != 0 {
		t.Errorf("context ended while the source waited: %d bytes written, err %v; want nothing and the context's error", out.Len(), err)
	}
}
