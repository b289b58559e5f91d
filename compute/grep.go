package compute

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// grep is GNU grep 3.8 reading stdin with LC_ALL=C, with these differences:
//
// Patterns are compiled to Go RE2 (leftmost-longest, as POSIX). Basic (-G,
// the default) and extended (-E) syntax are translated: BRE \( \) \{ \}
// \| \+ \? become their RE2 forms, POSIX bracket expressions keep '\'
// literal, {,n} means {0,n}, a repetition operator with nothing to repeat is
// ignored (-E) or literal (-G), stacked ones (a**) nest. \w \W \s \S \b \B
// \` \' are GNU's; \< and \> are approximated by \b. Back-references (\1)
// are not supported and are an error; repeat counts above 1000 are an
// error. A newline in a pattern separates alternatives, as in GNU.
// Matching is on bytes: '.' and classes match one byte, -i folds ASCII only.
//
// Exit status 1 (no line selected) is not an error: the output is empty.
// Input with a NUL byte is binary: as GNU, output stops at the first
// 96 KiB block (counted from the start of the input) that holds a NUL (GNU
// prints "binary file matches" on stderr, which a stream has not), and -c
// counts NUL-separated lines. GNU's blocks follow its reads, so for a pipe
// that delivers short reads the two may differ in how many lines before
// the NUL are printed; we follow GNU reading a regular file.
func init() {
	Register(&Command{
		Name:    "grep",
		Summary: "print lines that match patterns (GNU grep, C locale; patterns are RE2)",
		Flags: []FlagSpec{
			{Short: 'F', Long: "fixed-strings", Summary: "patterns are strings"},
			{Short: 'E', Long: "extended-regexp", Summary: "patterns are extended regular expressions"},
			{Short: 'G', Long: "basic-regexp", Summary: "patterns are basic regular expressions (default)"},
			{Short: 'e', Long: "regexp", Value: true, Summary: "use PATTERN for matching (repeatable)"},
			{Short: 'i', Long: "ignore-case", Summary: "ignore ASCII case distinctions"},
			{Short: 'v', Long: "invert-match", Summary: "select non-matching lines"},
			{Short: 'c', Long: "count", Summary: "print only a count of selected lines"},
			{Short: 'n', Long: "line-number", Summary: "prefix each output line with its line number"},
			{Short: 'w', Long: "word-regexp", Summary: "match only whole words"},
			{Short: 'x', Long: "line-regexp", Summary: "match only whole lines"},
			{Short: 'o', Long: "only-matching", Summary: "print only the matched parts"},
			{Short: 'm', Long: "max-count", Value: true, Summary: "stop after NUM selected lines"},
			{Short: 'h', Long: "no-filename", Summary: "no-op: input is one stream"},
			{Short: 's', Long: "no-messages", Summary: "no-op"},
		},
		Build: buildGrep,
	})
}

type grepMode int

const (
	grepBasic grepMode = iota
	grepExtended
	grepFixed
)

// grepStage is a compiled grep.
type grepStage struct {
	invert, count, lineNum, only bool
	maxCount                     int64 // -1: no limit
	m                            *grepMatcher
}

