package grep

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"

	"github.com/halfclose/halfclose/compute"
)

// grepMatcher finds lines that match. The regexp is in multi-line mode and
// never matches a newline, so it can run over many lines at once.
type grepMatcher struct {
	lit   []byte      // when set, the pattern is this one literal: bytes.Index
	isLit bool        //
	re    reMatcher   // selection: the patterns with -x or -w applied
	lre   reMatcher   // re for one line: ^ and $ are \A and \z
	seq   *seqMatcher // re as a byte-class sequence, or nil
	lseq  *litSeq     // lre as literal sets with ".*" gaps, or nil
	word  bool
	// ore is re for -o when glibc regex reads the patterns otherwise than
	// the dfa (nil: the same).
	ore reMatcher
	// wo is what -w -o searches with (eachWordMatch): the patterns as
	// glibc regex reads them, without the -w wrapper.
	wo   *wordOnly
	sets []litSet // prefilter candidates: the run picks the rarest
	// every: re matches in every line (every.go): lines are selected
	// without running it. oEmpty: what -o prints with re (or ore) is
	// always empty, so nothing (every.go).
	every, oEmpty bool
	// sup, when set, is GNU's dfa's superset (translateSuperset), for one
	// line: a selected line matches it too.
	sup reMatcher
	// onlyLit, when set, is the pattern as one literal (lower-cased, its
	// ASCII letters matched in either case when onlyFold): -o prints its
	// occurrences, found without a regexp. onlyFinder searches for it
	// in text that is not lower-cased (long fold literals).
	onlyLit    []byte
	onlyFold   bool
	onlyFinder *foldFinder
	wide       bool // the regexp can match a byte >= 0x80: text must be widened
	// insts bounds the instructions of the regexps above: the cost of
	// matching one byte with them (see progSize).
	insts int
	// kw, when set, is the keyword set that decides everything above
	// (kwset.go): the patterns are kwSetMin literals or more, and no
	// regexp is compiled.
	kw *kwSet
	// full and ofull compile the forms of re and ore -o needs past a
	// line's start when it cannot run on the line as a slice (see
	// interrupt.go).
	full, ofull func() reMatcher
	// pword: -P -w, re is GNU's wrapper on RE2 (compilePerl), group 1
	// the match; pcont is its form for a search past the line's start
	// (eachPerlWord).
	pword bool
	pcont reMatcher
}

const wordClass = `[0-9A-Za-z_]`

const nonWordClass = `[^0-9A-Za-z_]`

// laterError ranks err, a pattern's error, against pending, the
// error of an earlier pattern that can wait (the dfa's, an unsupported
// one): it returns the error to keep waiting with, or the one to report
// now (glibc regex's, which outranks both).
func laterError(pending, err error) (error, error) {
	if !deferred(err) {
		return nil, err
	}
	var d, pd dfaError
	if pending == nil || errors.As(err, &d) && !errors.As(pending, &pd) {
		return err, nil // the first to wait, or the dfa's before an unsupported one
	}
	return pending, nil
}

// deferred reports whether err, a pattern's error, is one GNU reports
// only when glibc regex finds none in any pattern: the dfa's, or
// something it takes and halfclose refuses.
func deferred(err error) bool {
	var d dfaError
	var u unsupportedError
	return errors.As(err, &d) || errors.As(err, &u)
}

