package grep

import (
	"regexp/syntax"
	"slices"
)

// GNU's \< matches where a word starts (the byte before is no word
// character or there is none, the byte after is one), \> where a word
// ends. RE2 has only \b, either of the two, and no look-around, so
// translateRE writes them as markers (a group of a rune no text holds)
// and fixWordMarks, once the pattern is parsed, rewrites each marker as
// \b with the word-character condition it adds moved into what the
// pattern matches beside it: \<x is \b followed by the strings of x that
// start with a word character. A sequence is rewritten at its markers,
// with an alternative, an optional part or a repetition of at most
// maxUnroll that holds one taken with what is beside it; a longer one
// whose iterations may match nothing has those split out first
// (splitReps), so that its markers too see what is beside them. Only where
// nothing the pattern matches is beside the marker on either side
// (\< alone, x*\<y*, ^\< ...) is the condition outside the match, and
// \b alone stands for it: there it selects the same lines, as a line
// with a word start has a word end too, save for an anchor or the other
// marker beside it that excludes it (\<$, ^\> and \<\> match nowhere).
// A repetition that is not split, or longer than maxUnroll, would be
// rewritten within its iteration, where such a \b sees nothing of what is
// beside the repetition: those go to wordVM.

const (
	markBegWord = 0x10FFF0 // \<
	markEndWord = 0x10FFF1 // \>
)

// maxWordMarks bounds the markers rewritten in one pattern: each may
// triple what is beside it when that can be empty; past it the pattern
// runs on wordVM.
const maxWordMarks = 8

func isWordMark(r rune) bool { return r == markBegWord || r == markEndWord }

// wordRanges are the word characters [0-9A-Za-z_] as class ranges, and
// nonWordRanges the other runes.
var (
	wordRanges    = []rune{'0', '9', 'A', 'Z', '_', '_', 'a', 'z'}
	nonWordRanges = []rune{0, '0' - 1, '9' + 1, 'A' - 1, 'Z' + 1, '_' - 1, '_' + 1, 'a' - 1, 'z' + 1, 0x10FFFF}
)

// maxMarkWork bounds the steps (nodes visited or built) of rewriting the
// markers of one pattern: parts that may be empty beside several markers
// make it grow as their product (x?...\<y?...\>z?..., 600 bytes, took 35 s
// and GiBs before it was refused as too big). Past it the pattern runs
// on wordVM, as past maxWordMarks; a rewriting that fits in the pattern
// budget takes far fewer.
const maxMarkWork = 1 << 16

// markRewriter rewrites the markers of one pattern, counting its steps
// against limit (none when 0). inRep counts the repetitions rewritten
// within their iteration only that hold the node being rewritten.
type markRewriter struct {
	work, limit int
	inRep       int
}

// errMarkWork is what a markRewriter panics with past its limit.
type errMarkWork struct{}

// errMarkWithin is what a markRewriter panics with where a marker in a
// repetition rewritten within its iteration becomes \b with nothing
// beside it in the iteration: that \b sees nothing of what is beside the
// repetition, which GNU's condition checks. Not exact: the pattern runs
// on wordVM.
type errMarkWithin struct{}

// inexact panics with errMarkWithin inside such a repetition.
func (w *markRewriter) inexact() {
	if w.inRep > 0 {
		panic(errMarkWithin{})
	}
}

func (w *markRewriter) step() {
	w.work++
	if w.limit > 0 && w.work > w.limit {
		panic(errMarkWork{})
	}
}

// countWordMarks counts the markers in t.
func countWordMarks(t *syntax.Regexp) int { return (&markRewriter{}).countWordMarks(t) }

func (w *markRewriter) countWordMarks(t *syntax.Regexp) int {
	w.step()
	if isMarkNode(t) {
		return 1
	}
	n := 0
	for _, s := range t.Sub {
		n += w.countWordMarks(s)
	}
	return n
}

