package builtin_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
)

// Cases found by a hand-written acceptance hunt over grep (edge cases the
// generated tests do not draw), each compared with GNU grep.

// TestGrepHuntUnsupported: patterns GNU takes and RE2 cannot are an
// "unsupported" error naming the pattern (docs/protocol.md, grep), never
// RE2's own wording: nested repeat counts whose product is past 1000,
// each of them within RE2's limit.
func TestGrepHuntUnsupported(t *testing.T) {
	in := []byte("a\naaaa\n")
	for _, c := range []struct {
		argv []string
		pat  string // the pattern the error names
	}{
		{[]string{"grep", "-E", "(a{100}){100}"}, "(a{100}){100}"},
		{[]string{"grep", "-c", `\(a\{2,\}\)\{2,600\}`}, `\(a\{2,\}\)\{2,600\}`},
		{[]string{"grep", "-E", "-e", "b", "-e", "((a{10}){10}){11}"}, "((a{10}){10}){11}"},
		{[]string{"grep", "-xE", "x\n(a{2}){501}"}, "(a{2}){501}"},
	} {
		if _, code := computetest.GNUStatus(t, in, c.argv...); code >= 2 {
			t.Fatalf("%q: GNU refuses it (exit %d): not a case of RE2's limits", c.argv, code)
		}
		_, err := computetest.RunPipeline(t, shquote.Join(c.argv), in)
		if err == nil || !strings.Contains(err.Error(), "grep: unsupported ") || !strings.Contains(err.Error(), strconv.Quote(c.pat)) {
			t.Errorf("%q: got %v, want an unsupported error naming %q", c.argv, err, c.pat)
		}
	}
}

// TestGrepHuntErrors: where GNU fails, the error is GNU's, in GNU's
// order: a back-reference to a group not closed before it (in its branch,
// as glibc regex counts) is an invalid pattern, not an unsupported one;
// a bad -m count is reported as GNU reads it, before a missing pattern or
// a later conflicting matcher.
func TestGrepHuntErrors(t *testing.T) {
	in := []byte("aa\nab\n")
	for _, argv := range [][]string{
		{"grep", "a\\1"},
		{"grep", "-E", "(a)|\\1"},
		{"grep", "-xE", "(a)|\\1"},
		{"grep", "-E", "(a\\1)"},
		{"grep", "-E", "((a)\\1)"},
		{"grep", "-iE", "(a)(b)\\3"},
		{"grep", "-E", "\\1(a)"},
		{"grep", "\\(a\\1\\)"},
		{"grep", "-E", "-e", "(a)", "-e", "\\1"},
		{"grep", "-c", "b\na\\2"},
		{"grep", "-m", "x"},
		{"grep", "--max-count", "a"},
		{"grep", "-m", "x", "-E", "-F", "a"},
	} {
		_, stderr, code := computetest.GNUStatusStderr(t, in, argv...)
		if code != 2 {
			t.Fatalf("%q: GNU exits %d, not 2", argv, code)
		}
		want := strings.ToLower(strings.TrimPrefix(computetest.StderrLines(stderr)[0], "grep: "))
		_, err := computetest.RunPipeline(t, shquote.Join(argv), in)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), want) {
			t.Errorf("%q: got %v, want GNU's %q", argv, err, want)
		}
	}
	// and what GNU takes stays an unsupported back-reference
	for _, argv := range [][]string{
		{"grep", "\\(a\\)\\1"},
		{"grep", "-E", "((a)|b)\\2"},
		{"grep", "-E", "((a)\\2)"},
		{"grep", "-E", "()\\1"},
		{"grep", "-E", "(a)\\10"},
		{"grep", "-w", "a\\|\\(b\\)\\1"},
	} {
		if _, code := computetest.GNUStatus(t, in, argv...); code >= 2 {
			t.Fatalf("%q: GNU refuses it (exit %d)", argv, code)
		}
		_, err := computetest.RunPipeline(t, shquote.Join(argv), in)
		if err == nil || !strings.Contains(err.Error(), "unsupported back-reference") {
			t.Errorf("%q: got %v, want an unsupported back-reference", argv, err)
		}
	}
}