// compileGrep compiles the patterns, charging what they compile to to
// budget (nil: a budget of their own).
//
// nul (-z): the text searched has its NULs and newlines swapped (swapNL),
// and the patterns are compiled to match it as GNU's match the lines as
// they are (fixTree).
func compileGrep(pats []string, mode grepMode, fold, word, line, nul bool, budget *compute.PatternBudget) (*grepMatcher, error) {
	pats = lastBackslashLiteral(pats, mode)
	parts := make([]string, len(pats))
	stray := false // an ERE ')' that would close GNU's -x/-w wrapper
	coll := false  // GNU's dfa leaves the lines to glibc regex
	// GNU's dfa reads the distinct patterns joined by newlines, in the
	// order they first came, inside the -x or -w wrapper: after each but
	// the last, or with the wrapper, it reads more.
	last := ""
	if d := distinct(pats); len(d) > 0 {
		last = d[len(d)-1]
	}
	// GNU compiles every pattern with glibc regex before its dfa reads
	// any: glibc's error in a later pattern is the one it reports, before
	// the dfa's in an earlier one; either fails where we only refuse.
	var pending error
	// rparts, rerrs: each pattern as glibc regex reads it (translateRE
	// with regex set), for -o; an error there is glibc's, in this
	// pattern, before any in a later one ("(*)" is "Unmatched ( or \(",
	// where the dfa repeats nothing).
	rparts := make([]string, len(pats))
	rerrs := make([]error, len(pats))
	for i, p := range pats {
		if mode != grepFixed {
			rparts[i], rerrs[i] = translateRE(p, mode == grepExtended, fold, true)
			if rerrs[i] != nil && !deferred(rerrs[i]) {
				return nil, rerrs[i]
			}
		}
		var err error
		switch mode {
		case grepFixed:
			parts[i] = quoteBytes(p)
		case grepExtended:
			var c bool
			parts[i], c, err = translateREColl(p, true, fold, false)
			coll = coll || c
			stray = stray || strings.Contains(p, ")") && strayParen(p, fold)
		default:
			var c bool
			parts[i], c, err = translateDFA(p, false, fold, false, line || word || p != last)
			coll = coll || c
		}
		if err != nil {
			if pending, err = laterError(pending, err); err != nil {
				return nil, err
			}
		}
	}
	if pending != nil {
		return nil, pending
	}
	kws, ok := fgrepKeywords(pats, mode)
	if !ok && !(stray && line) {
		// Not with a ')' that closes GNU's -x wrapper: its regexp
		// matcher then reads other alternatives (grep -xE 'a|)|b'
		// selects every line).
		kws, ok = alternationKeywords(pats, mode, word, line)
	}
	if ok && (len(kws) >= kwSetMin || fold && len(kws) >= kwSetMinFold) {
		return compileKwSet(kws, fold, word, line, nul, budget)
	}
	if _, ok := fgrepKeywords(pats, mode); ok && stray {
		// Two literal patterns or more: GNU runs its -F matcher, which
		// has no wrapper for a ')' to close.
		stray = false
	}
	// -o prints what glibc regex matches, which may differ; not where
	// GNU runs its -F matcher (two literal patterns or more).
	var oparts []string
	if _, lits := fgrepKeywords(pats, mode); mode != grepFixed && !lits {
		oparts = make([]string, len(pats))
		differ := false
		for i := range pats {
			if rerrs[i] != nil {
				return nil, rerrs[i]
			}
			oparts[i] = rparts[i]
			differ = differ || oparts[i] != parts[i]
		}
		if !differ {
			oparts = nil
		}
	}
	var sup *string
	var err error
	if coll {
		// glibc regex selects the lines too, and applies -x and -w to
		// the patterns themselves, among those the dfa's superset
		// selects.
		if sup, err = translateSuperset(pats, mode == grepExtended, fold, line, word); err != nil {
			return nil, err
		}
		if oparts != nil {
			parts = oparts
		}
		oparts, stray = nil, false
	}
	user := "(?:" + strings.Join(parts, ")|(?:") + ")"
	m := &grepMatcher{word: word && !line}
	t, err := parseRE(user, fold, nul)
	if err != nil {
		return nil, err
	}
	if t.Op == syntax.OpLiteral && !word && !line {
		m.isLit, m.lit = true, latin1Bytes(t.Rune)
	}
	if !word && !line && oparts == nil {
		m.onlyLit, m.onlyFold = wholeLiteral(t)
		if m.onlyFold && len(m.onlyLit) >= foldFinderMin {
			m.onlyFinder = newFoldFinder(m.onlyLit)
		}
	}
	m.sets = litSets(t)
	for i := range m.sets {
		s := &m.sets[i]
		s.exact = s.exact && !word && !line
		s.prepare()
	}
	full := user
	var oTree *syntax.Regexp // what m.ore is compiled from
	switch {
	case stray && (line || word):
		// GNU's dfa reads the wrapper and the patterns as one text.
		if full, err = translateWrapped(pats, true, fold, line); err != nil {
			return nil, err
		}
		m.sets, m.isLit = nil, false
		// -o prints glibc regex's matches of the patterns themselves
		// (with -x and -w, one that takes the whole line: wholeO).
		o := user
		if word && !line {
			o = "(?:^|" + nonWordClass + ")(" + user + ")(?:" + nonWordClass + "|$)"
			if m.wo, err = newWordOnly(user, fold, nul); err != nil {
				return nil, err
			}
		}
		ot, size, err := parseRESized(o, fold, nul)
		if err != nil {
			return nil, err
		}
		m.insts = size
		oTree = ot
		if m.ore, m.ofull, err = compileTree(ot, true); err != nil {
			return nil, err
		}
	case line:
		full = "^(?:" + user + ")$"
	case word:
		full = "(?:^|" + nonWordClass + ")(" + user + ")(?:" + nonWordClass + "|$)"
		if m.wo, err = newWordOnly(user, fold, nul); err != nil {
			return nil, err
		}
	}
	if oparts != nil {
		ouser := "(?:" + strings.Join(oparts, ")|(?:") + ")"
		ofull := ouser
		switch {
		case line && word:
			ofull = "^(?:" + ouser + ")$"
		case line:
			// GNU prints glibc regex's matches as they are in a line
			// its dfa selected whole (EGexecute takes a match found
			// from -o's start without -x's check, unless -w is set
			// too): where the two read the patterns alike, the first
			// is the whole line.
		case word:
			ofull = "(?:^|" + nonWordClass + ")(" + ouser + ")(?:" + nonWordClass + "|$)"
			if m.wo, err = newWordOnly(ouser, fold, nul); err != nil {
				return nil, err
			}
		}
		ot, size, err := parseRESized(ofull, fold, nul)
		if err != nil {
			return nil, err
		}
		m.insts = size
		oTree = ot
		if m.ore, m.ofull, err = compileTree(ot, true); err != nil {
			return nil, err
		}
		m.wide = matchesHigh(ot)
	}
	if m.wo != nil {
		if kws, ok := fgrepKeywords(pats, mode); ok {
			m.wo.kws, m.wo.fold = kws, fold
		}
	}
	ft, size, err := parseRESized(full, fold, nul)
	if err != nil {
		return nil, err
	}
	// The -w and -o forms hold the patterns once and a class or two more
	// than full: one bound serves them all.
	m.insts = max(m.insts, size) + patternOverhead
	if sup != nil {
		st, size, err := parseRESized(*sup, fold, nul)
		if err != nil {
			return nil, err
		}
		m.insts += size
		m.wide = m.wide || matchesHigh(st)
		if m.sup, _, err = compileTree(noCaptures(lineAnchors(st)), false); err != nil {
			return nil, err
		}
		// Every line is checked against it: no fast path decides one.
		m.isLit, m.sets = false, nil
	}
	if err := budget.Take("grep", m.insts); err != nil {
		return nil, err
	}
	m.wide = m.wide || matchesHigh(ft)
	if m.re, m.full, err = compileTree(ft, true); err != nil {
		return nil, err
	}
	if m.sup == nil {
		// (m.sup reads widened text, which seq does not)
		m.seq = compileSeq(ft)
		m.every = !m.isLit && matchesEveryLine(ft)
		ot := ft
		if m.ore != nil {
			ot = oTree
		}
		m.oEmpty = !m.word && ot != nil && onlyEmpty(ot)
	}
	if m.every {
		m.sets, m.seq = nil, nil // nothing to search for
	}
	// Its literals are ASCII, which widening leaves alone: it works on
	// widened text too.
	m.lseq = compileLitSeq(ft)
	// lre only answers "does this line match": leftmost-first semantics
	// and no capture groups let RE2 stop at the first match it finds.
	lt := ft
	if hasWordAsserts(ft) {
		lt = cloneRE(ft) // m.full holds ft
	}
	if m.lre, _, err = compileTree(noCaptures(lineAnchors(lt)), false); err != nil {
		return nil, err
	}
	return m, nil
}

