package grep

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/halfclose/halfclose/compute"
)

// grep -P: GNU grep 3.8 compiles the pattern with PCRE2 in non-UTF mode
// (the C locale), with PCRE2_DOLLAR_ENDONLY and PCRE2_CASELESS for -i,
// matching each line (record, under -z) without its end as the subject.
// translatePerl turns the part of Perl syntax whose meaning RE2 keeps
// exactly into RE2 text, and refuses the rest by name. What RE2 keeps:
//
//   - leftmost-first matches (Perl's, a backtracker's choice among the
//     matches at the leftmost start): the regexps compiled for -P never
//     ask RE2 for the longest match;
//   - bytes: '.', classes and escapes are sets of bytes 0-255, written
//     as the runes of the same number (bytes >= 0x80 are widened,
//     encoding.go); \d \w \s \h \v \b are PCRE2's C-locale (ASCII) sets;
//   - -i and (?i) fold ASCII letters only, as PCRE2's C-locale tables:
//     the translator spells each folded letter as a class itself;
//   - ^ and \A are the line's start, $ and \z its end (DOLLAR_ENDONLY),
//     \Z too where no record holds a newline.
//
// Refused: what RE2 cannot express (lookaround, \K, back-references,
// atomic groups and possessive quantifiers, recursion, conditionals,
// \G, callouts, verbs, \X, \p, \C, (?|), options other than i, m and s,
// a repetition of a group that can match empty (where Perl's rule for
// an empty iteration and RE2's differ), repeat counts above 1000, and
// under -z what depends on newlines inside a record ((?m), \Z, \R).

// perlError is a pattern error PCRE2 reports: GNU prints its text.
func perlError(msg string) error { return compute.Invalidf("grep: %s", msg) }

// perlRefuse is a construct PCRE2 takes and halfclose does not.
func perlRefuse(construct, what string) error {
	return perlRefusal{compute.Invalidf("grep: -P construct %q (%s) is not supported: patterns run on RE2", construct, what)}
}

// perlRefusal is perlRefuse's error: a later PCRE2 error in the pattern
// outranks it, as GNU would report that one.
type perlRefusal struct{ error }

func (e perlRefusal) Unwrap() error { return e.error }

// refuse keeps the first refusal, to report when the rest of the
// pattern is valid.
func (t *perlTranslator) refuse(construct, what string) {
	if t.pending == nil {
		t.pending = perlRefuse(construct, what)
	}
}

// byteSet is a set of bytes, as a PCRE2 class in non-UTF mode.
type byteSet [4]uint64

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) addSet(o byteSet) {
	s[0], s[1], s[2], s[3] = s[0]|o[0], s[1]|o[1], s[2]|o[2], s[3]|o[3]
}
func (s byteSet) not() byteSet { return byteSet{^s[0], ^s[1], ^s[2], ^s[3]} }
func (s *byteSet) addRange(lo, hi int) {
	for c := lo; c <= hi; c++ {
		s.add(byte(c))
	}
}

// fold adds the other case of the ASCII letters of s.
func (s byteSet) fold() byteSet {
	for c := 'A'; c <= 'Z'; c++ {
		if s.has(byte(c)) || s.has(byte(c+32)) {
			s.add(byte(c))
			s.add(byte(c + 32))
		}
	}
	return s
}

// re2 writes s as an RE2 class of the runes of its bytes.
func (s byteSet) re2() string {
	var b strings.Builder
	b.WriteByte('[')
	n := 0
	for c := 0; c < 256; {
		if !s.has(byte(c)) {
			c++
			continue
		}
		lo := c
		for c < 256 && s.has(byte(c)) {
			c++
		}
		fmt.Fprintf(&b, `\x{%x}-\x{%x}`, lo, c-1)
		n++
	}
	if n == 0 {
		return `[^\x00-\x{10FFFF}]`
	}
	b.WriteByte(']')
	return b.String()
}

func setOf(f func(c byte) bool) byteSet {
	var s byteSet
	for c := 0; c < 256; c++ {
		if f(byte(c)) {
			s.add(byte(c))
		}
	}
	return s
}

