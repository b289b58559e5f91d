package text

import (
	"bufio"
	"context"
	"fmt"
	"slices"

	"github.com/halfclose/halfclose/compute"
)

// tac -r reads its separator as glibc's re_compile_pattern does with the
// syntax coreutils 9.1 tac leaves it (re_syntax_options 0, the Emacs
// syntax) in the C locale: "\(" "\)" group, "\|" alternates, '*' '+' '?'
// repeat (at an expression's start or after an anchor they are literals),
// there are no intervals ('{' is a literal) and no character classes in
// brackets ("[:" is two literals); '.' is any byte but newline; '^' is an
// anchor only first in a branch or group, '$' only last; newlines anchor
// them (re_compile_pattern sets newline_anchor); \w \W \s \S \b \B \< \>
// \` \' are glibc's GNU operators with the ASCII word bytes. A match is
// POSIX's longest at its start.
//
// We match it with our own small NFA over bytes, not RE2: GNU's \< and \>
// look both ways, which RE2 cannot, and the text is read a byte at a time
// from the spooled input, where it may be longer than any window.

// tacInst is one instruction of the separator's program.
type tacInst struct {
	op   uint8
	arg  uint8      // the assertion, for tacAssert
	x, y int32      // next instruction; y: the second branch of a split
	set  *[256]bool // the bytes a tacByte takes
}

const (
	tacByte = iota
	tacSplit
	tacAssert
	tacMatch
)

// The assertions.
const (
	asBOL      = iota // ^: the text's start or after a newline
	asEOL             // $: the text's end or before a newline
	asBOB             // \`
	asEOB             // \'
	asWordB           // \b
	asNotWordB        // \B
	asWordBeg         // \<
	asWordEnd         // \>
)

// tacRegex is a compiled separator; it is read only once built (a stage
// runs it for many connections at once).
type tacRegex struct {
	prog  []tacInst
	start int32
	// first holds the bytes a match can start with; empty says it can be
	// empty (every position is a candidate).
	first [256]bool
	empty bool
}

// reNode is a parsed separator.
type reNode struct {
	kind   int // reLit, reAssert, reCat, reAlt, reStar, rePlus, reQuest, reEmpty
	set    *[256]bool
	assert uint8
	sub    []*reNode
}

const (
	reLit = iota
	reAssert
	reCat
	reAlt
	reStar
	rePlus
	reQuest
	reEmpty
)

// Tokens, as glibc's peek_token reads them in this syntax.
const (
	tkChar = iota
	tkEnd
	tkAlt
	tkOpen
	tkClose
	tkStar
	tkPlus
	tkQuest
	tkBracket
	tkDot
	tkAnchor
	tkBackref
	tkClass // \w \W \s \S
	tkBackslash
)

type reToken struct {
	kind int
	c    byte // tkChar: the byte; tkAnchor: the assertion; tkBackref: the digit; tkClass: the letter
	n    int  // its length in the pattern
}

type reParser struct {
	p    string
	i    int
	tok  reToken
	nsub int
	done uint32 // groups closed (glibc's completed_bkref_map)
	// backref is the first back-reference GNU takes and we refuse,
	// reported when the whole pattern parses.
	backref string
}

// gnuRegexError is glibc's message for an invalid pattern, which GNU tac
// prints as is.
func gnuRegexError(msg string) error { return compute.Invalidf("tac: %s", msg) }

// compileTacRegex compiles a tac -r separator (not empty: the caller
// refuses that as GNU does).
func compileTacRegex(pat string) (*tacRegex, error) {
	ps := &reParser{p: pat}
	ps.next(true)
	n, err := ps.regExp(0)
	if err != nil {
		return nil, err
	}
	if ps.tok.kind != tkEnd { // a "\)" with no group open stops parsing
		return nil, gnuRegexError(`Unmatched ) or \)`)
	}
	if ps.backref != "" {
		return nil, compute.Invalidf("tac: back-reference %s in the separator is not supported (RE2-free matcher keeps no groups)", ps.backref)
	}
	if assertRepeated(n, false) {
		// GNU's (gnulib's copy of glibc's) matcher misses matches there:
		// printf 'a ' | tac -r -s '\(.+\>x*\)+' finds no separator.
		return nil, compute.Invalidf("tac: an assertion (^ $ \\` \\' \\b \\B \\< \\>) inside a repeated group is not supported: GNU's matcher misses some of its matches")
	}
	re := &tacRegex{}
	c := &reCompiler{re: re}
	m := c.emit(tacInst{op: tacMatch})
	re.start = c.compile(n, m)
	re.firstSet()
	return re, nil
}

