package grep

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/halfclose/halfclose/compute"
)

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
// expression to RE2 syntax, with GNU grep 3.8's meaning in the C locale:
// the syntax errors of both of GNU's parsers (glibc regex and gnulib dfa;
// grep fails if either does), and the dfa's reading of what both accept
// (the dfa selects the lines). With fold (-i), bracket expressions are
// folded here, before a '^' negates them; literals are folded later.
//
// With regex set, the meaning is glibc regex's instead, where the two
// differ (GNU uses it for the positions -o prints): in a BRE, '$' before a
// plain ')' or '|' is no anchor; in an ERE, a repetition operator after an
// anchor or at the start of a branch is dropped (a '{' alone, its count
// then being literal text).
func translateRE(p string, ere, fold, regex bool) (string, error) {
	s, _, err := translateREColl(p, ere, fold, regex)
	return s, err
}

type reTranslator struct {
	p     string
	i     int
	ere   bool
	fold  bool
	regex bool // glibc regex's meaning, not the dfa's
	nlAlt bool // a newline separates alternatives (the dfa's whole pattern)
	more  bool // the dfa reads more after p (translateDFA)
	stray bool // an ERE ')' with no '(' open was taken as a literal
	coll  bool // a bracket had [.x.] or [=x=] (one not repeated {0} times)
	// sup: GNU's dfa's superset, in which such a bracket (which the dfa
	// cannot read: it leaves the line to glibc regex) matches any text.
	sup bool
	// nsub counts the groups opened so far; done has bit i set when group
	// i+1 (of the first 9) is closed where a back-reference could see it,
	// as glibc regex's completed_bkref_map: a reference to another is
	// GNU's "Invalid back reference".
	nsub int
	done uint16
	// dfaErr is the first error of GNU's dfa that glibc regex does not
	// share ("[:space:]", "\{1\,2\}"): GNU compiles every pattern with
	// glibc regex first, so it is reported only when glibc's parser finds
	// no error in the rest of the pattern. unsupErr is the first thing
	// GNU takes and we refuse (a back-reference), reported only when
	// neither GNU parser fails.
	dfaErr   error
	unsupErr error
}

func (t *reTranslator) bad(why string) error {
	return compute.Invalidf("grep: invalid pattern %q: %s", t.p, why)
}

// dfaBad records an error of GNU's dfa (see dfaErr); translating goes on.
func (t *reTranslator) dfaBad(why string) {
	if t.dfaErr == nil {
		t.dfaErr = dfaError{t.bad(why)}
	}
}

// finish is the translation's error: err (glibc regex's) before the
// dfa's, and the dfa's before an unsupported one.
func (t *reTranslator) finish(err error) error {
	switch {
	case err != nil:
		return err
	case t.dfaErr != nil:
		return t.dfaErr
	}
	return t.unsupErr
}

// dfaError is an invalid pattern that only GNU's dfa refuses: with
// several patterns, an error of glibc regex in a later one is GNU's
// message (compileGrep).
type dfaError struct{ error }

func (e dfaError) Unwrap() error { return e.error }

// branchEnd reports whether a branch ends at i: end of pattern, '|' or
// (inside a group) ')'; for a BRE, \| and \).
func (t *reTranslator) branchEnd(i int, depth int) bool {
	p := t.p
	if i >= len(p) {
		return true
	}
	if t.nlAlt && p[i] == '\n' {
		return true
	}
	if t.ere {
		return p[i] == '|' || (p[i] == ')' && depth > 0)
	}
	return i+1 < len(p) && p[i] == '\\' && (p[i+1] == '|' || p[i+1] == ')')
}