// rewriteWordMarks returns t (which it may change) with its markers
// rewritten: by fixWordMarks with its repetitions split (splitReps), or
// where that is too big (more than 4 times t's size) or takes too many
// steps, without. Where neither is exact (a marker in a repetition that
// would be rewritten within its iteration only, more than maxWordMarks
// markers, a rewriting too big or too long to make), it returns t with
// its markers as assertions of their own (wordAsserts), for wordVM.
func rewriteWordMarks(t *syntax.Regexp) *syntax.Regexp {
	orig := cloneRE(t)
	limit := 4*progSize(orig) + 100
	for _, split := range []bool{true, false} {
		r, ok, within := fixWordMarks(cloneRE(orig), split)
		if ok && progSize(r) <= limit {
			return r
		}
		if within {
			break // without splitting, the same repetitions are not split
		}
	}
	return wordAsserts(orig)
}

// fixWordMarks returns t with its markers rewritten (see above; split:
// its repetitions split first), or false when that is not exact or takes
// more than maxMarkWork steps (t is then partly rewritten: the caller
// keeps a copy). within tells that no other split would be exact either:
// a repetition is rewritten within itself, or there are more than
// maxWordMarks markers.
func fixWordMarks(t *syntax.Regexp, split bool) (r *syntax.Regexp, ok, within bool) {
	w := &markRewriter{limit: maxMarkWork}
	defer func() {
		if e := recover(); e != nil {
			switch e.(type) {
			case errMarkWork:
			case errMarkWithin:
				within = true
			default:
				panic(e)
			}
			r, ok = nil, false
		}
	}()
	switch n := w.countWordMarks(t); {
	case n == 0:
		return t, true, false
	case n > maxWordMarks:
		return nil, false, true
	}
	if split {
		t = w.splitReps(t)
	}
	return w.rewriteMarks(t), true, false
}

// splitReps rewrites in place, innermost first, each repetition that
// rewriteMarks would see alone (unbounded, or longer than maxUnroll)
// whose repeated part holds a marker and may match the empty string, as
// its iterations that match a character and, apart, what its empty
// iterations can be. An iteration that matches nothing only adds
// conditions where it stands, so it can be left out wherever the count
// allows: x* is y* and x+ is y+|e, where y is x's strings that are not
// empty and e its empty one (its anchors and markers). A marker in y then
// has a character of its own iteration beside it, and one in e what is
// beside the repetition: its condition on the other side is no longer
// left to a  that sees no neighbour (in (x|\>)+b, \> needs a word
// character before the b, which a bare  does not; GNU selects nothing
// for *b). x{m,n} with m > 1 is y{m,n}, or fewer y with e among them.
func (w *markRewriter) splitReps(t *syntax.Regexp) *syntax.Regexp {
	w.step()
	for i, s := range t.Sub {
		t.Sub[i] = w.splitReps(s)
	}
	switch t.Op {
	case syntax.OpConcat:
		// a split one in it is items of the sequence, which
		// rewriteMarks takes with their neighbours
		if slices.ContainsFunc(t.Sub, func(s *syntax.Regexp) bool { return s.Op == syntax.OpConcat }) {
			return w.mkConcat(t.Sub)
		}
		return t
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
	default:
		return t
	}
	x := t.Sub[0]
	if w.markRepeat(t) != nil || t.Op == syntax.OpRepeat && w.unrollable(t) || w.countWordMarks(x) == 0 {
		return t
	}
	e := w.emptyPart(x)
	if e == nil {
		return t
	}
	min, max := 0, -1
	switch t.Op {
	case syntax.OpPlus:
		min = 1
	case syntax.OpRepeat:
		min, max = t.Min, t.Max
	}
	if max == 0 || min > maxSplitMin && max >= 0 && max < 2*min-1 {
		return t
	}
	y := w.nonEmpty(x)
	rep := func(lo, hi int) *syntax.Regexp {
		if y == nil || hi == 0 {
			return &syntax.Regexp{Op: syntax.OpEmptyMatch}
		}
		return mkRep(t.Flags, w.cloneRE(y), lo, hi)
	}
	seq := func(items ...*syntax.Regexp) *syntax.Regexp { return w.mkConcat(items) }
	var alts []*syntax.Regexp
	if y != nil {
		alts = append(alts, rep(min, max))
	}
	// Fewer than min y: one e among them is enough (more of them at one
	// place add nothing; at several, more conditions).
	switch {
	case min == 0:
	case min == 1 || y == nil:
		alts = append(alts, w.cloneRE(e))
	case max < 0:
		// any number of y around it: min or more are y{min,} too
		alts = append(alts, seq(rep(0, -1), w.cloneRE(e), rep(0, -1)))
	case max >= 2*min-1:
		// up to 2min-2 y around it: within y{min,max} past min-1
		alts = append(alts, seq(rep(0, min-1), w.cloneRE(e), rep(0, min-1)))
	default:
		for j := range min {
			alts = append(alts, seq(rep(j, j), w.cloneRE(e), rep(0, min-1-j)))
		}
	}
	if r := mkAlt(alts); r != nil {
		return r
	}
	return &syntax.Regexp{Op: syntax.OpEmptyMatch}
}

