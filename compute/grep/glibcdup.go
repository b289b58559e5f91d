package grep

import (
	"regexp/syntax"

	"github.com/halfclose/halfclose/compute"
)

// checkCopiedAssertions refuses -o over patterns where glibc regex, which
// finds what GNU's -o prints, gets an assertion wrong: an anchor or word
// boundary (^ $ \< \> \b \B \` \') with more of the pattern after it,
// inside a repetition glibc's parser builds from copies of the repeated
// part (x+ is x then x*, x{,2} is x? then a copy, x{2} two copies; x*,
// x? and x{1} copy nothing). GNU's dfa still selects the right lines,
// but in GNU grep 3.8 over glibc 2.36 -o prints what no correct match
// gives: `grep -oE '(\<.)+'` prints nothing for `ab`, `(\b.)+` all of
// `a..`, `(^a)+` nothing for `aa`, `\(^a\)\{,2\}-` not the `-` of `b-`.
// RE2 cannot follow that: an error that says so, not a different output.
// An assertion that ends the repeated part (`(a\>)+`, `(-\<|\>){1,2}`)
// is not refused: there glibc agreed with the dfa in every case tried.
// -F and literal patterns have no assertions.
func checkCopiedAssertions(pats []string, mode grepMode, fold bool) error {
	if p, ok := anyPatternTree(pats, mode, fold, syntax.PerlX, func(t *syntax.Regexp) bool { return copiesAssertion(t, false) }); ok {
		return compute.Invalidf("grep: unsupported with -o: an anchor or word boundary followed by more inside a repetition that glibc regex copies (+ or {m,n}) in pattern %q", p)
	}
	return nil
}

// anyPatternTree returns the first of pats (not -F: literals have no
// assertions) whose parsed translation (with flags) bad holds for. At a
// pattern that does not translate or parse it stops with none:
// compileGrep reports that error first.
func anyPatternTree(pats []string, mode grepMode, fold bool, flags syntax.Flags, bad func(*syntax.Regexp) bool) (string, bool) {
	if mode == grepFixed {
		return "", false
	}
	for _, p := range pats {
		s, err := translateRE(p, mode == grepExtended, fold, true)
		if err != nil {
			return "", false
		}
		t, err := syntax.Parse(s, flags)
		if err != nil {
			return "", false
		}
		if bad(t) {
			return p, true
		}
	}
	return "", false
}

// copiesAssertion reports whether t holds an assertion followed by more
// of the pattern inside a repetition glibc copies (in: t is inside one).
func copiesAssertion(t *syntax.Regexp, in bool) bool {
	switch t.Op {
	case syntax.OpPlus:
		in = true
	case syntax.OpRepeat:
		min, max := t.Min, t.Max
		in = in || !(min == 0 && (max == -1 || max == 1) || min == max && min <= 1)
	case syntax.OpConcat:
		if in {
			for _, s := range t.Sub[:len(t.Sub)-1] {
				if hasAssertion(s) {
					return true
				}
			}
		}
	}
	for _, s := range t.Sub {
		if copiesAssertion(s, in) {
			return true
		}
	}
	return false
}

// hasAssertion reports whether t holds an anchor or a word boundary
// (or a \< or \> marker, wordmark.go).
func hasAssertion(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	if isMarkNode(t) {
		return true
	}
	for _, s := range t.Sub {
		if hasAssertion(s) {
			return true
		}
	}
	return false
}
