package text

import (
	"context"
	"io"
	"strings"

	"github.com/halfclose/halfclose/compute"
)

func registerTr(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    "tr",
		Summary: "translate, squeeze or delete bytes (ranges, classes, [c*n])",
		Flags:   trFlags,
		Build:   buildTr,
	})
}

var trFlags = []compute.FlagSpec{
	{Short: 'c', Long: "complement", Summary: "use the complement of SET1"},
	{Short: 'C', Summary: "same as -c"},
	{Short: 'd', Long: "delete", Summary: "delete bytes in SET1"},
	{Short: 's', Long: "squeeze-repeats", Summary: "squeeze runs of a byte of the last SET into one"},
	{Short: 't', Long: "truncate-set1", Summary: "first truncate SET1 to the length of SET2"},
}

// trElem is one parsed element of a set: bytes, and for a class its name
// (upper and lower matter for alignment), and for [c*n] a repeat.
type trElem struct {
	bytes  []byte
	class  string
	repeat bool // [c*] or [c*n]
	fill   bool // [c*] / [c*0]: fill to the length of SET1
	equiv  bool // [=c=]
}

type trStage struct {
	xlate   [256]byte
	del     [256]bool
	squeeze [256]bool
	doDel   bool
	doSq    bool
}

func buildTr(env *compute.Env, args []string) (compute.Stage, error) {
	f, err := compute.ParseFlags("tr", trFlags, args)
	if err != nil {
		return nil, err
	}
	comp := f.Has("c") || f.Has("C")
	del, sq, trunc := f.Has("d"), f.Has("s"), f.Has("t")
	ops := f.Operands
	switch {
	case len(ops) == 0:
		return nil, compute.Invalidf("tr: missing operand (SET1)")
	case len(ops) == 1 && del && sq:
		return nil, compute.Invalidf("tr: missing operand after %q: two sets must be given when deleting and squeezing", ops[0])
	case len(ops) == 1 && !del && !sq:
		return nil, compute.Invalidf("tr: missing operand after %q: two sets must be given when translating", ops[0])
	case len(ops) == 2 && del && !sq:
		return nil, compute.Invalidf("tr: extra operand %q: only one set may be given when deleting without squeezing", ops[1])
	case len(ops) > 2:
		return nil, compute.Invalidf("tr: extra operand %q", ops[2])
	}
	s1, err := parseTrSet(ops[0])
	if err != nil {
		return nil, err
	}
	for _, e := range s1 {
		if e.repeat {
			return nil, compute.Invalidf("tr: the [c*] repeat construct may not appear in SET1 %q", ops[0])
		}
	}
	set1 := expandTr(s1)
	if comp {
		set1 = complementTr(set1)
	}
	st := &trStage{}
	for i := range st.xlate {
		st.xlate[i] = byte(i)
	}
	translating := len(ops) == 2 && !del
	if del {
		st.doDel = true
		for _, b := range set1 {
			st.del[b] = true
		}
	}
	var s2 []trElem
	if len(ops) == 2 {
		if s2, err = parseTrSet(ops[1]); err != nil {
			return nil, err
		}
		fills := 0
		for _, e := range s2 {
			if e.fill {
				fills++
			}
			if e.repeat && !translating {
				return nil, compute.Invalidf("tr: the [c*] repeat construct may not appear in SET2 %q unless translating", ops[1])
			}
			if e.equiv && translating {
				return nil, compute.Invalidf("tr: [=c=] expressions may not appear in SET2 %q when translating", ops[1])
			}
		}
		if fills > 1 {
			return nil, compute.Invalidf("tr: only one [c*] repeat construct may appear in SET2 %q", ops[1])
		}
	}
	if translating {
		set2, err := alignTr(s1, s2, set1, comp, ops[1])
		if err != nil {
			return nil, err
		}
		if len(set2) == 0 && len(set1) > 0 && !trunc {
			return nil, compute.Invalidf("tr: when not truncating SET1, SET2 %q must be non-empty", ops[1])
		}
		if trunc && len(set1) > len(set2) {
			set1 = set1[:len(set2)]
		}
		for len(set2) < len(set1) {
			set2 = append(set2, set2[len(set2)-1])
		}
		for i, b := range set1 {
			st.xlate[b] = set2[i]
		}
	}
	if sq {
		st.doSq = true
		var sqSet []byte
		switch {
		case len(ops) == 2:
			sqSet = expandTr(s2)
		default:
			sqSet = set1
		}
		for _, b := range sqSet {
			st.squeeze[b] = true
		}
	}
	return st, nil
}