// mkRep is x{lo,hi} (hi -1: no bound), as x*, x+ or x? where it is one.
func mkRep(flags syntax.Flags, x *syntax.Regexp, lo, hi int) *syntax.Regexp {
	r := &syntax.Regexp{Op: syntax.OpRepeat, Flags: flags, Min: lo, Max: hi, Sub: []*syntax.Regexp{x}}
	switch {
	case hi == 0:
		return &syntax.Regexp{Op: syntax.OpEmptyMatch}
	case lo == 1 && hi == 1:
		return x
	case lo == 0 && hi == -1:
		r.Op = syntax.OpStar
	case lo == 1 && hi == -1:
		r.Op = syntax.OpPlus
	case lo == 0 && hi == 1:
		r.Op = syntax.OpQuest
	}
	return r
}

// maxSplitMin is the largest minimum count of a bounded repetition
// x{min,max} with max < 2min-1 that splitReps rewrites (it takes about
// min² copies of the repeated part).
const maxSplitMin = 8

// nonEmpty returns the strings of t that are not empty, or nil when
// there are none (a repetition whose parts may be empty: without its
// empty iterations, as splitReps).
func (w *markRewriter) nonEmpty(t *syntax.Regexp) *syntax.Regexp {
	w.step()
	if zeroWidth(t) {
		return nil
	}
	switch t.Op {
	case syntax.OpNoMatch:
		return nil
	case syntax.OpLiteral, syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return w.cloneRE(t)
	case syntax.OpCapture:
		return withSub(t, w.nonEmpty(t.Sub[0]))
	case syntax.OpAlternate:
		var alts []*syntax.Regexp
		for _, s := range t.Sub {
			if r := w.nonEmpty(s); r != nil {
				alts = append(alts, r)
			}
		}
		return mkAlt(alts)
	case syntax.OpConcat:
		// The first item that matches a character: those before it
		// match the empty string.
		var alts, empties []*syntax.Regexp
		for j, s := range t.Sub {
			if r := w.nonEmpty(s); r != nil {
				alts = append(alts, w.mkConcat(slices.Concat(w.cloneAll(empties), []*syntax.Regexp{r}, w.cloneAll(t.Sub[j+1:]))))
			}
			e := w.emptyPart(s)
			if e == nil {
				break
			}
			empties = append(empties, e)
		}
		return mkAlt(alts)
	case syntax.OpQuest:
		return w.nonEmpty(t.Sub[0])
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		min, max := 0, -1
		switch t.Op {
		case syntax.OpPlus:
			min = 1
		case syntax.OpRepeat:
			min, max = t.Min, t.Max
		}
		if max == 0 {
			return nil
		}
		if w.emptyPart(t.Sub[0]) == nil {
			if min == 0 {
				min = 1
			}
			return mkRep(t.Flags, w.cloneRE(t.Sub[0]), min, max)
		}
		y := w.nonEmpty(t.Sub[0])
		if y == nil {
			return nil
		}
		if min <= 1 {
			return mkRep(t.Flags, y, 1, max)
		}
		// min or more with parts that may be empty: as they are
		// (rewritten within themselves, as before splitReps).
		return w.cloneRE(t)
	}
	return nil
}

