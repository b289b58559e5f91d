package grep

import (
	"regexp/syntax"

	"github.com/halfclose/halfclose/compute"
)

// checkNewlineAnchors refuses -z -o over patterns where glibc regex,
// which finds what GNU's -o prints, reads ^ or $ beside a newline inside
// the NUL-ended line. GNU grep 3.8 turns regex's newline_anchor off under
// -z, but glibc 2.36's matcher still steps into the after-a-newline state
// when a match goes through a newline: a ^ after a newline the match took
// in holds there (`grep -zoE '[^a]*^x*'` prints "b\nx" for "b\nxax"), and
// so does a $ before a newline the match then takes in (`x|a$.b` prints
// "a\nb" for "x\na\nb"), unless the pattern has groups and alternatives
// or repetitions (`x|(a)$.b` does not: glibc's backward pass checks the
// $ with newline_anchor off and drops the start). At the match's start
// and end, and with no newline in the match beside them, ^ and $ hold
// only at the line's start and end, as halfclose's matchers read them.
// So a pattern is refused when a ^ can come after something that matches
// a newline ('.', [^a], \s, \W, a class with a newline), or a $ before
// one (\` and \' too: they are ^ and $ here). GNU's dfa selects the lines
// with ^ and $ at the line's ends only, as halfclose does without -o.
func checkNewlineAnchors(pats []string, mode grepMode, fold bool) error {
	bad := func(t *syntax.Regexp) bool {
		_, forward := nlAnchorWalk(t, false, false)
		_, backward := nlAnchorWalk(t, false, true)
		return forward || backward
	}
	if p, ok := anyPatternTree(pats, mode, fold, syntax.PerlX|syntax.ClassNL, bad); ok {
		return compute.Invalidf("grep: unsupported with -z -o: a ^ after or a $ before what can match a newline in pattern %q", p)
	}
	return nil
}

// nlAnchorWalk walks t in match order (backward: in reverse) with nl, whether
// a newline can have been matched before t (after it, backward). It
// returns whether one can have been matched once t is, and bad: a ^ (a $
// backward) is met where one can.
func nlAnchorWalk(t *syntax.Regexp, nl, backward bool) (out, bad bool) {
	switch t.Op {
	case syntax.OpBeginLine, syntax.OpBeginText:
		return nl, nl && !backward
	case syntax.OpEndLine, syntax.OpEndText:
		return nl, nl && backward
	case syntax.OpConcat:
		for i := range t.Sub {
			s := t.Sub[i]
			if backward {
				s = t.Sub[len(t.Sub)-1-i]
			}
			var b bool
			if nl, b = nlAnchorWalk(s, nl, backward); b {
				return nl, true
			}
		}
		return nl, false
	case syntax.OpAlternate:
		out := nl
		for _, s := range t.Sub {
			o, b := nlAnchorWalk(s, nl, backward)
			if b {
				return true, true
			}
			out = out || o
		}
		return out, false
	case syntax.OpCapture:
		return nlAnchorWalk(t.Sub[0], nl, backward)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		if t.Op == syntax.OpRepeat && t.Max == 0 {
			return nl, false
		}
		o, b := nlAnchorWalk(t.Sub[0], nl, backward)
		if b || o == nl || t.Op == syntax.OpQuest || t.Op == syntax.OpRepeat && t.Max == 1 {
			return nl || o, b
		}
		// a second iteration after a first that matched a newline
		return nlAnchorWalk(t.Sub[0], true, backward)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true, false
	case syntax.OpCharClass:
		for i := 0; i+1 < len(t.Rune); i += 2 {
			if t.Rune[i] <= '\n' && '\n' <= t.Rune[i+1] {
				return true, false
			}
		}
	}
	return nl, false
}