// assertRepeated says whether n holds an assertion under a * or +
// (in): one that repetition may try more than once.
func assertRepeated(n *reNode, in bool) bool {
	if n.kind == reAssert {
		return in
	}
	in = in || n.kind == reStar || n.kind == rePlus
	for _, s := range n.sub {
		if assertRepeated(s, in) {
			return true
		}
	}
	return false
}

// peek reads the token at i; caret: a '^' there is an anchor (the
// pattern's start, after "\(" or "\|").
func (ps *reParser) peek(i int, caret bool) reToken {
	p := ps.p
	if i >= len(p) {
		return reToken{kind: tkEnd}
	}
	c := p[i]
	if c == '\\' {
		if i+1 >= len(p) {
			return reToken{kind: tkBackslash, n: 1}
		}
		e := p[i+1]
		t := reToken{kind: tkChar, c: e, n: 2}
		switch {
		case e == '|':
			t.kind = tkAlt
		case e == '(':
			t.kind = tkOpen
		case e == ')':
			t.kind = tkClose
		case '1' <= e && e <= '9':
			t.kind = tkBackref
		case e == '<':
			t.kind, t.c = tkAnchor, asWordBeg
		case e == '>':
			t.kind, t.c = tkAnchor, asWordEnd
		case e == 'b':
			t.kind, t.c = tkAnchor, asWordB
		case e == 'B':
			t.kind, t.c = tkAnchor, asNotWordB
		case e == '`':
			t.kind, t.c = tkAnchor, asBOB
		case e == '\'':
			t.kind, t.c = tkAnchor, asEOB
		case e == 'w' || e == 'W' || e == 's' || e == 'S':
			t.kind = tkClass
		}
		return t
	}
	t := reToken{kind: tkChar, c: c, n: 1}
	switch c {
	case '*':
		t.kind = tkStar
	case '+':
		t.kind = tkPlus
	case '?':
		t.kind = tkQuest
	case '[':
		t.kind = tkBracket
	case '.':
		t.kind = tkDot
	case '^':
		if caret || i == 0 {
			t.kind, t.c = tkAnchor, asBOL
		}
	case '$':
		if i+1 != len(p) {
			if nx := ps.peek(i+1, false); nx.kind != tkAlt && nx.kind != tkClose {
				break
			}
		}
		t.kind, t.c = tkAnchor, asEOL
	}
	return t
}

// next moves to the next token.
func (ps *reParser) next(caret bool) {
	ps.i += ps.tok.n
	ps.tok = ps.peek(ps.i, caret)
}