// alignTr expands SET2 for translation: it fills [c*] to the length of
// SET1 and checks that [:upper:] and [:lower:] in SET2 face a case class
// in SET1.
func alignTr(s1, s2 []trElem, set1 []byte, comp bool, text string) ([]byte, error) {
	fixed := 0
	for _, e := range s2 {
		if !e.fill {
			fixed += len(e.bytes)
		}
	}
	// Positions of classes in SET1.
	classAt := map[int]string{}
	pos := 0
	for _, e := range s1 {
		if e.class != "" {
			classAt[pos] = e.class
		}
		pos += len(e.bytes)
	}
	var out []byte
	for _, e := range s2 {
		if e.fill {
			n := len(set1) - fixed
			for k := 0; k < n; k++ {
				out = append(out, e.bytes[0])
			}
			continue
		}
		if e.class != "" {
			if e.class != "upper" && e.class != "lower" {
				return nil, compute.Invalidf("tr: when translating, the only character classes that may appear in SET2 %q are 'upper' and 'lower'", text)
			}
			if comp {
				return nil, compute.Invalidf("tr: when translating with a complemented SET1, SET2 %q may not hold [:upper:] or [:lower:]", text)
			}
			if c := classAt[len(out)]; c != "upper" && c != "lower" {
				return nil, compute.Invalidf("tr: misaligned [:upper:] and/or [:lower:] construct in SET2 %q", text)
			}
		}
		out = append(out, e.bytes...)
	}
	return out, nil
}

func expandTr(s []trElem) []byte {
	var out []byte
	for _, e := range s {
		out = append(out, e.bytes...)
	}
	return out
}

func complementTr(set []byte) []byte {
	var in [256]bool
	for _, b := range set {
		in[b] = true
	}
	var out []byte
	for i := 0; i < 256; i++ {
		if !in[i] {
			out = append(out, byte(i))
		}
	}
	return out
}

var trClasses = map[string]func(c byte) bool{
	"alnum":  func(c byte) bool { return isDigit(c) || isUpper(c) || isLower(c) },
	"alpha":  func(c byte) bool { return isUpper(c) || isLower(c) },
	"blank":  func(c byte) bool { return c == ' ' || c == '\t' },
	"cntrl":  func(c byte) bool { return c < 32 || c == 127 },
	"digit":  isDigit,
	"graph":  func(c byte) bool { return c > 32 && c < 127 },
	"lower":  isLower,
	"print":  func(c byte) bool { return c >= 32 && c < 127 },
	"punct":  func(c byte) bool { return c > 32 && c < 127 && !isDigit(c) && !isUpper(c) && !isLower(c) },
	"space":  func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') },
	"upper":  isUpper,
	"xdigit": func(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') },
}

// trUnescape turns a set's text into bytes, marking which bytes came from
// an escape (an escaped '[', '-' or ']' is never syntax).
func trUnescape(s string) ([]byte, []bool) {
	var out []byte
	var esc []bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out, esc = append(out, c), append(esc, false)
			continue
		}
		if i+1 >= len(s) {
			out, esc = append(out, '\\'), append(esc, true) // trailing backslash: literal
			continue
		}
		i++
		c = s[i]
		switch c {
		case 'a':
			c = 7
		case 'b':
			c = 8
		case 'f':
			c = 12
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'v':
			c = 11
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; k++ {
				nv := v*8 + int(s[i+1]-'0')
				if nv > 255 {
					break
				}
				v = nv
				i++
			}
			c = byte(v)
		}
		out, esc = append(out, c), append(esc, true)
	}
	return out, esc
}

