package builtin_test

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// Hand-written acceptance cases for multi-stage pipelines, from a hunt
// for differences from sh that the generator (pipediff_test.go) does not
// draw: a stage that stops reading early (head, grep -q, grep -m) first,
// in the middle or last over inputs on the engine's buffer sizes and past
// a MiB, a digest in the middle, round trips (gzip, base64, tac, sort),
// a stage whose status is not the pipeline's (grep that selects nothing,
// sort -c, mid-pipeline), inputs without a final newline, with NULs and
// CRLF, and 16 stages. Each pipeline's output and exit status are those
// of sh -c running it with the GNU tools (LC_ALL=C): the last stage's
// status, whatever the stages before it exited with (SIGPIPE included).
// No GNU stage of these fails otherwise. The hunt found no difference;
// these keep it so.

// huntPipeInputs are the inputs of TestHuntPipeVsSh by name.
func huntPipeInputs() map[string][]byte {
	lines := func(n int, seed uint64) []byte {
		words := []string{"alpha", "beta", "ERROR", "DEBUG", "x", "", "  lead", "tab\there", "10", "9", "-3", "\xe9t\xe9"}
		r := computetest.RandomBytes(seed, 4*n)
		var b bytes.Buffer
		for i := 0; b.Len() < n; i++ {
			for k := 0; k < int(r[i%len(r)]%5); k++ {
				if k > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(words[int(r[(i*7+k)%len(r)])%len(words)])
			}
			b.WriteByte('\n')
		}
		return b.Bytes()[:n]
	}
	in := map[string][]byte{
		"empty": nil,
		"one":   []byte("a"),
		"small": []byte("b\na\nc\na\nERROR x\n\nDEBUG y\nERROR z\nb\n"),
		"nonl":  []byte("b\na\nc\na\nERROR last"),
		"nul":   []byte("a\x00b\nERROR\x00\nc\n\x00\x00\nERROR z\n"),
		"crlf":  []byte("b\r\na\r\nERROR x\r\n\r\nc\r\n"),
	}
	for _, n := range []int{4095, 4096, 4097, 65535, 65536, 65537} {
		in[fmt.Sprint(n)] = lines(n, uint64(n))
	}
	// big: past a MiB under make test-long, past the engine's 64 KiB
	// buffers and a pipe's under make test.
	big := 256<<10 + 1
	if testenv.Long() {
		big = 4<<20 + 1
	}
	in["big"] = lines(big, 1)
	return in
}

// TestHuntPipeVsSh: each pipeline over each of its inputs gives sh's
// output and exit status.
func TestHuntPipeVsSh(t *testing.T) {
	t.Parallel()
	inputs := huntPipeInputs()
	all := "empty one small nonl nul crlf 4095 4096 4097 65535 65536 65537 big"
	text := "empty small nonl nul 65536 big"
	sizes := "4095 4096 4097 65536 65537"
	cases := []struct{ inputs, pipeline string }{
		// A stage that stops early, first, in the middle and last.
		{all, "head -n1 | wc -c"},
		{text, "sort | head -n 1"},
		{text, "head -n 1 | sort -r | tr a-z A-Z"},
		{text, "sort | uniq -c | sort -rn | head -n 3"},
		{text, "grep -q ERROR | wc -l"},
		{text, "grep -q NOPE | wc -l"},
		{text, "grep -m1 ERROR | head -n 1"},
		{text, "tac | head -n 3"},
		{text, "gzip -1 | head -c 10 | wc -c"},
		{"small big", "head -c 1 | sort"},
		{sizes, "head -c 4096 | tail -c 1 | wc -c"},
		{sizes, "tail -c 4097 | head -c 4096 | md5sum"},
		// Digests in the middle and at the end.
		{text, "grep ERROR | sha256sum"},
		{"empty small", "sha256sum | sha256sum"},
		{"empty small", "md5sum | sha1sum | cut -c1-10"},
		{"small 65536", "cksum | cut -d' ' -f2"},
		// Round trips.
		{all, "gzip -c | gunzip -c | sha256sum"},
		{"small 65537", "gzip | gzip | gunzip | gunzip | md5sum"},
		{"empty small 65536", "base64 | base64 -d | md5sum"},
		{"empty small nonl 65536", "tac | tac"},
		{sizes, "gzip | gunzip | tac | sort -r | head -n 1"},
		// Statuses: the last stage's.
		{text, "grep NOPE | wc -l"},
		{text, "grep ERROR | grep NOPE | grep ERROR"},
		{text, "sort | grep NOPE"},
		{"empty small", "grep -c '' | grep -c 0"},
		{"small 4097", "sort -c | wc -l"},
		{"small 4097", "sort | sort -c | wc -l"},
		{"small 65536", "head -n 5 | sort -c"},
		// Lines without an end, NULs, CRLF, one long line.
		{"empty nonl nul crlf", "tr -d '\\r' | sort | uniq"},
		{"nul crlf 4097", "tr '\\n' '\\0' | sort -z | tr '\\0' '\\n' | md5sum"},
		{"nonl one crlf", "tail -n 1 | head -n 1"},
		{"nonl one", "head -c -1 | tac"},
		{"big", "tr -d '\\n' | tac -s a | md5sum"},
		{"big", "tr '\\n' ' ' | cut -d' ' -f5-7"},
		// 16 stages.
		{"small 4097", "grep a | grep a | grep a | grep a | grep a | grep a | grep a | grep a | grep a | grep a | grep a | grep a | grep a | grep a | grep a | wc -l"},
		{"small nonl", "tac | tac | tac | tac | tac | tac | tac | tac | tac | tac | tac | tac | tac | tac | tac | tac"},
	}
	n := 0
	for _, c := range cases {
		for _, name := range strings.Fields(c.inputs) {
			input, ok := inputs[name]
			if !ok {
				t.Fatalf("no input %q", name)
			}
			n++
			want, wantStatus := shPipe(t, input, c.pipeline)
			got, status, err := computetest.RunPipelineStatus(t, c.pipeline, input, false)
			if err != nil {
				t.Errorf("%s < %s: %v; sh gives %q, status %d", c.pipeline, name, err, computetest.Trunc(want), wantStatus)
				continue
			}
			if !bytes.Equal(got, want) || status != wantStatus {
				t.Errorf("%s < %s: %q, status %d; sh gives %q, status %d", c.pipeline, name,
					computetest.Trunc(got), status, computetest.Trunc(want), wantStatus)
			}
		}
	}
	if n < 90 {
		t.Errorf("only %d cases", n)
	}
}

// shPipe runs pipeline with sh -c (LC_ALL=C), input on a pipe as the
// engine's is, and returns its output and exit status.
func shPipe(t *testing.T, input []byte, pipeline string) ([]byte, int) {
	t.Helper()
	ctx, cancel := testenv.Context(t)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Tool(t, "sh"), "-c", pipeline)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out, ee.ExitCode()
	case err != nil:
		t.Fatalf("sh -c %q: %v", pipeline, err)
	}
	return out, 0
}