// isMarkNode reports whether t is a marker: a group of the marker rune
// (a group, so that RE2's parser never merges it into a class, as it
// does single characters in an alternation).
func isMarkNode(t *syntax.Regexp) bool {
	if t.Op != syntax.OpCapture || len(t.Sub) != 1 {
		return false
	}
	l := t.Sub[0]
	return l.Op == syntax.OpLiteral && len(l.Rune) == 1 && isWordMark(l.Rune[0])
}

func markOf(t *syntax.Regexp) rune { return t.Sub[0].Rune[0] }

// markRepeat returns what a repeated marker is (an anchor repeated: the
// anchor, or nothing when it may repeat no time), or nil when t is not
// one.
func (w *markRewriter) markRepeat(t *syntax.Regexp) *syntax.Regexp {
	switch t.Op {
	case syntax.OpStar, syntax.OpQuest, syntax.OpPlus, syntax.OpRepeat:
	default:
		return nil
	}
	s := t.Sub[0]
	if r := w.markRepeat(s); r != nil {
		s = r
	}
	switch {
	case !isMarkNode(s) && s.Op != syntax.OpEmptyMatch:
		return nil
	case t.Op == syntax.OpPlus || t.Op == syntax.OpRepeat && t.Min > 0:
		return s
	}
	return &syntax.Regexp{Op: syntax.OpEmptyMatch}
}

// rewriteMarks rewrites the markers of t, innermost first; a sequence
// rewrites its own markers with what is beside them in it.
func (w *markRewriter) rewriteMarks(t *syntax.Regexp) *syntax.Regexp {
	if w.countWordMarks(t) == 0 {
		return t
	}
	if r := w.markRepeat(t); r != nil {
		t = r
	}
	switch {
	case isMarkNode(t):
		return w.rewriteSeq([]*syntax.Regexp{t})
	case t.Op == syntax.OpRepeat && w.unrollable(t):
		return w.rewriteMarks(w.unroll(t))
	case t.Op == syntax.OpConcat:
		// A bounded repetition with a marker is its copies, which
		// see each other.
		for j, s := range t.Sub {
			if s.Op == syntax.OpRepeat && w.unrollable(s) {
				return w.rewriteMarks(w.mkConcat(slices.Concat(t.Sub[:j:j], []*syntax.Regexp{w.unroll(s)}, t.Sub[j+1:])))
			}
		}
		// An alternative with a marker (x?: x or nothing) is taken
		// with what is beside it in the sequence, which its marker
		// may need.
		for j, s := range t.Sub {
			alts := s.Sub
			switch {
			case s.Op == syntax.OpQuest:
				alts = []*syntax.Regexp{s.Sub[0], {Op: syntax.OpEmptyMatch}}
			case s.Op != syntax.OpAlternate:
				continue
			}
			if w.countWordMarks(s) == 0 {
				continue
			}
			seqs := make([]*syntax.Regexp, len(alts))
			for k, alt := range alts {
				seqs[k] = w.mkConcat(slices.Concat(w.cloneAll(t.Sub[:j]), []*syntax.Regexp{w.cloneRE(alt)}, w.cloneAll(t.Sub[j+1:])))
			}
			return w.rewriteMarks(mkAlt(seqs))
		}
		var items []*syntax.Regexp
		for _, s := range t.Sub {
			if r := w.markRepeat(s); r != nil {
				s = r
			}
			if !isMarkNode(s) {
				s = w.rewriteMarks(s)
			}
			items = append(items, s)
		}
		return w.rewriteSeq(items)
	}
	rep := false
	switch t.Op {
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		rep = true
		w.inRep++
	}
	for i, s := range t.Sub {
		t.Sub[i] = w.rewriteMarks(s)
	}
	if rep {
		w.inRep--
	}
	return t
}