func buildGrep(env *Env, args []string) (Stage, error) {
	cmd, _ := Lookup("grep")
	f, err := ParseFlags("grep", cmd.Flags, args)
	if err != nil {
		return nil, err
	}
	mode := grepBasic
	for _, u := range f.Uses {
		switch u.Key {
		case "F":
			mode = grepFixed
		case "E":
			mode = grepExtended
		case "G":
			mode = grepBasic
		}
	}
	var pats []string
	if f.Has("e") {
		pats = f.Values("e")
	} else {
		if len(f.Operands) == 0 {
			return nil, Invalidf("grep: no pattern given")
		}
		pats = []string{f.Operands[0]}
		f.Operands = f.Operands[1:]
	}
	if err := noOperandsButStdin("grep", f); err != nil {
		return nil, err
	}
	g := &grepStage{invert: f.Has("v"), count: f.Has("c"), lineNum: f.Has("n"), only: f.Has("o"), maxCount: -1}
	if u, ok := f.Value("m"); ok {
		n, err := strconv.ParseInt(u.Value, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return nil, Invalidf("grep: invalid max count %q for %s", u.Value, u.Name)
			}
			n = -1
			if !strings.HasPrefix(u.Value, "-") {
				n = 1<<63 - 1
			}
		}
		if n >= 0 { // GNU takes a negative count as no limit
			g.maxCount = n
		}
	}
	var all []string
	for _, p := range pats {
		all = append(all, strings.Split(p, "\n")...)
	}
	g.m, err = compileGrep(all, mode, f.Has("i"), f.Has("w"), f.Has("x"))
	if err != nil {
		return nil, err
	}
	return g, nil
}

// grepMatcher finds lines that match. The regexp is in multi-line mode and
// never matches a newline, so it can run over many lines at once.
type grepMatcher struct {
	lit   []byte         // when set, the pattern is this one literal: bytes.Index
	isLit bool           //
	re    *regexp.Regexp // selection: the patterns with -x or -w applied
	wre   *regexp.Regexp // -w -o inside a line: [^w](P)(?:[^w]|$)
	lre   *regexp.Regexp // re for one line: ^ and $ are \A and \z
	seq   *seqMatcher    // re as a byte-class sequence, or nil
	lseq  *litSeq        // lre as literal sets with ".*" gaps, or nil
	word  bool
	sets  []litSet // prefilter candidates: the run picks the rarest
	wide  bool     // the regexp can match a byte >= 0x80: text must be widened
}

const wordClass = `[0-9A-Za-z_]`
const nonWordClass = `[^0-9A-Za-z_]`

