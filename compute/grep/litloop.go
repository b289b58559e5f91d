package grep

import (
	"bytes"
	"encoding/binary"
)

// A pattern that is one literal selects its lines where it occurs, and in
// the common cases what becomes of a selected line needs neither its
// number nor a call of its own: it is counted (-c), written with the
// selected lines next to it (no flag), or the lines between it and the
// one before are written (-v) or counted (-vc). processLit runs those
// cases in one loop per text, with the two searches a selected line
// costs (the literal, then the newline that ends its line) and nothing
// else per line: with half the lines selected (grep -c INFO over the
// bench log) the calls of the general path (findLine, region, selected)
// and their tests cost about as much as the searches. A selected line
// right after the one before (s - pos under that line's length) is
// bounded by one search forward from its start (lineAfter), not one back
// from the literal and one forward.
//
// Lines of a log share a layout: the literal a line was selected for is
// often at the same column of the next line (INFO after a timestamp of
// fixed width). A literal of up to 8 bytes is therefore compared first,
// as one word, at that column of the line that follows a selected one;
// when it is there and that line ends after it, the line is selected with
// one search (its newline) instead of two. Elsewhere the compare fails
// and the search runs as before: a guess costs one load and compare.

// litMode is what processLit does with the selected lines, or litNone
// when the general path must run.
type litMode byte

const (
	litNone     litMode = iota
	litCount            // -c: count the lines
	litPlain            // write the lines, a run of adjacent ones at once
	litInvert           // -v: write the lines between
	litInvCount         // -vc: count the lines between
)

// litModeOf returns the mode of processLit that selects g's lines, or
// litNone. Not with context, -m, -l, -L or -q (which stop), nor with a
// prefix or -o, nor when a superset must agree.
func litModeOf(g *grepStage, ctx bool) litMode {
	m := g.m
	if !m.isLit || len(m.lit) == 0 || m.sup != nil || ctx || g.maxCount >= 0 || g.firstOnly ||
		g.lineNum || g.withName || g.byteOff || g.only {
		return litNone
	}
	switch {
	case !g.invert && g.count:
		return litCount
	case !g.invert:
		return litPlain
	case g.noInvert:
		return litNone
	case g.count:
		return litInvCount
	}
	return litInvert
}

// processLit is process for a literal in r.lit's mode: text holds whole
// lines, the last one possibly unterminated (end of input), end is where
// the search text ends (before text's final newline), f how the literal
// is searched for. Each selected line is the line where the literal
// occurs, bounded as findLine bounds it.
func (r *grepRun) processLit(text []byte, end int, f *litFinder) {
	lit := r.g.m.lit
	hay := text[:end]
	var n int64 // selected lines
	// The literal (up to 8 bytes) is first compared where it was in the
	// line selected before, col bytes into the line, as word under mask.
	var word, mask uint64
	if len(lit) <= 8 {
		var b [8]byte
		copy(b[:], lit)
		word, mask = binary.LittleEndian.Uint64(b[:]), ^uint64(0)>>(64-8*len(lit))
	}
	col := -1
	last := 0 // the length of the last selected line
	// litPlain: a run of adjacent selected lines is written at once,
	// text[runS:runE]
	runS, runE := 0, 0
	pos := 0
	for pos < len(hay) {
		ls, le := -1, 0 // the selected line, hay[ls:le]
		if g := pos + col; col >= 0 && g+8 <= len(hay) && (binary.LittleEndian.Uint64(hay[g:g+8])^word)&mask == 0 {
			// the literal is at g: on the line at pos if that line
			// ends after g (the literal holds no newline)
			if le = bytes.IndexByte(hay[pos:], '\n'); le < 0 {
				le = len(hay)
			} else {
				le += pos
			}
			if le > g {
				ls = pos
			}
		}
		if ls < 0 {
			s := f.index(hay[pos:], lit)
			if s < 0 {
				break
			}
			s += pos
			if s-pos < last { // s is likely on the line at pos
				ls, le = lineAfter(hay, pos, s)
			} else {
				ls = pos + lastNewline(hay[pos:s]) + 1
				if le = bytes.IndexByte(hay[s:], '\n'); le < 0 {
					le = len(hay)
				} else {
					le += s
				}
			}
			if mask != 0 {
				col = s - ls
			}
		}
		n++
		last = le - ls
		switch r.lit {
		case litPlain:
			if ls != runE {
				if runE > runS {
					r.writeText(text[runS:runE])
				}
				runS = ls
			}
			runE = min(le+1, len(text))
		case litInvert:
			if ls > pos {
				// text[pos:ls] is whole lines, each ending in a newline
				r.some = true
				r.writeText(text[pos:ls])
			}
		}
		pos = le + 1
	}
	switch r.lit {
	case litCount:
		r.matched += n
	case litInvCount:
		if len(text) > 0 {
			r.matched += countLines(text) - n
		}
	case litPlain:
		if runE > runS {
			r.writeText(text[runS:runE])
			if text[runE-1] != '\n' { // the input's last line, unterminated
				r.w.WriteByte(r.g.eol)
			}
		}
		r.matched += n
	case litInvert:
		if pos < len(text) {
			r.some = true
			r.writeText(text[pos:])
			if text[len(text)-1] != '\n' {
				r.w.WriteByte(r.g.eol)
			}
		}
	}
	r.lineNo += n
}

// lineAfter returns the bounds of the line holding hay[s], ls and le
// (its newline, or len(hay)), where pos <= s is a line's start and the
// line that starts there is likely to hold s: the first newline from pos
// on is searched for, forward, and when it lies at or after s it ends
// s's line, which starts at pos.
func lineAfter(hay []byte, pos, s int) (ls, le int) {
	e := bytes.IndexByte(hay[pos:], '\n')
	if e < 0 {
		return pos, len(hay)
	}
	if e += pos; e >= s {
		return pos, e
	}
	ls = e + 1 + lastNewline(hay[e+1:s]) + 1
	if le = bytes.IndexByte(hay[s:], '\n'); le < 0 {
		return ls, len(hay)
	}
	return ls, s + le
}
