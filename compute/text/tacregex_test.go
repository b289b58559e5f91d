package text_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// diffTacRegex runs argv on in through the pipeline and through GNU tac,
// and compares stdout and the exit status; on an error, our message with
// GNU's standard error (for what GNU takes and we refuse, want names it).
func diffTacRegex(t *testing.T, in []byte, argv ...string) {
	t.Helper()
	want, stderr, code := computetest.GNUStatusStderr(t, in, argv...)
	got, err := computetest.RunPipeline(t, shquote.Join(argv), in)
	if code != 0 {
		msg := strings.TrimSuffix(string(stderr), "\n")
		if compute.CodeOf(err) != compute.CodeInvalid || err.Error() != msg {
			t.Errorf("%s: err = %v, want INVALID_ARGUMENT %q (GNU status %d)", shquote.Join(argv), err, msg, code)
		}
		return
	}
	if err != nil {
		t.Errorf("%s on %q: %v; GNU gave %q", shquote.Join(argv), computetest.Trunc(in), err, computetest.Trunc(want))
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s on %q:\n got %q\nwant %q", shquote.Join(argv), computetest.Trunc(in), computetest.Trunc(got), computetest.Trunc(want))
	}
}

// TestTacRegexGNU: tac -r separators of every kind of GNU's regex syntax
// (the Emacs one glibc has by default), with and without -b, on inputs
// that put them at the start, the end, nowhere, back to back, against
// GNU tac.
func TestTacRegexGNU(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"", "a", "\n", "x\n", "no separator here",
		"a1b22c333d\n", "foo bar  baz_qux\nfoo\tBar\n", "aaaaa", "abab\nab\n",
		"ab\nab\nab", "x{2}yx{2}+z?w*", "a\x90b\x85c\xffd\x80\n", "x\x00y\x00\x00z",
		"(a|b)\\1[x]^$.", "\nline one\n\nline three\n\n", "word1 word2,word3;\n_x_ -y-",
		"1\n22\n333\n4444\n", "a.b.c..d...", "ab  cd\t\tef\v\f\rgh",
	}
	seps := []string{
		"\n", ".", "a", "aa", "a*", "aa*", "a\\|b", "\\(a\\|b\\)c*", "[0-9]+", "[0-9]\\+", "[0-9]*",
		"a?", "a\\?", "x{2}", "[^a-z]", "[]x]", "[^]]", "[a-]", "[z-a]", "[[.a.]-c]", "[[=b=]]",
		"[[:alpha:]]", "[\\]", "^", "$", "^a", "b$", "a^b", "a$b", "^$", "\\`", "\\'", "\\`a", "b\\'",
		"\\w", "\\W", "\\w+", "\\W+", "\\s", "\\S+", "\\b", "\\B", "\\<", "\\>", "\\<w", "\\>.",
		"\\bo", "*a", "+", "\\(*a\\)", "a**", "a+?", "^*", "\\b*", "\\(\\)", "\\(^a\\|b$\\)", "\\|x",
		"\xff", "[\x80-\xa0]", "[^\x01-\x7f]", "\\.", "\\{", ".\\|\n", "\n\\|x", "\\(a\\)\\(b\\)",
		"\\n", "\\t", "a\\|", "$\\|^", "\\(ab\\)*", "\\(a*\\)*b", "[0-9]+\n",
	}
	// Every separator on every input, and with -b on every third one
	// (each GNU run is a process: the whole is 2,000 of them).
	for i, sep := range seps {
		for j, in := range inputs {
			diffTacRegex(t, []byte(in), "tac", "-r", "-s", sep)
			if (i+j)%3 == 0 {
				diffTacRegex(t, []byte(in), "tac", "-b", "-r", "-s", sep)
			}
		}
	}
	for _, in := range inputs {
		diffTacRegex(t, []byte(in), "tac", "-r")
		diffTacRegex(t, []byte(in), "tac", "--regex", "--before")
	}
}

// TestTacRegexErrors: the patterns GNU tac refuses, with its message and
// status; tac -r -s ” (GNU: the separator cannot be empty).
func TestTacRegexErrors(t *testing.T) {
	t.Parallel()
	for _, sep := range []string{
		"", "\\(", "a\\)", "\\)", "[", "[^", "[a", "[a-", "\\1", "\\(a\\)\\2", "\\(a\\1\\)", "a\\",
		"[[.ab.]]", "[[=ab=]]", "[[.a.]-[=b=]]", "[[.ab.]", "[[=a=]-b]", "[a-z-0]", "[--a]", "[[.a",
		"[[.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.]]", "\\(\\(a\\)",
		// A branch sees only the groups closed before its alternation
		// and in itself (glibc's completed_bkref_map).
		"\\(a\\)\\|\\1", "\\(a\\)\\|b\\|\\(c\\1\\)", "\\(\\(a\\)\\|\\2\\)",
	} {
		diffTacRegex(t, []byte("a\nb\n"), "tac", "-r", "-s", sep)
	}
}

// TestTacRegexBackref: a back-reference, which GNU takes, is refused by
// name.
func TestTacRegexBackref(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ sep, ref string }{
		{`\(a\)\1`, `\1`},
		// After an alternation, the groups closed in any branch.
		{`\(\(a\)\|b\)\2`, `\2`},
	} {
		_, err := computetest.RunPipeline(t, "tac -r -s "+shquote.Quote(c.sep), []byte("aa\n"))
		if compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), "back-reference "+c.ref) {
			t.Errorf("%s: err = %v, want INVALID_ARGUMENT naming %s", c.sep, err, c.ref)
		}
	}
}