// rewriteSeq rewrites the sequence items (its markers are items of their
// own; those nested in an item are rewritten already) at its first
// marker, and what that leaves.
func (w *markRewriter) rewriteSeq(items []*syntax.Regexp) *syntax.Regexp {
	i := slices.IndexFunc(items, isMarkNode)
	if i < 0 {
		return w.mkConcat(items)
	}
	beg := markOf(items[i]) == markBegWord
	a, b := w.mkConcat(w.cloneAll(items[:i])), w.mkConcat(w.cloneAll(items[i+1:]))
	bnd := func() *syntax.Regexp { return &syntax.Regexp{Op: syntax.OpWordBoundary} }
	var terms []*syntax.Regexp
	add := func(parts ...*syntax.Regexp) {
		if slices.Contains(parts, nil) {
			return
		}
		terms = append(terms, w.mkConcat(w.cloneAll(parts)))
	}
	ea, eb := w.emptyPart(a), w.emptyPart(b)
	if beg {
		// \<: the byte after is a word character, or the one before
		// is not one.
		add(a, bnd(), w.restrictFirst(b, wordRanges))
		add(w.restrictLast(a, nonWordRanges), bnd(), eb)
		if ea != nil && eb != nil && !w.needsEnd(eb, markEndWord) && !w.needsEnd(ea, markEndWord) {
			add(ea, bnd(), eb)
			w.inexact()
		}
	} else {
		// \>: the byte before is a word character, or the one after
		// is not one.
		add(w.restrictLast(a, wordRanges), bnd(), b)
		add(ea, bnd(), w.restrictFirst(b, nonWordRanges))
		if ea != nil && eb != nil && !w.needsStart(ea, markBegWord) && !w.needsStart(eb, markBegWord) {
			add(ea, bnd(), eb)
			w.inexact()
		}
	}
	alt := mkAlt(terms)
	if alt == nil {
		return &syntax.Regexp{Op: syntax.OpNoMatch}
	}
	// The markers after the first are in the terms, as items of their
	// sequences or nested in restricted parts.
	return w.rewriteMarks(alt)
}

func (w *markRewriter) cloneAll(ts []*syntax.Regexp) []*syntax.Regexp {
	out := make([]*syntax.Regexp, len(ts))
	for i, t := range ts {
		if t != nil {
			out[i] = w.cloneRE(t)
		}
	}
	return out
}

// cloneRE returns a deep copy of t.
func cloneRE(t *syntax.Regexp) *syntax.Regexp { return (&markRewriter{}).cloneRE(t) }

func (w *markRewriter) cloneRE(t *syntax.Regexp) *syntax.Regexp {
	w.step()
	c := *t
	c.Rune = slices.Clone(t.Rune)
	c.Sub = w.cloneAll(t.Sub)
	return &c
}

// mkConcat is the sequence of items (flattened), or the empty match.
func (w *markRewriter) mkConcat(items []*syntax.Regexp) *syntax.Regexp {
	w.step()
	var subs []*syntax.Regexp
	for _, it := range items {
		switch it.Op {
		case syntax.OpConcat:
			subs = append(subs, it.Sub...)
		case syntax.OpEmptyMatch:
		default:
			subs = append(subs, it)
		}
	}
	switch len(subs) {
	case 0:
		return &syntax.Regexp{Op: syntax.OpEmptyMatch}
	case 1:
		return subs[0]
	}
	return &syntax.Regexp{Op: syntax.OpConcat, Sub: subs}
}