func (t *reTranslator) alt(depth int) (string, error) {
	var branches []string
	// glibc regex: a branch sees the groups closed before the
	// alternation, not those of the branches before it.
	initial := t.done
	for {
		acc := t.done
		t.done = initial
		b, err := t.branch(depth)
		if err != nil {
			return "", err
		}
		t.done |= acc
		branches = append(branches, b)
		p := t.p
		if t.ere && t.i < len(p) && p[t.i] == '|' || t.nlAlt && t.i < len(p) && p[t.i] == '\n' {
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
	coll       bool // holds a bracket with [.x.] or [=x=]
}

// branch translates one branch. laststart follows GNU's dfa: true at the
// start of a branch and of a group, false after anything that matches a
// character or a group, unchanged by anchors. A repetition operator where
// laststart holds is a literal in a BRE; in an ERE it repeats the anchor
// before it, or nothing.
func (t *reTranslator) branch(depth int) (string, error) {
	var atoms []reAtom
	p := t.p
	laststart := true
	// t.coll is the branches' before this one; each atom says whether it
	// holds a collating bracket, which GNU's dfa drops with the atom when
	// it repeats it {0} times.
	outerColl := t.coll
	t.coll = false
	defer func() {
		for _, a := range atoms {
			t.coll = t.coll || a.coll
		}
		t.coll = t.coll || outerColl
	}()
	add := func(s string) {
		atoms = append(atoms, reAtom{s: s, coll: t.coll})
		t.coll = false
		laststart = false
	}
	// glibcFresh: glibc regex starts an expression at this token (at a
	// branch's start, after an anchor, or after ERE repetition operators
	// it dropped there), in either mode: it drops an ERE '{' there
	// without reading an interval.
	glibcFresh := true
	anchor := func(s string) {
		atoms = append(atoms, reAtom{s: s, anchor: true})
		glibcFresh = true
	}
	// fresh: glibc regex starts an expression here (at a branch's start
	// or after an anchor), where it drops an ERE repetition operator and
	// takes a BRE one literally.
	fresh := func() bool {
		return t.regex && (len(atoms) == 0 || atoms[len(atoms)-1].anchor)
	}
	dropped := func() bool { return t.ere && fresh() }
	quant := func(q string) {
		n := len(atoms)
		if n == 0 {
			return // repeats the empty string: a no-op
		}
		a := &atoms[n-1]
		if a.quantified || a.anchor {
			a.s = "(?:" + a.s + ")"
		}
		a.s += q
		a.quantified = true
		a.anchor = false
		if q == "{0}" {
			a.coll = false
		}
	}
	// justDropped: glibc regex dropped the ERE operator just read; a ')'
	// right after it is then a literal, not the end of a group.
	justDropped := false
	for tokens := 0; !t.branchEnd(t.i, depth) || justDropped && t.i < len(p) && p[t.i] == ')'; tokens++ {
		c := p[t.i]
		t.i++
		wasFresh := glibcFresh
		glibcFresh = false
		wasDropped := justDropped
		justDropped = false
		if wasDropped && c == ')' {
			add(`\)`)
			continue
		}
		switch {
		case c == '[':
			s, err := t.bracket()
			if err != nil {
				return "", err
			}
			add(s)
		case c == '.':
			add(".")
		case c == '*':
			switch {
			case !t.ere && (laststart || fresh()):
				add(`\*`)
			case !dropped():
				quant("*")
				glibcFresh = t.ere && wasFresh
			default:
				justDropped = true
				glibcFresh = true
			}
		case c == '^':
			// BRE: an anchor only as the first token of a branch.
			if t.ere || tokens == 0 {
				anchor("^")
			} else {
				add(`\^`)
			}
		case c == '$':
			// BRE: an anchor at a branch's end; GNU's dfa also before a
			// plain ')' or '|' that is not the last byte it reads (its
			// lexer looks for "\)" and "\|" two bytes ahead: a$) is a
			// literal, a$)b never matches, nor does a$) under -x or -w,
			// or before another pattern).
			if t.ere || t.branchEnd(t.i, 1) || !t.regex && (t.i+1 < len(p) || t.more && t.i < len(p)) && (p[t.i] == ')' || p[t.i] == '|') {
				anchor("$")
			} else {
				add(`\$`)
			}
		case t.ere && (c == '+' || c == '?'):
			if !dropped() {
				quant(string(c))
			} else {
				justDropped = true
			}
			glibcFresh = wasFresh
		case t.ere && c == '{' && dropped():
			justDropped = true
			glibcFresh = true
		case t.ere && c == '{':
			// Where glibc regex starts an expression it drops the '{'
			// and reads what follows as literals: it checks no
			// interval there. At a branch's start the interval repeats
			// nothing (GNU's dfa); after an anchor, the anchor.
			afterAnchor := len(atoms) > 0 && atoms[len(atoms)-1].anchor
			q, ok, err := t.interval(false, len(atoms) == 0, wasFresh, afterAnchor)
			glibcFresh = wasFresh && !ok
			switch {
			case err != nil:
				return "", err
			case ok:
				quant(q)
			default:
				add(`\{`)
			}
		case t.ere && c == '(':
			s, err := t.group(depth, ")")
			if err != nil {
				return "", err
			}
			add(s)
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
				add(s)
			case !t.ere && e == '{':
				if laststart || fresh() {
					add(`\{`)
					break
				}
				// glibc regex reads a "\{" after an anchor as a
				// literal: it checks no interval there.
				afterAnchor := len(atoms) > 0 && atoms[len(atoms)-1].anchor
				q, _, err := t.interval(true, false, afterAnchor, afterAnchor)
				if err != nil {
					return "", err
				}
				quant(q)
			case !t.ere && (e == '+' || e == '?'):
				if laststart || fresh() {
					add(regexp.QuoteMeta(string(e)))
				} else {
					quant(string(e))
				}
			case '1' <= e && e <= '9':
				if t.done&(1<<(e-'1')) == 0 {
					return "", t.bad("invalid back reference")
				}
				t.unsupported("back-reference")
				add("(?:)")
			case e == '<':
				anchor(`(\x{10fff0})`) // markBegWord: fixWordMarks
			case e == '>':
				anchor(`(\x{10fff1})`) // markEndWord
			case e == 'b':
				anchor(`\b`)
			case e == 'B':
				anchor(`\B`)
			case e == '`':
				anchor("^") // GNU's dfa: the start of the line
			case e == '\'':
				anchor("$") // and its end
			case e == 'w':
				add(wordClass)
			case e == 'W':
				add(nonWordClass)
			case e == 's':
				add(`[\t\n\v\f\r ]`)
			case e == 'S':
				add(`[^\t\n\v\f\r ]`)
			case t.regex && t.fold && 'a' <= e && e <= 'z':
				// glibc regex with -i compares upper-cased text with
				// an escaped character as written (peek_token takes
				// it raw): a lowercase one never matches.
				add(`[^\x00-\x{10FFFF}]`)
			default:
				var b strings.Builder
				quoteByte(&b, e)
				add(b.String())
			}
		default:
			// ERE: a ')' with no '(' open is a literal, as in GNU.
			t.stray = t.stray || t.ere && c == ')'
			var b strings.Builder
			quoteByte(&b, c)
			add(b.String())
		}
	}
	var b strings.Builder
	for _, a := range atoms {
		b.WriteString(a.s)
	}
	return b.String(), nil
}

func (t *reTranslator) group(depth int, closer string) (string, error) {
	n := t.nsub
	t.nsub++
	s, err := t.alt(depth + 1)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(t.p[t.i:], closer) {
		return "", t.bad(`unmatched ( or \(`)
	}
	t.i += len(closer)
	if n < 9 {
		t.done |= 1 << n
	}
	return "(?:" + s + ")", nil
}

// interval reads an interval after '{' (bre: "\{"): "m}", "m,}", "m,n}",
// ",n}" or ",}" (bre: "\}" closes). ok is false, and t.i unchanged, for
// an ERE '{' that is a literal. empty: nothing precedes the '{' in its
// ERE branch (the interval then repeats nothing, as GNU's dfa has it).
// glibcDrops: glibc regex drops this ERE '{' and checks nothing; only
// GNU's dfa reads it, and takes an interval it cannot read as a literal.
// For a BRE: glibc regex reads this "\{" as a literal '{' (and what
// follows as more of the pattern), and GNU's dfa fails on an interval it
// cannot read.
//
// anchor: the interval repeats an anchor (or word boundary), which
// matches the same however often it is repeated, so a count past RE2's
// 1000 is taken: once if the minimum is not 0, else optionally.
func (t *reTranslator) interval(bre, empty, glibcDrops, anchor bool) (q string, ok bool, err error) {
	start := t.i
	p := t.p
	glibcEnd := -1 // where glibc regex's interval ends (bre)
	switch {
	case bre && glibcDrops:
		glibcEnd = start // what follows the '{', read as literals
	case bre:
		end, err := t.glibcBREInterval()
		if err != nil {
			return "", false, err
		}
		glibcEnd = end
	case !glibcDrops:
		if err := t.glibcInterval(); err != nil {
			return "", false, err
		}
	}
	num := func() int {
		n := -1
		for t.i < len(p) && isDigit(p[t.i]) {
			n = min(reDupMax+1, max(n, 0)*10+int(p[t.i]-'0'))
			t.i++
		}
		return n
	}
	lo, hi := num(), -1
	comma := t.i < len(p) && p[t.i] == ','
	if comma {
		t.i++
		lo = max(lo, 0)
		hi = num()
	} else {
		hi = lo
	}
	closer := "}"
	if bre {
		closer = `\}`
	}
	closed := strings.HasPrefix(p[t.i:], closer)
	if closed {
		t.i += len(closer)
	}
	wellFormed := closed && lo >= 0
	valid := wellFormed && (hi < 0 || lo <= hi)
	switch {
	case !bre && !wellFormed, !bre && glibcDrops && !valid:
		t.i = start
		return "", false, nil
	case !valid && bre:
		// glibc regex took it (a "\," is its comma); GNU's dfa, which
		// reads digits, a ',' and "\}", does not: its error comes after
		// any of glibc's in the rest of the pattern.
		t.dfaBad(`invalid content of \{\}`)
		t.i = glibcEnd
		return "", true, nil
	case !valid:
		return "", false, t.bad(`invalid content of \{\}`)
	case hi > reDupMax && glibcDrops:
		// only GNU's dfa reads this interval: glibc regex reads what
		// follows the '{' as more of the pattern. The dfa checks only
		// the maximum: "{32768,}" is taken (and repeats an anchor, or
		// nothing, as any count does).
		t.dfaBad("regular expression too big")
		t.i = start
		return "", true, nil
	case max(lo, hi) > reDupMax && !glibcDrops:
		return "", false, t.bad("regular expression too big")
	case empty:
		return "", true, nil // it repeats nothing: its count does not matter
	case anchor && max(lo, hi) > reRepeatMax && lo == 0:
		return "?", true, nil
	case anchor && max(lo, hi) > reRepeatMax:
		return "", true, nil
	case max(lo, hi) > reRepeatMax:
		t.unsupported(fmt.Sprintf("repeat count above %d", reRepeatMax))
		return "", true, nil
	case hi < 0:
		return "{" + strconv.Itoa(lo) + ",}", true, nil
	case lo == hi:
		return "{" + strconv.Itoa(lo) + "}", true, nil
	}
	return "{" + strconv.Itoa(lo) + "," + strconv.Itoa(hi) + "}", true, nil
}

// The tokens that end a count of an interval as glibc's parse_dup_op reads
// it (glibcBREInterval, glibcInterval).
const (
	intervalEnd   = -3 // the pattern ended
	intervalClose = -4 // the token was the interval's end ("\}" or '}')
	intervalComma = -5 // the token was ',' (or "\," in a BRE)
)

// intervalBounds reads an interval's counts with number, as parse_dup_op
// does: a missing minimum is 0 when a comma follows ("{,5}"), else the
// interval is empty ("{}") and ok is false; one count ended by the
// interval's end is both bounds; after a comma comes the maximum (-1 for
// none). A bound of -2 is not a count; stop is the token that ended the
// last count read.
func intervalBounds(number func() (n, stop int)) (lo, hi, stop int, ok bool) {
	lo, stop = number()
	if lo == -1 {
		if stop != intervalComma {
			return lo, -2, stop, false
		}
		lo = 0
	}
	hi = -2
	if lo != -2 {
		switch stop {
		case intervalClose:
			hi = lo
		case intervalComma:
			hi, stop = number()
		}
	}
	return lo, hi, stop, true
}

// glibcBREInterval checks a BRE interval after "\{" as glibc's
// parse_dup_op reads it, token by token (fetch_number): a count is digits
// up to "\}" or a comma (',' or "\,"); any other token makes it invalid.
// The pattern ending before "\}" is "Unmatched \{"; an invalid count, a
// third number, "\{\}" and a minimum over the maximum are "Invalid
// content of \{\}"; a count past RE_DUP_MAX is "Regular expression too
// big". It returns the index after the "\}" and leaves t.i alone.
func (t *reTranslator) glibcBREInterval() (int, error) {
	p, i := t.p, t.i
	const end, close, comma = intervalEnd, intervalClose, intervalComma
	// number reads tokens up to "\}" or a comma; -2 when one is not a
	// digit, -1 when there was none.
	number := func() (n, stop int) {
		n = -1
		for {
			if i >= len(p) {
				return -2, end
			}
			c, digit := p[i], isDigit(p[i])
			i++
			if c == '\\' && i < len(p) {
				// "\1" to "\9" are back-references, "\0" a '0'
				c, digit = p[i], p[i] == '0'
				i++
				if c == '}' {
					return n, close
				}
			}
			if c == ',' {
				return n, comma
			}
			n = countDigit(n, c, digit)
		}
	}
	lo, hi, stop, ok := intervalBounds(number)
	if !ok {
		return 0, t.bad(`invalid content of \{\}`)
	}
	switch {
	case (lo == -2 || hi == -2) && stop == end:
		return 0, t.bad(`unmatched \{`)
	case lo == -2 || hi == -2, hi != -1 && lo > hi, stop != close:
		return 0, t.bad(`invalid content of \{\}`)
	case max(lo, hi) > reDupMax:
		return 0, t.bad("regular expression too big")
	}
	return i, nil
}

// countDigit adds c to n, an interval's count as glibc reads it a token
// at a time: -1 before its first digit, -2 once a token was not a digit
// (it stays so), and capped past reDupMax so that it cannot overflow.
func countDigit(n int, c byte, digit bool) int {
	switch {
	case !digit || n == -2:
		return -2
	case n == -1:
		return int(c - '0')
	default:
		return min(reDupMax+1, n*10+int(c-'0'))
	}
}

// glibcInterval checks an ERE interval after '{' as glibc's parse_dup_op
// reads it, token by token: "{}", a count ended by something other than
// '}' ("{1,2,") and a minimum over the maximum are errors; a count that is
// not digits, or cut short by the pattern's end, makes the '{' a literal
// (nil here). It leaves t.i alone.
func (t *reTranslator) glibcInterval() error {
	p, i := t.p, t.i
	const end, close, comma = intervalEnd, intervalClose, intervalComma
	// number reads tokens up to '}' or ','; -2 when one is not a digit.
	number := func() (n, stop int) {
		n = -1
		for {
			if i >= len(p) {
				return -2, end
			}
			c, char := p[i], true
			i++
			switch {
			case c == '\\' && i < len(p):
				// an escaped byte is a character token, but "\1" to
				// "\9", back-references
				c, char = p[i], p[i] < '1' || p[i] > '9'
				i++
			case c == '}':
				return n, close
			case strings.IndexByte("[()|*+?{.^$", c) >= 0:
				char = false
			}
			if c == ',' {
				return n, comma
			}
			n = countDigit(n, c, char && isDigit(c))
		}
	}
	lo, hi, stop, ok := intervalBounds(number)
	if !ok {
		return t.bad(`invalid content of \{\}`)
	}
	switch {
	case lo == -2 || hi == -2:
		return nil // a literal '{'
	case hi != -1 && lo > hi || stop != close:
		return t.bad(`invalid content of \{\}`)
	case max(lo, hi) > reDupMax:
		return t.bad("regular expression too big")
	}
	return nil
}

// glibcBracket checks a bracket expression after '[' as glibc's
// parse_bracket_exp reads it, so that its first error is GNU's message:
// the pattern ending right after "[" or "[^" is "Invalid regular
// expression"; it ending elsewhere, or a "[:", "[." or "[=" without its
// end within 32 bytes, "Unmatched [..."; a '-' that neither starts nor
// ends the list and is no range's, a class or equivalence class as a
// range end (or start) and a range whose ends are reversed (compared
// upper-cased under -i) "Invalid range end"; a collating symbol (a
// range's end too) or an equivalence class of other than one byte
// "Invalid collation character"; an unknown class "Invalid character class name", each
// found element by element, in that order. It leaves t.i alone.
func (t *reTranslator) glibcBracket() error {
	p, i := t.p, t.i
	badpat := func() error { return t.bad("invalid regular expression") }
	ebrack := func() error { return t.bad("unmatched [, [^, [:, [., or [=") }
	// token is peek_token_bracket: kind ':', '.' or '=' for an opening
	// "[:", "[." or "[="; '-' a range sign, ']' the end, else 'c'.
	token := func(j int) (kind byte, n int) {
		switch {
		case j >= len(p):
			return 0, 0
		case p[j] == '[' && j+1 < len(p) && strings.IndexByte(":.=", p[j+1]) >= 0:
			return p[j+1], 2
		case p[j] == '-' || p[j] == ']':
			return p[j], 1
		}
		return 'c', 1
	}
	type elem struct {
		kind byte // 'c', ':', '.' or '='
		c    byte
		name string
	}
	// element is parse_bracket_element at j (kind, n: its token).
	element := func(j int, kind byte, n int, acceptHyphen bool) (elem, int, error) {
		j += n
		switch kind {
		case ':', '.', '=':
			// parse_bracket_symbol
			k := j
			for ; ; k++ {
				if k-j >= 32 || k+1 >= len(p) {
					return elem{}, 0, ebrack()
				}
				if p[k] == kind && p[k+1] == ']' {
					break
				}
			}
			return elem{kind: kind, name: p[j:k]}, k + 2, nil
		case '-':
			if !acceptHyphen {
				if next, _ := token(j); next != ']' {
					return elem{}, 0, t.bad("invalid range end")
				}
			}
		}
		return elem{kind: 'c', c: p[j-1]}, j, nil
	}
	kind, n := token(i)
	if kind == 0 {
		return badpat()
	}
	if p[i] == '^' {
		i++
		if kind, n = token(i); kind == 0 {
			return badpat()
		}
	}
	if kind == ']' {
		kind = 'c' // a first ']' is a character
	}
	for first := true; ; first = false {
		start, j, err := element(i, kind, n, first)
		if err != nil {
			return err
		}
		i = j
		kind, n = token(i)
		var end elem
		isRange := false
		if start.kind != ':' && start.kind != '=' {
			if kind == 0 {
				return ebrack()
			}
			if kind == '-' {
				k2, n2 := token(i + 1)
				switch k2 {
				case 0:
					return ebrack()
				case ']': // a last '-' is a character
				default:
					isRange = true
					if end, i, err = element(i+1, k2, n2, true); err != nil {
						return err
					}
					kind, n = token(i)
				}
			}
		}
		switch {
		case isRange:
			// build_range_exp
			switch {
			case start.kind == ':' || start.kind == '=' || end.kind == ':' || end.kind == '=':
				return t.bad("invalid range end")
			case start.kind == '.' && len(start.name) != 1:
				return t.bad("invalid collation character " + strconv.Quote(start.name))
			case end.kind == '.' && len(end.name) != 1:
				return t.bad("invalid collation character " + strconv.Quote(end.name))
			}
			lo, hi := start.c, end.c
			if start.kind == '.' {
				lo = start.name[0]
			}
			if end.kind == '.' {
				hi = end.name[0]
			}
			if t.fold {
				lo, hi = toUpperASCII(lo), toUpperASCII(hi)
			}
			if lo > hi {
				return t.bad("invalid range end")
			}
		case start.kind == '.' || start.kind == '=':
			if len(start.name) != 1 {
				return t.bad("invalid collation character " + strconv.Quote(start.name))
			}
		case start.kind == ':':
			if _, ok := compute.CClass(start.name); !ok {
				return t.bad("invalid character class name " + strconv.Quote(start.name))
			}
		}
		switch kind {
		case 0:
			return ebrack()
		case ']':
			return nil
		}
	}
}

// bracket translates a POSIX bracket expression after '[': the errors of
// glibc's parse_bracket_exp and dfa's "[:space:]" check; the set of the
// dfa's parse_bracket_exp (ranges by byte value, each byte folded with -i,
// then negated).
func (t *reTranslator) bracket() (string, error) {
	p := t.p
	if err := t.glibcBracket(); err != nil {
		return "", err
	}
	var set [256]bool
	invert := false
	if t.i < len(p) && p[t.i] == '^' {
		invert = true
		t.i++
	}
	unmatched := func() error { return t.bad("unmatched [, [^, [:, [., or [=") }
	// element reads one element at t.i.
	element := func() (bracketElem, error) {
		if t.i >= len(p) {
			return bracketElem{}, unmatched()
		}
		c := p[t.i]
		if c == '[' && t.i+1 < len(p) && strings.IndexByte(":.=", p[t.i+1]) >= 0 {
			kind := p[t.i+1]
			end := strings.Index(p[t.i+2:], string(kind)+"]")
			if end < 0 || end >= 32 {
				return bracketElem{}, unmatched()
			}
			name := p[t.i+2 : t.i+2+end]
			t.i += end + 4
			return bracketElem{kind: kind, name: name}, nil
		}
		t.i++
		return bracketElem{kind: 'c', c: c}, nil
	}
	// colon is dfa's state for its "[:space:]" error: 1 the first byte is
	// ':', 2 the last is, 4 another byte, 8 a range or class.
	colon := 0
	if t.i < len(p) && p[t.i] == ':' {
		colon = 1
	}
	hasColl := false
	// single is a byte the bracket holds; under -i glibc regex reads it
	// upper-cased (see upper below).
	single := make([]byte, 0, 8)
	type rng struct{ lo, hi byte }
	var ranges []rng
	first := true
	for {
		if t.i >= len(p) {
			return "", unmatched()
		}
		if p[t.i] == ']' && !first {
			t.i++
			break
		}
		wasFirst := first
		first = false
		start, err := element()
		if err != nil {
			return "", err
		}
		colon &^= 2
		switch start.kind {
		case ':':
			colon |= 8
			name := start.name
			if t.fold && (name == "upper" || name == "lower") {
				name = "alpha"
			}
			fn, ok := compute.CClass(name)
			if !ok {
				return "", t.bad("invalid character class name " + strconv.Quote(start.name))
			}
			for c := range 256 {
				if fn(byte(c)) {
					set[c] = true
				}
			}
			continue
		case '=', '.':
			colon |= 8
			hasColl = true
			if len(start.name) != 1 {
				return "", t.bad("invalid collation character " + strconv.Quote(start.name))
			}
			start.c = start.name[0]
			if start.kind == '=' {
				single = append(single, start.c)
				continue
			}
		}
		if start.kind == 'c' && start.c == '-' && !wasFirst && !(t.i < len(p) && p[t.i] == ']') {
			return "", t.bad("invalid range end")
		}
		// A range: '-' then an element other than ']'.
		if t.i+1 < len(p) && p[t.i] == '-' && p[t.i+1] != ']' {
			t.i++
			end, err := element()
			if err != nil {
				return "", err
			}
			switch end.kind {
			case ':', '=':
				return "", t.bad("invalid range end")
			case '.':
				hasColl = true
				if len(end.name) != 1 {
					return "", t.bad("invalid collation character " + strconv.Quote(end.name))
				}
				end.c = end.name[0]
			}
			lo, hi := start.c, end.c
			if t.fold && toUpperASCII(lo) > toUpperASCII(hi) || !t.fold && lo > hi {
				return "", t.bad("invalid range end")
			}
			colon |= 8
			ranges = append(ranges, rng{lo, hi})
			continue
		}
		if start.c == ':' {
			colon |= 2
		} else {
			colon |= 4
		}
		single = append(single, start.c)
	}
	t.coll = t.coll || hasColl
	if colon == 7 {
		t.dfaBad("character class syntax is [[:space:]], not [:space:]")
	}
	if t.sup && hasColl {
		return "(?:(?s:.)*)", nil
	}
	// upper: glibc regex decides (the positions -o prints, or the lines
	// of a bracket with a collating element), and under -i it reads the
	// pattern upper-cased, range ends and all ([A-a] is [A-A]), and
	// matches the upper-cased text: a byte is in the set when its upper
	// case is. GNU's dfa, which selects the other lines, folds every byte
	// of the range as written.
	upper := t.fold && (t.regex || hasColl)
	for _, c := range single {
		if upper {
			c = toUpperASCII(c)
		}
		set[c] = true
	}
	for _, r := range ranges {
		lo, hi := r.lo, r.hi
		if upper {
			lo, hi = toUpperASCII(lo), toUpperASCII(hi)
		}
		for c := int(lo); c <= int(hi); c++ {
			set[c] = true
		}
	}
	switch {
	case upper:
		for c := 'a'; c <= 'z'; c++ {
			set[c] = set[c-32]
		}
	case t.fold:
		for c := 'A'; c <= 'Z'; c++ {
			if set[c] || set[c+32] {
				set[c], set[c+32] = true, true
			}
		}
	}
	if invert {
		for c := range set {
			set[c] = !set[c]
		}
	}
	// '\n' stays: it is the line end that fixTree takes out of every
	// class, or, under -z, a byte as others.
	return byteClass(&set), nil
}

func fmtRune(b *strings.Builder, c byte) {
	b.WriteString(`\x{`)
	b.WriteString(strconv.FormatInt(int64(c), 16))
	b.WriteByte('}')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// translateREColl is translateRE, also reporting whether the pattern has a
// collating symbol or an equivalence class in a bracket: GNU's dfa then
// leaves the lines to glibc regex.
func translateREColl(p string, ere, fold, regex bool) (string, bool, error) {
	return translateDFA(p, ere, fold, regex, false)
}

// translateDFA is translateREColl for a pattern after which GNU's dfa
// reads more (more: the -x or -w wrapper, or a later pattern), which
// changes what a BRE '$' before a final ')' or '|' is.
func translateDFA(p string, ere, fold, regex, more bool) (string, bool, error) {
	tr := &reTranslator{p: p, ere: ere, fold: fold, regex: regex, more: more}
	s, err := tr.alt(0)
	if err == nil && tr.i < len(tr.p) { // an unmatched \) in a BRE
		err = tr.bad(`unmatched ) or \)`)
	}
	if err = tr.finish(err); err != nil {
		return "", false, err
	}
	return s, tr.coll, nil
}

// translateWrapped translates the patterns as GNU's dfa reads them for -x
// (line) or -w: joined by newlines, inside GNU's own wrapper. It differs
// from wrapping each pattern only when an ERE holds a ')' with no '('
// open, which then closes GNU's wrapper group.
func translateWrapped(pats []string, ere, fold, line bool) (string, error) {
	return translateJoined(pats, ere, fold, line, true, false)
}

// translateSuperset translates the patterns as GNU's dfa reads them (inside
// the -x or -w wrapper, when line or word) when one has a bracket with a
// collating symbol or an equivalence class: the dfa cannot read such a
// bracket (its token is a back-reference's), so it builds its superset, in
// which the bracket matches any text (dfassbuild), and glibc regex decides
// the lines that superset selects. A superset that matches no character,
// only anchors or nothing, is not built: glibc regex alone decides (nil).
func translateSuperset(pats []string, ere, fold, line, word bool) (*string, error) {
	s, err := translateJoined(pats, ere, fold, line, line || word, true)
	if err != nil {
		return nil, err
	}
	t, err := syntax.Parse(s, syntax.PerlX)
	if err != nil {
		return nil, invalidRE(err)
	}
	if !matchesChar(t) {
		return nil, nil
	}
	return &s, nil
}

// matchesChar reports whether t has something that matches a character
// other than a superset's "any text" ((?s:.), which is only that there).
func matchesChar(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpLiteral:
		// \< and \> (markers) are no characters to the dfa
		return slices.ContainsFunc(t.Rune, func(r rune) bool { return !isWordMark(r) })
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpNoMatch:
		return true
	}
	return slices.ContainsFunc(t.Sub, matchesChar)
}

// translateJoined translates the distinct patterns joined by newlines, in
// GNU's -x (line) or -w wrapper when wrap is set; sup: as the dfa's superset.
func translateJoined(pats []string, ere, fold, line, wrap, sup bool) (string, error) {
	pre, post := "", ""
	switch {
	case !wrap:
	case ere && line:
		pre, post = "^(", ")$"
	case ere:
		pre, post = "(^|[^[:alnum:]_])(", ")([^[:alnum:]_]|$)"
	case line:
		pre, post = `^\(`, `\)$`
	default:
		pre, post = `\(^\|[^[:alnum:]_]\)\(`, `\)\([^[:alnum:]_]\|$\)`
	}
	// GNU drops a repeated pattern before its dfa reads the list: after a
	// ')' that closed the wrapper, a repeat left in would be one more
	// alternative outside it (grep -xE -e 'a$' -e ')' -e 'a$').
	pats = distinct(pats)
	tr := &reTranslator{p: pre + strings.Join(pats, "\n") + post, ere: ere, fold: fold, nlAlt: true, sup: sup}
	s, err := tr.alt(0)
	if err == nil && tr.i < len(tr.p) {
		err = tr.bad(`unmatched ) or \)`)
	}
	if err = tr.finish(err); err != nil {
		return "", err
	}
	return s, nil
}

// unsupported is an error for what RE2 cannot do (docs/protocol.md).
// It is recorded (the first one), and translating goes on: an invalid
// pattern after it is GNU's error (finish).
func (t *reTranslator) unsupported(what string) {
	if t.unsupErr == nil {
		t.unsupErr = unsupportedError{compute.Invalidf("grep: unsupported %s in pattern %q", what, t.p)}
	}
}

// unsupportedError is a pattern GNU takes and halfclose refuses: an
// invalid pattern among the others is GNU's error, reported instead
// (compileGrep).
type unsupportedError struct{ error }

func (e unsupportedError) Unwrap() error { return e.error }

// reDupMax is GNU's RE_DUP_MAX; RE2 stops at reRepeatMax.
const (
	reDupMax    = 0x7fff
	reRepeatMax = 1000
)

// bracketElem is one element of a bracket expression.
type bracketElem struct {
	kind byte // 'c' a byte, ':' a class, '=' an equivalence class, '.' a collating symbol
	c    byte
	name string
}

func toUpperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 32
	}
	return c
}

// byteClass writes set as an RE2 class of the runes 0-255 (the wide
// encoding of bytes); an empty set matches nothing.
func byteClass(set *[256]bool) string {
	var b strings.Builder
	b.WriteByte('[')
	n := 0
	for c := 0; c < 256; {
		if !set[c] {
			c++
			continue
		}
		e := c
		for e+1 < 256 && set[e+1] {
			e++
		}
		fmtRune(&b, byte(c))
		if e > c {
			b.WriteByte('-')
			fmtRune(&b, byte(e))
		}
		n++
		c = e + 1
	}
	if n == 0 {
		return `[^\x00-\x{10FFFF}]`
	}
	b.WriteByte(']')
	return b.String()
}
