package grep

import (
	"bytes"
	"regexp/syntax"
)

// litSeq decides whether a line matches a pattern that is a sequence of
// literal sets with ".*" gaps between them, such as `ERROR.*(timeout|user)`
// — the shape of most log searches — without a regexp engine. Since ".*"
// matches anything within a line, the line matches exactly when each set,
// in order, occurs after the earliest end of the previous one.
type litSeq struct {
	sets [][][]byte // in order; each set's literals are alternatives
}

// litSeqMaxAlternatives bounds a set (the product of adjacent sets grows).
const litSeqMaxAlternatives = 64

// compileLitSeq returns the litSeq of t, or nil when t has another shape:
// anchors, classes wider than a few bytes, repetition other than ".*", or
// bytes >= 0x80.
func compileLitSeq(t *syntax.Regexp) *litSeq {
	var (
		q   litSeq
		cur [][]byte // the set being built; nil: none since the last gap
		ok  = true
	)
	var walk func(t *syntax.Regexp)
	walk = func(t *syntax.Regexp) {
		if !ok {
			return
		}
		switch {
		case t.Op == syntax.OpConcat:
			for _, s := range t.Sub {
				walk(s)
			}
		case t.Op == syntax.OpCapture:
			walk(t.Sub[0])
		case t.Op == syntax.OpStar && t.Sub[0].Op == syntax.OpAnyCharNotNL:
			if cur != nil {
				q.sets = append(q.sets, cur)
				cur = nil
			}
		default:
			set := litAlternatives(t)
			if set == nil {
				ok = false
				return
			}
			if cur == nil {
				cur = set
				return
			}
			if cur = product(cur, set); cur == nil {
				ok = false
			}
		}
	}
	walk(t)
	if !ok {
		return nil
	}
	if cur != nil {
		q.sets = append(q.sets, cur)
	}
	if len(q.sets) == 0 {
		return nil
	}
	return &q
}

// litAlternatives returns the strings t matches when they are few and t
// has no gap, or nil.
func litAlternatives(t *syntax.Regexp) [][]byte {
	switch t.Op {
	case syntax.OpLiteral:
		if t.Flags&syntax.FoldCase != 0 {
			return nil
		}
		b := make([]byte, len(t.Rune))
		for i, r := range t.Rune {
			if r >= 0x80 {
				return nil
			}
			b[i] = byte(r)
		}
		return [][]byte{b}
	case syntax.OpEmptyMatch:
		return [][]byte{{}}
	case syntax.OpCharClass:
		var set [][]byte
		for i := 0; i < len(t.Rune); i += 2 {
			lo, hi := t.Rune[i], t.Rune[i+1]
			if hi >= 0x80 || int(hi-lo)+1+len(set) > litSeqMaxAlternatives {
				return nil
			}
			for r := lo; r <= hi; r++ {
				set = append(set, []byte{byte(r)})
			}
		}
		return set
	case syntax.OpCapture:
		return litAlternatives(t.Sub[0])
	case syntax.OpQuest:
		set := litAlternatives(t.Sub[0])
		if set == nil || len(set)+1 > litSeqMaxAlternatives {
			return nil
		}
		return append(set, []byte{})
	case syntax.OpAlternate:
		var set [][]byte
		for _, s := range t.Sub {
			sub := litAlternatives(s)
			if sub == nil || len(set)+len(sub) > litSeqMaxAlternatives {
				return nil
			}
			set = append(set, sub...)
		}
		return set
	case syntax.OpConcat:
		set := [][]byte{{}}
		for _, s := range t.Sub {
			sub := litAlternatives(s)
			if sub == nil {
				return nil
			}
			if set = product(set, sub); set == nil {
				return nil
			}
		}
		return set
	}
	return nil
}

// product returns every a+b, or nil when there would be too many.
func product(as, bs [][]byte) [][]byte {
	if len(as)*len(bs) > litSeqMaxAlternatives {
		return nil
	}
	out := make([][]byte, 0, len(as)*len(bs))
	for _, a := range as {
		for _, b := range bs {
			out = append(out, append(append(make([]byte, 0, len(a)+len(b)), a...), b...))
		}
	}
	return out
}

// match reports whether line (without its newline) matches.
func (q *litSeq) match(line []byte) bool {
	pos := 0
	for _, set := range q.sets {
		end := -1
		for _, l := range set {
			if i := bytes.Index(line[pos:], l); i >= 0 && (end < 0 || pos+i+len(l) < end) {
				end = pos + i + len(l)
			}
		}
		if end < 0 {
			return false
		}
		pos = end
	}
	return true
}
