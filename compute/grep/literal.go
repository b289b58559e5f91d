package grep

import (
	"bytes"
	"regexp/syntax"
	"slices"
)

// litSet is a prefilter: every match of the pattern contains one of lits.
// With fold, lits are lower-cased and are searched for in lower-cased text.
// exact: a line holding one of lits matches (no regexp needed).
type litSet struct {
	lits  [][]byte
	wide  [][]byte // lits as they appear in widened text
	fold  bool
	exact bool
	// finders and wfinders search lits and wide in text that is not
	// lower-cased, when fold and every literal is long enough; nil:
	// search the lower-cased text.
	finders, wfinders []*foldFinder
}

// prepare makes the set's widened literals and, for a fold set of long
// literals, their finders.
func (s *litSet) prepare() {
	s.wide = s.wide[:0]
	for _, l := range s.lits {
		s.wide = append(s.wide, widen(nil, l))
	}
	s.finders, s.wfinders = nil, nil
	if !s.fold || s.minLen() < foldFinderMin {
		return
	}
	for i := range s.lits {
		s.finders = append(s.finders, newFoldFinder(s.lits[i]))
		s.wfinders = append(s.wfinders, newFoldFinder(s.wide[i]))
	}
}

func (s *litSet) minLen() int {
	n := 1 << 30
	for _, l := range s.lits {
		n = min(n, len(l))
	}
	return n
}

// litChar reports whether t matches exactly one byte, or one ASCII letter
// in either case (fold), returning the byte (lower-cased when fold).
func litChar(t *syntax.Regexp) (c byte, fold, ok bool) {
	switch t.Op {
	case syntax.OpLiteral:
		if len(t.Rune) == 1 && t.Rune[0] < 0x100 && t.Flags&syntax.FoldCase == 0 {
			return byte(t.Rune[0]), false, true
		}
	case syntax.OpCharClass:
		r := t.Rune
		if len(r) == 2 && r[0] == r[1] && r[0] < 0x100 {
			return byte(r[0]), false, true
		}
		if len(r) == 4 && r[0] == r[1] && r[2] == r[3] && 'A' <= r[0] && r[0] <= 'Z' && r[2] == r[0]+32 {
			return byte(r[2]), true, true
		}
	}
	return 0, false, false
}

// wholeLiteral returns the literal t is, lower-cased when its letters
// match in either case (fold), or nil: t is not a non-empty literal, or
// mixes letters matched in either case with letters matched in one.
func wholeLiteral(t *syntax.Regexp) (lit []byte, fold bool) {
	plain := false
	for _, s := range flatConcat(nil, t) {
		c, f, ok := litChar(s)
		if !ok {
			return nil, false
		}
		lit = append(lit, c)
		fold = fold || f
		plain = plain || !f && isASCIILetter(rune(c))
	}
	if len(lit) == 0 || fold && plain {
		return nil, false
	}
	return lit, fold
}

// flatConcat appends the items of t, nested concatenations flattened and
// multi-rune literals split into single runes.
func flatConcat(dst []*syntax.Regexp, t *syntax.Regexp) []*syntax.Regexp {
	switch {
	case t.Op == syntax.OpConcat:
		for _, s := range t.Sub {
			dst = flatConcat(dst, s)
		}
	case t.Op == syntax.OpLiteral && len(t.Rune) > 1:
		for _, r := range t.Rune {
			dst = append(dst, &syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune{r}, Flags: t.Flags})
		}
	case t.Op == syntax.OpCapture:
		return flatConcat(dst, t.Sub[0])
	default:
		dst = append(dst, t)
	}
	return dst
}

// litSets returns prefilter candidates for t: each set's literals are such
// that every match of t contains one of them.
func litSets(t *syntax.Regexp) []litSet {
	switch t.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return litSets(t.Sub[0])
	case syntax.OpRepeat:
		if t.Min >= 1 {
			sets := litSets(t.Sub[0])
			for i := range sets {
				sets[i].exact = t.Min == 1 // x{2}: one x is not a match
			}
			return sets
		}
	case syntax.OpAlternate:
		u := litSet{exact: true}
		var plain bool // a branch's literal has a letter that must match its case
		for _, s := range t.Sub {
			best := bestStatic(litSets(s))
			if best == nil {
				return nil
			}
			u.lits = append(u.lits, best.lits...)
			u.fold = u.fold || best.fold
			u.exact = u.exact && best.exact
			if !best.fold && slices.ContainsFunc(best.lits, func(l []byte) bool {
				return slices.ContainsFunc(l, func(c byte) bool { return isASCIILetter(rune(c)) })
			}) {
				plain = true
			}
		}
		if len(u.lits) > 8 {
			return nil
		}
		if u.fold { // lower-case the others too: they then select a superset
			for i, l := range u.lits {
				u.lits[i] = lowerCopy(l)
			}
			u.exact = u.exact && !plain
		}
		return []litSet{u}
	case syntax.OpLiteral, syntax.OpCharClass, syntax.OpConcat:
		items := flatConcat(nil, t)
		var sets []litSet
		var run []byte
		runFold, runPlain := false, false // letters matched in either case, in one
		flush := func() {
			if len(run) > 0 {
				sets = append(sets, litSet{lits: [][]byte{run}, fold: runFold, exact: !(runFold && runPlain)})
			}
			run, runFold, runPlain = nil, false, false
		}
		whole := true
		for _, s := range items {
			if c, f, ok := litChar(s); ok {
				run = append(run, c)
				runFold = runFold || f
				runPlain = runPlain || !f && isASCIILetter(rune(c))
				continue
			}
			whole = false
			flush()
			if s.Op != syntax.OpLiteral && s.Op != syntax.OpCharClass {
				sets = append(sets, litSets(s)...)
			}
		}
		flush()
		if !whole || len(sets) != 1 {
			for i := range sets {
				sets[i].exact = false
			}
		}
		for i := range sets {
			if sets[i].fold {
				for j, l := range sets[i].lits {
					sets[i].lits[j] = lowerCopy(l)
				}
			}
		}
		return sets
	}
	return nil
}

