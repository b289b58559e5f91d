package builtin_test

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// gnuSh runs script with sh -c over input (LC_ALL=C), the oracle of a
// pipeline as a shell runs it: stdout, stderr and the exit status.
func gnuSh(t *testing.T, script string, input []byte) (stdout, stderr []byte, code int) {
	t.Helper()
	cmd := exec.Command("timeout", "10", "sh", "-c", script)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Stdin = bytes.NewReader(input)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("sh -c %q: %v", script, err)
	}
	return o.Bytes(), e.Bytes(), code
}

// runStats runs text over input through an engine and returns its output
// and stats.
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
			wantOut, wantErr, wantCode := gnuSh(t, text, []byte(in))
			out, st, err := runStats(t, text, strings.NewReader(in))
			if err != nil {
				t.Errorf("%s <<< %q: %v; GNU exits %d, stderr %q", text, in, err, wantCode, wantErr)
				continue
			}
			term := "\n"
			if strings.Contains(text, "-cz") {
				term = "\x00" // GNU ends the line as -z ends lines
			}
			var gotErr string
			for _, l := range st.Diagnostics {
				gotErr += l + term
			}
			// Diagnostics are UTF-8: GNU's other bytes show as U+FFFD.
			want := strings.ToValidUTF8(string(wantErr), "\uFFFD")
			if !bytes.Equal(out, wantOut) || st.ExitStatus != wantCode || gotErr != want {
				t.Errorf("%s <<< %q:\n  ours out %q status %d stderr %q\n  GNU  out %q status %d stderr %q",
					text, computetest.Trunc([]byte(in)), out, st.ExitStatus, gotErr, wantOut, wantCode, want)
			}
		}
	}
}

// TestSortCheckLongLine: the disorder line of a long line is cut at
// compute.MaxDiagnosticBytes, a prefix of GNU's.
func TestSortCheckLongLine(t *testing.T) {
	t.Parallel()
	in := "z\n" + strings.Repeat("y", 5000) + "\n"
	_, gnuErr, code := gnuSh(t, "sort -c", []byte(in))
	_, st, err := runStats(t, "sort -c", strings.NewReader(in))
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