// lineAnchors rewrites ^ and $ of t in place as \A and \z, for matching
// one line without its newline (RE2 runs such patterns faster).
func lineAnchors(t *syntax.Regexp) *syntax.Regexp {
	switch t.Op {
	case syntax.OpBeginLine:
		t.Op = syntax.OpBeginText
	case syntax.OpEndLine:
		t.Op = syntax.OpEndText
	}
	for _, s := range t.Sub {
		lineAnchors(s)
	}
	return t
}

// noCaptures rewrites t in place without capture groups, which a yes/no
// match never needs and which slow RE2's backtracker down.
func noCaptures(t *syntax.Regexp) *syntax.Regexp {
	for i, s := range t.Sub {
		for s.Op == syntax.OpCapture {
			s = s.Sub[0]
		}
		t.Sub[i] = noCaptures(s)
	}
	for t.Op == syntax.OpCapture {
		*t = *t.Sub[0]
	}
	return t
}

// parseRE parses RE2 text made by translateRE and rewrites it for grep:
// nothing matches '\n', and -i folds ASCII letters only; with nul, for
// text whose NULs and newlines are swapped (fixTree).
func parseRE(s string, fold, nul bool) (*syntax.Regexp, error) {
	t, _, err := parseRESized(s, fold, nul)
	return t, err
}

