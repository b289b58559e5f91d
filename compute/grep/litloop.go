package grep

import "bytes"

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
	pos := 0
	switch r.lit {
	case litCount, litInvCount:
		for pos <= len(hay) {
			s := f.index(hay[pos:], lit)
			if s < 0 {
				break
			}
			s += pos
			n++
			e := bytes.IndexByte(hay[s:], '\n')
			if e < 0 {
				break
			}
			pos = s + e + 1
		}
		if r.lit == litCount {
			r.matched += n
		} else if len(text) > 0 {
			r.matched += countLines(text) - n
		}
	case litPlain:
		// a run of adjacent selected lines is written at once,
		// text[runS:runE]
		runS, runE := 0, 0
		last := 0 // the length of the last selected line
		for pos <= len(hay) {
			s := f.index(hay[pos:], lit)
			if s < 0 {
				break
			}
			s += pos
			n++
			var ls, le int
			if s-pos < last { // s is likely on the line at pos
				ls, le = lineAfter(hay, pos, s)
			} else {
				ls = pos + lastNewline(hay[pos:s]) + 1
				le = bytes.IndexByte(hay[s:], '\n')
				if le < 0 {
					le = len(hay)
				} else {
					le += s
				}
			}
			last = le - ls
			if ls != runE {
				if runE > runS {
					r.writeText(text[runS:runE])
				}
				runS = ls
			}
			runE = min(le+1, len(text))
			pos = le + 1
		}
		if runE > runS {
			r.writeText(text[runS:runE])
			if text[runE-1] != '\n' { // the input's last line, unterminated
				r.w.WriteByte(r.g.eol)
			}
		}
		r.matched += n
	case litInvert:
		last := 0
		for pos < len(text) {
			s := f.index(hay[pos:], lit)
			if s < 0 {
				break
			}
			s += pos
			n++
			if s-pos < last {
				ls, le := lineAfter(hay, pos, s)
				last = le - ls
				if ls > pos {
					r.some = true
					r.writeText(text[pos:ls])
				}
				pos = le + 1
				continue
			}
			ls := pos + lastNewline(hay[pos:s]) + 1
			if ls > pos {
				// text[pos:ls] is whole lines, each ending in a newline
				r.some = true
				r.writeText(text[pos:ls])
			}
			le := bytes.IndexByte(hay[s:], '\n')
			if le < 0 {
				pos = len(text)
				break
			}
			pos = s + le + 1
			last = pos - 1 - ls
		}
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
