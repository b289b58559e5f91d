package grep

import (
	"bytes"
	"regexp/syntax"
)

// A pattern that matches in every line (grep '', ^, $, x*, .*, -x '.*')
// selects every line without being run: RE2's per-call set-up and
// clearing cost about 115 ns a line, where GNU's dfa passes over a short
// line in a few. Which patterns do is decided on the compiled selection
// tree (the patterns with -x or -w applied, fixed for bytes, -i and -z),
// the very tree the matcher runs, so the fast path selects exactly the
// lines the matcher would:
//
//   - it matches the empty string with no assertion on the way but ^
//     (true at every line's start), or none but $ (true at every line's
//     end);
//   - or it is a concatenation of such a ^-only part, a repetition of any
//     byte but the newline (.* : it matches the whole line), and a
//     $-only part (-x '.*', '^.*$');
//   - or an alternation with such a branch.
//
// Anything else (a word assertion, \A or \z, a class short of a byte, -w's
// wrapper) is left to the matcher. Such a pattern matches only the empty
// string when it is nullable and matches nothing else (onlyEmpty): -o then
// prints nothing.

// anchorSet is the assertions a nullable path may pass.
type anchorSet uint8

const (
	anchorBegin anchorSet = 1 << iota // ^ (OpBeginLine)
	anchorEnd                         // $ (OpEndLine)
)

// matchesEveryLine reports whether t matches in every line, as above.
func matchesEveryLine(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpCapture:
		return matchesEveryLine(t.Sub[0])
	case syntax.OpAlternate:
		for _, s := range t.Sub {
			if matchesEveryLine(s) {
				return true
			}
		}
		return false
	case syntax.OpConcat:
		for i, s := range t.Sub {
			if anyLine(s) && allNullable(t.Sub[:i], anchorBegin) && allNullable(t.Sub[i+1:], anchorEnd) {
				return true
			}
		}
	}
	return nullable(t, anchorBegin) || nullable(t, anchorEnd) || anyLine(t)
}

// allNullable reports whether every tree of ts is nullable with ok.
func allNullable(ts []*syntax.Regexp, ok anchorSet) bool {
	for _, s := range ts {
		if !nullable(s, ok) {
			return false
		}
	}
	return true
}

// nullable reports whether t matches the empty string through no
// assertion but those of ok.
func nullable(t *syntax.Regexp, ok anchorSet) bool {
	switch t.Op {
	case syntax.OpEmptyMatch, syntax.OpStar, syntax.OpQuest:
		return true
	case syntax.OpBeginLine:
		return ok&anchorBegin != 0
	case syntax.OpEndLine:
		return ok&anchorEnd != 0
	case syntax.OpCapture, syntax.OpPlus:
		return nullable(t.Sub[0], ok)
	case syntax.OpRepeat:
		return t.Min == 0 || nullable(t.Sub[0], ok)
	case syntax.OpConcat:
		return allNullable(t.Sub, ok)
	case syntax.OpAlternate:
		for _, s := range t.Sub {
			if nullable(s, ok) {
				return true
			}
		}
	}
	// literals, classes, '.', \A, \z, word assertions, no-match
	return false
}

// anyLine reports whether t matches any whole line: a repetition, with
// no upper bound and none required, of a byte that may be any but the
// newline (which widened text holds as runes up to 0xFF).
func anyLine(t *syntax.Regexp) bool {
	for t.Op == syntax.OpCapture {
		t = t.Sub[0]
	}
	if t.Op != syntax.OpStar && !(t.Op == syntax.OpRepeat && t.Min == 0 && t.Max < 0) {
		return false
	}
	c := t.Sub[0]
	for c.Op == syntax.OpCapture {
		c = c.Sub[0]
	}
	switch c.Op {
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true
	case syntax.OpCharClass:
		return coversLine(c.Rune)
	}
	return false
}