// parseRESized is parseRE that also returns progSize of the tree. It
// refuses a tree whose size is past compute.MaxPatternInsts before
// Simplify expands its repetitions (which is what made `.{1000}` written
// 500 times cost seconds and hundreds of MiB).
func parseRESized(s string, fold, nul bool) (*syntax.Regexp, int, error) {
	flags := syntax.PerlX
	if nul {
		// [^a] matches a newline, which fixTree moves to NUL
		flags |= syntax.ClassNL
	}
	t, err := syntax.Parse(s, flags)
	if err != nil {
		return nil, 0, invalidRE(err)
	}
	if countWordMarks(t) > 0 {
		t = rewriteWordMarks(t)
	}
	size := progSize(t)
	if size+patternOverhead > compute.MaxPatternInsts {
		return nil, 0, compute.NewPatternBudget(compute.MaxPatternInsts).Take("grep", size+patternOverhead)
	}
	fixTree(t, fold, nul)
	return t.Simplify(), size, nil
}

// fixTree rewrites t in place for grep's matchers: nothing matches '\n',
// the line end, and -i folds ASCII letters only.
//
// With nul (-z), t is the patterns as GNU reads them, where NUL ends a
// line and a newline is a byte like others ('.', [^a], \s match it), and
// the text is read with NULs and newlines swapped (swapNL): a class
// takes NUL where it had newline, and a literal NUL matches nowhere.
func fixTree(t *syntax.Regexp, fold, nul bool) {
	if nul {
		switch t.Op {
		case syntax.OpCharClass:
			t.Rune = swapClassNL(t.Rune)
		case syntax.OpLiteral:
			if slices.Contains(t.Rune, 0) {
				t.Op, t.Rune, t.Flags = syntax.OpNoMatch, nil, 0
			}
			for i, r := range t.Rune {
				if r == '\n' {
					t.Rune[i] = 0
				}
			}
		}
	}
	switch t.Op {
	case syntax.OpAnyChar:
		t.Op = syntax.OpAnyCharNotNL
	case syntax.OpLiteral:
		if slices.Contains(t.Rune, '\n') {
			// (no pattern holds one: a newline separates patterns)
			t.Op, t.Rune, t.Flags = syntax.OpNoMatch, nil, 0
		}
	}
	switch t.Op {
	case syntax.OpCharClass:
		// Bracket expressions come folded (before any negation), so
		// folding them again changes nothing; but RE2's parser makes
		// classes of alternated literals too ((?:B)|(?:x) is [Bx]),
		// which -i must fold. '\n' goes.
		t.Rune = fixClass(t.Rune, fold)
		if len(t.Rune) == 0 {
			t.Op = syntax.OpNoMatch
		}
	case syntax.OpLiteral:
		if t.Flags&syntax.FoldCase != 0 {
			// RE2's parser turns a class such as [Aa] into a literal
			// matched in either case: spell it out as the class of bytes
			// it came from, which the matchers here understand.
			subs := make([]*syntax.Regexp, len(t.Rune))
			for i, r := range t.Rune {
				set := []rune{r, r}
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					if f < 0x100 {
						set = append(set, f, f)
					}
				}
				subs[i] = &syntax.Regexp{Op: syntax.OpCharClass, Rune: fixClass(set, false)}
			}
			t.Op, t.Rune, t.Sub, t.Flags = syntax.OpConcat, nil, subs, t.Flags&^syntax.FoldCase
			break
		}
		if fold && slices.ContainsFunc(t.Rune, isASCIILetter) {
			subs := make([]*syntax.Regexp, len(t.Rune))
			for i, r := range t.Rune {
				subs[i] = &syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune{r}}
				if isASCIILetter(r) {
					subs[i].Op = syntax.OpCharClass
					subs[i].Rune = fixClass([]rune{r, r}, true)
				}
			}
			t.Op, t.Rune, t.Sub = syntax.OpConcat, nil, subs
		}
	}
	for _, s := range t.Sub {
		fixTree(s, fold, nul)
	}
}

// swapClassNL is the class rs (ranges) for text whose NULs and newlines
// are swapped: NUL, the line end, goes; NUL comes in if newline was in
// it (newline stays, for fixClass to remove).
func swapClassNL(rs []rune) []rune {
	out := make([]rune, 0, len(rs)+2)
	nl := false
	for i := 0; i+1 < len(rs); i += 2 {
		lo, hi := rs[i], rs[i+1]
		nl = nl || lo <= '\n' && '\n' <= hi
		lo = max(lo, 1)
		if lo <= hi {
			out = append(out, lo, hi)
		}
	}
	if nl {
		out = append(out, 0, 0)
	}
	return out
}