// TestTacRegexAssertRepeated: an assertion inside a repeated group is
// refused, because GNU's matcher misses matches there (the first case,
// which GNU's own output shows); the same assertions not repeated run.
func TestTacRegexAssertRepeated(t *testing.T) {
	t.Parallel()
	// GNU finds no separator in "a ": its output is its input.
	if out, ok := computetest.GNU(t, []byte("a "), "tac", "-r", "-s", `\(.+\>x*\)+`); !ok || string(out) != "a " {
		t.Fatalf("GNU tac no longer misses the match: %q (ok %v); the refusal may be lifted", out, ok)
	}
	for _, sep := range []string{`\(.+\>x*\)+`, `\(\<a\)*`, `\(a\|\b\)+`, `x\(\(y\)*\'\)*`, `\(^a\)*`} {
		_, err := computetest.RunPipeline(t, "tac -r -s "+shquote.Quote(sep), []byte("a b\n"))
		if compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), "inside a repeated group") {
			t.Errorf("%s: err = %v, want INVALID_ARGUMENT: an assertion inside a repeated group", sep, err)
		}
	}
	in := []byte("a  ab\nb a\nxa\n")
	for _, sep := range []string{`\(.+\>x*\)`, `\(\<a\)\?`, `\<a*`, `\(a\|\b\)`, `^a*`} {
		want, _ := computetest.GNU(t, in, "tac", "-r", "-s", sep)
		got, err := computetest.RunPipeline(t, "tac -r -s "+shquote.Quote(sep), in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %q, %v; GNU's %q", sep, got, err, want)
		}
	}
}

// TestTacRegexBlocksGNU: separators whose matches depend on where GNU's
// blocks start (its search text starts there: '^', \` and the word
// assertions see no byte before) or end ('$' and \' see the pending
// record's end after a new block was read), and matches longer than our
// window (256 KiB), over inputs around GNU's 8 KiB reads and records that
// make it double them, against GNU tac.
func TestTacRegexBlocksGNU(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 300000)
	inputs := map[string][]byte{
		"a*8191":   []byte(strings.Repeat("a", 8191)),
		"a*8193":   []byte(strings.Repeat("a", 8193)),
		"a*40000":  []byte(strings.Repeat("a", 40000)),
		"ab*5001":  []byte(strings.Repeat("ab", 5001)),
		"words":    []byte(strings.Repeat("word ", 9000)),
		"lines":    []byte(strings.Repeat("ab\nabc\n", 5000)),
		"long rec": []byte("b" + long[:100000] + "\nab\n"),
	}
	// A separator whose DFA has thousands of states: our cache of them
	// (reMaxStates) starts again many times.
	ab := computetest.RandomBytes(3, 30000)
	for i := range ab {
		ab[i] = "ab"[ab[i]%2]
		if i%200 == 199 {
			ab[i] = '\n'
		}
	}
	diffTacRegex(t, ab, "tac", "-r", "-s", "[ab]*a"+strings.Repeat("[ab]", 12))
	// Matches longer than the window, read in several.
	for _, sep := range []string{"ba*c", "a*", "b[^c]*c\\|^"} {
		in := []byte("xb" + long + "cy\nb" + long[:100000] + "c\n")
		diffTacRegex(t, in, "tac", "-r", "-s", sep)
		diffTacRegex(t, in, "tac", "-b", "-r", "-s", sep)
	}
	for _, sep := range []string{"^a", "^", "\\`a", "\\`", "\\<a", "\\<", "\\bw", "\\Bb", "b$", "$", "b\\'", "\\'",
		"\\>", "a\\b", "ba*c", "b[^c]*c", "a*", "\\(ab\\)+", "\n\\|\\`", "b\\|\\'"} {
		for name, in := range inputs {
			t.Run(name+" "+sep, func(t *testing.T) {
				diffTacRegex(t, in, "tac", "-r", "-s", sep)
				diffTacRegex(t, in, "tac", "-b", "-r", "-s", sep)
			})
		}
	}
}

// TestTacRegexPipelineEachRun: tac -r in a pipeline compiled once (as a
// --tcp-route's is) and run for several inputs at once, each against GNU's
// pipeline: the stage keeps no state of a run (the race detector sees any
// it shares), and its output feeds the next stages as GNU's does.
func TestTacRegexPipelineEachRun(t *testing.T) {
	t.Parallel()
	const text = `tac -r -s '[0-9]+' | tac -b -r -s '\<[a-z]' | sort | uniq -c`
	e := computetest.Engine(engine.Config{})
	p, err := e.Compile(text)
	if err != nil {
		t.Fatal(err)
	}
	ins := [][]byte{
		[]byte("ab12cd3ef\nx9 yz 77\n"),
		bytes.Repeat([]byte("alpha 1 beta 22 gamma333\n"), 4000),
		computetest.RandomBytes(7, 100000),
		{},
	}
	outs := make([][]byte, len(ins))
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Go(func() {
			ctx, cancel := testenv.Context(t)
			defer cancel()
			var b bytes.Buffer
			_, errs[i] = e.Run(ctx, p, bytes.NewReader(in), &b)
			outs[i] = b.Bytes()
		})
	}
	wg.Wait()
	for i, in := range ins {
		want, ok := computetest.Sh(t, in, text)
		if errs[i] != nil || !ok || !bytes.Equal(outs[i], want) {
			t.Errorf("input %d: got %q, %v; want %q (sh ok %v)", i, computetest.Trunc(outs[i]), errs[i], computetest.Trunc(want), ok)
		}
	}
}
