package text

import (
	"context"
	"io"
	"math"

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

// trFlags is GNU tr's option table. Its optstring starts with '+': the
// flags end at the first operand (tr a -d: "-d" is SET2).
var trFlags = compute.WithStd(
	compute.FlagSpec{Short: 'c', Long: "complement", Summary: "use the complement of SET1"},
	compute.FlagSpec{Short: 'C', Same: "c", Summary: "same as -c"},
	compute.FlagSpec{Short: 'd', Long: "delete", Summary: "delete bytes in SET1"},
	compute.FlagSpec{Short: 's', Long: "squeeze-repeats", Summary: "squeeze runs of a byte of the last SET into one"},
	compute.FlagSpec{Short: 't', Long: "truncate-set1", Summary: "first truncate SET1 to the length of SET2"},
	compute.FlagSpec{Short: 'A', Summary: "no-op (the C locale)"},
)

// tr follows GNU tr 9.1 in the C locale: a set is parsed into elements
// (bytes, ranges, classes, [=c=], [c*n]) that are never expanded whole,
// since a repeat count may be as large as 2^64-2; translation pairs the
// elements of SET1 and SET2 as GNU's get_next does, a run at a time.

type trKind uint8

const (
	trChar trKind = iota
	trRange
	trClass
	trEquiv
	trRepeat
)

// trElem is one element of a set.
type trElem struct {
	kind   trKind
	c      byte   // trChar, trEquiv, trRepeat
	lo, hi byte   // trRange
	class  string // trClass
	n      uint64 // trRepeat: the count; 0 is [c*] (fills SET2, else nothing)
}

// trMax is GNU's REPEAT_COUNT_MAXIMUM: a count or set length past it is
// an error.
const trMax = math.MaxUint64 - 1

// bytes returns the bytes a non-repeat element stands for, in order.
func (e *trElem) bytes() []byte {
	var out []byte
	switch e.kind {
	case trChar, trEquiv:
		out = []byte{e.c}
	case trRange:
		for c := int(e.lo); c <= int(e.hi); c++ {
			out = append(out, byte(c))
		}
	case trClass:
		fn, _ := compute.CClass(e.class)
		for c := range 256 {
			if fn(byte(c)) {
				out = append(out, byte(c))
			}
		}
	}
	return out
}

func (e *trElem) length() uint64 {
	if e.kind == trRepeat {
		return e.n
	}
	return uint64(len(e.bytes()))
}

// caseClass is "upper" or "lower" for those classes, else "".
func (e *trElem) caseClass() string {
	if e.kind == trClass && (e.class == "upper" || e.class == "lower") {
		return e.class
	}
	return ""
}

// trSet is a parsed set and GNU's statistics of it.
type trSet struct {
	text string
	// warnings are the lines GNU writes on standard error as it reads
	// the set's escapes (trUnescape).
	warnings   []string
	elems      []trElem
	length     uint64
	indefinite int // [c*] elements (count 0)
	hasEquiv   bool
	hasClass   bool
	restricted bool // a class other than upper and lower
}

type trStage struct {
	// warnings: SET1's, then SET2's (trSet.warnings), reported by Run
	warnings []string
	xlate    [256]byte
	del      [256]bool
	squeeze  [256]bool
	doDel    bool
	doSq     bool
}

func buildTr(env *compute.Env, args []string) (compute.Stage, error) {
	f, err := compute.ParseFlagsOrder("tr", trFlags, compute.RequireOrder, args)
	if err != nil {
		return nil, err
	}
	comp := f.Has("c")
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
	case len(ops) > 2 && del && !sq:
		// GNU names the first operand past its most, one set here.
		return nil, compute.Invalidf("tr: extra operand %q", ops[1])
	case len(ops) > 2:
		return nil, compute.Invalidf("tr: extra operand %q", ops[2])
	}
	s1, err := parseTrSet(ops[0])
	if err != nil {
		return nil, err
	}
	var s2 *trSet
	if len(ops) == 2 {
		if s2, err = parseTrSet(ops[1]); err != nil {
			return nil, err
		}
	}
	translating := len(ops) == 2 && !del
	if err := validateTr(s1, s2, comp, trunc, translating); err != nil {
		return nil, err
	}
	st := &trStage{warnings: s1.warnings}
	if s2 != nil {
		st.warnings = append(st.warnings[:len(st.warnings):len(st.warnings)], s2.warnings...)
	}
	for i := range st.xlate {
		st.xlate[i] = byte(i)
	}
	switch {
	case sq && len(ops) == 1:
		st.doSq = true
		st.squeeze = trMembers(s1, comp)
	case del && len(ops) == 1:
		st.doDel = true
		st.del = trMembers(s1, comp)
	case del && sq:
		st.doDel, st.doSq = true, true
		st.del = trMembers(s1, comp)
		st.squeeze = trMembers(s2, false)
	default: // translating
		if comp {
			in1 := trMembers(s1, false)
			it := trIter{set: s2}
			for c := range 256 {
				if in1[c] {
					continue
				}
				b, _, ok := it.next()
				if !ok {
					break // only with -t
				}
				st.xlate[c] = b
			}
		} else {
			trPair(s1, s2, &st.xlate)
		}
		if sq {
			st.doSq = true
			st.squeeze = trMembers(s2, false)
		}
	}
	return st, nil
}