func isASCIILetter(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }

// fixClass removes '\n' from a class and, with fold, adds the other ASCII
// case of its letters.
func fixClass(rs []rune, fold bool) []rune {
	var out []rune
	add := func(lo, hi rune) {
		if lo <= '\n' && '\n' <= hi {
			if lo < '\n' {
				out = append(out, lo, '\n'-1)
			}
			if hi > '\n' {
				out = append(out, '\n'+1, hi)
			}
			return
		}
		out = append(out, lo, hi)
	}
	for i := 0; i+1 < len(rs); i += 2 {
		lo, hi := rs[i], rs[i+1]
		add(lo, hi)
		if fold {
			if l, h := max(lo, 'a'), min(hi, 'z'); l <= h {
				add(l-32, h-32)
			}
			if l, h := max(lo, 'A'), min(hi, 'Z'); l <= h {
				add(l+32, h+32)
			}
		}
	}
	// sort and merge the ranges
	type rg struct{ lo, hi rune }
	var r []rg
	for i := 0; i < len(out); i += 2 {
		r = append(r, rg{out[i], out[i+1]})
	}
	slices.SortFunc(r, func(a, b rg) int { return int(a.lo - b.lo) })
	out = out[:0]
	for _, x := range r {
		if n := len(out); n > 0 && x.lo <= out[n-1]+1 {
			out[n-1] = max(out[n-1], x.hi)
			continue
		}
		out = append(out, x.lo, x.hi)
	}
	return out
}

// matchesHigh reports whether t can match a rune >= 0x80.
func matchesHigh(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true
	case syntax.OpLiteral:
		if slices.ContainsFunc(t.Rune, func(r rune) bool { return r >= 0x80 }) {
			return true
		}
	case syntax.OpCharClass:
		if len(t.Rune) > 0 && t.Rune[len(t.Rune)-1] >= 0x80 {
			return true
		}
	}
	return slices.ContainsFunc(t.Sub, matchesHigh)
}

// supMatch reports whether one line (without its newline) matches m.sup,
// when there is one, searching through in when it is not nil.
func (m *grepMatcher) supMatch(line []byte, in *interrupt) bool {
	ok := false
	switch {
	case m.sup == nil:
		return true
	case in != nil:
		ok = m.sup.MatchReader(in.reader(line))
	default:
		ok = m.sup.Match(line)
	}
	if ok && m.word && m.wo != nil {
		// -w: glibc regex's word search decides, not the wrapper. The
		// line is widened text when it holds a byte >= 0x80 and the
		// patterns can match one (grepRun.process).
		ok = m.wordSelects(line, in, m.wide && hasHigh(line))
	}
	return ok
}

// lineMatch reports whether one line (without its newline) matches,
// searching through in when it is not nil.
func (m *grepMatcher) lineMatch(line []byte, in *interrupt) bool {
	switch {
	case m.kw != nil:
		return m.kw.matchLine(line, in)
	case m.lseq != nil:
		return m.lseq.match(line)
	case in != nil:
		return m.lre.MatchReader(in.reader(line))
	}
	return m.lre.Match(line)
}

// submatch is re.FindSubmatchIndex(b), through in when it is not nil.
func submatch(re reMatcher, b []byte, in *interrupt) []int {
	if in == nil {
		return re.FindSubmatchIndex(b)
	}
	return re.FindReaderSubmatchIndex(in.reader(b))
}

// eachMatch calls f for each non-empty match in line, as grep -o,
// searching through in when it is not nil. wide: line is widened text.
func (m *grepMatcher) eachMatch(line []byte, f func(s, e int), in *interrupt, wide bool) {
	if m.kw != nil {
		m.kw.eachMatch(line, f, in)
		return
	}
	re := m.re
	if m.ore != nil {
		re = m.ore
	}
	if m.word {
		m.eachWordMatch(line, f, in, wide)
		return
	}
	if m.pword {
		m.eachPerlWord(line, f, in, wide)
		return
	}
	if in != nil {
		m.eachMatchSlow(line, f, in)
		return
	}
	for _, loc := range re.FindAllIndex(line, -1) {
		if loc[1] > loc[0] {
			f(loc[0], loc[1])
		}
	}
}

