package grep

import (
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
)

// reString returns RE2 text that parses to the same program as t, as
// t.String() does, without its cost: String first works out which flags
// each part needs (calcFlags), and for a character class that means
// asking unicode.SimpleFold of every letter in its ranges — some 125,000
// runes for a negated class such as [^a-z] or -w's [^0-9A-Za-z_], most
// of a grep job's compile time. The trees grep compiles need no flag but
// the ones their own nodes carry, so each node is written with its flags
// as a group of its own ((?-s:.), (?m:^)), and no (?i) is ever written:
// a literal to match in either case (FoldCase, which fixTree rewrites
// away) leaves t to String. Every other node is written as String writes
// it. (TestREStringSameProgram compares the programs.)
func reString(t *syntax.Regexp) string {
	if needsFlagI(t) {
		return t.String()
	}
	var b strings.Builder
	writeRE(&b, t)
	return b.String()
}

// needsFlagI reports whether a literal of t is to match in either case.
func needsFlagI(t *syntax.Regexp) bool {
	if t.Op == syntax.OpLiteral && t.Flags&syntax.FoldCase != 0 {
		return true
	}
	for _, s := range t.Sub {
		if needsFlagI(s) {
			return true
		}
	}
	return false
}

// writeRE writes t as syntax's writeRegexp does, with the flags its
// nodes need written around each of them.
func writeRE(b *strings.Builder, t *syntax.Regexp) {
	switch t.Op {
	default:
		// An op grep's trees never hold (none other exists today).
		b.WriteString(t.String())
	case syntax.OpNoMatch:
		b.WriteString(`[^\x00-\x{10FFFF}]`)
	case syntax.OpEmptyMatch:
		b.WriteString(`(?:)`)
	case syntax.OpLiteral:
		for _, r := range t.Rune {
			escapeRune(b, r, false)
		}
	case syntax.OpCharClass:
		writeClass(b, t.Rune)
	case syntax.OpAnyCharNotNL:
		b.WriteString(`(?-s:.)`)
	case syntax.OpAnyChar:
		b.WriteString(`(?s:.)`)
	case syntax.OpBeginLine:
		b.WriteString(`(?m:^)`)
	case syntax.OpEndLine:
		b.WriteString(`(?m:$)`)
	case syntax.OpBeginText:
		b.WriteString(`\A`)
	case syntax.OpEndText:
		b.WriteString(`\z`) // $ without (?m) (WasDollar) is the same op
	case syntax.OpWordBoundary:
		b.WriteString(`\b`)
	case syntax.OpNoWordBoundary:
		b.WriteString(`\B`)
	case syntax.OpCapture:
		if t.Name != "" {
			b.WriteString(`(?P<`)
			b.WriteString(t.Name)
			b.WriteByte('>')
		} else {
			b.WriteByte('(')
		}
		if t.Sub[0].Op != syntax.OpEmptyMatch {
			writeRE(b, t.Sub[0])
		}
		b.WriteByte(')')
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		sub := t.Sub[0]
		if x, k := questChain(t); k > 1 {
			// Simplify's x{0,k}, written as such: RE2 text of the
			// nested form nests two levels a copy, and past 1000 levels
			// (x{1,501}) regexp.Compile refused it as too deep.
			t = &syntax.Regexp{Op: syntax.OpRepeat, Flags: t.Flags, Min: 0, Max: k}
			sub = x
		}
		if sub.Op > syntax.OpCapture || sub.Op == syntax.OpLiteral && len(sub.Rune) > 1 {
			b.WriteString(`(?:`)
			writeRE(b, sub)
			b.WriteByte(')')
		} else {
			writeRE(b, sub)
		}
		switch t.Op {
		case syntax.OpStar:
			b.WriteByte('*')
		case syntax.OpPlus:
			b.WriteByte('+')
		case syntax.OpQuest:
			b.WriteByte('?')
		case syntax.OpRepeat:
			b.WriteByte('{')
			b.WriteString(strconv.Itoa(t.Min))
			if t.Max != t.Min {
				b.WriteByte(',')
				if t.Max >= 0 {
					b.WriteString(strconv.Itoa(t.Max))
				}
			}
			b.WriteByte('}')
		}
		if t.Flags&syntax.NonGreedy != 0 {
			b.WriteByte('?')
		}
	case syntax.OpConcat:
		for _, sub := range t.Sub {
			if sub.Op == syntax.OpAlternate {
				b.WriteString(`(?:`)
				writeRE(b, sub)
				b.WriteByte(')')
			} else {
				writeRE(b, sub)
			}
		}
	case syntax.OpAlternate:
		for i, sub := range t.Sub {
			if i > 0 {
				b.WriteByte('|')
			}
			writeRE(b, sub)
		}
	}
}