func compileGrep(pats []string, mode grepMode, fold, word, line bool) (*grepMatcher, error) {
	parts := make([]string, len(pats))
	for i, p := range pats {
		var err error
		switch mode {
		case grepFixed:
			parts[i] = quoteBytes(p)
		case grepExtended:
			parts[i], err = translateRE(p, true)
		default:
			parts[i], err = translateRE(p, false)
		}
		if err != nil {
			return nil, err
		}
	}
	user := "(?:" + strings.Join(parts, ")|(?:") + ")"
	m := &grepMatcher{word: word && !line}
	t, err := parseRE(user, fold)
	if err != nil {
		return nil, err
	}
	if t.Op == syntax.OpLiteral && !word && !line {
		m.isLit, m.lit = true, latin1Bytes(t.Rune)
	}
	m.sets = litSets(t)
	for i := range m.sets {
		s := &m.sets[i]
		s.exact = s.exact && !word && !line
		for _, l := range s.lits {
			s.wide = append(s.wide, widen(nil, l))
		}
	}
	full := user
	switch {
	case line:
		full = "^(?:" + user + ")$"
	case word:
		full = "(?:^|" + nonWordClass + ")(" + user + ")(?:" + nonWordClass + "|$)"
		wt, err := parseRE(nonWordClass+"("+user+")(?:"+nonWordClass+"|$)", fold)
		if err != nil {
			return nil, err
		}
		if m.wre, err = compileTree(wt); err != nil {
			return nil, err
		}
	}
	ft, err := parseRE(full, fold)
	if err != nil {
		return nil, err
	}
	m.wide = matchesHigh(ft)
	if m.re, err = compileTree(ft); err != nil {
		return nil, err
	}
	m.seq = compileSeq(ft)
	// Its literals are ASCII, which widening leaves alone: it works on
	// widened text too.
	m.lseq = compileLitSeq(ft)
	// lre only answers "does this line match": leftmost-first semantics
	// and no capture groups let RE2 stop at the first match it finds.
	if m.lre, err = regexp.Compile(noCaptures(lineAnchors(ft)).String()); err != nil {
		return nil, Invalidf("grep: invalid pattern: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
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

func compileTree(t *syntax.Regexp) (*regexp.Regexp, error) {
	re, err := regexp.Compile(t.String())
	if err != nil {
		return nil, Invalidf("grep: invalid pattern: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	re.Longest()
	return re, nil
}

// parseRE parses RE2 text made by translateRE and rewrites it for grep:
// nothing matches '\n', and -i folds ASCII letters only.
func parseRE(s string, fold bool) (*syntax.Regexp, error) {
	t, err := syntax.Parse(s, syntax.PerlX)
	if err != nil {
		return nil, Invalidf("grep: invalid pattern: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	fixTree(t, fold)
	return t.Simplify(), nil
}

func fixTree(t *syntax.Regexp, fold bool) {
	switch t.Op {
	case syntax.OpAnyChar:
		t.Op = syntax.OpAnyCharNotNL
	case syntax.OpCharClass:
		t.Rune = fixClass(t.Rune, fold)
		if len(t.Rune) == 0 {
			t.Op = syntax.OpNoMatch
		}
	case syntax.OpLiteral:
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
		fixTree(s, fold)
	}
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

// litSet is a prefilter: every match of the pattern contains one of lits.
// With fold, lits are lower-cased and are searched for in lower-cased text.
// exact: a line holding one of lits matches (no regexp needed).
type litSet struct {
	lits  [][]byte
	wide  [][]byte // lits as they appear in widened text
	fold  bool
	exact bool
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

// lowerASCII writes src with ASCII upper-case letters lower-cased to dst
// (len(dst) >= len(src)), eight bytes at a time.
func lowerASCII(dst, src []byte) {
	const ones = 0x0101010101010101
	i := 0
	for ; i+8 <= len(src); i += 8 {
		x := binary.LittleEndian.Uint64(src[i:])
		h := x & (0x7f * ones)
		ge := h + (0x80-'A')*ones          // high bit: byte&0x7f >= 'A'
		gt := h + (0x80-'Z'-1)*ones        // high bit: byte&0x7f > 'Z'
		m := ge &^ gt &^ x & (0x80 * ones) // 'A' <= byte <= 'Z'
		binary.LittleEndian.PutUint64(dst[i:], x|m>>2)
	}
	for ; i < len(src); i++ {
		c := src[i]
		if 'A' <= c && c <= 'Z' {
			c += 32
		}
		dst[i] = c
	}
}

// latin1Bytes turns runes < 0x100 (our pattern encoding of bytes) back into bytes.
func latin1Bytes(rs []rune) []byte {
	if len(rs) == 0 {
		return nil
	}
	b := make([]byte, len(rs))
	for i, r := range rs {
		b[i] = byte(r)
	}
	return b
}

// quoteBytes quotes s as an RE2 literal, each byte >= 0x80 as the rune of
// the same number (the "wide" encoding of the text).
func quoteBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		quoteByte(&b, s[i])
	}
	return b.String()
}

func quoteByte(b *strings.Builder, c byte) {
	switch {
	case c >= 0x80 || c < 0x20:
		b.WriteString(`\x{`)
		b.WriteString(strconv.FormatInt(int64(c), 16))
		b.WriteByte('}')
	case strings.IndexByte(`\.+*?()|[]{}^$`, c) >= 0:
		b.WriteByte('\\')
		b.WriteByte(c)
	default:
		b.WriteByte(c)
	}
}

// translateRE translates a GNU basic (ere=false) or extended regular
// expression to RE2 syntax.
func translateRE(p string, ere bool) (string, error) {
	tr := &reTranslator{p: p, ere: ere}
	s, err := tr.alt(0)
	if err != nil {
		return "", err
	}
	return s, nil
}

type reTranslator struct {
	p   string
	i   int
	ere bool
}

func (t *reTranslator) bad(why string) error {
	return Invalidf("grep: invalid pattern %q: %s", t.p, why)
}

// atEnd reports whether a branch ends at i: end of pattern, '|' or ')'.
func (t *reTranslator) branchEnd(i int, depth int) bool {
	p := t.p
	if i >= len(p) {
		return true
	}
	if t.ere {
		return p[i] == '|' || (p[i] == ')' && depth > 0)
	}
	return i+1 < len(p) && p[i] == '\\' && (p[i+1] == '|' || (p[i+1] == ')' && depth > 0))
}

func (t *reTranslator) alt(depth int) (string, error) {
	var branches []string
	for {
		b, err := t.branch(depth)
		if err != nil {
			return "", err
		}
		branches = append(branches, b)
		p := t.p
		if t.ere && t.i < len(p) && p[t.i] == '|' {
			t.i++
			continue
		}
		if !t.ere && t.i+1 < len(p) && p[t.i] == '\\' && p[t.i+1] == '|' {
			t.i += 2
			continue
		}
		return strings.Join(branches, "|"), nil
	}
}

type reAtom struct {
	s          string
	quantified bool
	anchor     bool
}

func (t *reTranslator) branch(depth int) (string, error) {
	var atoms []reAtom
	p := t.p
	quant := func(q string) {
		n := len(atoms)
		if n == 0 || atoms[n-1].anchor {
			if t.ere {
				return // GNU ignores a repetition of nothing in an ERE
			}
			atoms = append(atoms, reAtom{s: regexp.QuoteMeta(q[:1])})
			return
		}
		a := &atoms[n-1]
		if a.quantified {
			a.s = "(?:" + a.s + ")"
		}
		a.s += q
		a.quantified = true
	}
	for !t.branchEnd(t.i, depth) {
		c := p[t.i]
		t.i++
		switch {
		case c == '[':
			s, err := t.bracket()
			if err != nil {
				return "", err
			}
			atoms = append(atoms, reAtom{s: s})
		case c == '.':
			atoms = append(atoms, reAtom{s: "."})
		case c == '*':
			if !t.ere && (len(atoms) == 0 || atoms[len(atoms)-1].anchor) {
				atoms = append(atoms, reAtom{s: `\*`})
			} else {
				quant("*")
			}
		case c == '^':
			if t.ere || len(atoms) == 0 {
				atoms = append(atoms, reAtom{s: "^", anchor: true})
			} else {
				atoms = append(atoms, reAtom{s: `\^`})
			}
		case c == '$':
			if t.ere || t.branchEnd(t.i, depth) {
				atoms = append(atoms, reAtom{s: "$", anchor: true})
			} else {
				atoms = append(atoms, reAtom{s: `\$`})
			}
		case t.ere && (c == '+' || c == '?'):
			quant(string(c))
		case t.ere && c == '{':
			if q, ok := t.interval(false); ok {
				quant(q)
			} else {
				atoms = append(atoms, reAtom{s: `\{`})
			}
		case t.ere && c == '(':
			s, err := t.group(depth, ")")
			if err != nil {
				return "", err
			}
			atoms = append(atoms, reAtom{s: s})
		case c == '\\':
			if t.i >= len(p) {
				return "", t.bad("trailing backslash")
			}
			e := p[t.i]
			t.i++
			switch {
			case !t.ere && e == '(':
				s, err := t.group(depth, `\)`)
				if err != nil {
					return "", err
				}
				atoms = append(atoms, reAtom{s: s})
			case !t.ere && e == '{':
				q, ok := t.interval(true)
				if !ok {
					return "", t.bad("invalid \\{ interval")
				}
				quant(q)
			case !t.ere && (e == '+' || e == '?'):
				quant(string(e))
			case !t.ere && e == ')':
				return "", t.bad("unmatched ) or \\)")
			case '1' <= e && e <= '9':
				return "", t.bad("back-references are not supported")
			case e == '<' || e == '>' || e == 'b':
				atoms = append(atoms, reAtom{s: `\b`, anchor: true})
			case e == 'B':
				atoms = append(atoms, reAtom{s: `\B`, anchor: true})
			case e == '`':
				atoms = append(atoms, reAtom{s: `\A`, anchor: true})
			case e == '\'':
				atoms = append(atoms, reAtom{s: `\z`, anchor: true})
			case e == 'w':
				atoms = append(atoms, reAtom{s: wordClass})
			case e == 'W':
				atoms = append(atoms, reAtom{s: nonWordClass})
			case e == 's':
				atoms = append(atoms, reAtom{s: `[\t\n\v\f\r ]`})
			case e == 'S':
				atoms = append(atoms, reAtom{s: `[^\t\n\v\f\r ]`})
			default:
				var b strings.Builder
				quoteByte(&b, e)
				atoms = append(atoms, reAtom{s: b.String()})
			}
		default:
			if t.ere && c == ')' { // at depth 0: GNU takes it literally
				atoms = append(atoms, reAtom{s: `\)`})
				break
			}
			var b strings.Builder
			quoteByte(&b, c)
			atoms = append(atoms, reAtom{s: b.String()})
		}
	}
	var b strings.Builder
	for _, a := range atoms {
		b.WriteString(a.s)
	}
	return b.String(), nil
}

func (t *reTranslator) group(depth int, closer string) (string, error) {
	s, err := t.alt(depth + 1)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(t.p[t.i:], closer) {
		return "", t.bad("unmatched ( or \\(")
	}
	t.i += len(closer)
	return "(?:" + s + ")", nil
}

// interval parses "m}", "m,}", "m,n}" or ",n}" after '{' (bre: "\}"),
// returning the RE2 quantifier. On failure t.i is unchanged.
func (t *reTranslator) interval(bre bool) (string, bool) {
	start := t.i
	p := t.p
	num := func() (string, bool) {
		j := t.i
		for t.i < len(p) && isDigit(p[t.i]) {
			t.i++
		}
		return p[j:t.i], t.i > j
	}
	lo, hasLo := num()
	hi, comma := "", false
	if t.i < len(p) && p[t.i] == ',' {
		comma = true
		t.i++
		hi, _ = num()
	}
	closer := "}"
	if bre {
		closer = `\}`
	}
	if (!hasLo && !comma) || !strings.HasPrefix(p[t.i:], closer) {
		t.i = start
		return "", false
	}
	t.i += len(closer)
	if !hasLo {
		lo = "0"
	}
	if !comma {
		return "{" + lo + "}", true
	}
	return "{" + lo + "," + hi + "}", true
}

// bracket translates a POSIX bracket expression after '['.
func (t *reTranslator) bracket() (string, error) {
	p := t.p
	var b strings.Builder
	b.WriteByte('[')
	if t.i < len(p) && p[t.i] == '^' {
		b.WriteByte('^')
		t.i++
	}
	first := true
	for {
		if t.i >= len(p) {
			return "", t.bad("unmatched [")
		}
		c := p[t.i]
		if c == ']' && !first {
			t.i++
			break
		}
		first = false
		lo := c
		t.i++
		if c == '[' && t.i < len(p) && (p[t.i] == ':' || p[t.i] == '=' || p[t.i] == '.') {
			kind := p[t.i]
			end := strings.Index(p[t.i+1:], string(kind)+"]")
			if end < 0 {
				return "", t.bad("unmatched [")
			}
			name := p[t.i+1 : t.i+1+end]
			t.i += end + 3
			if kind == ':' {
				switch name {
				case "alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct", "print", "graph", "cntrl", "xdigit":
					b.WriteString("[:" + name + ":]")
					continue
				}
				return "", t.bad("invalid character class " + strconv.Quote(name))
			}
			if len(name) != 1 {
				return "", t.bad("invalid collation element " + strconv.Quote(name))
			}
			lo = name[0]
		}
		hi := lo
		if t.i+1 < len(p) && p[t.i] == '-' && p[t.i+1] != ']' {
			hi = p[t.i+1]
			t.i += 2
			if hi == '[' && t.i < len(p) && (p[t.i] == '.' || p[t.i] == '=') {
				kind := p[t.i]
				end := strings.Index(p[t.i+1:], string(kind)+"]")
				if end != 1 {
					return "", t.bad("invalid range end")
				}
				hi = p[t.i+1]
				t.i += 4
			}
			if hi < lo {
				return "", t.bad("invalid range end")
			}
		}
		fmtRune(&b, lo)
		if hi != lo {
			b.WriteByte('-')
			fmtRune(&b, hi)
		}
	}
	b.WriteByte(']')
	return b.String(), nil
}

func fmtRune(b *strings.Builder, c byte) {
	b.WriteString(`\x{`)
	b.WriteString(strconv.FormatInt(int64(c), 16))
	b.WriteByte('}')
}

// grepBlock is GNU grep's read size: binary detection happens per block.
const grepBlock = 96 << 10

// grepBufSize is the input buffer: a multiple of grepBlock.
const grepBufSize = 12 * grepBlock

// grepRun is the state of one grep over one input.
type grepRun struct {
	g       *grepStage
	w       *bufio.Writer
	lineNo  int64 // lines before the text being processed
	matched int64 // selected lines so far
	done    bool  // -m reached
	wide    bool  // the current text is widened: decode before output
	scratch []byte
	num     []byte
	next    []int   // findLine's cache
	low     []byte  // the text lower-cased, for a fold prefilter
	set     *litSet // the prefilter, once chosen
	chosen  bool
}

// choose picks, on the first text, the prefilter whose literals occur
// least often in a sample of it.
func (r *grepRun) choose(text []byte) *litSet {
	m := r.g.m
	if r.chosen || m.isLit {
		return r.set
	}
	r.chosen = true
	sample := text[:min(len(text), 256<<10)]
	var low []byte
	best, bestN := -1, 0
	for i := range m.sets {
		s := &m.sets[i]
		hay, lits := sample, s.lits
		if r.wide {
			lits = s.wide
		}
		if s.fold {
			if low == nil {
				low = make([]byte, len(sample))
				lowerASCII(low, sample)
			}
			hay = low
		}
		n := 0
		for _, l := range lits {
			n += bytes.Count(hay, l)
		}
		// each literal costs a pass over the text: about one hit per 4 KiB
		n += (len(lits) - 1) * len(sample) >> 12
		if best < 0 || n < bestN || n == bestN && s.minLen() > m.sets[best].minLen() {
			best, bestN = i, n
		}
	}
	if best >= 0 {
		r.set = &m.sets[best]
	}
	return r.set
}

// Run selects lines from in.
func (g *grepStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	if g.maxCount == 0 {
		return nil // GNU stops before reading: no output, even with -c
	}
	r := &grepRun{g: g, w: bufio.NewWriterSize(out, 64<<10)}
	buf := make([]byte, grepBufSize)
	n := 0           // bytes held in buf
	var off int64    // input offset of buf[0]
	nul := int64(-1) // offset of the first NUL, in non-count mode
	eof := false
	for !eof && !r.done {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n == len(buf) { // a line longer than the buffer
			if len(buf) >= MaxLineBytes {
				return Exhaustedf("grep: line longer than %d bytes", MaxLineBytes)
			}
			buf = append(buf, make([]byte, len(buf))...)
		}
		start := n
		for n < len(buf) {
			k, err := in.Read(buf[n:])
			n += k
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				return err
			}
		}
		if g.count {
			for i := start; i < n; i++ { // GNU zaps NULs to newlines
				j := bytes.IndexByte(buf[i:n], 0)
				if j < 0 {
					break
				}
				i += j
				buf[i] = '\n'
			}
		} else if nul < 0 {
			if j := bytes.IndexByte(buf[start:n], 0); j >= 0 {
				nul = off + int64(start+j)
			}
		}
		// The text to process: complete lines whose fate is known.
		lim := n
		binary := nul >= 0
		if binary {
			cut := nul / grepBlock * grepBlock
			lim = bytes.LastIndexByte(buf[:max(cut-off, 0)], '\n') + 1
		} else if !eof {
			safe := n
			if !g.count {
				safe = int(max((off+int64(n))/grepBlock*grepBlock-off, 0))
			}
			lim = bytes.LastIndexByte(buf[:safe], '\n') + 1
		}
		if lim > 0 {
			r.process(buf[:lim])
		}
		if binary {
			break // GNU prints nothing more once it has seen a NUL
		}
		copy(buf, buf[lim:n])
		n -= lim
		off += int64(lim)
		if err := r.w.Flush(); err != nil {
			return err
		}
	}
	if g.count {
		c := r.matched
		if g.maxCount >= 0 {
			c = min(c, g.maxCount)
		}
		r.w.WriteString(strconv.FormatInt(c, 10))
		r.w.WriteByte('\n')
	}
	return r.w.Flush()
}

// hasHigh reports whether b has a byte >= 0x80.
func hasHigh(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// widen encodes each byte as the UTF-8 of the rune of the same number, so
// that RE2 sees one character per byte.
func widen(dst, src []byte) []byte {
	dst = dst[:0]
	for _, c := range src {
		if c < 0x80 {
			dst = append(dst, c)
		} else {
			dst = append(dst, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return dst
}

// narrow undoes widen, appending to dst.
func narrow(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		dst = append(dst, byte(r))
		i += n
	}
	return dst
}

// process handles text: whole lines, the last one possibly unterminated
// (end of input).
func (r *grepRun) process(text []byte) {
	m := r.g.m
	r.wide = false
	if m.wide && !m.isLit && (m.seq == nil || r.g.only) && hasHigh(text) {
		r.scratch = widen(r.scratch, text)
		text, r.wide = r.scratch, true
	}
	set := r.choose(text)
	hay := text // where set's literals are searched for
	var lits [][]byte
	if set != nil {
		lits = set.lits
		if r.wide {
			lits = set.wide
		}
		if set.fold {
			r.low = slices.Grow(r.low[:0], len(text))[:len(text)]
			lowerASCII(r.low, text)
			hay = r.low
		}
	}
	r.next = r.next[:0]
	for range lits {
		r.next = append(r.next, -1)
	}
	end := len(text) // where the search text ends: before the final '\n'
	if end > 0 && text[end-1] == '\n' {
		end--
	}
	pos := 0
	for pos < len(text) && !r.done {
		seq := m.seq
		if r.wide {
			seq = nil
		}
		ls, le := m.findLine(text[:end], hay[:end], pos, set, lits, r.next, seq)
		if ls < 0 {
			r.region(text, pos, len(text))
			return
		}
		r.region(text, pos, ls)
		if r.done {
			return
		}
		r.lineNo++
		if !r.g.invert {
			r.selected(text[ls:le])
		}
		pos = le + 1
	}
}

// region handles text[from:to], lines none of which matches.
func (r *grepRun) region(text []byte, from, to int) {
	if from >= to {
		return
	}
	g := r.g
	seg := text[from:to]
	if !g.invert {
		if g.lineNum {
			r.lineNo += int64(bytes.Count(seg, []byte{'\n'}))
			if seg[len(seg)-1] != '\n' {
				r.lineNo++
			}
		}
		return
	}
	if !g.lineNum && !g.only && g.maxCount < 0 {
		lines := int64(bytes.Count(seg, []byte{'\n'}))
		if seg[len(seg)-1] != '\n' {
			lines++
		}
		r.matched += lines
		if g.count {
			return
		}
		r.write(seg)
		if seg[len(seg)-1] != '\n' {
			r.w.WriteByte('\n')
		}
		return
	}
	for len(seg) > 0 && !r.done {
		i := bytes.IndexByte(seg, '\n')
		line := seg
		if i >= 0 {
			line, seg = seg[:i], seg[i+1:]
		} else {
			seg = nil
		}
		r.lineNo++
		r.selected(line)
	}
}

func (r *grepRun) write(b []byte) {
	if r.wide {
		r.num = narrow(r.num[:0], b)
		b = r.num
	}
	r.w.Write(b)
}

func (r *grepRun) prefix() {
	if r.g.lineNum {
		var tmp [24]byte
		r.w.Write(strconv.AppendInt(tmp[:0], r.lineNo, 10))
		r.w.WriteByte(':')
	}
}

// selected outputs a selected line (r.lineNo is its number).
func (r *grepRun) selected(line []byte) {
	g := r.g
	r.matched++
	if g.maxCount >= 0 && r.matched >= g.maxCount {
		r.done = true
	}
	switch {
	case g.count:
	case g.only:
		if !g.invert {
			g.m.eachMatch(line, func(s, e int) {
				r.prefix()
				r.write(line[s:e])
				r.w.WriteByte('\n')
			})
		}
	default:
		r.prefix()
		r.write(line)
		r.w.WriteByte('\n')
	}
}

// findLine returns the bounds of the first line of text at or after pos
// that matches, or -1. hay is text, or text lower-cased for a fold set.
// next caches, per literal of lits (set's, in hay), where it next occurs
// (-1: unknown, math.MaxInt: nowhere).
// seq, if not nil, is m.seq, usable on text.
func (m *grepMatcher) findLine(text, hay []byte, pos int, set *litSet, lits [][]byte, next []int, seq *seqMatcher) (ls, le int) {
	for pos <= len(text) {
		var s int
		switch {
		case m.isLit:
			s = bytes.Index(text[pos:], m.lit)
		case set != nil:
			s = math.MaxInt
			for i, l := range lits {
				if next[i] < pos {
					next[i] = math.MaxInt
					if j := bytes.Index(hay[pos:], l); j >= 0 {
						next[i] = pos + j
					}
				}
				s = min(s, next[i])
			}
			if s == math.MaxInt {
				return -1, -1
			}
			s -= pos
		case seq != nil:
			s = seq.find(text, pos)
			if s < 0 {
				return -1, -1
			}
			s -= pos
		default:
			loc := m.re.FindIndex(text[pos:])
			s = -1
			if loc != nil {
				s = loc[0]
			}
		}
		if s < 0 {
			return -1, -1
		}
		s += pos
		ls = bytes.LastIndexByte(text[:s], '\n') + 1
		le = bytes.IndexByte(text[s:], '\n')
		if le < 0 {
			le = len(text)
		} else {
			le += s
		}
		if m.isLit || set == nil || set.exact || seq != nil && seq.matchLine(text[ls:le]) || seq == nil && m.lineMatch(text[ls:le]) {
			return ls, le
		}
		pos = le + 1
	}
	return -1, -1
}

// lineMatch reports whether one line (without its newline) matches.
func (m *grepMatcher) lineMatch(line []byte) bool {
	if m.lseq != nil {
		return m.lseq.match(line)
	}
	return m.lre.Match(line)
}

// eachMatch calls f for each non-empty match in line, as grep -o.
func (m *grepMatcher) eachMatch(line []byte, f func(s, e int)) {
	if !m.word {
		for _, loc := range m.re.FindAllIndex(line, -1) {
			if loc[1] > loc[0] {
				f(loc[0], loc[1])
			}
		}
		return
	}
	for pos := 0; pos <= len(line); {
		var loc []int
		base := 0
		if pos == 0 {
			loc = m.re.FindSubmatchIndex(line)
		} else {
			base = pos - 1
			loc = m.wre.FindSubmatchIndex(line[base:])
		}
		if loc == nil {
			return
		}
		s, e := base+loc[2], base+loc[3]
		if e > s {
			f(s, e)
			pos = e
		} else {
			pos = s + 1
		}
	}
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

// lowerCopy returns b with ASCII letters lower-cased (other bytes as they are).
func lowerCopy(b []byte) []byte {
	l := make([]byte, len(b))
	lowerASCII(l, b)
	return l
}