// bestStatic returns the set with the longest shortest literal, then the
// fewest literals, or nil.
func bestStatic(sets []litSet) *litSet {
	var best *litSet
	for i := range sets {
		s := &sets[i]
		if best == nil || s.minLen() > best.minLen() || s.minLen() == best.minLen() && len(s.lits) < len(best.lits) {
			best = s
		}
	}
	return best
}

// seqMatcher matches a pattern that is a fixed-length sequence of byte
// classes, optionally anchored at the line's start or end, on raw
// (unwidened) text: a class holds the bytes whose rune it holds.
type seqMatcher struct {
	mask     [256]uint64 // bit i: the byte is in class i
	k        int         // classes, 1..64
	bol, eol bool
	lit      []byte // the longest run of one-byte classes, at offset off
	off      int
}

// compileSeq returns the seqMatcher for t, or nil if t is not such a
// sequence.
func compileSeq(t *syntax.Regexp) *seqMatcher {
	items := flatConcat(nil, t)
	q := &seqMatcher{}
	if len(items) > 0 && items[0].Op == syntax.OpBeginLine {
		q.bol, items = true, items[1:]
	}
	if n := len(items); n > 0 && items[n-1].Op == syntax.OpEndLine {
		q.eol, items = true, items[:n-1]
	}
	var classes [][256]bool
	var add func(s *syntax.Regexp) bool
	add = func(s *syntax.Regexp) bool {
		var c [256]bool
		switch s.Op {
		case syntax.OpLiteral:
			if len(s.Rune) != 1 || s.Rune[0] > 0xFF || s.Flags&syntax.FoldCase != 0 {
				return false
			}
			c[s.Rune[0]] = true
		case syntax.OpCharClass:
			for i := 0; i+1 < len(s.Rune); i += 2 {
				for r := s.Rune[i]; r <= min(s.Rune[i+1], 0xFF); r++ {
					c[r] = true
				}
			}
		case syntax.OpAnyCharNotNL:
			for i := range c {
				c[i] = i != '\n'
			}
		case syntax.OpRepeat:
			if s.Min != s.Max || s.Min > 64 {
				return false
			}
			for range s.Min {
				if !add(s.Sub[0]) {
					return false
				}
			}
			return true
		default:
			return false
		}
		classes = append(classes, c)
		return true
	}
	for _, s := range items {
		if !add(s) || len(classes) > 64 {
			return nil
		}
	}
	if len(classes) == 0 {
		return nil
	}
	q.k = len(classes)
	run := 0
	for i, c := range classes {
		n := 0
		for b, in := range c {
			if in {
				q.mask[b] |= 1 << i
				n++
			}
		}
		if n == 1 {
			run++
			if run > len(q.lit) {
				q.off = i + 1 - run
				q.lit = make([]byte, 0, run)
				for _, c := range classes[q.off : i+1] {
					q.lit = append(q.lit, byte(slices.Index(c[:], true)))
				}
			}
		} else {
			run = 0
		}
	}
	return q
}

// at reports whether the sequence matches line at s.
func (q *seqMatcher) at(line []byte, s int) bool {
	if s < 0 || s+q.k > len(line) {
		return false
	}
	for i, c := range line[s : s+q.k] {
		if q.mask[c]>>i&1 == 0 {
			return false
		}
	}
	return true
}

// matchLine reports whether line (without its newline) has a match.
func (q *seqMatcher) matchLine(line []byte) bool {
	switch {
	case q.bol:
		return q.at(line, 0) && (!q.eol || q.k == len(line))
	case q.eol:
		return q.at(line, len(line)-q.k)
	case q.lit != nil:
		for from := q.off; from < len(line); {
			j := bytes.Index(line[from:], q.lit)
			if j < 0 {
				return false
			}
			if q.at(line, from+j-q.off) {
				return true
			}
			from += j + 1
		}
		return false
	}
	return q.find(line, 0) >= 0
}

// find returns a position in the first line of text at or after pos that
// has a match (text[pos-1] is '\n' or pos is 0), or -1.
func (q *seqMatcher) find(text []byte, pos int) int {
	var d uint64
	hit := uint64(1) << (q.k - 1)
	init := uint64(1)
	for i := pos; i < len(text); i++ {
		c := text[i]
		d = (d<<1 | init) & q.mask[c]
		if q.bol {
			init = 0
			if c == '\n' {
				init = 1
			}
		}
		if d&hit != 0 && (!q.eol || i+1 == len(text) || text[i+1] == '\n') {
			return i
		}
	}
	return -1
}