// regExp is glibc's parse_reg_exp: branches separated by "\|" (empty
// ones match the empty string).
//
// A back-reference in a branch may name only a group closed before the
// alternation or in that branch (glibc parses each branch after the
// first from the groups closed before it: `\(a\)\|\1` is "Invalid back
// reference"); after the alternation all of them are closed.
func (ps *reParser) regExp(nest int) (*reNode, error) {
	var alts []*reNode
	initial := ps.done
	for {
		var b *reNode
		if !ps.branchEnd(nest) {
			var err error
			acc := ps.done
			if len(alts) > 0 {
				ps.done = initial
			}
			if b, err = ps.branch(nest); err != nil {
				return nil, err
			}
			ps.done |= acc
		} else {
			b = &reNode{kind: reEmpty}
		}
		alts = append(alts, b)
		if ps.tok.kind != tkAlt {
			break
		}
		ps.next(true)
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &reNode{kind: reAlt, sub: alts}, nil
}

func (ps *reParser) branchEnd(nest int) bool {
	k := ps.tok.kind
	return k == tkAlt || k == tkEnd || nest > 0 && k == tkClose
}

func (ps *reParser) branch(nest int) (*reNode, error) {
	var cat []*reNode
	for !ps.branchEnd(nest) {
		e, err := ps.expression(nest)
		if err != nil {
			return nil, err
		}
		cat = append(cat, e)
	}
	if len(cat) == 1 {
		return cat[0], nil
	}
	return &reNode{kind: reCat, sub: cat}, nil
}

// expression is glibc's parse_expression: an atom and its repetition
// operators.
func (ps *reParser) expression(nest int) (*reNode, error) {
	t := ps.tok
	var n *reNode
	switch t.kind {
	case tkBackslash:
		return nil, gnuRegexError("Trailing backslash")
	case tkOpen:
		ps.next(true)
		sub := ps.nsub
		ps.nsub++
		if ps.tok.kind == tkClose {
			n = &reNode{kind: reEmpty}
		} else {
			var err error
			if n, err = ps.regExp(nest + 1); err != nil {
				return nil, err
			}
			if ps.tok.kind != tkClose {
				return nil, gnuRegexError(`Unmatched ( or \(`)
			}
		}
		if sub < 32 {
			ps.done |= 1 << sub
		}
	case tkClose:
		return nil, gnuRegexError(`Unmatched ) or \)`)
	case tkBracket:
		set, err := ps.bracket()
		if err != nil {
			return nil, err
		}
		n = &reNode{kind: reLit, set: set}
	case tkBackref:
		if ps.done&(1<<(t.c-'1')) == 0 {
			return nil, gnuRegexError("Invalid back reference")
		}
		if ps.backref == "" {
			ps.backref = `\` + string(t.c)
		}
		n = &reNode{kind: reEmpty}
	case tkAnchor:
		// No repetition operator applies to an anchor: one after it is
		// a literal (the next expression's).
		ps.next(false)
		return &reNode{kind: reAssert, assert: t.c}, nil
	case tkDot:
		var set [256]bool
		for i := range set {
			set[i] = i != '\n'
		}
		n = &reNode{kind: reLit, set: &set}
	case tkClass:
		var set [256]bool
		for i := range set {
			c := byte(i)
			switch t.c {
			case 'w', 'W':
				set[i] = isWordByte(c) == (t.c == 'w')
			default:
				set[i] = isSpace(c) == (t.c == 's')
			}
		}
		n = &reNode{kind: reLit, set: &set}
	default:
		// A character, or a repetition operator where none applies.
		var set [256]bool
		set[t.c] = true
		n = &reNode{kind: reLit, set: &set}
	}
	ps.next(false)
	for {
		var k int
		switch ps.tok.kind {
		case tkStar:
			k = reStar
		case tkPlus:
			k = rePlus
		case tkQuest:
			k = reQuest
		default:
			return n, nil
		}
		n = &reNode{kind: k, sub: []*reNode{n}}
		ps.next(false)
	}
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// bracket reads a bracket expression at '[' as glibc's parse_bracket_exp
// does in this syntax (no classes, no backslash escapes, "[." and "[=" of
// one byte, ranges by byte value, a reversed one empty; its errors in its
// order), leaving ps.i on the closing ']' (the token's length 1).
func (ps *reParser) bracket() (*[256]bool, error) {
	p := ps.p
	i := ps.i + 1
	var set [256]bool
	ebrack := func() error { return gnuRegexError("Unmatched [, [^, [:, [., or [=") }
	ecollate := func() error { return gnuRegexError("Invalid collation character") }
	// An element: a byte, or "[.x.]" "[=x=]" (sym: '.' or '=', name x).
	type elem struct {
		c    byte
		sym  byte
		name string
	}
	elemAt := func(accept bool) (elem, error) {
		if i+1 < len(p) && p[i] == '[' && (p[i+1] == '.' || p[i+1] == '=') {
			delim := p[i+1]
			j := i + 2
			if j >= len(p) {
				return elem{}, ebrack()
			}
			start := j
			for k := 0; ; k++ {
				if k >= 32 || j+1 >= len(p) {
					return elem{}, ebrack()
				}
				ch := p[j]
				j++
				if ch == delim && p[j] == ']' {
					break
				}
			}
			e := elem{sym: delim, name: p[start : j-1]}
			i = j + 1
			if len(e.name) == 1 {
				e.c = e.name[0]
			}
			return e, nil
		}
		c := p[i]
		i++
		if c == '-' && !accept && !(i < len(p) && p[i] == ']') {
			return elem{}, gnuRegexError("Invalid range end")
		}
		return elem{c: c}, nil
	}
	if i >= len(p) {
		return nil, gnuRegexError("Invalid regular expression")
	}
	invert := false
	if p[i] == '^' {
		invert = true
		i++
		if i >= len(p) {
			return nil, gnuRegexError("Invalid regular expression")
		}
	}
	for first := true; ; first = false {
		start, err := elemAt(first)
		if err != nil {
			return nil, err
		}
		isRange := false
		if start.sym != '=' {
			if i >= len(p) {
				return nil, ebrack()
			}
			if p[i] == '-' {
				if i+1 >= len(p) {
					return nil, ebrack()
				}
				isRange = p[i+1] != ']'
			}
		}
		if isRange {
			i++
			end, err := elemAt(true)
			if err != nil {
				return nil, err
			}
			switch {
			case start.sym == '=' || end.sym == '=':
				return nil, gnuRegexError("Invalid range end")
			case start.sym == '.' && len(start.name) != 1, end.sym == '.' && len(end.name) != 1:
				return nil, ecollate()
			}
			for c := int(start.c); c <= int(end.c); c++ {
				set[c] = true
			}
		} else {
			if start.sym != 0 && len(start.name) != 1 {
				return nil, ecollate()
			}
			set[start.c] = true
		}
		if i >= len(p) {
			return nil, ebrack()
		}
		if p[i] == ']' {
			break
		}
	}
	if invert {
		for c := range set {
			set[c] = !set[c]
		}
	}
	ps.i = i
	ps.tok = reToken{kind: tkBracket, n: 1}
	return &set, nil
}

type reCompiler struct{ re *tacRegex }

func (c *reCompiler) emit(in tacInst) int32 {
	c.re.prog = append(c.re.prog, in)
	return int32(len(c.re.prog) - 1)
}

// compile emits n followed by next, returning n's entry.
func (c *reCompiler) compile(n *reNode, next int32) int32 {
	switch n.kind {
	case reLit:
		return c.emit(tacInst{op: tacByte, set: n.set, x: next})
	case reAssert:
		return c.emit(tacInst{op: tacAssert, arg: n.assert, x: next})
	case reEmpty:
		return next
	case reCat:
		for k := len(n.sub) - 1; k >= 0; k-- {
			next = c.compile(n.sub[k], next)
		}
		return next
	case reAlt:
		entry := c.compile(n.sub[len(n.sub)-1], next)
		for k := len(n.sub) - 2; k >= 0; k-- {
			a := c.compile(n.sub[k], next)
			entry = c.emit(tacInst{op: tacSplit, x: a, y: entry})
		}
		return entry
	case reQuest:
		a := c.compile(n.sub[0], next)
		return c.emit(tacInst{op: tacSplit, x: a, y: next})
	case reStar, rePlus:
		loop := c.emit(tacInst{op: tacSplit, y: next})
		body := c.compile(n.sub[0], loop)
		c.re.prog[loop].x = body
		if n.kind == rePlus {
			return body
		}
		return loop
	}
	panic(fmt.Sprintf("tac: regex node %d", n.kind))
}

// firstSet computes the bytes a match can start with (assertions taken
// as holding), and whether a match can be empty.
func (re *tacRegex) firstSet() {
	seen := make([]bool, len(re.prog))
	stack := []int32{re.start}
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pc] {
			continue
		}
		seen[pc] = true
		in := &re.prog[pc]
		switch in.op {
		case tacByte:
			for c, ok := range in.set {
				re.first[c] = re.first[c] || ok
			}
		case tacSplit:
			stack = append(stack, in.x, in.y)
		case tacAssert:
			stack = append(stack, in.x)
		case tacMatch:
			re.empty = true
		}
	}
}

// The classes of the byte on either side of a position, all the
// assertions look at: none (the text's start or end), a newline, a word
// byte, another.
const (
	clNone = iota
	clNL
	clWord
	clOther
)

func byteClass(c byte) uint8 {
	switch {
	case c == '\n':
		return clNL
	case isWordByte(c):
		return clWord
	}
	return clOther
}

func holds(a uint8, prev, next uint8) bool {
	pw, nw := prev == clWord, next == clWord
	switch a {
	case asBOL:
		return prev == clNone || prev == clNL
	case asEOL:
		return next == clNone || next == clNL
	case asBOB:
		return prev == clNone
	case asEOB:
		return next == clNone
	case asWordB:
		return pw != nw
	case asNotWordB:
		return pw == nw
	case asWordBeg:
		return !pw && nw
	case asWordEnd:
		return pw && !nw
	}
	return false
}

// reMachine runs a tacRegex as a DFA built as it goes (the regex is
// shared; a machine is one run's): a state is the NFA's instructions
// waiting for a byte, before the assertions, and the class of the byte
// before. Its cache is bounded: past reMaxStates it starts again.
type reMachine struct {
	re     *tacRegex
	states map[string]int32
	st     []*reState
	start  [4]int32 // by the class of the byte before; -1: not built
	set    reSparse
	stack  []int32
	key    []byte
}

// reState is a DFA state: next[c] the state after byte c (reUnknown
// until built, reDead when no instruction is left), match[c] whether
// the position before c ends a match (0 unknown, 1 no, 2 yes), and
// atEnd the same at the text's end.
type reState struct {
	pcs   []int32
	prev  uint8
	next  [256]int32
	match [256]uint8
	atEnd uint8
}

const (
	reUnknown   = -1
	reDead      = -2
	reMaxStates = 2000
)

type reSparse struct {
	dense  []int32
	sparse []int32
}

func (s *reSparse) has(pc int32) bool {
	j := s.sparse[pc]
	return j < int32(len(s.dense)) && s.dense[j] == pc
}

func (s *reSparse) add(pc int32) {
	s.sparse[pc] = int32(len(s.dense))
	s.dense = append(s.dense, pc)
}

func newReMachine(re *tacRegex) *reMachine {
	n := len(re.prog)
	m := &reMachine{re: re, set: reSparse{dense: make([]int32, 0, n), sparse: make([]int32, n)}}
	m.reset()
	return m
}

func (m *reMachine) reset() {
	m.states = map[string]int32{}
	m.st = m.st[:0]
	m.start = [4]int32{-1, -1, -1, -1}
}

// state returns the state of pcs (sorted) after a byte of class prev,
// adding it.
func (m *reMachine) state(pcs []int32, prev uint8) int32 {
	m.key = append(m.key[:0], prev)
	for _, pc := range pcs {
		m.key = append(m.key, byte(pc), byte(pc>>8), byte(pc>>16), byte(pc>>24))
	}
	if id, ok := m.states[string(m.key)]; ok {
		return id
	}
	st := &reState{pcs: append([]int32(nil), pcs...), prev: prev}
	for i := range st.next {
		st.next[i] = reUnknown
	}
	id := int32(len(m.st))
	m.st = append(m.st, st)
	m.states[string(m.key)] = id
	return id
}

// closure fills m.set with what st's instructions reach at a position
// whose next byte is of class next, without reading it; it reports
// whether a match is among them.
func (m *reMachine) closure(st *reState, next uint8) bool {
	m.set.dense = m.set.dense[:0]
	matched := false
	m.stack = append(m.stack[:0], st.pcs...)
	for len(m.stack) > 0 {
		pc := m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
		if m.set.has(pc) {
			continue
		}
		m.set.add(pc)
		in := &m.re.prog[pc]
		switch in.op {
		case tacSplit:
			m.stack = append(m.stack, in.y, in.x)
		case tacAssert:
			if holds(in.arg, st.prev, next) {
				m.stack = append(m.stack, in.x)
			}
		case tacMatch:
			matched = true
		}
	}
	return matched
}

// step builds the transition of state id on c; it returns the state's
// id, which changes when the cache started again.
func (m *reMachine) step(id int32, c byte) int32 {
	if len(m.st) >= reMaxStates {
		st := m.st[id]
		m.reset()
		id = m.state(st.pcs, st.prev)
	}
	st := m.st[id]
	matched := m.closure(st, byteClass(c))
	var pcs []int32
	for _, pc := range m.set.dense {
		if in := &m.re.prog[pc]; in.op == tacByte && in.set[c] {
			pcs = append(pcs, in.x)
		}
	}
	slices.Sort(pcs)
	pcs = slices.Compact(pcs)
	next := int32(reDead)
	if len(pcs) > 0 {
		next = m.state(pcs, byteClass(c))
	}
	st = m.st[id] // m.state may have grown m.st
	st.next[c] = next
	st.match[c] = 1
	if matched {
		st.match[c] = 2
	}
	return id
}

// longest returns the end of the longest match starting at p in the text
// [lo, hi) of rw (lo <= p < hi), or -1.
func (m *reMachine) longest(rw *reWindow, p, lo, hi int64) (int64, error) {
	prev := uint8(clNone)
	if p > lo {
		c, err := rw.at(p - 1)
		if err != nil {
			return -1, err
		}
		prev = byteClass(c)
	}
	if m.start[prev] < 0 {
		m.start[prev] = m.state([]int32{m.re.start}, prev)
	}
	id := m.start[prev]
	end := int64(-1)
	for j := p; ; {
		if j == hi {
			st := m.st[id]
			if st.atEnd == 0 {
				st.atEnd = 1
				if m.closure(st, clNone) {
					st.atEnd = 2
				}
			}
			if st.atEnd == 2 {
				end = j
			}
			return end, nil
		}
		if _, err := rw.at(j); err != nil {
			return -1, err
		}
		win := rw.buf.Bytes()[j-rw.a : min(hi, rw.a+int64(rw.buf.Len()))-rw.a]
		for _, c := range win {
			st := m.st[id]
			if st.next[c] == reUnknown {
				id = m.step(id, c)
				st = m.st[id]
			}
			if st.match[c] == 2 {
				end = j
			}
			id = st.next[c]
			j++
			if id == reDead {
				return end, nil
			}
		}
	}
}

// reverseRegex is tac -r as GNU tac 9.1 computes it (tac_seekable with
// a regex): GNU keeps the input's block [f, f+r) and the pending record
// after it in its buffer, and asks re_search for the match starting
// last, from the position before e down to f, in the text [f, e): so
// '^' and \` match at the block's start, and '$' and \' at e, which is
// the start of the match made last, or, after a new block was read, the
// pending record's end. The blocks are those of reverseString: the
// input's size modulo 8 KiB first, then 8 KiB, doubled when the pending
// record outgrew the block. A match [c, d) ends a record at d (with -b,
// starts one at c); an empty one too.
func (t *tacStage) reverseRegex(ctx context.Context, q *chunkQueue, w *bufio.Writer) error {
	total := q.Len()
	if total == 0 {
		return nil
	}
	r := int64(tacReadSize)
	f := total - total%r
	if f == total {
		f = total - r
	}
	m := newReMachine(t.re)
	win := &reWindow{tacWindow{ctx: ctx, q: q}}
	pe, e := total, total
	for {
		c, d, err := win.search(m, f, e)
		if err != nil {
			return err
		}
		if c >= 0 {
			start := d
			if t.before {
				start = c
			}
			if err := win.write(w, start, pe); err != nil {
				return err
			}
			pe, e = start, c
			continue
		}
		if f == 0 {
			return win.write(w, 0, pe)
		}
		if pe-f > r {
			r *= 2
		}
		if f >= r {
			f -= r
		} else {
			f = 0
		}
		e = pe
	}
}

// reWindow reads the input for a regex search, a window at a time: the
// literal search's window (its fields and write), read a byte at a time.
type reWindow struct{ tacWindow }

func (rw *reWindow) at(i int64) (byte, error) {
	if j := i - rw.a; j >= 0 && j < int64(rw.buf.Len()) {
		return rw.buf.Bytes()[j], nil
	}
	if err := rw.ctx.Err(); err != nil {
		return 0, err
	}
	a := i - 1 // reading forward: keep the byte before
	if i < rw.a {
		a = i - tacWindowSize*7/8 // searching backward
	}
	a = max(0, a)
	rw.buf.Reset()
	if err := rw.q.writeRange(&rw.buf, a, min(rw.q.Len(), a+tacWindowSize)); err != nil {
		return 0, err
	}
	rw.a = a
	return rw.buf.Bytes()[i-a], nil
}

// search returns the match re_search finds searching [f, e) backward
// from e-1: the largest start c and its longest end d, or c = -1.
func (rw *reWindow) search(m *reMachine, f, e int64) (c, d int64, err error) {
	re := m.re
	for p := e - 1; p >= f; p-- {
		if p&0xffff == 0 {
			if err := rw.ctx.Err(); err != nil {
				return -1, -1, err
			}
		}
		b, err := rw.at(p)
		if err != nil {
			return -1, -1, err
		}
		if !re.empty && !re.first[b] {
			continue
		}
		if d, err = m.longest(rw, p, f, e); err != nil {
			return -1, -1, err
		}
		if d >= 0 {
			return p, d, nil
		}
	}
	return -1, -1, nil
}