// writeClass writes a class of rune ranges as syntax does: a class with
// both 0 and unicode.MaxRune as its complement.
func writeClass(b *strings.Builder, rs []rune) {
	b.WriteByte('[')
	switch {
	case len(rs) == 0:
		b.WriteString(`^\x00-\x{10FFFF}`)
	case rs[0] == 0 && rs[len(rs)-1] == unicode.MaxRune && len(rs) > 2:
		b.WriteByte('^')
		for i := 1; i < len(rs)-1; i += 2 {
			writeRange(b, rs[i]+1, rs[i+1]-1)
		}
	default:
		for i := 0; i < len(rs); i += 2 {
			writeRange(b, rs[i], rs[i+1])
		}
	}
	b.WriteByte(']')
}

func writeRange(b *strings.Builder, lo, hi rune) {
	escapeRune(b, lo, lo == '-')
	if lo != hi {
		if hi != lo+1 {
			b.WriteByte('-')
		}
		escapeRune(b, hi, hi == '-')
	}
}

// escapeRune is syntax's escape.
func escapeRune(b *strings.Builder, r rune, force bool) {
	if unicode.IsPrint(r) {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) || force {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
		return
	}
	switch r {
	case '\a':
		b.WriteString(`\a`)
	case '\f':
		b.WriteString(`\f`)
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	case '\v':
		b.WriteString(`\v`)
	default:
		if r < 0x100 {
			b.WriteString(`\x`)
			s := strconv.FormatInt(int64(r), 16)
			if len(s) == 1 {
				b.WriteByte('0')
			}
			b.WriteString(s)
			break
		}
		b.WriteString(`\x{`)
		b.WriteString(strconv.FormatInt(int64(r), 16))
		b.WriteByte('}')
	}
}

// questChain returns x and k when t is the form Simplify gives x{0,k}
// (the optional copies of x{n,m}): (x(x(x)?)?)?, k quests of one x (the
// same node: Simplify shares it), each with t's flags, the innermost x
// itself where x is a quest or empty; k is 0 otherwise.
// Parsed again, x{0,k} simplifies to that very tree.
func questChain(t *syntax.Regexp) (x *syntax.Regexp, k int) {
	if t.Op != syntax.OpQuest {
		return nil, 0
	}
	in := t.Sub[0]
	if in.Op != syntax.OpConcat || len(in.Sub) != 2 || in.Sub[1].Op != syntax.OpQuest {
		return nil, 0
	}
	x = in.Sub[0]
	for q := t; ; k++ {
		if q == x {
			// the innermost copy, where x is a quest or empty: Simplify's
			// x? is then x itself
			return x, k + 1
		}
		if q.Op != syntax.OpQuest || q.Flags != t.Flags {
			return nil, 0
		}
		in := q.Sub[0]
		if in == x {
			return x, k + 1
		}
		if in.Op != syntax.OpConcat || len(in.Sub) != 2 || in.Sub[0] != x {
			return nil, 0
		}
		q = in.Sub[1]
	}
}