// parseTrSet parses a set as GNU tr does in the C locale.
func parseTrSet(text string) ([]trElem, error) {
	b, esc := trUnescape(text)
	var out []trElem
	for i := 0; i < len(b); {
		if b[i] == '[' && !esc[i] && i+1 < len(b) {
			// [:class:] and [=c=]
			if (b[i+1] == ':' || b[i+1] == '=') && !esc[i+1] {
				d := b[i+1]
				for j := i + 2; j+1 < len(b); j++ {
					if b[j] == d && b[j+1] == ']' && !esc[j] && !esc[j+1] {
						name := string(b[i+2 : j])
						if d == ':' {
							fn, ok := trClasses[name]
							if !ok {
								return nil, compute.Invalidf("tr: invalid character class %q in %q", name, text)
							}
							var bs []byte
							for c := 0; c < 256; c++ {
								if fn(byte(c)) {
									bs = append(bs, byte(c))
								}
							}
							out = append(out, trElem{bytes: bs, class: name})
						} else {
							if len(name) != 1 {
								return nil, compute.Invalidf("tr: %q: equivalence class operand must be a single character", "[="+name+"=]")
							}
							out = append(out, trElem{bytes: []byte{name[0]}, equiv: true})
						}
						i = j + 2
						goto next
					}
				}
			}
			// [c*n]
			if i+2 < len(b) && b[i+2] == '*' && !esc[i+2] {
				j := i + 3
				for j < len(b) && b[j] != ']' {
					j++
				}
				if j < len(b) {
					digits := string(b[i+3 : j])
					if n, ok := trRepeatCount(digits); ok {
						if n == 0 {
							out = append(out, trElem{bytes: []byte{b[i+1]}, repeat: true, fill: true})
						} else {
							if n > 1<<24 {
								return nil, compute.Invalidf("tr: repeat count %q is too large in %q", digits, text)
							}
							out = append(out, trElem{bytes: []byte(strings.Repeat(string(b[i+1]), n)), repeat: true})
						}
						i = j + 1
						goto next
					} else {
						return nil, compute.Invalidf("tr: invalid repeat count %q in %q", digits, text)
					}
				}
			}
		}
		// a-b
		if i+2 < len(b) && b[i+1] == '-' && !esc[i+1] {
			lo, hi := b[i], b[i+2]
			if lo > hi {
				return nil, compute.Invalidf("tr: range-endpoints of %q are in reverse collating sequence order", string([]byte{lo, '-', hi}))
			}
			var bs []byte
			for c := int(lo); c <= int(hi); c++ {
				bs = append(bs, byte(c))
			}
			out = append(out, trElem{bytes: bs})
			i += 3
			continue
		}
		out = append(out, trElem{bytes: []byte{b[i]}})
		i++
	next:
	}
	return out, nil
}

// trRepeatCount parses n in [c*n]: empty means fill; a leading 0 means
// octal.
func trRepeatCount(s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	base := 10
	if s[0] == '0' {
		base = 8
	}
	n := 0
	for _, c := range []byte(s) {
		d := int(c - '0')
		if c < '0' || c > '9' || d >= base {
			return 0, false
		}
		n = n*base + d
		if n > 1<<30 {
			return n, true
		}
	}
	return n, true
}

func (t *trStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	last := -1 // last byte written, for squeezing across reads
	return eachBlock(ctx, in, make([]byte, filterBufSize), func(b []byte) error {
		if !t.doDel && !t.doSq {
			for i, c := range b {
				b[i] = t.xlate[c]
			}
			return writeAll(out, b)
		}
		j := 0
		for _, c := range b {
			if t.doDel && t.del[c] {
				continue
			}
			c = t.xlate[c]
			if t.doSq && t.squeeze[c] && int(c) == last {
				continue
			}
			last = int(c)
			b[j] = c
			j++
		}
		return writeAll(out, b[:j])
	})
}