// coversLine reports whether the class rs (sorted ranges) holds every
// rune from 0 to 0xFF but the newline.
func coversLine(rs []rune) bool {
	next := rune(0) // the first rune not yet covered
	for i := 0; i+1 < len(rs); i += 2 {
		if rs[i] > next && !(next == '\n' && rs[i] == '\n'+1) {
			return false
		}
		next = max(next, rs[i+1]+1)
		if next > 0xFF {
			return true
		}
	}
	return false
}

// onlyEmpty reports whether t, nullable, matches nothing but the empty
// string: it holds no literal, class or '.' that it could consume.
func onlyEmpty(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpLiteral, syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return false
	}
	for _, s := range t.Sub {
		if !onlyEmpty(s) {
			return false
		}
	}
	return true
}

// processEvery is process for a pattern that matches every line
// (m.every), without context, where what becomes of the selected lines
// needs no call per line: -v selects none; otherwise the lines up to -m's
// (or -l's, -L's, -q's first) are selected, and written as they are (no
// flag, -m), counted (-c), or give nothing to print (-o of a pattern that
// matches only the empty string, whatever the prefixes). It reports
// false, having done nothing, where the general path must run (-n, -b,
// -H without -o, -o that may print).
func (r *grepRun) processEvery(text []byte) bool {
	g := r.g
	if len(text) == 0 {
		return true
	}
	switch {
	case g.invert:
		if g.lineNum {
			r.lineNo += countLines(text)
		}
		return true
	case g.count:
	case g.only:
		if !g.m.oEmpty || g.lineNL {
			return false
		}
	case g.lineNum || g.withName || g.byteOff:
		return false
	}
	sel := text
	limit := int64(-1) // the lines still to select; -1: all
	if g.maxCount >= 0 {
		limit = g.maxCount - r.matched
	}
	if g.firstOnly {
		limit = 1
	}
	if limit >= 0 && limit < int64(len(text)) { // (a line is a byte at least)
		end := 0
		for k := int64(0); k < limit && end < len(text); k++ {
			i := bytes.IndexByte(text[end:], '\n')
			if i < 0 {
				end = len(text)
				break
			}
			end += i + 1
		}
		sel = text[:end]
	}
	n := countLines(sel)
	r.matched += n
	r.lineNo += n
	if limit >= 0 && n >= limit {
		r.done = true
	}
	if !g.count && !g.only {
		r.writeText(sel)
		if sel[len(sel)-1] != '\n' { // the input's last line, unterminated
			r.w.WriteByte(g.eol)
		}
	}
	return true
}

// findWindowed returns the offset from pos of re's first match in
// text[pos:] (pos a line's start), or -1. It searches the whole lines in
// the first searchWindow bytes first, then the rest: RE2's backtracker,
// which runs a search of up to 256 Kib/len(prog) bytes, clears a bit per
// byte and instruction of what it is given before it starts, so where
// most lines match (grep -x 'x*' over short lines) one search of the
// whole rest of the text for a match in the next line or two cleared it
// all, a line at a time (18 % of the CPU in memclr). A match never holds
// a newline, and the window ends at a line's end, where ^, $ and \b read
// as they do at that line's end in the text. (Windows doubling to the
// rest cost a sparse search a tenth more: the backtracker, which Go
// picks for the smaller ones, is slower than the NFA per byte.) Through
// in (one long line), the text is searched whole.
func (m *grepMatcher) findWindowed(text []byte, pos int, in *interrupt) int {
	if in != nil {
		if loc := m.findIndex(text[pos:], in); loc != nil {
			return loc[0]
		}
		return -1
	}
	start := pos
	if pos+searchWindow < len(text) {
		if i := bytes.IndexByte(text[pos+searchWindow:], '\n'); i >= 0 {
			lim := pos + searchWindow + i
			if loc := m.re.FindIndex(text[pos:lim]); loc != nil {
				return loc[0]
			}
			pos = lim + 1
		}
	}
	if loc := m.re.FindIndex(text[pos:]); loc != nil {
		return pos - start + loc[0]
	}
	return -1
}

// searchWindow is findWindowed's first window: a few short lines.
const searchWindow = 256
