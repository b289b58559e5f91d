package builtin_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// runStats runs text over src through an engine and returns its output
// and stats (computetest.RunPipelineStats over a reader that may fail).
func runStats(t *testing.T, text string, src io.Reader) ([]byte, engine.Stats, error) {
	t.Helper()
	e := computetest.Engine(engine.Config{})
	p, err := e.Compile(text)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	ctx, cancel := testenv.Context(t)
	defer cancel()
	var out bytes.Buffer
	st, err := e.Run(ctx, p, src, &out)
	return out.Bytes(), st, err
}

// TestSortCheckAnswers: sort -c and -C answer a disorder as GNU does, with
// exit status 1 and (-c) GNU's line on stderr, "sort: -:N: disorder:
// LINE", in the job's diagnostics; a pipeline goes on after it (sort -c |
// wc -l prints 0, as a shell's). Before, a disorder failed the job, and
// the pipeline with it.
func TestSortCheckAnswers(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"", "a\nb\n", "b\na\n", "a\na\n", "a\nb\na\n", "1\n10\n9\n", "x\tb\nx\ta\n",
		strings.Repeat("k\n", 3000) + "j\nz\n", "b\x00c\na\n", "a\n\xffb\n\xfea\n",
	}
	pipelines := []string{
		"sort -c", "sort -C", "sort -cu", "sort -Cu", "sort -cn", "sort -cr", "sort -c -k2",
		"sort --check=diagnose-first", "sort --check=quiet", "sort -cz",
		"sort -c | wc -l", "sort -C | wc -c", "sort | sort -c", "tac | sort -c", "sort -c | sort -c",
	}
	for _, text := range pipelines {
		for _, in := range inputs {
			// sh -c: the pipeline as a shell runs it, every stage's
			// stderr in one
			wantOut, wantErr, wantCode := computetest.GNUStatusStderr(t, []byte(in), "/bin/sh", "-c", text)
			out, st, err := computetest.RunPipelineStats(t, text, []byte(in))
			if err != nil {
				t.Errorf("%s <<< %q: %v; GNU exits %d, stderr %q", text, in, err, wantCode, wantErr)
				continue
			}
			if !bytes.Equal(out, wantOut) || st.ExitStatus != wantCode {
				t.Errorf("%s <<< %q: out %q status %d; GNU's %q, %d", text, computetest.Trunc([]byte(in)), out, st.ExitStatus, wantOut, wantCode)
			}
			// GNU's line as a diagnostic: valid UTF-8, without -z's NUL
			if d := computetest.DiffDiagnostics(st.Diagnostics, wantErr); d != "" {
				t.Errorf("%s <<< %q: %s", text, computetest.Trunc([]byte(in)), d)
			}
		}
	}
}

// TestSortCheckLongLine: the disorder line of a long line is cut at
// compute.MaxDiagnosticBytes, a prefix of GNU's.
func TestSortCheckLongLine(t *testing.T) {
	t.Parallel()
	in := "z\n" + strings.Repeat("y", 5000) + "\n"
	_, gnuErr, code := computetest.GNUStatusStderr(t, []byte(in), "sort", "-c")
	_, st, err := computetest.RunPipelineStats(t, "sort -c", []byte(in))
	if err != nil || code != 1 || st.ExitStatus != 1 || len(st.Diagnostics) != 1 {
		t.Fatalf("err %v, status %d, diagnostics %d; GNU's status %d", err, st.ExitStatus, len(st.Diagnostics), code)
	}
	got := st.Diagnostics[0]
	if len(got) != compute.MaxDiagnosticBytes || !strings.HasPrefix(string(gnuErr), got) || !utf8.ValidString(got) {
		t.Fatalf("diagnostic of %d bytes %q..., not GNU's first %d: %q...", len(got), got[:40], compute.MaxDiagnosticBytes, gnuErr[:40])
	}
}

// TestSortCheckAbortAfterDisorder: a disorder is an answer only for the
// whole input: input that fails after it (a reset, a deadline) fails the
// job, with no status and no diagnostics.
func TestSortCheckAbortAfterDisorder(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"sort -c", "sort -C", "sort -c | wc -l"} {
		abort := errors.New("connection reset")
		src := io.MultiReader(strings.NewReader("b\na\n"+strings.Repeat("c\n", 100000)), &failing{abort})
		out, st, err := runStats(t, text, src)
		if !errors.Is(err, abort) || len(out) != 0 || st.ExitStatus != 0 || st.Diagnostics != nil {
			t.Errorf("%s over input that fails: err %v, out %q, status %d, diagnostics %q; want the input's error alone", shquote.Join([]string{text}), err, out, st.ExitStatus, st.Diagnostics)
		}
	}
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }
