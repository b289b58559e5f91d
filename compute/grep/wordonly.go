package grep

import (
	"bytes"
	"regexp/syntax"
)

// wordOnly holds what grep -w -o searches with: the patterns P as glibc
// regex reads them, without the -w wrapper (which only selects lines).
// The regexps are compiled on the first -w -o line: a -w run without -o
// never needs them.
type wordOnly struct {
	t *syntax.Regexp // P, parsed and rewritten for grep
	// p and cp find P's leftmost-longest match from a position, seen in
	// its line: p at the line's start, cp = (?s:.)(P) one rune before
	// the position (the rune gives ^ and \b their context). pe and cpe
	// are the same with $ matching nowhere: glibc's re_match with
	// REG_NOTEOL on a line cut short.
	p, cp, pe, cpe reMatcher
	// kws, when set, are the keywords GNU searches with instead
	// (fgrepKeywords); fold: they match in either case. kwPlain and
	// kwWide are them as they appear in text and in widened text
	// (lower-cased with fold).
	kws             []string
	fold            bool
	kwPlain, kwWide [][]byte
}

func newWordOnly(user string, fold, nul bool) (*wordOnly, error) {
	t, err := parseRE(user, fold, nul)
	if err != nil {
		return nil, err
	}
	return &wordOnly{t: t}, nil
}

// compile makes the regexps. The tree compiled once already (it is
// within the pattern budget), so these cannot fail.
func (w *wordOnly) compile() {
	if w.p != nil || w.kwPlain != nil {
		return
	}
	if w.kws != nil {
		for _, kw := range w.kws {
			b := []byte(kw)
			if w.fold {
				b = lowerCopy(b)
			}
			w.kwPlain = append(w.kwPlain, b)
			w.kwWide = append(w.kwWide, widen(nil, b))
		}
		return
	}
	mk := func(t *syntax.Regexp) (reMatcher, reMatcher) {
		re, ctx, err := compileTree(t, true)
		if err != nil {
			panic(err) // compiled once already
		}
		return re, ctx()
	}
	w.p, w.cp = mk(w.t)
	w.pe, w.cpe = mk(withoutEOL(w.t))
}