// TestGrepHuntErrorWording: an invalid pattern fails with GNU's message
// (its first line but warnings), found as GNU finds it: glibc regex reads
// every pattern before GNU's dfa reads any, so glibc's error, wherever it
// is, comes before the dfa's ("[:space:]", a BRE interval only glibc
// reads, as "\{1\,2\}" or after an anchor), and either before an
// unsupported back-reference; glibc's own errors are those of its parser,
// in its order (a BRE interval's "Unmatched \{" only at the pattern's
// end, a bracket's elements one by one).
func TestGrepHuntErrorWording(t *testing.T) {
	in := []byte("a\na{1}\n")
	for _, argv := range [][]string{
		// BRE intervals: glibc's parse_dup_op
		{"grep", `a\{x\}`},
		{"grep", `a\{1,2,3\}`},
		{"grep", `a\{1x\}`},
		{"grep", `a\{ 1\}`},
		{"grep", `a\{\1\}`},
		{"grep", `a\{1`},
		{"grep", `a\{1,x`},
		// only the dfa refuses these
		{"grep", `a\{1\,2\}`},
		{"grep", `a\b\{2`},
		{"grep", `a\'\{1,x\}`},
		// brackets: glibc's parse_bracket_exp
		{"grep", "["},
		{"grep", "a[^"},
		{"grep", "-E", "(["},
		{"grep", "[a-"},
		{"grep", `[:\-`},
		{"grep", "[[.ab.]"},
		{"grep", "[[.ab.]-"},
		{"grep", "[[:foo:]]"},
		{"grep", "[[::]]"},
		{"grep", "-E", "[[:foo:]z-a]"},
		{"grep", "[[.ab.]-[:foo:]]"},
		{"grep", "[a-[..]]"},
		// glibc's error before the dfa's
		{"grep", "-E", `{32768}\1`},
		{"grep", "-E", "x|{1,32768}("},
		{"grep", `a\b\{32768\}\(`},
		{"grep", `[:space:]\(`},
		{"grep", `[:alpha:]\`},
		{"grep", "-E", "[:alpha:]a{2,1}"},
		{"grep", "-e", "[:space:]", "-e", `\(`},
		{"grep", "-e", `a\{1\,2\}`, "-e", "["},
		// the dfa's before an unsupported back-reference
		{"grep", `\(a\)\1[:space:]`},
		{"grep", "-e", `\(a\)\1`, "-e", "[:alpha:]"},
		{"grep", "-e", `\(a\)\1`, "-e", `\(`},
		// glibc's error in an earlier pattern, where only glibc fails
		// (it drops the '*' in "(*)", the dfa repeats nothing), before
		// glibc's in a later one, and before the dfa's
		{"grep", "-E", "-e", "(*)", "-e", "a{32768}"},
		{"grep", "-Ex", "-e", "}*(*)?** ", "-e", "(a){32768}"},
		{"grep", "-E", "-e", "(+)", "-e", "(a){2,1}"},
		{"grep", "-E", "(*)[:space:]"},
		{"grep", "-E", "-e", "(*)", "-e", "[:space:]"},
	} {
		_, stderr, code := computetest.GNUStatusStderr(t, in, argv...)
		if code != 2 {
			t.Fatalf("%q: GNU exits %d, not 2", argv, code)
		}
		var want string
		for _, l := range computetest.StderrLines(stderr) {
			if !strings.HasPrefix(l, "grep: warning: ") {
				want = strings.ToLower(strings.TrimPrefix(l, "grep: "))
				break
			}
		}
		_, err := computetest.RunPipeline(t, shquote.Join(argv), in)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), want) {
			t.Errorf("%q: got %v, want GNU's %q", argv, err, want)
		}
	}
	// GNU takes an ERE '{' before a back-reference as a literal: the
	// pattern is valid, its back-reference unsupported.
	argv := []string{"grep", "-E", `(a){\1,0}`}
	if _, code := computetest.GNUStatus(t, in, argv...); code >= 2 {
		t.Fatalf("%q: GNU refuses it (exit %d)", argv, code)
	}
	if _, err := computetest.RunPipeline(t, shquote.Join(argv), in); err == nil || !strings.Contains(err.Error(), "unsupported back-reference") {
		t.Errorf("%q: got %v, want an unsupported back-reference", argv, err)
	}
}

// TestGrepHuntZeroWidthRepeat: an ERE interval where a branch starts
// repeats nothing in GNU's dfa (with a warning), and one after an anchor
// repeats what matches the same however often: a count past RE2's 1000
// is no reason to refuse them; nor is a minimum past RE_DUP_MAX without a
// maximum where only GNU's dfa reads the interval (it checks the maximum).
func TestGrepHuntZeroWidthRepeat(t *testing.T) {
	in := []byte("a\n{32767}\nx{1001}\nb a\na{1001}\n")
	for _, argv := range [][]string{
		{"grep", "-E", "{32767}"},
		{"grep", "-Ec", "x|{1001}"},
		{"grep", "-Eo", "({2000}x)"},
		{"grep", "-Ex", "{1001}|a"},
		{"grep", "-E", `a\b{1001}`},
		{"grep", "-Eo", "^{1001}a"},
		{"grep", "-Ew", `a\>{0,1001}`},
		{"grep", "-c", `a\b\{1001\}`},
		{"grep", "-o", `\(a\)\>\{1001,\}`},
		// only GNU's dfa reads these, and it checks the maximum alone
		// against RE_DUP_MAX: a minimum past it with none is taken
		{"grep", "-Ec", `a\<{32768,}`},
		{"grep", "-E", `{32768,}`},
		{"grep", "-Eo", `^{32768,}a`},
		{"grep", "-Ec", `x|{40000,}`},
		{"grep", "-E", `\<{99999999,}a`},
		{"grep", "-c", `a\b\{32768,\}`},
		{"grep", "-Ec", `^{32768}a`},
		{"grep", "-Ec", `^{1,32768}a`},
	} {
		computetest.DiffGNU(t, in, argv...)
	}
}

// TestGrepHuntStrayParenRepeat: GNU drops a repeated pattern before its
// dfa reads the list inside the -x or -w wrapper, so a repeat after an
// ERE ')' that closed the wrapper adds no alternative outside it.
func TestGrepHuntStrayParenRepeat(t *testing.T) {
	in := []byte("a\\nb\nq)\nx\naa)\n)\n))\n) a-\n")
	for _, argv := range [][]string{
		{"grep", "-E", "-x", "-c", "-e", "a$", "-e", `\-`, "-e", "aa", "-e", "aaa-\xe9\xe9", "-e", `a\nb`, "-e", "\xc9--", "-e", ")", "-e", "aa"},
		{"grep", "-Ex", "-e", "a$", "-e", ")", "-e", "a$"},
		{"grep", "-Ex", "-e", "a$", "-e", ")", "-e", ")"},
		{"grep", "-Ex", "-e", "q$", "-e", "x)", "-e", "q$", "-e", "x"},
		{"grep", "-Ew", "-e", "q$", "-e", ")", "-e", "q$"},
		{"grep", "-Ewo", "-e", "a$", "-e", "a)", "-e", "a$", "-e", "x"},
		{"grep", "-Exv", "-e", "a$", "-e", ")\na$"},
		// -x -w -o: a line prints when glibc regex matches all of it
		// with the patterns themselves, not inside -w's wrapper
		{"grep", "-Exwo", "-e", "ab", "-e", ")a?", "-e", "", "-e", "(a|)^a"},
		{"grep", "-Exwo", "-e", "q$", "-e", ")", "-e", "x"},
	} {
		computetest.DiffGNU(t, in, argv...)
	}
}

// TestGrepHuntInvertOnlyPastMax: past the -m-th line -v selects, -A
// prints lines as context whether they match or not, and -o prints what
// GNU's regexp matcher finds in them from -o's start, which skips -x's
// check (with -w too, a match must still take the whole line); GNU's -F
// matcher (two literal patterns or more, or -F) keeps it.
func TestGrepHuntInvertOnlyPastMax(t *testing.T) {
	in := []byte("zz\nxabcab\nab ab\nab\nq\n\nabab\n")
	for _, argv := range [][]string{
		{"grep", "-x", "-o", "-v", "-m1", "-A1", "ab"},
		{"grep", "-xov", "-m1", "-A9", "ab"},
		{"grep", "-xov", "-m2", "-A9", "-n", "a*"},
		{"grep", "-Exov", "-m1", "-C9", "ab|q"},
		{"grep", "-xov", "-m1", "-A9", "-e", "ab", "-e", "q"},
		{"grep", "-Fxov", "-m1", "-A9", "ab"},
		{"grep", "-xwov", "-m1", "-A9", "ab"},
		{"grep", "-xwov", "-m1", "-A9", "-e", "ab", "-e", "x$"},
		{"grep", "-Fxwov", "-m1", "-A9", "ab"},
		{"grep", "-xwEov", "-m1", "-A9", "-e", "q$", "-e", ")"},
		{"grep", "-xov", "-m1", "-A9", "-e", "ab", "-e", "q", "-e", "abab", "-e", "x.*"},
		{"grep", "-xiov", "-m1", "-A9", "AB"},
	} {
		computetest.DiffGNU(t, in, argv...)
	}
}

// TestGrepHuntLongLineAfterStop: a line longer than --max-line-bytes
// after the point where GNU grep stops reading (-m reached, -q, -l, -L)
// is never searched, so it fails nothing: the output is GNU's, whether
// the long line came in the read buffer that held the last line searched
// or in a later one. (It failed with RESOURCE_EXHAUSTED when the long
// line shared that buffer, the first 1.1 MiB of input at the server's
// default, and printed GNU's output when it came later: found over the
// raw-TCP port with `x`, then a line of 1 MiB and one byte.) A long line
// that must be searched, or printed as -A context, still fails the job.
func TestGrepHuntLongLineAfterStop(t *testing.T) {
	t.Parallel()
	const limit = 1 << 10
	cfg := engine.Config{MaxLineBytes: limit}
	long := strings.Repeat("q", limit+1)
	near := []byte("x\n" + long + "\nx\n")
	far := []byte("x\n" + strings.Repeat("short line\n", 40000) + long + "\nx\n") // past the first read buffer
	for i, in := range [][]byte{near, far} {
		for _, argv := range [][]string{
			{"grep", "-m1", "x"}, {"grep", "-q", "x"}, {"grep", "-l", "x"}, {"grep", "-L", "x"},
			{"grep", "-c", "-m1", "x"}, {"grep", "-on", "-m1", "x"}, {"grep", "-v", "-m1", "q"},
			{"grep", "-F", "-m1", "x"}, {"grep", "-b", "-m1", "-B1", "x"},
		} {
			computetest.DiffGNUEnv(t, cfg, in, argv...)
			// in a network client's reads, the long line split across
			// them, and the lines before it
			want, code := computetest.GNUStatus(t, in, argv...)
			for seed := uint64(1); seed <= 3; seed++ {
				got, status, _, err := computetest.RunPipelineReads(t, cfg, shquote.Join(argv), in, false, seed)
				if err != nil || !bytes.Equal(got, want) || status != code {
					t.Errorf("%s, reads of seed %d: %q, status %d, %v; GNU %q, status %d", shquote.Join(argv), seed, computetest.Trunc(got), status, err, want, code)
				}
			}
		}
		mustSearch := [][]string{{"grep", "-m2", "x"}, {"grep", "-c", "x"}}
		if i == 0 {
			mustSearch = append(mustSearch, []string{"grep", "-m1", "-A1", "x"}) // the long line is the context
		}
		for _, argv := range mustSearch {
			for seed := range uint64(3) {
				_, _, _, err := computetest.RunPipelineReads(t, cfg, shquote.Join(argv), in, false, seed)
				if compute.CodeOf(err) != compute.CodeResourceExhausted {
					t.Errorf("%s over a line of %d bytes it must search (reads of seed %d): %v, want RESOURCE_EXHAUSTED", shquote.Join(argv), len(long), seed, err)
				}
			}
		}
	}
}