// mkAlt is the alternation of ts, or nil (no match) when there is none.
func mkAlt(ts []*syntax.Regexp) *syntax.Regexp {
	switch len(ts) {
	case 0:
		return nil
	case 1:
		return ts[0]
	}
	return &syntax.Regexp{Op: syntax.OpAlternate, Sub: ts}
}

// zeroWidth reports whether t matches no character: an anchor, a
// boundary, a marker or the empty match.
func zeroWidth(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	return isMarkNode(t)
}

// withSub returns a copy of t (a capture) around s, or nil when s is nil.
func withSub(t, s *syntax.Regexp) *syntax.Regexp {
	if s == nil {
		return nil
	}
	c := *t
	c.Sub = []*syntax.Regexp{s}
	return &c
}

// emptyPart returns what of t matches the empty string (its anchors), or
// nil when t never does.
func (w *markRewriter) emptyPart(t *syntax.Regexp) *syntax.Regexp {
	w.step()
	if zeroWidth(t) {
		return w.cloneRE(t)
	}
	switch t.Op {
	case syntax.OpCapture:
		return withSub(t, w.emptyPart(t.Sub[0]))
	case syntax.OpConcat:
		var parts []*syntax.Regexp
		for _, s := range t.Sub {
			e := w.emptyPart(s)
			if e == nil {
				return nil
			}
			parts = append(parts, e)
		}
		return w.mkConcat(parts)
	case syntax.OpAlternate:
		var alts []*syntax.Regexp
		for _, s := range t.Sub {
			if e := w.emptyPart(s); e != nil {
				alts = append(alts, e)
			}
		}
		return mkAlt(alts)
	case syntax.OpStar, syntax.OpQuest:
		return &syntax.Regexp{Op: syntax.OpEmptyMatch}
	case syntax.OpRepeat:
		if t.Min == 0 {
			return &syntax.Regexp{Op: syntax.OpEmptyMatch}
		}
		return w.emptyPart(t.Sub[0])
	case syntax.OpPlus:
		return w.emptyPart(t.Sub[0])
	}
	return nil
}

// restrictFirst returns the strings of t that are not empty and start
// with a rune of class (ranges), or nil when there are none.
func (w *markRewriter) restrictFirst(t *syntax.Regexp, class []rune) *syntax.Regexp {
	return w.restrictEnd(t, class, true)
}

// restrictLast is restrictFirst for the last rune.
func (w *markRewriter) restrictLast(t *syntax.Regexp, class []rune) *syntax.Regexp {
	return w.restrictEnd(t, class, false)
}