// withoutEOL returns a copy of t in which $ matches nowhere.
func withoutEOL(t *syntax.Regexp) *syntax.Regexp {
	c := *t
	switch c.Op {
	case syntax.OpEndLine, syntax.OpEndText:
		return &syntax.Regexp{Op: syntax.OpNoMatch}
	}
	if len(t.Sub) > 0 {
		c.Sub = make([]*syntax.Regexp, len(t.Sub))
		for i, s := range t.Sub {
			c.Sub[i] = withoutEOL(s)
		}
	}
	return &c
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// nextRune is the position after the rune at i: in widened text a byte
// >= 0x80 of the input is two bytes.
func nextRune(line []byte, i int, wide bool) int {
	if wide && line[i] >= 0xC0 {
		return i + 2
	}
	return i + 1
}

// prevRune is the position of the rune before i.
func prevRune(line []byte, i int, wide bool) int {
	if wide && i >= 2 && line[i-1] >= 0x80 && line[i-1] < 0xC0 && line[i-2] >= 0xC0 {
		return i - 2
	}
	return i - 1
}

// runes counts the input bytes b stands for.
func runes(b []byte, wide bool) int {
	if !wide {
		return len(b)
	}
	n := 0
	for _, c := range b {
		if c < 0x80 || c >= 0xC0 {
			n++
		}
	}
	return n
}

// skipRunes is the position n input bytes after i.
func skipRunes(line []byte, i, n int, wide bool) int {
	if !wide {
		return i + n
	}
	for ; n > 0; n-- {
		i = nextRune(line, i, wide)
	}
	return i
}

// eachWordMatch is eachMatch for -w: GNU grep 3.8's search for -o
// (EGexecute in dfasearch.c, given a start position), step for step, as
// its output is the oracle. From the position cur: P's leftmost-longest
// match; if a word character is just before or after it, P's longest
// match at the same place one byte shorter (glibc's re_match on the line
// cut short, $ matching nowhere); when there is none, the next match one
// byte on. GNU cuts the line for that shorter match at match+len-cur
// bytes from the line's start, not from cur: past a line's first match,
// shorter matches are seldom tried, and that is kept too.
func (m *grepMatcher) eachWordMatch(line []byte, f func(s, e int), in *interrupt, wide bool) {
	w := m.wo
	w.compile()
	if w.kws != nil {
		kws := w.kwPlain
		if wide {
			kws = w.kwWide
		}
		eachKeywordMatch(line, kws, w.fold, wide, f)
		return
	}
	emitMatches(line, wide, m.wordSearch(line, in, wide), f)
}

// wordSelects reports whether GNU's word search (wordSearch) finds a
// match in line, empty or not: how GNU grep -w selects a line when glibc
// regex decides (a bracket with a collating symbol or an equivalence
// class, which its dfa cannot read), instead of the -w wrapper its dfa
// reads. The two differ where the search's leftmost-longest match
// touches a word character and no shorter one at its place is non-empty:
// GNU then moves on, and never takes the empty match the wrapper finds
// between two blanks.
func (m *grepMatcher) wordSelects(line []byte, in *interrupt, wide bool) bool {
	m.wo.compile()
	if m.wo.kws != nil {
		return true // literals: GNU's -F matcher, which the wrapper reads
	}
	_, _, ok := m.wordSearch(line, in, wide)(0)
	return ok
}

// wordSearch returns GNU's search in line for -w from a position cur: the
// match EGexecute takes, or ok false (see eachWordMatch).
func (m *grepMatcher) wordSearch(line []byte, in *interrupt, wide bool) func(cur int) (s, e int, ok bool) {
	w := m.wo
	hit := func() bool { return in != nil && in.hit }
	// search returns P's leftmost-longest match at or after from.
	search := func(from int) (int, int, bool) {
		if from == 0 {
			loc := submatch(w.p, line, in)
			if loc == nil || hit() {
				return 0, 0, false
			}
			return loc[0], loc[1], true
		}
		base := prevRune(line, from, wide)
		loc := submatch(w.cp, line[base:], in)
		if loc == nil || hit() {
			return 0, 0, false
		}
		return base + loc[2], base + loc[3], true
	}
	// matchAt returns the length of P's longest match at s in
	// line[:limit] ($ matching nowhere), or -1.
	matchAt := func(s, limit int) int {
		if s == 0 {
			loc := submatch(w.pe, line[:limit], in)
			if loc == nil || hit() || loc[0] != 0 {
				return -1
			}
			return loc[1]
		}
		base := prevRune(line, s, wide)
		loc := submatch(w.cpe, line[base:limit], in)
		if loc == nil || hit() || loc[2] != s-base {
			return -1
		}
		return loc[3] - loc[2]
	}
	// Input offsets (bytes before widening) of the positions asked, which
	// only grow: cur, then the match starts after it.
	atPos, atOff := 0, 0
	offset := func(x int) int {
		atOff += runes(line[atPos:x], wide)
		atPos = x
		return atOff
	}
	// next is EGexecute from cur: the match GNU prints, or ok false.
	next := func(cur int) (s, e int, ok bool) {
		curOff := offset(cur)
		if s, e, ok = search(cur); !ok {
			return 0, 0, false
		}
		for {
			if !(e < len(line) && isWordByte(line[e])) && !(s > 0 && isWordByte(line[s-1])) {
				return s, e, true
			}
			shorter := 0
			if e > s {
				e = prevRune(line, e, wide)
				sOff := offset(s)
				limitOff := sOff + runes(line[s:e], wide) - curOff
				shorter = -1
				if limitOff >= sOff {
					shorter = matchAt(s, skipRunes(line, s, limitOff-sOff, wide))
				}
				if hit() {
					return 0, 0, false
				}
			}
			if shorter > 0 {
				e = s + shorter
				continue
			}
			if s == len(line) {
				return 0, 0, false
			}
			if s, e, ok = search(nextRune(line, s, wide)); !ok {
				return 0, 0, false
			}
		}
	}
	return next
}

// emitMatches calls f for each non-empty match next finds, as grep -o
// prints them: from the line's start, then from a match's end, or one
// byte (a rune of widened text) past an empty match, as GNU goes on.
func emitMatches(line []byte, wide bool, next func(cur int) (s, e int, ok bool), f func(s, e int)) {
	for cur := 0; cur <= len(line); {
		s, e, ok := next(cur)
		if !ok {
			return
		}
		switch {
		case e > s:
			f(s, e)
			cur = e
		case s == len(line):
			return
		default:
			cur = nextRune(line, s, wide)
		}
	}
}

// fgrepKeywords returns the patterns as the keywords of GNU grep's -F
// matcher (kwsearch.c), when GNU runs it for -w -o: with two distinct
// patterns or more (one -F pattern goes to the regexp matcher under -w),
// each of which is a literal under -G or -E (grep.c's try_fgrep_pattern:
// no operator, a backslash before an ordinary character dropped).
func fgrepKeywords(pats []string, mode grepMode) ([]string, bool) {
	if mode == grepPerl {
		return nil, false
	}
	seen := map[string]bool{}
	var kws []string
	for _, p := range pats {
		if seen[p] {
			continue
		}
		seen[p] = true
		kw, ok := p, true
		if mode != grepFixed {
			kw, ok = fgrepLiteral(p, mode == grepExtended)
		}
		if !ok {
			return nil, false
		}
		kws = append(kws, kw)
	}
	return kws, len(kws) >= 2
}

// fgrepLiteral is try_fgrep_pattern for one pattern.
func fgrepLiteral(p string, ere bool) (string, bool) {
	var b []byte
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '$', '*', '.', '[', '^':
			return "", false
		case '(', '+', '?', '{', '|':
			if ere {
				return "", false
			}
		case '\\':
			if i+1 < len(p) {
				switch d := p[i+1]; d {
				case '\n', 'B', 'S', 'W', '\'', '<', 'b', 's', 'w', '`', '>', '1', '2', '3', '4', '5', '6', '7', '8', '9':
					return "", false
				case '(', '+', '?', '{', '|', ')':
					if !ere {
						return "", false
					}
					i++
					c = d
				default:
					i++
					c = d
				}
			}
		}
		b = append(b, c)
	}
	return string(b), true
}

