package builtin_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/shquote"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestLineLimit: grep, sort and uniq hold a line of --max-line-bytes (its
// newline not counted) and give GNU's output; one byte more fails the job
// with RESOURCE_EXHAUSTED naming the flag, whatever the buffers' sizes
// (a limit below grep's buffer, one above it). The streaming commands take
// any line.
//
// Over the buffers (the two larger limits) each grep command line meets
// the line at the limit with its newline under one limit and without it
// under the other, in turn: every grep command line and every limit still
// meets both ends of a line at the limit. The largest limit is over grep's
// buffer (grepBufSize, 1.1 MiB) and only grep has a buffer that large:
// sort, uniq and the streaming commands are over all of theirs (256 KiB)
// at 300 KiB already, so make test runs them there, both ends, and at the
// largest limit only in the long run (testenv.Long), which runs them all.
func TestLineLimit(t *testing.T) {
	t.Parallel()
	for li, limit := range []int{100, 300 << 10, 2<<20 + 5} {
		cfg := engine.Config{MaxLineBytes: limit, Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: t.TempDir()}}
		line := func(n int, c byte) []byte { return append(bytes.Repeat([]byte{c}, n), '\n') }
		atLimit := bytes.Join([][]byte{line(10, 'b'), line(limit, 'a'), line(limit, 'a'), line(3, 'c')}, nil)
		noEOL := atLimit[:len(atLimit)-1]
		over := bytes.Join([][]byte{line(10, 'b'), line(limit+1, 'a'), line(3, 'c')}, nil)
		overNoEOL := over[:len(over)-len("ccc\n")-1]
		overGrepBuf := li == 2 // past 300 KiB, only grep's buffer is larger
		for k, argv := range [][]string{
			{"grep", "a"}, {"grep", "-c", "a"}, {"grep", "-v", "x"}, {"grep", "-iE", "A+$"},
			{"sort"}, {"sort", "-r"}, {"uniq", "-c"},
		} {
			grep := argv[0] == "grep"
			if !testenv.Long() && overGrepBuf && !grep {
				continue
			}
			for j, name := range []string{"at the limit", "no newline"} {
				in := map[string][]byte{"at the limit": atLimit, "no newline": noEOL}[name]
				if !testenv.Long() && li > 0 && grep && (li+k+j)%2 == 1 {
					continue
				}
				t.Run(strings.Join(argv, " ")+" "+name, func(t *testing.T) {
					computetest.DiffGNUEnv(t, cfg, in, argv...)
				})
			}
			for name, in := range map[string][]byte{"over": over, "over, no newline": overNoEOL} {
				_, err := computetest.RunPipelineEnv(t, cfg, shquote.Join(argv), in)
				want := argv[0] + ": line longer than "
				if compute.CodeOf(err) != compute.CodeResourceExhausted || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--max-line-bytes") {
					t.Errorf("limit %d, %v, %s: err %v; want RESOURCE_EXHAUSTED %q… naming --max-line-bytes", limit, argv, name, err, want)
				}
			}
		}
		for _, argv := range [][]string{{"wc", "-L"}, {"cut", "-c1-5"}, {"tac"}, {"tail", "-n", "1"}} {
			if !testenv.Long() && overGrepBuf {
				continue
			}
			t.Run(strings.Join(argv, " ")+" over", func(t *testing.T) {
				computetest.DiffGNUEnv(t, cfg, over, argv...)
			})
		}
	}
}

// TestCompileBounded: what a request may make the engine compile is
// refused before it costs: the header of `.{1000}` written 500
// times (which took 5 s and 470 MiB to compile), patterns over the budget
// in one grep or across the stages of a pipeline, and pipeline text over
// 64 KiB. Patterns within the budget compile.
func TestCompileBounded(t *testing.T) {
	t.Parallel()
	e := computetest.Engine(engine.Config{})
	refused := []string{
		"grep -cE '" + strings.Repeat(".{1000}", 500) + "'",
		"grep -cE '" + strings.Repeat(".{1000}", 6) + "'",
		"grep -cE -e 'a{1000}b{1000}' -e 'b{1000}c{1000}' -e 'c{1000}d{1000}'",
		"grep -cF '" + strings.Repeat("abcdefghij", 1001) + "'",
		strings.Repeat("grep -E '.{1000}.{1000}' | ", 3) + "wc -l",
		"grep -c '" + strings.Repeat("x", 65<<10) + "'",
	}
	for _, text := range refused {
		start := time.Now()
		_, err := e.Compile(text)
		took := time.Since(start)
		if compute.CodeOf(err) != compute.CodeResourceExhausted {
			t.Errorf("%.60s…: %v, want RESOURCE_EXHAUSTED", text, err)
		}
		t.Logf("%.40s… (%d bytes): refused in %v: %v", text, len(text), took, err)
	}
	for _, text := range []string{
		"grep -cE '" + strings.Repeat(".{1000}", 4) + "'",
		"grep -cE '.{1000}' | grep -cE '.{1000}'",
		"grep -cF '" + strings.Repeat("abcdefghij", 900) + "'",
		"grep -cE -e 'a{1000}' -e 'b{1000}' -e 'c{1000}' -e 'd{1000}'",
	} {
		if _, err := e.Compile(text); err != nil {
			t.Errorf("%.60s…: %v", text, err)
		}
	}
}