func (w *markRewriter) restrictEnd(t *syntax.Regexp, class []rune, first bool) *syntax.Regexp {
	w.step()
	if zeroWidth(t) {
		return nil
	}
	switch t.Op {
	case syntax.OpNoMatch:
		return nil
	case syntax.OpLiteral:
		r := t.Rune[len(t.Rune)-1]
		if first {
			r = t.Rune[0]
		}
		if !classHas(class, r) {
			return nil
		}
		return w.cloneRE(t)
	case syntax.OpCharClass:
		rs := intersectClass(t.Rune, class)
		if len(rs) == 0 {
			return nil
		}
		return &syntax.Regexp{Op: syntax.OpCharClass, Flags: t.Flags, Rune: rs}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return &syntax.Regexp{Op: syntax.OpCharClass, Rune: slices.Clone(class)}
	case syntax.OpCapture:
		s := w.restrictEnd(t.Sub[0], class, first)
		if s == nil {
			return nil
		}
		c := *t
		c.Sub = []*syntax.Regexp{s}
		return &c
	case syntax.OpAlternate:
		var alts []*syntax.Regexp
		for _, s := range t.Sub {
			if r := w.restrictEnd(s, class, first); r != nil {
				alts = append(alts, r)
			}
		}
		return mkAlt(alts)
	case syntax.OpConcat:
		// The end item that matches a character: the items before it
		// (after it, for the last) match the empty string.
		subs := t.Sub
		n := len(subs)
		var alts []*syntax.Regexp
		var empties []*syntax.Regexp
		for k := range n {
			j := k
			if !first {
				j = n - 1 - k
			}
			if r := w.restrictEnd(subs[j], class, first); r != nil {
				var parts []*syntax.Regexp
				if first {
					parts = append(append(w.cloneAll(empties), r), w.cloneAll(subs[j+1:])...)
				} else {
					parts = append(append(w.cloneAll(subs[:j]), r), reversed(w.cloneAll(empties))...)
				}
				alts = append(alts, w.mkConcat(parts))
			}
			e := w.emptyPart(subs[j])
			if e == nil {
				break
			}
			empties = append(empties, e)
		}
		return mkAlt(alts)
	case syntax.OpStar, syntax.OpPlus:
		// x* and x+: a first x that is not empty, then any number.
		r := w.restrictEnd(t.Sub[0], class, first)
		if r == nil {
			return nil
		}
		rest := &syntax.Regexp{Op: syntax.OpStar, Flags: t.Flags, Sub: []*syntax.Regexp{w.cloneRE(t.Sub[0])}}
		if first {
			return w.mkConcat([]*syntax.Regexp{r, rest})
		}
		return w.mkConcat([]*syntax.Regexp{rest, r})
	case syntax.OpQuest:
		return w.restrictEnd(t.Sub[0], class, first)
	case syntax.OpRepeat:
		if t.Max == 0 {
			return nil
		}
		r := w.restrictEnd(t.Sub[0], class, first)
		if r == nil {
			return nil
		}
		lo, hi := max(t.Min-1, 0), t.Max
		if hi > 0 {
			hi--
		}
		e := w.emptyPart(t.Sub[0])
		if e != nil && t.Min >= 2 && !w.freeEmpty(e) {
			// Iterations that match nothing only where a condition
			// holds ((1|.|\b\B){2,}): the count is kept, x{m-1,n-1}
			// after the first that matches a character, or one e
			// (which stands for any number at its place) before it
			// and fewer after.
			rest := &syntax.Regexp{Op: syntax.OpRepeat, Flags: t.Flags, Min: lo, Max: hi, Sub: []*syntax.Regexp{w.cloneRE(t.Sub[0])}}
			fewer := mkRep(t.Flags, w.cloneRE(t.Sub[0]), 0, max(hi-1, -1))
			if first {
				return mkAlt([]*syntax.Regexp{w.mkConcat([]*syntax.Regexp{r, rest}), w.mkConcat([]*syntax.Regexp{e, w.cloneRE(r), fewer})})
			}
			return mkAlt([]*syntax.Regexp{w.mkConcat([]*syntax.Regexp{rest, r}), w.mkConcat([]*syntax.Regexp{fewer, w.cloneRE(r), e})})
		}
		if e != nil {
			lo = 0 // iterations may match the empty string
		}
		rest := &syntax.Regexp{Op: syntax.OpRepeat, Flags: t.Flags, Min: lo, Max: hi, Sub: []*syntax.Regexp{w.cloneRE(t.Sub[0])}}
		if first {
			return w.mkConcat([]*syntax.Regexp{r, rest})
		}
		return w.mkConcat([]*syntax.Regexp{rest, r})
	}
	return nil
}

// freeEmpty reports whether e, what of a part matches the empty string
// (emptyPart), matches it with no condition.
func (w *markRewriter) freeEmpty(e *syntax.Regexp) bool {
	w.step()
	switch e.Op {
	case syntax.OpEmptyMatch:
		return true
	case syntax.OpCapture:
		return w.freeEmpty(e.Sub[0])
	case syntax.OpAlternate:
		return slices.ContainsFunc(e.Sub, w.freeEmpty)
	case syntax.OpConcat:
		return !slices.ContainsFunc(e.Sub, func(s *syntax.Regexp) bool { return !w.freeEmpty(s) })
	}
	return false
}