// wholeO reports whether glibc regex matches the whole of a line selected
// with -x and -w (-o then prints it, see grepStage.lineNL): where it reads
// the patterns otherwise than the dfa that selected the line, it may not.
func (m *grepMatcher) wholeO(line []byte, in *interrupt) bool {
	if m.ore == nil {
		return true
	}
	loc := submatch(m.ore, line, in)
	return loc != nil && loc[0] == 0 && loc[1] == len(line)
}

// matchesWhole reports whether the leftmost-longest match in a line is
// all of it (an empty line: the empty match), as GNU's regexp matcher
// checks -x's match given -o's start.
func (m *grepMatcher) matchesWhole(line []byte, in *interrupt) bool {
	if m.kw != nil {
		s, n := m.kw.leftmostLongest(line, 0, in)
		return s == 0 && n == len(line)
	}
	re := m.re
	if m.ore != nil {
		re = m.ore
	}
	loc := submatch(re, line, in)
	return loc != nil && loc[0] == 0 && loc[1] == len(line)
}

// strayParen reports whether an ERE has a ')' with no '(' open.
func strayParen(p string, fold bool) bool {
	tr := &reTranslator{p: p, ere: true, fold: fold}
	if _, err := tr.alt(0); err != nil {
		return false
	}
	return tr.stray
}

// distinct returns the distinct patterns in the order they first came
// (GNU drops a repeated pattern); the last of them is the last one GNU
// reads.
func distinct(pats []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pats {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// lastBackslashLiteral returns pats with a backslash that ends the last
// distinct pattern escaped, when GNU takes it as a literal backslash: with
// two distinct patterns or more, all literals, GNU 3.8 runs its -F matcher
// (try_fgrep_pattern, over the patterns joined by newlines), which copies
// a backslash that ends the list as it is; a single pattern, or one that
// is not a literal, goes to the regexp compilers, where it is an error
// ("Trailing backslash"). A backslash that ends an earlier pattern is
// followed by the newline there and is an error either way.
func lastBackslashLiteral(pats []string, mode grepMode) []string {
	if mode == grepFixed {
		return pats
	}
	d := distinct(pats)
	odd := func(p string) bool {
		n := len(p) - len(strings.TrimRight(p, `\`))
		return n%2 == 1
	}
	if len(d) < 2 || !odd(d[len(d)-1]) {
		return pats
	}
	last := d[len(d)-1]
	for _, p := range d[:len(d)-1] {
		if odd(p) {
			return pats
		}
	}
	if _, ok := fgrepKeywords(pats, mode); !ok {
		return pats
	}
	out := make([]string, len(pats))
	for i, p := range pats {
		if p == last {
			p += `\`
		}
		out[i] = p
	}
	return out
}

// invalidRE is the error for RE2 text made from the patterns that RE2
// refuses, keeping RE2's error for re2Limit.
func invalidRE(err error) error {
	return &compute.Error{
		Code: compute.CodeInvalid,
		Msg:  "grep: invalid pattern: " + strings.TrimPrefix(err.Error(), "error parsing regexp: "),
		Err:  err,
	}
}

// re2Limit rewrites an error of compileGrep where RE2 refused the text
// translated from pats. The translator refuses what GNU refuses, so such a
// pattern is one GNU takes and RE2 cannot: nested repeat counts whose
// product is past 1000 (`(a{100}){100}`), or a tree past RE2's size or
// depth. That is an "unsupported" error naming the pattern (the first
// that RE2 refuses alone), as for a single count past 1000, not RE2's
// own wording.
func re2Limit(err error, pats []string, mode grepMode, fold bool) error {
	var se *syntax.Error
	if !errors.As(err, &se) {
		return err
	}
	var what string
	switch se.Code {
	case syntax.ErrInvalidRepeatSize:
		what = fmt.Sprintf("nested repeat counts multiplying past %d", reRepeatMax)
	case syntax.ErrLarge:
		what = "pattern size (RE2's limit)"
	case syntax.ErrNestingDepth:
		what = "nesting depth (RE2's limit)"
	default:
		return err
	}
	if mode != grepFixed {
		for _, p := range pats {
			s, terr := translateRE(p, mode == grepExtended, fold, false)
			if terr != nil {
				continue
			}
			if _, perr := syntax.Parse(s, syntax.PerlX); perr != nil {
				return compute.Invalidf("grep: unsupported %s in pattern %q", what, p)
			}
		}
	}
	return compute.Invalidf("grep: unsupported %s in the patterns", what)
}