// trUnescape turns a set's text into bytes as GNU's unquote does, marking
// the bytes that came from an escape (never syntax). A backslash at the
// end is a plain backslash. It also returns GNU's warnings, in order,
// each line of them a string: about such a backslash, and about an
// octal escape of three digits over \377, which is two bytes.
func trUnescape(s string) ([]byte, []bool, []string) {
	var out []byte
	var esc []bool
	var warns []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out, esc = append(out, c), append(esc, false)
			continue
		}
		if i+1 >= len(s) {
			warns = append(warns, "tr: warning: an unescaped backslash at end of string is not portable")
			out, esc = append(out, '\\'), append(esc, false)
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
					d := s[i-1 : i+2]
					warns = append(warns,
						`tr: warning: the ambiguous octal escape \`+d+` is being`,
						`	interpreted as the 2-byte sequence \0`+d[:2]+`, `+d[2:])
					break
				}
				v = nv
				i++
			}
			c = byte(v)
		}
		out, esc = append(out, c), append(esc, true)
	}
	return out, esc, warns
}

// parseTrSet parses a set as GNU's build_spec_list does.
func parseTrSet(text string) (*trSet, error) {
	b, esc, warns := trUnescape(text)
	s := &trSet{text: text, warnings: warns}
	is := func(i int, c byte) bool { return i < len(b) && b[i] == c && !esc[i] }
	// closing finds the unescaped delim ']' from i.
	closing := func(i int, delim byte) int {
		for ; i+1 < len(b); i++ {
			if is(i, delim) && is(i+1, ']') {
				return i
			}
		}
		return -1
	}
	// starDigitsClose reports whether b[i:] is "*" digits "]", unescaped.
	starDigitsClose := func(i int) bool {
		if !is(i, '*') {
			return false
		}
		for j := i + 1; j < len(b); j++ {
			if !isDigit(b[j]) || esc[j] {
				return is(j, ']')
			}
		}
		return false
	}
	// repeat parses [c*n] at i ('[' at i): 1 found, 0 not a repeat.
	repeat := func(i int) (int, error) {
		if !is(i+2, '*') {
			return 0, nil
		}
		for j := i + 3; j < len(b) && !esc[j]; j++ {
			if b[j] != ']' {
				continue
			}
			e := trElem{kind: trRepeat, c: b[i+1]}
			if digits := string(b[i+3 : j]); digits != "" {
				base := 10
				if digits[0] == '0' {
					base = 8
				}
				n, rest, err := compute.XStrtoumax(digits, base, compute.AnySuffix)
				if err != compute.NumOK || rest != "" || n > trMax {
					return 0, compute.Invalidf("tr: invalid repeat count %q in [c*n] construct in %q", digits, text)
				}
				e.n = n
			}
			s.elems = append(s.elems, e)
			return j + 1, nil
		}
		return 0, nil
	}
	i := 0
	for i+2 < len(b) {
		if is(i, '[') {
			if d := b[i+1]; is(i+1, ':') || is(i+1, '=') {
				if end := closing(i+2, d); end >= 0 {
					name := string(b[i+2 : end])
					switch {
					case name == "" && d == ':':
						return nil, compute.Invalidf("tr: missing character class name '[::]' in %q", text)
					case name == "":
						return nil, compute.Invalidf("tr: missing equivalence class character '[==]' in %q", text)
					}
					ok := false
					if d == ':' {
						if _, ok = compute.CClass(name); ok {
							s.elems = append(s.elems, trElem{kind: trClass, class: name})
						}
					} else if ok = len(name) == 1; ok {
						s.elems = append(s.elems, trElem{kind: trEquiv, c: name[0]})
					}
					if ok {
						i = end + 2
						continue
					}
					if !starDigitsClose(i + 2) {
						if d == ':' {
							return nil, compute.Invalidf("tr: invalid character class %q in %q", name, text)
						}
						return nil, compute.Invalidf("tr: %q: equivalence class operand must be a single character", "[="+name+"=]")
					}
				}
			}
			next, err := repeat(i)
			if err != nil {
				return nil, err
			}
			if next > 0 {
				i = next
				continue
			}
		}
		if is(i+1, '-') {
			lo, hi := b[i], b[i+2]
			if lo > hi {
				return nil, compute.Invalidf("tr: range-endpoints of %q are in reverse collating sequence order", string([]byte{lo, '-', hi}))
			}
			s.elems = append(s.elems, trElem{kind: trRange, lo: lo, hi: hi})
			i += 3
			continue
		}
		s.elems = append(s.elems, trElem{kind: trChar, c: b[i]})
		i++
	}
	for ; i < len(b); i++ {
		s.elems = append(s.elems, trElem{kind: trChar, c: b[i]})
	}
	// GNU's get_spec_stats.
	for i := range s.elems {
		e := &s.elems[i]
		switch {
		case e.kind == trRepeat && e.n == 0:
			s.indefinite++
		case e.kind == trEquiv:
			s.hasEquiv = true
		case e.kind == trClass:
			s.hasClass = true
			s.restricted = s.restricted || e.caseClass() == ""
		}
		n := e.length()
		if n > trMax-s.length {
			return nil, compute.Invalidf("tr: too many characters in set %q", text)
		}
		s.length += n
	}
	return s, nil
}

// validateTr makes GNU's checks of the sets, resolving [c*] in SET2 and
// extending SET2 to the length of SET1 as GNU's validate does.
func validateTr(s1, s2 *trSet, comp, trunc, translating bool) error {
	if comp {
		in := trMembers(s1, false)
		s1.length = 0
		for _, b := range in {
			if !b {
				s1.length++
			}
		}
	}
	if s1.indefinite > 0 {
		return compute.Invalidf("tr: the [c*] repeat construct may not appear in SET1 %q", s1.text)
	}
	if s2 == nil {
		return nil
	}
	if s1.length >= s2.length && s2.indefinite == 1 {
		for i := range s2.elems {
			if e := &s2.elems[i]; e.kind == trRepeat && e.n == 0 {
				e.n = s1.length - s2.length
			}
		}
		s2.length = s1.length
	}
	if s2.indefinite > 1 {
		return compute.Invalidf("tr: only one [c*] repeat construct may appear in SET2 %q", s2.text)
	}
	if !translating {
		if s2.indefinite > 0 {
			return compute.Invalidf("tr: the [c*] repeat construct may appear in SET2 %q only when translating", s2.text)
		}
		return nil
	}
	if s2.hasEquiv {
		return compute.Invalidf("tr: [=c=] expressions may not appear in SET2 %q when translating", s2.text)
	}
	if s2.restricted {
		return compute.Invalidf("tr: when translating, the only character classes that may appear in SET2 %q are 'upper' and 'lower'", s2.text)
	}
	if !comp && s2.hasClass {
		if err := trCaseAligned(s1, s2); err != nil {
			return err
		}
	}
	if s1.length > s2.length && !trunc {
		if s2.length == 0 {
			return compute.Invalidf("tr: when not truncating SET1, SET2 %q must be non-empty", s2.text)
		}
		last := s2.elems[len(s2.elems)-1]
		var c byte
		switch last.kind {
		case trChar, trRepeat:
			c = last.c
		case trRange:
			c = last.hi
		case trClass:
			return compute.Invalidf("tr: when translating with SET1 longer than SET2, SET2 %q must not end with a character class", s2.text)
		}
		s2.elems = append(s2.elems, trElem{kind: trRepeat, c: c, n: s1.length - s2.length})
		s2.length = s1.length
	}
	if comp && s1.hasClass && !(s2.length == s1.length && trHomogeneous(s2)) {
		return compute.Invalidf("tr: when translating with complemented character classes, SET2 %q must map all characters in the domain to one", s2.text)
	}
	return nil
}

// trMembers returns which bytes s holds (complemented with comp); a
// repeat of count 0 holds nothing, as GNU's get_next skips it.
func trMembers(s *trSet, comp bool) [256]bool {
	var in [256]bool
	for i := range s.elems {
		e := &s.elems[i]
		if e.kind == trRepeat {
			if e.n > 0 {
				in[e.c] = true
			}
			continue
		}
		for _, c := range e.bytes() {
			in[c] = true
		}
	}
	if comp {
		for i := range in {
			in[i] = !in[i]
		}
	}
	return in
}

// trHomogeneous reports whether s is not empty and holds one byte only.
func trHomogeneous(s *trSet) bool {
	in := trMembers(s, false)
	n := 0
	for _, b := range in {
		if b {
			n++
		}
	}
	return n == 1
}

// trIter walks a set as GNU's get_next does.
type trIter struct {
	set  *trSet
	i    int    // element
	pos  uint64 // bytes of element i already returned
	cur  []byte // element i's bytes (not for repeats)
	init bool
}

// elem returns the current element, skipping empty repeats; nil at the end.
func (it *trIter) elem() *trElem {
	for it.i < len(it.set.elems) {
		e := &it.set.elems[it.i]
		if e.kind == trRepeat && e.n == 0 {
			it.i++
			continue
		}
		if !it.init {
			it.cur, it.init = nil, true
			if e.kind != trRepeat {
				it.cur = e.bytes()
			}
		}
		return e
	}
	return nil
}

// left returns how many bytes the current element still has.
func (it *trIter) left(e *trElem) uint64 {
	if e.kind == trRepeat {
		return e.n - it.pos
	}
	return uint64(len(it.cur)) - it.pos
}

// advance moves k bytes into the current element.
func (it *trIter) advance(e *trElem, k uint64) {
	it.pos += k
	if it.left(e) == 0 {
		it.skip()
	}
}

// skip moves to the next element (GNU's skip_construct).
func (it *trIter) skip() {
	it.i++
	it.pos, it.init = 0, false
}

// peek returns the next byte, whether it starts an element, and false at
// the end.
func (it *trIter) peek() (c byte, e *trElem, fresh bool, ok bool) {
	e = it.elem()
	if e == nil {
		return 0, nil, false, false
	}
	if e.kind == trRepeat {
		return e.c, e, it.pos == 0, true
	}
	return it.cur[it.pos], e, it.pos == 0, true
}

// next returns the next byte and its element's case class.
func (it *trIter) next() (byte, string, bool) {
	c, e, _, ok := it.peek()
	if !ok {
		return 0, "", false
	}
	it.advance(e, 1)
	return c, e.caseClass(), true
}

// trCaseAligned checks, as GNU's validate_case_classes, that each
// [:upper:] or [:lower:] of SET2 faces one of those in SET1.
func trCaseAligned(s1, s2 *trSet) error {
	a, b := trIter{set: s1}, trIter{set: s2}
	for {
		_, e1, fresh1, ok1 := a.peek()
		_, e2, fresh2, ok2 := b.peek()
		class1, class2 := "", ""
		if ok1 {
			class1 = e1.caseClass()
		}
		if ok2 {
			class2 = e2.caseClass()
		}
		if ok2 && fresh2 && class2 != "" && !(ok1 && fresh1 && class1 != "") {
			return compute.Invalidf("tr: misaligned [:upper:] and/or [:lower:] construct in SET2 %q", s2.text)
		}
		if !ok1 || !ok2 {
			return nil
		}
		if class2 != "" {
			a.skip()
			b.skip()
			continue
		}
		k := uint64(1)
		if e1.kind == trRepeat && e2.kind == trRepeat {
			k = min(a.left(e1), b.left(e2))
		}
		a.advance(e1, k)
		b.advance(e2, k)
	}
}

// trPair sets xlate from SET1 and SET2 taken in step, as GNU's
// translation loop: a case class facing the other one converts case.
func trPair(s1, s2 *trSet, xlate *[256]byte) {
	a, b := trIter{set: s1}, trIter{set: s2}
	for {
		c1, e1, _, ok1 := a.peek()
		c2, e2, _, ok2 := b.peek()
		if ok2 && e2.caseClass() != "" {
			switch {
			case ok1 && e1.caseClass() == "lower" && e2.caseClass() == "upper":
				for c := 'a'; c <= 'z'; c++ {
					xlate[c] = byte(c - 32)
				}
			case ok1 && e1.caseClass() == "upper" && e2.caseClass() == "lower":
				for c := 'A'; c <= 'Z'; c++ {
					xlate[c] = byte(c + 32)
				}
			case ok1:
				xlate[c1] = c2
			}
			if !ok1 {
				return
			}
			a.skip()
			b.skip()
			continue
		}
		if !ok1 || !ok2 {
			return
		}
		xlate[c1] = c2
		k := uint64(1)
		if e1.kind == trRepeat && e2.kind == trRepeat {
			k = min(a.left(e1), b.left(e2))
		}
		a.advance(e1, k)
		b.advance(e2, k)
	}
}

func (t *trStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	for _, w := range t.warnings {
		compute.Diagnose(ctx, w)
	}
	last := -1 // last byte written, for squeezing across reads
	return eachBlock(ctx, in, filterBufSize, func(b []byte) error {
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