func reversed(ts []*syntax.Regexp) []*syntax.Regexp {
	slices.Reverse(ts)
	return ts
}

// classHas reports whether the class ranges hold r.
func classHas(class []rune, r rune) bool {
	for i := 0; i+1 < len(class); i += 2 {
		if class[i] <= r && r <= class[i+1] {
			return true
		}
	}
	return false
}

// intersectClass returns the ranges of a that are also in b.
func intersectClass(a, b []rune) []rune {
	var out []rune
	for i := 0; i+1 < len(a); i += 2 {
		for j := 0; j+1 < len(b); j += 2 {
			lo, hi := max(a[i], b[j]), min(a[i+1], b[j+1])
			if lo <= hi {
				out = append(out, lo, hi)
			}
		}
	}
	return out
}

// needsEnd reports whether t (empty-matching) matches only at a line's
// end, or (opposite) only beside a marker of the other kind: \< and \>
// at one place never match. needsStart is needsEnd for a line's start.
func (w *markRewriter) needsEnd(t *syntax.Regexp, opposite rune) bool {
	return w.needs(t, func(s *syntax.Regexp) bool {
		return s.Op == syntax.OpEndLine || s.Op == syntax.OpEndText || isMarkNode(s) && markOf(s) == opposite
	})
}

func (w *markRewriter) needsStart(t *syntax.Regexp, opposite rune) bool {
	return w.needs(t, func(s *syntax.Regexp) bool {
		return s.Op == syntax.OpBeginLine || s.Op == syntax.OpBeginText || isMarkNode(s) && markOf(s) == opposite
	})
}

// needs reports whether every match of t goes through a node is holds.
func (w *markRewriter) needs(t *syntax.Regexp, is func(*syntax.Regexp) bool) bool {
	w.step()
	switch {
	case is(t):
		return true
	case t.Op == syntax.OpConcat:
		return slices.ContainsFunc(t.Sub, func(s *syntax.Regexp) bool { return w.needs(s, is) })
	case t.Op == syntax.OpAlternate:
		return !slices.ContainsFunc(t.Sub, func(s *syntax.Regexp) bool { return !w.needs(s, is) })
	case t.Op == syntax.OpCapture, t.Op == syntax.OpPlus, t.Op == syntax.OpRepeat && t.Min > 0:
		return w.needs(t.Sub[0], is)
	}
	return false
}

// maxUnroll is the longest bounded repetition with a marker taken as its
// copies.
const maxUnroll = 4

// unrollable reports whether t, a repetition, is bounded by maxUnroll and
// holds a marker (not only one: markRepeat has those).
func (w *markRewriter) unrollable(t *syntax.Regexp) bool {
	return 0 <= t.Max && t.Max <= maxUnroll && w.markRepeat(t) == nil && w.countWordMarks(t) > 0
}

// unroll returns the repetition t as a sequence: x{2,3} is x x (x)?, and
// x{0,2} is (x(x)?)?.
func (w *markRewriter) unroll(t *syntax.Regexp) *syntax.Regexp {
	x := t.Sub[0]
	var opt *syntax.Regexp
	for range t.Max - t.Min {
		inner := []*syntax.Regexp{w.cloneRE(x)}
		if opt != nil {
			inner = append(inner, opt)
		}
		opt = &syntax.Regexp{Op: syntax.OpQuest, Sub: []*syntax.Regexp{w.mkConcat(inner)}}
	}
	var items []*syntax.Regexp
	for range t.Min {
		items = append(items, w.cloneRE(x))
	}
	if opt != nil {
		items = append(items, opt)
	}
	return w.mkConcat(items)
}
