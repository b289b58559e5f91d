package grep

import (
	"bytes"
	"io"
	"sync/atomic"
	"unicode/utf8"
)

// A search must stop soon after a cancel, but RE2 cannot be interrupted
// while it scans a slice: one line of 1 MiB against a pattern of 1,000
// instructions is nearly a minute of work. So the text is searched in
// pieces of at most matchWork (bytes times instructions), with a look at
// the stop flag between pieces; a single line too long for that is
// searched through an io.RuneReader that ends the input early once the
// flag is set (interrupt), which RE2 can only run with its slowest engine,
// so it is kept for those lines.

// nextPiece returns where the next piece of text to search ends, and
// whether it is a line too long to search as a slice.
func (m *grepMatcher) nextPiece(text []byte) (end int, slow bool) {
	if m.isLit {
		return len(text), false // bytes.Index alone: fast on any text
	}
	if m.kw != nil {
		// The same cost a byte whatever the pattern; the search looks
		// at the stop flag itself (interrupt.spend).
		return pieceEnd(text, maxPiece), true
	}
	piece := max(1, min(matchWork/m.insts, maxPiece))
	end = pieceEnd(text, piece)
	return end, end > piece
}

// pieceEnd returns where the next piece of text starts: after the last
// newline within the first max bytes, or after the first line when that
// line is longer.
func pieceEnd(text []byte, max int) int {
	if len(text) <= max {
		return len(text)
	}
	if i := bytes.LastIndexByte(text[:max], '\n'); i >= 0 {
		return i + 1
	}
	if i := bytes.IndexByte(text[max:], '\n'); i >= 0 {
		return max + i + 1
	}
	return len(text)
}

// interrupt runs the regexps of one line's search through runeText, and
// says whether the stop flag cut one short (its answer then means
// nothing).
type interrupt struct {
	stop  *atomic.Bool
	every int  // runes between two looks at stop
	wide  bool // the text is widened: bytes >= 0x80 are two-byte runes
	hit   bool // a search was cut short
	rd    runeText
	ctxRe reMatcher // `(?s:.)(re)`: re's matches past a line's start
	// kwLeft is the steps a keyword search takes before it looks at stop
	// again (spend).
	kwLeft int
	// kwLooks counts spend's looks at stop (tests read it).
	kwLooks int
}

// reader returns b as a RuneReader for one search.
func (in *interrupt) reader(b []byte) io.RuneReader {
	in.rd = runeText{in: in, b: b, left: in.every}
	return &in.rd
}

// runeText reads text as RE2 reads a slice of it: one rune a byte, but a
// widened byte >= 0x80 as its two-byte encoding (the offsets RE2 reports
// are then those of the slice). It ends early once the stop flag is set.
type runeText struct {
	in   *interrupt
	b    []byte
	i    int
	left int // runes until the next look at the flag
}

func (t *runeText) ReadRune() (rune, int, error) {
	if t.i >= len(t.b) {
		return 0, 0, io.EOF
	}
	if t.left--; t.left <= 0 {
		t.left = t.in.every
		if t.in.stop.Load() {
			t.in.hit = true
			t.i = len(t.b)
			return 0, 0, io.EOF
		}
	}
	c := t.b[t.i]
	if c < utf8.RuneSelf || !t.in.wide {
		t.i++
		return rune(c), 1, nil
	}
	r, n := utf8.DecodeRune(t.b[t.i:])
	t.i += n
	return r, n, nil
}

// findIndex is re.FindIndex(text), through in when it is not nil.
func (m *grepMatcher) findIndex(text []byte, in *interrupt) []int {
	if in == nil {
		return m.re.FindIndex(text)
	}
	return m.re.FindReaderIndex(in.reader(text))
}

// eachMatchSlow is eachMatch through in: the matches of re (or ore) past the
// line's start come from ctxRe, whose first character takes the rune
// before the search position, so that ^ and \b see what they would in
// the line.
func (m *grepMatcher) eachMatchSlow(line []byte, f func(s, e int), in *interrupt) {
	re, ctx := m.re, m.full
	if m.ore != nil {
		re, ctx = m.ore, m.ofull
	}
	if in.ctxRe == nil {
		in.ctxRe = ctx()
	}
	for pos := 0; pos <= len(line) && !in.hit; {
		var s, e int
		if pos == 0 {
			loc := re.FindReaderIndex(in.reader(line))
			if loc == nil {
				return
			}
			s, e = loc[0], loc[1]
		} else {
			base := pos - 1
			if in.wide && base > 0 && line[base] >= 0x80 && line[base-1] >= 0xC0 {
				base-- // the previous rune is a widened byte
			}
			loc := in.ctxRe.FindReaderSubmatchIndex(in.reader(line[base:]))
			if loc == nil {
				return
			}
			s, e = base+loc[2], base+loc[3]
		}
		if in.hit {
			return
		}
		switch {
		case e > s:
			f(s, e)
			pos = e
		case s < len(line):
			pos = nextRune(line, s, in.wide) // past an empty match: one rune on
		default:
			pos = s + 1
		}
	}
}