func isDigitB(c byte) bool { return '0' <= c && c <= '9' }
func isAlphaB(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isWordB(c byte) bool  { return isAlphaB(c) || isDigitB(c) || c == '_' }

// PCRE2's C-locale sets.
var (
	perlDigit = setOf(isDigitB)
	perlWord  = setOf(isWordB)
	perlSpace = setOf(func(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' })
	perlH     = setOf(func(c byte) bool { return c == ' ' || c == '\t' || c == 0xa0 })
	perlV     = setOf(func(c byte) bool { return '\n' <= c && c <= '\r' || c == 0x85 })
	perlNotNL = setOf(func(c byte) bool { return c != '\n' })
	perlAny   = setOf(func(byte) bool { return true })
)

// posixClasses are PCRE2's POSIX class names in the C locale.
var posixClasses = map[string]func(c byte) bool{
	"alpha":  isAlphaB,
	"digit":  isDigitB,
	"alnum":  func(c byte) bool { return isAlphaB(c) || isDigitB(c) },
	"upper":  func(c byte) bool { return 'A' <= c && c <= 'Z' },
	"lower":  func(c byte) bool { return 'a' <= c && c <= 'z' },
	"space":  func(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' },
	"blank":  func(c byte) bool { return c == ' ' || c == '\t' },
	"punct":  func(c byte) bool { return 0x21 <= c && c <= 0x7e && !isAlphaB(c) && !isDigitB(c) },
	"print":  func(c byte) bool { return 0x20 <= c && c <= 0x7e },
	"graph":  func(c byte) bool { return 0x21 <= c && c <= 0x7e },
	"cntrl":  func(c byte) bool { return c < 0x20 || c == 0x7f },
	"xdigit": func(c byte) bool { return isDigitB(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' },
	"word":   isWordB,
	"ascii":  func(c byte) bool { return c < 0x80 },
}

// perlTranslator reads one PCRE2 pattern.
type perlTranslator struct {
	p   string
	i   int
	nul bool // -z: a record may hold newlines
	// the options in force: (?i), (?m), (?s)
	fold, multi, dotall bool
	depth               int
	ncap                int             // capture groups opened so far
	inQ                 bool            // in a class, inside \Q...\E
	pending             error           // the first construct refused (refuse)
	maxRef              int             // the largest back-reference number
	names               map[string]bool // the group names so far
	// notSpace, hvSpace: the pattern has \S, and \h or \v (its first),
	// outside classes (perlAutoPossess)
	notSpace bool
	hvSpace  string
}

// perlNode is a translated piece: its RE2 text, whether it can match
// the empty string, and whether a quantifier may follow it.
type perlNode struct {
	re         string
	nullable   bool
	repeatable bool
}

// translatePerl translates the PCRE2 pattern p to RE2 text for the
// matchers (parseRE with fold off: the folding is done here). nul: -z.
func translatePerl(p string, fold, nul bool) (string, error) {
	t := &perlTranslator{p: p, fold: fold, nul: nul}
	n, err := t.alt()
	if err == nil && t.i < len(t.p) {
		err = perlError("unmatched closing parenthesis")
	}
	var r perlRefusal
	if err != nil && !errors.As(err, &r) {
		return "", err
	}
	if t.maxRef > t.ncap {
		return "", perlError("reference to non-existent subpattern")
	}
	if t.pending != nil {
		return "", t.pending
	}
	if err != nil {
		return "", err
	}
	if t.notSpace && t.hvSpace != "" {
		return "", perlRefuse(t.hvSpace, `with \S: PCRE2 takes them for disjoint, though bytes 0x85 and 0xa0 are in both, and repeats one possessively before the other`)
	}
	return n.re, nil
}

func (t *perlTranslator) more() bool { return t.i < len(t.p) }

// alt reads alternatives up to a ')' or the end. Options set inside a
// group last to its end, across its alternatives.
func (t *perlTranslator) alt() (perlNode, error) {
	var parts []string
	nullable := false
	for {
		n, err := t.seq()
		if err != nil {
			return n, err
		}
		parts = append(parts, n.re)
		nullable = nullable || n.nullable
		if !t.more() || t.p[t.i] != '|' {
			break
		}
		t.i++
	}
	if len(parts) == 1 {
		return perlNode{re: parts[0], nullable: nullable}, nil
	}
	return perlNode{re: "(?:" + strings.Join(parts, "|") + ")", nullable: nullable}, nil
}

// seq reads items up to a '|', a ')' or the end.
func (t *perlTranslator) seq() (perlNode, error) {
	var b strings.Builder
	nullable := true
	for t.more() && t.p[t.i] != '|' && t.p[t.i] != ')' {
		start := t.i
		n, err := t.atom()
		if err != nil {
			return n, err
		}
		if n.re == "" && !n.repeatable {
			// an option setting, a comment, \E: nothing to repeat
			if q, _ := t.quantifier(); q {
				return n, perlError("quantifier does not follow a repeatable item")
			}
			continue
		}
		n, err = t.quantify(n, start)
		if err != nil {
			return n, err
		}
		b.WriteString("(?:" + n.re + ")")
		nullable = nullable && n.nullable
	}
	return perlNode{re: b.String(), nullable: nullable}, nil
}

// quantifier reports whether a quantifier starts at t.i, and its bounds
// (max -1: none) and length; a '{' that is not one is a literal.
func (t *perlTranslator) quantifier() (bool, [3]int) {
	if !t.more() {
		return false, [3]int{}
	}
	switch t.p[t.i] {
	case '*':
		return true, [3]int{0, -1, 1}
	case '+':
		return true, [3]int{1, -1, 1}
	case '?':
		return true, [3]int{0, 1, 1}
	case '{':
		j := t.i + 1
		d := j
		for j < len(t.p) && isDigitB(t.p[j]) {
			j++
		}
		if j == d || j >= len(t.p) {
			return false, [3]int{}
		}
		lo := t.p[d:j]
		hi := lo
		if t.p[j] == ',' {
			j++
			e := j
			for j < len(t.p) && isDigitB(t.p[j]) {
				j++
			}
			hi = t.p[e:j]
			if hi == "" {
				hi = "-1"
			}
		}
		if j >= len(t.p) || t.p[j] != '}' {
			return false, [3]int{}
		}
		return true, [3]int{num(lo), num(hi), j + 1 - t.i}
	}
	return false, [3]int{}
}

// num reads digits, saturating past PCRE2's limit.
func num(s string) int {
	if s == "-1" {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > 1<<20 {
		return 1 << 20
	}
	return n
}

// quantify applies the quantifiers after n (read from start).
func (t *perlTranslator) quantify(n perlNode, start int) (perlNode, error) {
	t.skipEmpty()
	ok, q := t.quantifier()
	if !ok {
		return n, nil
	}
	if !n.repeatable {
		return n, perlError("quantifier does not follow a repeatable item")
	}
	lo, hi := q[0], q[1]
	if lo > 65535 || hi > 65535 {
		return n, perlError("number too big in {} quantifier")
	}
	if hi >= 0 && hi < lo {
		return n, perlError("numbers out of order in {} quantifier")
	}
	t.i += q[2]
	lazy := ""
	if t.more() {
		switch t.p[t.i] {
		case '?':
			lazy = "?"
			t.i++
		case '+':
			return n, perlRefuse(t.p[start:t.i+1], "possessive quantifier")
		}
	}
	if lo > reRepeatMax || hi > reRepeatMax {
		return n, perlRefuse(t.p[start:t.i], "repeat count above 1000")
	}
	if n.nullable && (hi < 0 || hi > 1) && hi != lo {
		return n, perlRefuse(t.p[start:t.i], "repetition of what can match empty")
	}
	var rep string
	switch {
	case lo == 0 && hi == -1:
		rep = "*"
	case lo == 1 && hi == -1:
		rep = "+"
	case lo == 0 && hi == 1:
		rep = "?"
	case hi == -1:
		rep = fmt.Sprintf("{%d,}", lo)
	case lo == hi:
		rep = fmt.Sprintf("{%d}", lo)
	default:
		rep = fmt.Sprintf("{%d,%d}", lo, hi)
	}
	if ok, _ := t.quantifier(); ok {
		return n, perlError("quantifier does not follow a repeatable item")
	}
	return perlNode{re: "(?:" + n.re + ")" + rep + lazy, nullable: n.nullable || lo == 0, repeatable: false}, nil
}

// skipEmpty skips what stands for nothing between an item and its
// quantifier: \E, and \Q directly followed by \E.
func (t *perlTranslator) skipEmpty() {
	for {
		switch {
		case strings.HasPrefix(t.p[t.i:], `\E`):
			t.i += 2
		case strings.HasPrefix(t.p[t.i:], `\Q\E`):
			t.i += 4
		case strings.HasPrefix(t.p[t.i:], `(?#`) && strings.IndexByte(t.p[t.i:], ')') >= 0:
			t.i += strings.IndexByte(t.p[t.i:], ')') + 1
		default:
			return
		}
	}
}

// lit is the node matching the byte c (either case of an ASCII letter
// under (?i)).
func (t *perlTranslator) lit(c byte) perlNode {
	if t.fold && isAlphaB(c) {
		var s byteSet
		s.add(c)
		return perlNode{re: s.fold().re2(), repeatable: true}
	}
	var b strings.Builder
	quoteByte(&b, c)
	return perlNode{re: b.String(), repeatable: true}
}

func (t *perlTranslator) class(s byteSet) perlNode {
	if t.fold {
		s = s.fold()
	}
	return perlNode{re: s.re2(), repeatable: true}
}

func assertion(re string) perlNode { return perlNode{re: re, nullable: true} }

// atom reads one item: a literal, a class, a group, an assertion.
func (t *perlTranslator) atom() (perlNode, error) {
	c := t.p[t.i]
	t.i++
	switch c {
	case '(':
		return t.group()
	case '[':
		if w := t.p[t.i:]; strings.HasPrefix(w, "[:<:]]") || strings.HasPrefix(w, "[:>:]]") {
			return perlNode{}, perlRefuse("["+w[:6], "word start or end (a lookaround)")
		}
		if t.more() && strings.IndexByte(":.=", t.p[t.i]) >= 0 {
			if _, ok := t.posixEnd(t.i); ok {
				if t.p[t.i] == ':' {
					return perlNode{}, perlError("POSIX named classes are supported only within a class")
				}
				return perlNode{}, perlError("POSIX collating elements are not supported")
			}
		}
		s, err := t.bracket()
		if err != nil {
			return perlNode{}, err
		}
		return t.class(s), nil
	case '.':
		if t.dotall {
			return t.class(perlAny), nil
		}
		return t.class(perlNotNL), nil
	case '^':
		return assertion("^"), nil
	case '$':
		return assertion("$"), nil
	case '*', '+', '?':
		return perlNode{}, perlError("quantifier does not follow a repeatable item")
	case '{':
		t.i--
		if ok, _ := t.quantifier(); ok {
			return perlNode{}, perlError("quantifier does not follow a repeatable item")
		}
		t.i++
		return t.lit('{'), nil
	case '\\':
		return t.escape()
	}
	return t.lit(c), nil
}

// group reads what follows a '('.
func (t *perlTranslator) group() (perlNode, error) {
	start := t.i - 1
	capture := true
	if t.more() && t.p[t.i] == '*' && t.i+1 < len(t.p) && (isAlphaB(t.p[t.i+1]) || t.p[t.i+1] == ':') {
		j := strings.IndexByte(t.p[t.i:], ')')
		end := len(t.p)
		if j >= 0 {
			end = t.i + j + 1
		}
		return perlNode{}, perlRefuse(t.p[start:end], "backtracking control verb")
	}
	saved := [3]bool{t.fold, t.multi, t.dotall}
	if t.more() && t.p[t.i] == '?' {
		t.i++
		if !t.more() {
			return perlNode{}, perlError("missing closing parenthesis")
		}
		c := t.p[t.i]
		two := t.p[start:min(len(t.p), t.i+1)]
		switch {
		case c == '#':
			j := strings.IndexByte(t.p[t.i:], ')')
			if j < 0 {
				return perlNode{}, perlError("missing ) after (?# comment")
			}
			t.i += j + 1
			return perlNode{}, nil
		case c == ':':
			t.i++
			capture = false
		case c == '=' || c == '!' || c == '>':
			t.refuse(two, map[byte]string{'=': "lookahead", '!': "negative lookahead", '>': "atomic group"}[c])
			t.i++
			capture = false
		case c == '|':
			return perlNode{}, perlRefuse(two, "branch reset group")
		case c == '(':
			return perlNode{}, perlRefuse(two, "conditional group")
		case c == 'C':
			return perlNode{}, perlRefuse(two, "callout")
		case c == 'R' || c == '&' || isDigitB(c) || c == '+' || c == '-' && t.i+1 < len(t.p) && isDigitB(t.p[t.i+1]):
			return perlNode{}, perlRefuse(two, "recursion or subroutine call")
		case c == '<' && t.i+1 < len(t.p) && (t.p[t.i+1] == '=' || t.p[t.i+1] == '!'):
			t.refuse(t.p[start:t.i+2], "lookbehind")
			t.i += 2
			capture = false
		case c == '<' || c == '\'' || c == 'P' && t.i+1 < len(t.p) && t.p[t.i+1] == '<':
			if c == 'P' {
				t.i++
			}
			close := byte('>')
			if c == '\'' {
				close = '\''
			}
			t.i++
			if err := t.groupName(close); err != nil {
				return perlNode{}, err
			}
		case c == 'P' && t.i+1 < len(t.p) && (t.p[t.i+1] == '=' || t.p[t.i+1] == '>'):
			return perlNode{}, perlRefuse(t.p[start:t.i+2], "named back-reference or subroutine call")
		case c == 'P' && t.i+1 == len(t.p):
			return perlNode{}, perlError("missing closing parenthesis")
		case c == 'P':
			return perlNode{}, perlError("unrecognized character after (?P")
		default:
			// options: (?imsx-imsx) or (?imsx-imsx:...)
			on := true
			for {
				if !t.more() {
					return perlNode{}, perlError("missing closing parenthesis")
				}
				o := t.p[t.i]
				t.i++
				switch o {
				case 'i':
					t.fold = on
				case 's':
					t.dotall = on
				case 'm':
					if t.nul {
						return perlNode{}, perlRefuse("(?m", "multiline option under -z")
					}
					t.multi = on
				case '-':
					if !on {
						return perlNode{}, perlError("invalid hyphen in option setting")
					}
					on = false
				case ')':
					return perlNode{}, nil // to the end of the group
				case ':':
					n, err := t.body(false, start)
					t.fold, t.multi, t.dotall = saved[0], saved[1], saved[2]
					return n, err
				case 'x', 'n', 'U', 'J', '^':
					return perlNode{}, perlRefuse("(?"+string(o), "option "+string(o))
				default:
					return perlNode{}, perlError("unrecognized character after (? or (?-")
				}
			}
		}
	}
	if capture {
		t.ncap++
	}
	n, err := t.body(capture, start)
	t.fold, t.multi, t.dotall = saved[0], saved[1], saved[2]
	return n, err
}

// groupName reads a group's name and the close after it, with PCRE2's
// errors: a name is 1 to 32 word bytes, not led by a digit, used once.
func (t *perlTranslator) groupName(close byte) error {
	j := t.i
	if j < len(t.p) && isDigitB(t.p[j]) {
		return perlError("subpattern name must start with a non-digit")
	}
	for j < len(t.p) && isWordB(t.p[j]) {
		j++
	}
	switch {
	case j-t.i > 32:
		return perlError("subpattern name is too long (maximum 32 code units)")
	case j == t.i:
		return perlError("subpattern name expected")
	case j >= len(t.p) || t.p[j] != close:
		return perlError("syntax error in subpattern name (missing terminator?)")
	}
	name := t.p[t.i:j]
	if t.names[name] {
		return perlError("two named subpatterns have the same name (PCRE2_DUPNAMES not set)")
	}
	if t.names == nil {
		t.names = map[string]bool{}
	}
	t.names[name] = true
	t.i = j + 1
	return nil
}

// body reads a group's alternatives and its ')'.
func (t *perlTranslator) body(capture bool, start int) (perlNode, error) {
	t.depth++
	if t.depth > 250 {
		return perlNode{}, perlError("parentheses are too deeply nested")
	}
	n, err := t.alt()
	t.depth--
	if err != nil {
		return n, err
	}
	if !t.more() {
		return n, perlError("missing closing parenthesis")
	}
	t.i++ // ')'
	return perlNode{re: "(?:" + n.re + ")", nullable: n.nullable, repeatable: true}, nil
}

// escape reads what follows a '\' outside a class.
func (t *perlTranslator) escape() (perlNode, error) {
	if !t.more() {
		return perlNode{}, perlError(`\ at end of pattern`)
	}
	c := t.p[t.i]
	t.i++
	name := `\` + string(c)
	switch c {
	case 'd':
		return t.class(perlDigit), nil
	case 'D':
		return t.class(perlDigit.not()), nil
	case 'w':
		return t.class(perlWord), nil
	case 'W':
		return t.class(perlWord.not()), nil
	case 's':
		return t.class(perlSpace), nil
	case 'S':
		t.notSpace = true
		return t.class(perlSpace.not()), nil
	case 'h':
		if t.hvSpace == "" {
			t.hvSpace = name
		}
		return t.class(perlH), nil
	case 'H':
		return t.class(perlH.not()), nil
	case 'v':
		if t.hvSpace == "" {
			t.hvSpace = name
		}
		return t.class(perlV), nil
	case 'V':
		return t.class(perlV.not()), nil
	case 'N':
		if q, _ := t.quantifier(); !q && t.more() && t.p[t.i] == '{' {
			if strings.HasPrefix(t.p[t.i:], "{U+") {
				return perlNode{}, perlError(`\N{U+dddd} is supported only in Unicode (UTF) mode`)
			}
			return perlNode{}, perlError(`PCRE2 does not support \F, \L, \l, \N{name}, \U, or \u`)
		}
		return t.class(perlNotNL), nil
	case 'R':
		// atomic, and repeated possessively before \s or '.' (which
		// match some of what it does)
		t.refuse(name, "newline sequence")
		return perlNode{re: `(?:\r\n|` + perlV.re2() + `)`, repeatable: true}, nil
	case 'b':
		return assertion(`\b`), nil
	case 'B':
		return assertion(`\B`), nil
	case 'A':
		return assertion("^"), nil
	case 'z':
		return assertion("$"), nil
	case 'Z':
		if t.nul {
			return perlNode{}, perlRefuse(name, "end or before a final newline, under -z")
		}
		return assertion("$"), nil
	case 'G', 'K':
		// not repeatable: a quantifier after one is PCRE2's error
		t.refuse(name, map[byte]string{'G': "start of match assertion", 'K': "match start reset"}[c])
		return perlNode{}, nil
	case 'g', 'k':
		if !t.more() || !strings.ContainsRune("<'{", rune(t.p[t.i])) && (c == 'k' || !isDigitB(t.p[t.i]) && t.p[t.i] != '+' && t.p[t.i] != '-') {
			if c == 'k' {
				return perlNode{}, perlError(`\k is not followed by a braced, angle-bracketed, or quoted name`)
			}
			return perlNode{}, perlError(`\g is not followed by a braced, angle-bracketed, or quoted name/number or by a plain number`)
		}
		return perlNode{}, perlRefuse(name, "back-reference or subroutine call")
	case 'p', 'P':
		return perlNode{}, perlRefuse(name, "Unicode property")
	case 'X':
		return perlNode{}, perlRefuse(name, "extended grapheme cluster")
	case 'C':
		return perlNode{}, perlRefuse(name, "single code unit")
	case 'Q':
		j := strings.Index(t.p[t.i:], `\E`)
		start, end := t.i, len(t.p)
		if j >= 0 {
			end = t.i + j
		}
		t.i = min(len(t.p), end+2)
		return t.quoted(start, end)
	case 'E':
		return perlNode{}, nil
	}
	if isDigitB(c) {
		if c == '0' {
			v := 0
			for k := 0; k < 2 && t.more() && '0' <= t.p[t.i] && t.p[t.i] <= '7'; k++ {
				v = v*8 + int(t.p[t.i]-'0')
				t.i++
			}
			return t.lit(byte(v)), nil
		}
		// PCRE2: a back-reference if the number is below 10, starts
		// with 8 or 9, or there are that many groups before it; else
		// up to three octal digits
		j := t.i
		for j < len(t.p) && isDigitB(t.p[j]) {
			j++
		}
		d := num(t.p[t.i-1 : j])
		if d < 10 || c >= '8' || d <= t.ncap {
			t.refuse(`\`+t.p[t.i-1:j], "back-reference")
			t.maxRef = max(t.maxRef, d)
			t.i = j
			return perlNode{re: "", repeatable: true}, nil
		}
		v := int(c - '0')
		for k := 0; k < 2 && t.more() && '0' <= t.p[t.i] && t.p[t.i] <= '7'; k++ {
			v = v*8 + int(t.p[t.i]-'0')
			t.i++
		}
		if v > 0xff {
			return perlNode{}, perlError(`octal value is greater than \377 in 8-bit non-UTF-8 mode`)
		}
		return t.lit(byte(v)), nil
	}
	v, ok, err := t.codeEscape(c)
	if err != nil {
		return perlNode{}, err
	}
	if ok {
		return t.lit(v), nil
	}
	if isAlphaB(c) {
		return perlNode{}, perlError(`unrecognized character follows \`)
	}
	return t.lit(c), nil
}

// quoted is the text of \Q...\E (the '\E' at end or none): its last
// character is the item a quantifier after it repeats.
func (t *perlTranslator) quoted(start, end int) (perlNode, error) {
	if start >= end {
		return perlNode{}, nil
	}
	var b strings.Builder
	for k := start; k < end-1; k++ {
		b.WriteString("(?:" + t.lit(t.p[k]).re + ")")
	}
	last := t.lit(t.p[end-1])
	n, err := t.quantify(last, end-1)
	if err != nil {
		return n, err
	}
	b.WriteString("(?:" + n.re + ")")
	return perlNode{re: b.String(), nullable: start == end-1 && n.nullable}, nil
}

// codeEscape reads the escapes of one byte that classes share: \a \e \f
// \n \r \t \cX \xhh \x{h..} \o{o..}. ok: c was one.
func (t *perlTranslator) codeEscape(c byte) (byte, bool, error) {
	switch c {
	case 'a':
		return 7, true, nil
	case 'e':
		return 27, true, nil
	case 'f':
		return 12, true, nil
	case 'n':
		return '\n', true, nil
	case 'r':
		return '\r', true, nil
	case 't':
		return '\t', true, nil
	case 'c':
		if !t.more() {
			return 0, false, perlError(`\c at end of pattern`)
		}
		x := t.p[t.i]
		if x < 0x20 || x > 0x7e {
			return 0, false, perlError(`\c must be followed by a printable ASCII character`)
		}
		t.i++
		if 'a' <= x && x <= 'z' {
			x -= 32
		}
		return x ^ 0x40, true, nil
	case 'x', 'o':
		if t.more() && t.p[t.i] == '{' {
			// PCRE2: no digit before the '}' or the end is "missing",
			// a value past 0xff "too large" as soon as it is read, and
			// anything else before the '}' "non-hex" ("non-octal")
			j := t.i + 1
			if j >= len(t.p) || t.p[j] == '}' {
				return 0, false, perlError(`digits missing in \x{} or \o{} or \N{U+}`)
			}
			base := 16
			if c == 'o' {
				base = 8
			}
			v := 0
			for ; j < len(t.p); j++ {
				d := hexVal(t.p[j])
				if d < 0 || d >= base {
					break
				}
				if v = v*base + d; v > 0xff {
					return 0, false, perlError(`character code point value in \x{} or \o{} is too large`)
				}
			}
			if j >= len(t.p) || t.p[j] != '}' {
				if c == 'o' {
					return 0, false, perlError(`non-octal character in \o{} (closing brace missing?)`)
				}
				return 0, false, perlError(`non-hex character in \x{} (closing brace missing?)`)
			}
			t.i = j + 1
			return byte(v), true, nil
		}
		if c == 'o' {
			return 0, false, perlError(`missing opening brace after \o`)
		}
		v := 0
		for k := 0; k < 2 && t.more() && hexVal(t.p[t.i]) >= 0; k++ {
			v = v*16 + hexVal(t.p[t.i])
			t.i++
		}
		return byte(v), true, nil
	case 'u', 'U', 'l', 'L', 'F':
		return 0, false, perlError(`PCRE2 does not support \F, \L, \l, \N{name}, \U, or \u`)
	}
	return 0, false, nil
}

func hexVal(c byte) int {
	switch {
	case isDigitB(c):
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// bracket reads a class after its '[', to its ']', before folding.
func (t *perlTranslator) bracket() (byteSet, error) {
	var s byteSet
	neg := false
	if t.more() && t.p[t.i] == '^' {
		neg = true
		t.i++
	}
	first := true
	for {
		if !t.more() {
			return s, perlError("missing terminating ] for character class")
		}
		c := t.p[t.i]
		if c == ']' && !first && !t.inQ {
			t.i++
			break
		}
		// a single character (v >= 0) or a set (v < 0, set in cs)
		v, cs, err := t.classItem()
		if err != nil {
			return s, err
		}
		if v == -2 {
			continue // \E, empty \Q\E
		}
		first = false
		if v >= 0 {
			// a '-' makes a range only unquoted (in \Q...\E it is
			// itself), \E and an empty \Q\E skipped on either side
			t.skipClassEmpty()
		}
		if v >= 0 && !t.inQ && t.i+1 < len(t.p) && t.p[t.i] == '-' && t.p[t.i+1] != ']' {
			t.i++
			t.skipClassEmpty()
			if !t.inQ && t.more() && t.p[t.i] == ']' {
				s.add(byte(v)) // [a-\E]: '-' is itself
				s.add('-')
				continue
			}
			hv := -2
			for hv == -2 {
				if !t.more() {
					return s, perlError("missing terminating ] for character class")
				}
				if hv, _, err = t.classItem(); err != nil {
					return s, err
				}
			}
			if hv < 0 {
				return s, perlError("invalid range in character class")
			}
			if hv < v {
				return s, perlError("range out of order in character class")
			}
			s.addRange(v, hv)
			continue
		}
		if v < 0 {
			if t.i+1 < len(t.p) && t.p[t.i] == '-' && t.p[t.i+1] != ']' {
				return s, perlError("invalid range in character class")
			}
			s.addSet(cs)
			continue
		}
		s.add(byte(v))
	}
	if t.fold {
		s = s.fold()
	}
	if neg {
		s = s.not()
	}
	return s, nil
}

// posixEnd reads a POSIX class name as PCRE2 does, from the ':', '.'
// or '=' at i after a '[': the index of the same character before a ']'
// that ends it; none (ok false) where a ']' or a '[' with that character
// comes first ("\]" and "\\" are skipped over).
func (t *perlTranslator) posixEnd(i int) (int, bool) {
	d := t.p[i]
	for k := i + 1; k+1 < len(t.p); k++ {
		switch c := t.p[k]; {
		case c == '\\' && (t.p[k+1] == ']' || t.p[k+1] == '\\'):
			k++
		case c == '[' && t.p[k+1] == d, c == ']':
			return 0, false
		case c == d && t.p[k+1] == ']':
			return k, true
		}
	}
	return 0, false
}

// skipClassEmpty skips in a class what stands for nothing: \E (ending
// a \Q) and an empty \Q\E.
func (t *perlTranslator) skipClassEmpty() {
	for {
		switch {
		case strings.HasPrefix(t.p[t.i:], `\E`):
			t.i += 2
			t.inQ = false
		case !t.inQ && strings.HasPrefix(t.p[t.i:], `\Q\E`):
			t.i += 4
		default:
			return
		}
	}
}

// classItem reads one item of a class: a character (returned), a set
// (-1 and the set), or nothing (-2: \E).
func (t *perlTranslator) classItem() (int, byteSet, error) {
	var none byteSet
	if t.inQ {
		if strings.HasPrefix(t.p[t.i:], `\E`) {
			t.i += 2
			t.inQ = false
			return -2, none, nil
		}
		t.i++
		return int(t.p[t.i-1]), none, nil
	}
	c := t.p[t.i]
	t.i++
	if c == '[' && t.more() && (t.p[t.i] == ':' || t.p[t.i] == '.' || t.p[t.i] == '=') {
		d := t.p[t.i]
		if e, ok := t.posixEnd(t.i); ok {
			j := e - t.i - 1
			if d != ':' {
				return 0, none, perlError("POSIX collating elements are not supported")
			}
			name := t.p[t.i+1 : t.i+1+j]
			not := strings.HasPrefix(name, "^")
			name = strings.TrimPrefix(name, "^")
			f, ok := posixClasses[name]
			if !ok {
				return 0, none, perlError("unknown POSIX class name")
			}
			if t.fold && (name == "upper" || name == "lower") {
				// PCRE2 reads them as alpha under (?i), negated too:
				// [[:^upper:]] has no letter then, not the lower ones
				f = posixClasses["alpha"]
			}
			t.i += j + 3
			s := setOf(f)
			if not {
				s = s.not()
			}
			return -1, s, nil
		}
	}
	if c != '\\' {
		return int(c), none, nil
	}
	if !t.more() {
		return 0, none, perlError(`\ at end of pattern`)
	}
	c = t.p[t.i]
	t.i++
	switch c {
	case 'd':
		return -1, perlDigit, nil
	case 'D':
		return -1, perlDigit.not(), nil
	case 'w':
		return -1, perlWord, nil
	case 'W':
		return -1, perlWord.not(), nil
	case 's':
		return -1, perlSpace, nil
	case 'S':
		return -1, perlSpace.not(), nil
	case 'h':
		return -1, perlH, nil
	case 'H':
		return -1, perlH.not(), nil
	case 'v':
		return -1, perlV, nil
	case 'V':
		return -1, perlV.not(), nil
	case 'b':
		return 8, none, nil
	case 'N':
		return 0, none, perlError(`\N is not supported in a class`)
	case 'E':
		return -2, none, nil
	case 'Q':
		t.inQ = true
		return -2, none, nil
	case 'g':
		return 'g', none, nil // PCRE2 takes it for itself in a class
	case 'p', 'P', 'X', 'R', 'B', 'k', 'A', 'z', 'Z', 'G', 'K', 'C':
		if c == 'p' || c == 'P' {
			return 0, none, perlRefuse(`\`+string(c), "Unicode property")
		}
		return 0, none, perlError("escape sequence is invalid in character class")
	}
	if '0' <= c && c <= '7' {
		v := int(c - '0')
		for k := 0; k < 2 && t.more() && '0' <= t.p[t.i] && t.p[t.i] <= '7'; k++ {
			v = v*8 + int(t.p[t.i]-'0')
			t.i++
		}
		if v > 0xff {
			return 0, none, perlError(`octal value is greater than \377 in 8-bit non-UTF-8 mode`)
		}
		return v, none, nil
	}
	v, ok, err := t.codeEscape(c)
	if err != nil {
		return 0, none, err
	}
	if ok {
		return int(v), none, nil
	}
	if isAlphaB(c) {
		return 0, none, perlError(`unrecognized character follows \`)
	}
	return int(c), none, nil
}

// perlWordLead is what GNU's -w wrapper (?<!\w) asks of the byte before
// a match, as RE2 reads it in perlWord's two forms: at the line's start,
// or a non-word byte consumed before the match (group 1).
const (
	perlWordLead  = `(?:^|[^0-9A-Za-z_])`
	perlWordLead2 = `[^0-9A-Za-z_]`
	perlWordTail  = `(?:[^0-9A-Za-z_]|$)`
)

// perlPattern is the one pattern GNU's -P takes: its patterns are joined
// by newlines (duplicates dropped, as GNU 3.8 drops them), and PCRE2
// gets one pattern only.
func perlPattern(all []string) (string, error) {
	d := distinct(all)
	if len(d) != 1 {
		return "", compute.Invalidf("grep: the -P option only supports a single pattern")
	}
	return d[0], nil
}

// compilePerl compiles the -P pattern p for the matchers: -x and -w as
// GNU's Pcompile wraps it (^(?:p)$, or (?<!\w)(?:p)(?!\w), -x first),
// all of it on leftmost-first RE2 (never Longest): the match PCRE2's
// backtracking finds first. Only the fast paths that decide whether a
// line matches (not where) are kept.
func compilePerl(p string, fold, word, line, nul bool, budget *compute.PatternBudget) (*grepMatcher, error) {
	user, err := translatePerl(p, fold, nul)
	if word && !line {
		// GNU wraps -w's pattern as text: a ')' in it may close the
		// wrapper's group, a \Q to its end quote the wrapper's tail.
		// Where the pattern and "(?:pattern)" both read, the wrapper
		// keeps its structure; where only the wrapped one does, its
		// parts bind otherwise: refused.
		if _, werr := translatePerl("(?:"+p+")", fold, nul); werr != nil {
			return nil, werr
		} else if err != nil {
			var r perlRefusal
			if !errors.As(err, &r) {
				return nil, perlRefuse(p, "a ')' that closes GNU's -w wrapper")
			}
		}
	}
	if err != nil {
		return nil, err
	}
	m := &grepMatcher{}
	full := user
	switch {
	case line:
		full = "^(?:" + user + ")$"
	case word:
		// (?!\w) after the match: a non-word byte or the end, taken
		// into the whole match; group 1 is GNU's match. RE2's
		// leftmost-first choice among the ways to match the pattern
		// then the tail is PCRE2's backtracking order.
		full = perlWordLead + "(" + user + ")" + perlWordTail
		m.pword = true
	}
	ft, size, err := parseRESized(full, false, nul)
	if err != nil {
		return nil, perlLimit(err, p)
	}
	m.insts = size + patternOverhead
	if word && !line {
		ct, csize, err := parseRESized(perlWordLead2+"("+user+")"+perlWordTail, false, nul)
		if err != nil {
			return nil, perlLimit(err, p)
		}
		m.insts += csize
		if m.pcont, _, err = compileTree(ct, false); err != nil {
			return nil, err
		}
	}
	if err := budget.Take("grep", m.insts); err != nil {
		return nil, err
	}
	m.wide = matchesHigh(ft)
	if m.re, m.full, err = compileTree(ft, false); err != nil {
		return nil, err
	}
	m.sets = litSets(ft)
	for i := range m.sets {
		s := &m.sets[i]
		s.exact = false
		s.prepare()
	}
	m.seq = compileSeq(ft)
	m.every = matchesEveryLine(ft)
	m.oEmpty = !word && onlyEmpty(ft)
	if m.every {
		m.sets, m.seq = nil, nil
	}
	m.lseq = compileLitSeq(ft)
	// lre's tree is parsed again, not cloned: a clone loses the sharing
	// of Simplify's x{0,n} nesting that reString writes back as x{0,n}
	// (RE2 would refuse the n levels written out)
	lt, _, err := parseRESized(full, false, nul)
	if err != nil {
		return nil, perlLimit(err, p)
	}
	if m.lre, _, err = compileTree(noCaptures(lineAnchors(lt)), false); err != nil {
		return nil, err
	}
	return m, nil
}

// eachPerlWord calls f for each non-empty match in line of -P -w, as
// GNU's -o loop finds them: from each search position cur, the leftmost
// match whose start has no word byte before it (the line's start, or a
// non-word byte at or after cur-1) and whose end no word byte follows.
func (m *grepMatcher) eachPerlWord(line []byte, f func(s, e int), in *interrupt, wide bool) {
	for cur := 0; cur <= len(line); {
		var loc []int
		base := 0
		if cur == 0 {
			loc = submatch(m.re, line, in)
		} else {
			base = prevRune(line, cur, wide)
			loc = submatch(m.pcont, line[base:], in)
		}
		if loc == nil || in != nil && in.hit {
			return
		}
		s, e := base+loc[2], base+loc[3]
		switch {
		case e > s:
			f(s, e)
			cur = e
		case s < len(line):
			cur = nextRune(line, s, wide)
		default:
			return
		}
	}
}

// perlLimit names what of RE2's limits the pattern p is past (nested
// repeat counts, size, nesting), a refusal: PCRE2 takes it.
func perlLimit(err error, p string) error {
	var se *syntax.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case syntax.ErrInvalidRepeatSize:
		return perlRefuse(p, fmt.Sprintf("nested repeat counts multiplying past %d", reRepeatMax))
	case syntax.ErrLarge:
		return perlRefuse(p, "pattern size, RE2's limit")
	case syntax.ErrNestingDepth:
		return perlRefuse(p, "nesting depth, RE2's limit")
	}
	return err
}
