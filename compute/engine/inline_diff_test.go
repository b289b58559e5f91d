package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// TestInlineMatchesRun: a lone digest job run inline (on Run's goroutine,
// its reply held) ends as the same job run with its stage on a goroutine
// of its own and its reply in a spool (an engine whose spool memory is
// under the digest's bound, so it is not inline): the same output, error
// code, input and output counts, exit status and diagnostics, for a
// source that ends, one that fails (a reset), and an input one byte over
// --max-input-bytes (RESOURCE_EXHAUSTED, never a result), read or handed
// over (WriteTo).
func TestInlineMatchesRun(t *testing.T) {
	r := compute.NewRegistry()
	digest.Register(r)
	data := computetest.RandomBytes(7, 70_000)
	texts := []string{"sha256sum", "md5sum - -", "b2sum -l 64 --tag", "b3sum -l 100 --no-names",
		"cksum", "cksum --debug", "cksum -a sysv -", "cksum -a blake2b -l 128 --untagged -z", "crc32c", "xxh3"}
	for _, limit := range []int64{0, int64(len(data)), int64(len(data)) - 1} {
		inline := engine.New(engine.Config{Registry: r, MaxInputBytes: limit})
		spooled := engine.New(engine.Config{Registry: r, MaxInputBytes: limit, Spool: compute.SpoolConfig{MemBytes: 8, Dir: t.TempDir()}})
		for _, text := range texts {
			pi, err := inline.Compile(text)
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			ps, err := spooled.Compile(text)
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			if !inline.Inline(pi) || spooled.Inline(ps) {
				t.Fatalf("%s: inline %v and %v, want true and false", text, inline.Inline(pi), spooled.Inline(ps))
			}
			for _, end := range []error{io.EOF, errCut} {
				for name, src := range sources(data, end) {
					var oi, os bytes.Buffer
					sti, erri := inline.Run(t.Context(), pi, src(), &oi)
					sts, errs := spooled.Run(t.Context(), ps, src(), &os)
					what := fmt.Sprintf("%s, limit %d, end %v, %s", text, limit, end, name)
					if compute.CodeOf(erri) != compute.CodeOf(errs) || !errors.Is(erri, errCut) && errors.Is(errs, errCut) {
						t.Errorf("%s: inline err %v, spooled err %v", what, erri, errs)
					}
					if !bytes.Equal(oi.Bytes(), os.Bytes()) {
						t.Errorf("%s: inline output %q, spooled %q", what, oi.String(), os.String())
					}
					if (erri != nil || errs != nil) && oi.Len()+os.Len() != 0 {
						t.Errorf("%s: an aborted job wrote %d (inline) and %d bytes", what, oi.Len(), os.Len())
					}
					if sti.InputBytes != sts.InputBytes || sti.OutputBytes != sts.OutputBytes || sti.ExitStatus != sts.ExitStatus || !slices.Equal(sti.Diagnostics, sts.Diagnostics) {
						t.Errorf("%s: inline stats %+v, spooled %+v", what, sti, sts)
					}
				}
			}
		}
	}
}

// TestInlineCancelAfterEnd: a job run inline whose context ends after
// its stage has read the end of input, before the reply is written (a
// cancelled call, a deadline, the shutdown's cut arriving then), writes
// nothing and fails with the context's error; and a stage that panics,
// before or after the end, is an internal error with nothing written,
// and the next job runs.
func TestInlineCancelAfterEnd(t *testing.T) {
	e := engine.New(engine.Config{})
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		ctx, cancel := context.WithCancelCause(t.Context())
		st := boundedStage{func(ctx context.Context, in io.Reader, out io.Writer) error {
			if _, err := io.Copy(io.Discard, in); err != nil {
				return err
			}
			io.WriteString(out, "result\n")
			cancel(cause) // the call ends between the end and the reply
			return nil
		}, 100}
		var out bytes.Buffer
		_, err := e.Run(ctx, testPipeline(st), strings.NewReader("input"), &out)
		if err == nil || out.Len() != 0 {
			t.Errorf("cancelled (%v) after the end: output %q, err %v; want nothing and an error", cause, out.String(), err)
		}
	}
	for _, after := range []bool{false, true} {
		boom := boundedStage{func(ctx context.Context, in io.Reader, out io.Writer) error {
			if after {
				if _, err := io.Copy(io.Discard, in); err != nil {
					return err
				}
			}
			panic("boom")
		}, 100}
		var out bytes.Buffer
		_, err := e.Run(t.Context(), testPipeline(boom), strings.NewReader("input"), &out)
		if compute.CodeOf(err) != compute.CodeInternal || out.Len() != 0 || !strings.Contains(fmt.Sprint(errors.Unwrap(err)), "boom") {
			t.Errorf("panic (after the end: %v): output %q, err %v; want an internal error naming it and nothing", after, out.String(), err)
		}
	}
	var out bytes.Buffer
	if _, err := e.Run(t.Context(), testPipeline(boundedStage{copyStage, 100}), strings.NewReader("next\n"), &out); err != nil || out.String() != "next\n" {
		t.Errorf("the next job: %v, %q", err, out.String())
	}
}
