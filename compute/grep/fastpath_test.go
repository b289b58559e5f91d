package grep_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
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

// TestGrepDenseLiteral: processLit's modes over text dense with the
// literal, against GNU grep: lines of every length with the literal at
// any place, one line in two or more, adjacent and apart, short lines
// without it between long ones that have it (where a line's start is
// guessed from the last selected line's length and the guess is wrong),
// several in a line, lines across the buffer's end, no final newline,
// the literal ending the text, near misses (its first or last 3 bytes),
// and -z (NULs end the lines, newlines inside them). A literal of 4 bytes
// (searched for as a word) and of 11.
func TestGrepDenseLiteral(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 4))
	line := func(b *bytes.Buffer, lit string, nl byte) {
		n := r.IntN(90)
		if r.IntN(4) == 0 {
			n = r.IntN(4) // short lines between long ones
		}
		// the literal's letters only in it and its near misses (or
		// the search is by pairs of bytes); -z's lines hold newlines
		abc := "xyz abcxyn!\n"[:11+int(1-min(nl, 1))]
		body := make([]byte, n)
		for i := range body {
			body[i] = abc[r.IntN(len(abc))]
		}
		for k, w := range []string{lit, lit[:3], lit[len(lit)-3:], lit[:3] + lit} { // and near misses
			if r.IntN(2+2*min(k, 1)) == 0 {
				at := r.IntN(len(body) + 1)
				body = append(body[:at], append([]byte(w), body[at:]...)...)
			}
		}
		b.Write(body)
		b.WriteByte(nl)
	}
	inputs := map[string][]byte{}
	for _, lit := range []string{"INFO", "connection!"} {
		for _, nl := range []byte{'\n', 0} {
			var small, big bytes.Buffer
			for range 40 {
				line(&small, lit, nl)
			}
			for big.Len() < grep.GrepBufSize+3*grep.GrepBlock {
				line(&big, lit, nl)
			}
			name := fmt.Sprintf("%s-%d", lit, nl)
			inputs[name+"-small"] = small.Bytes()
			inputs[name+"-small-noeol"] = small.Bytes()[:small.Len()-1]
			inputs[name+"-big"] = big.Bytes()
			inputs[name+"-big-noeol"] = big.Bytes()[:big.Len()-1]
			inputs[name+"-small-last"] = append(small.Bytes(), lit...) // in the last word
		}
	}
	for _, args := range [][]string{{"-F"}, {"-v"}, {"-c"}, {"-vc"}, {"-z"}, {"-zv"}, {"-zc"}} {
		for _, lit := range []string{"INFO", "connection!"} {
			in := map[string][]byte{}
			for name, b := range inputs {
				// GNU reads text with NULs as binary: -z's inputs only
				// under -z, and the others only without it
				if strings.HasPrefix(lit, name[:2]) && (bytes.IndexByte(b, 0) >= 0) == (args[0][1] == 'z') {
					in[name] = b
				}
			}
			computetest.DiffGNUEach(t, in, append(append([]string{"grep"}, args...), lit)...)
		}
	}
}

// TestGrepColumnLiteral: processLit compares the literal first where it
// was in the line selected before (its column), as in log lines of a fixed
// layout, against GNU grep: runs of lines with the literal at one column,
// lines shorter than the column (the literal at that offset lies on a
// later line), the literal or a near miss at the column of the next line,
// at another column, twice on a line, in a line's last bytes and the
// input's last word, across the buffer's blocks and end, with and without
// a final newline, under -c, -v, -vc, -z and the general path's -n, -o
// and -m; literals of 1, 4, 8 (the compared word's edges) and 9 bytes.
// Under make test a flag set meets the inputs past the buffer for half
// the literals.
func TestGrepColumnLiteral(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 25))
	line := func(b *bytes.Buffer, lit string, col int, nl byte) {
		fill := func(n int) {
			for range n {
				b.WriteByte("xyz ab.-"[r.IntN(8)])
			}
		}
		miss := lit[:len(lit)-1] + "#"
		switch k := r.IntN(16); {
		case k < 7: // at the column
			fill(col)
			b.WriteString(lit)
			fill(r.IntN(40))
		case k == 7: // shorter than the column: the next line's bytes there
			fill(r.IntN(col))
		case k == 8: // the literal early, the column past the line's end
			fill(r.IntN(max(1, col-len(lit))))
			b.WriteString(lit)
		case k == 9: // a near miss at the column, the literal later
			fill(col)
			b.WriteString(miss)
			fill(r.IntN(20))
			b.WriteString(lit)
		case k == 10: // a near miss alone
			fill(col)
			b.WriteString(miss)
			fill(r.IntN(20))
		case k == 11: // the literal twice
			fill(col)
			b.WriteString(lit + lit)
		case k == 12: // the literal ends the line
			fill(col + r.IntN(30))
			b.WriteString(lit)
		default:
			fill(r.IntN(2 * col))
		}
		b.WriteByte(nl)
	}
	lits := []string{"I", "INFO", "INFOWARN", "INFOWARNS"}
	inputs := map[string][]byte{}
	for _, lit := range lits {
		for _, nl := range []byte{'\n', 0} {
			col := 5 + r.IntN(30)
			var small, big bytes.Buffer
			for range 300 {
				line(&small, lit, col, nl)
			}
			for big.Len() < grep.GrepBufSize+3*grep.GrepBlock {
				line(&big, lit, col, nl)
			}
			name := fmt.Sprintf("%s-%d", lit, nl)
			inputs[name+"-small"] = small.Bytes()
			inputs[name+"-small-noeol"] = small.Bytes()[:small.Len()-1]
			inputs[name+"-big"] = big.Bytes()
			inputs[name+"-big-noeol"] = big.Bytes()[:big.Len()-1]
			// the literal at the column of a last line too short for
			// the compared word
			last := append(bytes.Repeat([]byte{'x'}, col), lit...)
			inputs[name+"-last"] = append(append(small.Bytes()[:small.Len():small.Len()], last...), nl)
			inputs[name+"-last-noeol"] = append(small.Bytes()[:small.Len():small.Len()], last...)
		}
	}
	for ai, args := range [][]string{{"-F"}, {"-v"}, {"-c"}, {"-vc"}, {"-z"}, {"-zv"}, {"-zc"}, {"-n"}, {"-o"}, {"-m", "100"}, {"-cm", "100"}} {
		for li, lit := range lits {
			// The inputs past the buffer are nearly all the bytes: make
			// test gives them to every other flag set by the literal's
			// index (each flag set has them for two literals, each
			// literal for about half the flag sets); make test-long to all.
			big := testenv.Long() || (ai+li)%2 == 0
			in := map[string][]byte{}
			for name, b := range inputs {
				// GNU reads text with NULs as binary: -z's inputs only
				// under -z, and the others only without it
				if strings.HasPrefix(name, lit+"-") && (bytes.IndexByte(b, 0) >= 0) == strings.Contains(args[0], "z") &&
					(big || !strings.Contains(name, "-big")) {
					in[name] = b
				}
			}
			computetest.DiffGNUEach(t, in, append(append([]string{"grep"}, args...), lit)...)
		}
	}
}