// eachKeywordMatch is eachMatch for -w when GNU searches with its -F
// matcher (Fexecute in kwsearch.c, given a start position), step for
// step: the leftmost, then longest, keyword at or after the position;
// if no word character is before it, the longest keyword there that no
// word character follows (each one shorter than the last); else past the
// word characters that start there, one byte on. GNU does not look at the
// character before the start position itself: kept. kws are the keywords
// as they appear in line (widened when wide; lower-cased with fold, line
// then lower-cased too).
func eachKeywordMatch(line []byte, kws [][]byte, fold, wide bool, f func(s, e int)) {
	hay := line
	if fold {
		hay = lowerCopy(line)
	}
	next := make([]int, len(kws)) // where each keyword occurs at or after the last search, -1 never
	for i := range next {
		next[i] = -2 // not searched yet
	}
	at := 0 // the position the cache is for
	// search: the leftmost, then longest, keyword at or after p.
	search := func(p int) (int, int) {
		s, n := -1, 0
		for i, kw := range kws {
			if next[i] == -1 {
				continue
			}
			if next[i] < p || next[i] == -2 || p < at {
				if j := bytes.Index(hay[p:], kw); j >= 0 {
					next[i] = p + j
				} else {
					next[i] = -1
					continue
				}
			}
			if s < 0 || next[i] < s || next[i] == s && len(kw) > n {
				s, n = next[i], len(kw)
			}
		}
		at = p
		return s, n
	}
	// longestAt: the longest keyword at s at most max bytes long, or -1.
	longestAt := func(s, max int) int {
		n := -1
		for _, kw := range kws {
			if len(kw) <= max && len(kw) > n && bytes.HasPrefix(hay[s:], kw) {
				n = len(kw)
			}
		}
		return n
	}
	prevWord := func(s, from int) bool { return s > from && isWordByte(line[s-1]) }
	nextWord := func(e int) bool { return e < len(line) && isWordByte(line[e]) }
	// find is Fexecute from cur: the match GNU prints, or ok false.
	find := func(cur int) (s, e int, ok bool) {
		s = -1
		for from, p := cur, cur; p <= len(line); {
			k, n := search(p)
			if k < 0 {
				break
			}
			if !prevWord(k, from) {
				for ln := n; ; {
					if !nextWord(k + ln) {
						s, e = k, k+ln
						break
					}
					if ln == 0 {
						break
					}
					// the longest keyword at k within ln-1 bytes (GNU:
					// ln-1 input bytes, one rune of widened text)
					if ln = longestAt(k, prevRune(line, k+ln, wide)-k); ln < 0 {
						break
					}
				}
				if s >= 0 {
					break
				}
			}
			// Past the word characters at k, then one byte on.
			for k < len(line) && isWordByte(line[k]) {
				k++
			}
			from = k
			if k >= len(line) {
				break
			}
			p = nextRune(line, k, wide)
		}
		return s, e, s >= 0
	}
	emitMatches(line, wide, find, f)
}
