package builtin_test

import (
	"strconv"
	"strings"
	"testing"

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
