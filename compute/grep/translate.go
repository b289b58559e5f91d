package grep

import (
	"regexp"
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
	return compute.Invalidf("grep: invalid pattern %q: %s", t.p, why)
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

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
