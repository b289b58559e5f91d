package grep_test

import (
	"bytes"
	"fmt"
	"maps"
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/grep"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestGrepLiteralEdges: the literal fast paths (bytes.Index for -F, the
// case-folding search for -i, -o without a regexp, the multi-literal
// prefilter of -E alternations, -c and -v counting between hits) at their
// edges, against GNU grep: matches across the read blocks and the buffer's
// end, a line longer than the buffer, no final newline, NUL bytes (binary
// input), bytes >= 0x80 and the ASCII punctuation that differs from a
// letter's other case by 0x20 only, overlapping occurrences, -w, -x, -m.
func TestGrepLiteralEdges(t *testing.T) {
	const needle = "connection reset"
	variants := []string{needle, "Connection Reset", "CONNECTION RESET", "cOnNeCtIoN rEsEt", "connection resex", "onnection reset", "connection rese"}
	// Filler lines, and the needle's variants placed across every block
	// boundary of the first three buffers, a few bytes either way.
	var log bytes.Buffer
	size := grep.GrepBufSize + 2*grep.GrepBlock // past the first buffer
	if testenv.Long() {
		size = 3*grep.GrepBufSize + grep.GrepBlock
	}
	for i := 0; log.Len() < size; i++ {
		fmt.Fprintf(&log, "%06d INFO request timed out after %dms refused\n", i, i%997)
	}
	big := log.Bytes()
	k := 0
	for at := grep.GrepBlock; at+64 < len(big); at += grep.GrepBlock {
		v := variants[k%len(variants)]
		off := at - len(v)/2 + k%5 - 2 // straddling the boundary
		copy(big[off:], v)
		k++
	}
	long := bytes.Repeat([]byte("abcdefghij "), (size-grep.GrepBlock)/11) // longer than the buffer
	copy(long[len(long)/2:], "CONNECTION reset")
	longLine := append(append([]byte("x connection reset\n"), long...), "\nconnection reset tail\n"...)
	longEnd := append(bytes.Clone(long), " connection reset\n"...)
	bigInputs := map[string][]byte{
		"blocks":       big,
		"blocks-noeol": big[:len(big)-1],
		"long":         longLine,
		"long-end":     longEnd,
		"nul-head":     append([]byte("connection reset\x00\n"), big[:grep.GrepBlock*2]...),
		"nul-tail":     append(bytes.Clone(big[:grep.GrepBufSize+grep.GrepBlock]), "\x00connection reset\n"...),
	}
	inputs := map[string][]byte{
		"noeol":      []byte("a\nconnection reset"),
		"noeol-part": []byte("connection reset\nconnection rese"),
		"only":       []byte(needle),
		"overlap":    []byte("aaaaa\nAaAaA\nconnection resetconnection reset\nconnectionconnection reset reset\n"),
		"high": []byte("connection r\xc9set\nconnection r\xe9set\nCONNECTION R\xc9SET\n\xc9\xe9 connection reset\n" +
			"connection@reset\nconnection`reset\nconnection reseT\nconnection res{t\nconnection res[t\n"),
		"punct": []byte("a`b@c\nA@B`C\na`b@C\nA`B@C\n[x{\n{X[\n"),
		"words": []byte("connection reset\nxconnection reset\nconnection resetx\n(connection reset)\nconnection_reset\nTIMED OUT\ntimed out!\n"),
		"nul":   []byte("connection reset\nx\x00y\nconnection reset\n"),
	}
	// The large inputs meet the fast paths themselves (the long run: every
	// option).
	bigArgvs := [][]string{
		{"grep", "-F", needle},
		{"grep", "-cF", needle},
		{"grep", "-i", needle},
		{"grep", "-ion", "CONNECTION RESET"},
		{"grep", "-iE", "connection reset|timed out|refused"},
		{"grep", "-vc", "INFO"},
		{"grep", "-o", "INFO"},
		// processLit's modes over buffers, NULs, the unterminated last
		// line: -v written, -z swapped back, -I's binary verdict
		{"grep", "-v", "INFO"},
		{"grep", "-zv", "INFO"},
		{"grep", "-zc", "INFO"},
		{"grep", "-Iv", "INFO"},
		{"grep", "-a", needle},
	}
	argvs := [][]string{
		{"grep", "-F", needle},
		{"grep", "-cF", needle},
		{"grep", "-nF", needle},
		{"grep", "-vcF", needle},
		{"grep", "-i", needle},
		{"grep", "-ic", needle},
		{"grep", "-in", needle},
		{"grep", "-iv", needle},
		{"grep", "-io", needle},
		{"grep", "-ion", "CONNECTION RESET"},
		{"grep", "-o", needle},
		{"grep", "-o", "aa"},
		{"grep", "-io", "aa"},
		{"grep", "-io", "reset"},
		{"grep", "-io", "a`b@c"},
		{"grep", "-i", "a`b@c"},
		{"grep", "-i", "[x{"},
		{"grep", "-iF", "connection r\xc9set"},
		{"grep", "-iw", needle},
		{"grep", "-ix", needle},
		{"grep", "-xF", needle},
		{"grep", "-wo", needle},
		{"grep", "-m", "2", "-io", needle},
		{"grep", "-m", "3", "-i", needle},
		{"grep", "-E", "connection reset|timed out|refused"},
		{"grep", "-cE", "connection reset|timed out|refused"},
		{"grep", "-iE", "connection reset|timed out|refused"},
		{"grep", "-oE", "connection reset|timed out|refused"},
		{"grep", "-ioE", "connection reset|TIMED OUT"},
		{"grep", "-vE", "connection reset|INFO"},
		{"grep", "-c", "INFO"},
		{"grep", "-v", "INFO"},
		{"grep", "-vc", "INFO"},
		{"grep", "-o", "INFO"},
		{"grep", "-c", ""},
		{"grep", "-o", ""},
		{"grep", "-iF", ""},
	}
	// The long line is over the default line limit: a server that allows
	// it gets GNU's output.
	cfg := engine.Config{MaxLineBytes: 4 << 20}
	if testenv.Long() {
		bigArgvs = argvs
	}
	for _, argv := range argvs {
		computetest.DiffGNUEachEnv(t, cfg, inputs, argv...)
	}
	for _, argv := range bigArgvs {
		computetest.DiffGNUEachEnv(t, cfg, bigInputs, argv...)
	}
}

// TestGrepFoldFinderLimit: under the default line limit, a long line with
// -i fails as any other grep does (the fold search holds no more).
func TestGrepFoldFinderLimit(t *testing.T) {
	line := append(bytes.Repeat([]byte("x"), 2<<20), "\n"...)
	for _, args := range []string{"grep -i 'connection reset'", "grep -io 'connection reset'"} {
		_, err := computetest.RunPipelineEnv(t, engine.Config{MaxLineBytes: 1 << 20}, args, line)
		if err == nil {
			t.Errorf("%s over a 2 MiB line with a 1 MiB limit: no error", args)
		}
	}
}

// TestGrepBenchLogPaths: the searches planFinder picks on the log text
// that make bench greps (pairs of bytes for the rare literals, with -i
// too, bytes.Index for INFO; TestPlanFinderOnBenchLog), against GNU grep,
// on that text with the literals planted across every block boundary and
// at the end of the 32-byte steps of the pair search, CRLF and empty lines
// among its lines, the last line without its newline, and a NUL past the
// first buffer.
func TestGrepBenchLogPaths(t *testing.T) {
	var b bytes.Buffer
	if err := grep.WriteBenchLog(&b, int64(grep.GrepBufSize+3*grep.GrepBlock)); err != nil {
		t.Fatal(err)
	}
	log := b.Bytes()
	plants := []string{"connection reset", "timed out", "refused", "Connection Reset", "connection rese", "\r\n\r\n", "\n\n\n"}
	k := 0
	for at := grep.GrepBlock; at+64 < len(log); at += grep.GrepBlock {
		for d := -40; d <= 40; d += 20 { // around the boundary, at several offsets from the step
			p := plants[k%len(plants)]
			copy(log[at+d-len(p)/2:], p)
			k++
		}
	}
	noeol := append(bytes.Clone(log[:len(log)-1]), "connection reset"...)
	inputs := map[string][]byte{
		"log":         log,
		"log-noeol":   noeol,
		"log-crlf":    bytes.ReplaceAll(log[:2*grep.GrepBlock], []byte("\n"), []byte("\r\n")),
		"log-nul":     append(append(bytes.Clone(log[:grep.GrepBufSize+grep.GrepBlock/2]), 0), log[:grep.GrepBlock]...),
		"start-match": append([]byte("connection reset\n\ntimed out"), log[:4096]...),
	}
	for k, argv := range [][]string{
		{"grep", "-F", "connection reset"},
		{"grep", "-F", "INFO"},
		{"grep", "-cF", "connection reset"},
		{"grep", "-c", "INFO"},
		{"grep", "-v", "INFO"},
		{"grep", "-vF", "connection reset"},
		{"grep", "-o", "timed out"},
		{"grep", "-nF", "timed out"},
		{"grep", "-E", "connection reset|timed out|refused"},
		{"grep", "-cE", "connection reset|timed out|refused"},
		{"grep", "-i", "connection reset"},
		{"grep", "-ic", "connection reset"},
		{"grep", "-iv", "timed out"},
		{"grep", "-iE", "connection reset|timed out|refused"},
		{"grep", "-m", "3", "-F", "refused"},
		{"grep", "-m", "2", "-vF", "INFO"},
		{"grep", "-xF", "timed out"},
		{"grep", "-wF", "refused"},
	} {
		// The log with and without its final newline (the same blocks but
		// for the last line) take the options in turn; the long run
		// (testenv.Long) gives every option both.
		in := maps.Clone(inputs)
		if !testenv.Long() {
			delete(in, []string{"log-noeol", "log"}[k%2])
		}
		computetest.DiffGNUEach(t, in, argv...)
	}
}
