package grep

import (
	"io"
	"regexp"
	"regexp/syntax"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Where rewriting \< and \> for RE2 (wordmark.go) would not be exact, the
// markers stay in the tree as assertions of their own (wordAsserts), and
// the tree runs on wordVM: a Pike VM (Thompson's NFA simulated, every
// thread in step) over the parsed tree, whose \< and \> look at the rune
// before and after a position as RE2's \b does. It finds what RE2 finds
// (leftmost-longest matches, or whether there is one) in time linear in
// the text times the program, with memory linear in the program: no
// backtracking.

// reMatcher is what grep asks of a compiled pattern: *regexp.Regexp, or a
// wordVM where the pattern holds \< or \> that RE2 cannot express.
type reMatcher interface {
	Match(b []byte) bool
	MatchReader(r io.RuneReader) bool
	FindIndex(b []byte) []int
	FindReaderIndex(r io.RuneReader) []int
	FindAllIndex(b []byte, n int) [][]int
	FindSubmatchIndex(b []byte) []int
	FindReaderSubmatchIndex(r io.RuneReader) []int
}

// Flags of an OpWordBoundary node that is a marker kept for wordVM: \<
// or \>. (regexp/syntax uses the low 10 bits of Flags.)
const (
	flagBegWord syntax.Flags = 1 << 14
	flagEndWord syntax.Flags = 1 << 15
)

// wordAsserts rewrites in place every marker of t as the assertion wordVM
// checks: an OpWordBoundary node flagged \< or \>, which the other
// analyses of the tree (prefilter literals, progSize) read as the
// zero-width \b it is close to.
func wordAsserts(t *syntax.Regexp) *syntax.Regexp {
	if isMarkNode(t) {
		f := flagEndWord
		if markOf(t) == markBegWord {
			f = flagBegWord
		}
		return &syntax.Regexp{Op: syntax.OpWordBoundary, Flags: f}
	}
	for i, s := range t.Sub {
		t.Sub[i] = wordAsserts(s)
	}
	return t
}

// hasWordAsserts reports whether t holds a marker kept for wordVM.
func hasWordAsserts(t *syntax.Regexp) bool {
	if t.Op == syntax.OpWordBoundary && t.Flags&(flagBegWord|flagEndWord) != 0 {
		return true
	}
	for _, s := range t.Sub {
		if hasWordAsserts(s) {
			return true
		}
	}
	return false
}

// compileTree compiles t (parsed, rewritten for grep and simplified), for
// leftmost-longest matches when longest is set: on RE2, or on wordVM
// where t holds markers kept for it. ctx compiles (?s:.)(t) for
// leftmost-longest matches, when asked: t's matches past the position
// after the first rune, which gives ^, \b, \< and \> the rune before it
// (interrupt.go, wordonly.go). A tree on wordVM must not change after.
func compileTree(t *syntax.Regexp, longest bool) (re reMatcher, ctx func() reMatcher, err error) {
	if hasWordAsserts(t) {
		ctx = func() reMatcher {
			return newWordVM(&syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{{Op: syntax.OpAnyChar}, t}}, true)
		}
		return newWordVM(t, false), ctx, nil
	}
	src := reString(t)
	rx, err := regexp.Compile(src)
	if err != nil {
		return nil, nil, invalidRE(err)
	}
	if longest {
		rx.Longest()
	}
	ctx = func() reMatcher {
		// src compiled already: this cannot fail
		c := regexp.MustCompile(`(?s:.)(` + src + `)`)
		if longest {
			c.Longest()
		}
		return c
	}
	return rx, ctx, nil
}

// Empty-width conditions at a position, from the runes before and after
// it (-1: none).
const (
	ctxBeginLine = 1 << iota
	ctxEndLine
	ctxBeginText
	ctxEndText
	ctxWordBoundary
	ctxNoWordBoundary
	ctxBegWord // \<: a word character after, none before
	ctxEndWord // \>: a word character before, none after
)

// emptyCtx returns the conditions that hold between r1 and r2: what RE2's
// syntax.EmptyOpContext says, and \< and \> (word characters are RE2's
// \w, GNU's in the C locale).
func emptyCtx(r1, r2 rune) uint8 {
	var f uint8
	if r1 < 0 {
		f |= ctxBeginText | ctxBeginLine
	}
	if r1 == '\n' {
		f |= ctxBeginLine
	}
	if r2 < 0 {
		f |= ctxEndText | ctxEndLine
	}
	if r2 == '\n' {
		f |= ctxEndLine
	}
	w1, w2 := r1 >= 0 && syntax.IsWordChar(r1), r2 >= 0 && syntax.IsWordChar(r2)
	switch {
	case w1 == w2:
		f |= ctxNoWordBoundary
	case w2:
		f |= ctxWordBoundary | ctxBegWord
	default:
		f |= ctxWordBoundary | ctxEndWord
	}
	return f
}

type vmOp uint8

const (
	vmRune  vmOp = iota // one rune of the class, then out
	vmSplit             // out, then arg (no preference: leftmost-longest)
	vmEmpty             // the conditions arg hold here, then out
	vmNop               // out
	vmMatch
	vmFail
)

// vmInst is one instruction of a wordVM program.
type vmInst struct {
	op       vmOp
	out, arg uint32
	low      [4]uint64 // vmRune: the runes below 256 it matches
	high     []rune    // vmRune: ranges of those above
}

func (in *vmInst) matches(r rune) bool {
	if r < 256 {
		return in.low[r>>6]&(1<<(r&63)) != 0
	}
	for i := 0; i+1 < len(in.high); i += 2 {
		if r < in.high[i] {
			return false
		}
		if r <= in.high[i+1] {
			return true
		}
	}
	return false
}

// wordVM is a compiled program (see above). It is safe for concurrent
// use: each search takes a machine from pool.
type wordVM struct {
	prog  []vmInst
	start uint32
	// ctx: the program is (?s:.)(t); FindSubmatchIndex reports t's
	// bounds as group 1, after the first rune of the match.
	ctx  bool
	pool sync.Pool // *vmMachine
}

func newWordVM(t *syntax.Regexp, ctx bool) *wordVM {
	c := &vmCompiler{}
	f := c.compile(t)
	m := c.emit(vmInst{op: vmMatch})
	c.patch(f.holes, m)
	return &wordVM{prog: c.prog, start: f.start, ctx: ctx}
}

// vmFrag is a compiled part: where it starts, and the out fields (inst<<1,
// or inst<<1|1 for arg) to point at what follows it.
type vmFrag struct {
	start uint32
	holes []uint32
}

type vmCompiler struct{ prog []vmInst }

func (c *vmCompiler) emit(in vmInst) uint32 {
	c.prog = append(c.prog, in)
	return uint32(len(c.prog) - 1)
}

func (c *vmCompiler) patch(holes []uint32, to uint32) {
	for _, h := range holes {
		if h&1 == 0 {
			c.prog[h>>1].out = to
		} else {
			c.prog[h>>1].arg = to
		}
	}
}

// one emits an instruction with its out field open.
func (c *vmCompiler) one(in vmInst) vmFrag {
	i := c.emit(in)
	return vmFrag{start: i, holes: []uint32{i << 1}}
}

// class returns a vmRune instruction for the ranges rs.
func class(rs []rune) vmInst {
	in := vmInst{op: vmRune}
	for i := 0; i+1 < len(rs); i += 2 {
		lo, hi := rs[i], rs[i+1]
		for r := lo; r <= hi && r < 256; r++ {
			in.low[r>>6] |= 1 << (r & 63)
		}
		if hi >= 256 {
			in.high = append(in.high, max(lo, 256), hi)
		}
	}
	return in
}

// foldRanges returns the ranges of r and the runes it folds to.
func foldRanges(r rune) []rune {
	rs := []rune{r, r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		rs = append(rs, f, f)
	}
	return sortRanges(rs)
}

// sortRanges sorts and merges ranges (fixClass without its rewriting).
func sortRanges(rs []rune) []rune {
	for i := 2; i < len(rs); i += 2 {
		for j := i; j >= 2 && rs[j] < rs[j-2]; j -= 2 {
			rs[j], rs[j+1], rs[j-2], rs[j-1] = rs[j-2], rs[j-1], rs[j], rs[j+1]
		}
	}
	out := rs[:0]
	for i := 0; i+1 < len(rs); i += 2 {
		if n := len(out); n > 0 && rs[i] <= out[n-1]+1 {
			out[n-1] = max(out[n-1], rs[i+1])
			continue
		}
		out = append(out, rs[i], rs[i+1])
	}
	return out
}

func (c *vmCompiler) empty(cond uint8) vmFrag {
	return c.one(vmInst{op: vmEmpty, arg: uint32(cond)})
}

func (c *vmCompiler) compile(t *syntax.Regexp) vmFrag {
	switch t.Op {
	case syntax.OpNoMatch:
		return vmFrag{start: c.emit(vmInst{op: vmFail})}
	case syntax.OpEmptyMatch:
		return c.one(vmInst{op: vmNop})
	case syntax.OpLiteral:
		var f vmFrag
		for i, r := range t.Rune {
			rs := []rune{r, r}
			if t.Flags&syntax.FoldCase != 0 {
				rs = foldRanges(r)
			}
			g := c.one(class(rs))
			if i == 0 {
				f = g
				continue
			}
			c.patch(f.holes, g.start)
			f.holes = g.holes
		}
		if len(t.Rune) == 0 {
			return c.one(vmInst{op: vmNop})
		}
		return f
	case syntax.OpCharClass:
		return c.one(class(t.Rune))
	case syntax.OpAnyCharNotNL:
		return c.one(class([]rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}))
	case syntax.OpAnyChar:
		return c.one(class([]rune{0, unicode.MaxRune}))
	case syntax.OpBeginLine:
		return c.empty(ctxBeginLine)
	case syntax.OpEndLine:
		return c.empty(ctxEndLine)
	case syntax.OpBeginText:
		return c.empty(ctxBeginText)
	case syntax.OpEndText:
		return c.empty(ctxEndText)
	case syntax.OpWordBoundary:
		switch {
		case t.Flags&flagBegWord != 0:
			return c.empty(ctxBegWord)
		case t.Flags&flagEndWord != 0:
			return c.empty(ctxEndWord)
		}
		return c.empty(ctxWordBoundary)
	case syntax.OpNoWordBoundary:
		return c.empty(ctxNoWordBoundary)
	case syntax.OpCapture:
		return c.compile(t.Sub[0])
	case syntax.OpConcat:
		if len(t.Sub) == 0 {
			return c.one(vmInst{op: vmNop})
		}
		f := c.compile(t.Sub[0])
		for _, s := range t.Sub[1:] {
			g := c.compile(s)
			c.patch(f.holes, g.start)
			f.holes = g.holes
		}
		return f
	case syntax.OpAlternate:
		if len(t.Sub) == 0 {
			return vmFrag{start: c.emit(vmInst{op: vmFail})}
		}
		f := c.compile(t.Sub[len(t.Sub)-1])
		for i := len(t.Sub) - 2; i >= 0; i-- {
			g := c.compile(t.Sub[i])
			sp := c.emit(vmInst{op: vmSplit, out: g.start, arg: f.start})
			f = vmFrag{start: sp, holes: append(g.holes, f.holes...)}
		}
		return f
	case syntax.OpStar:
		sp := c.emit(vmInst{op: vmSplit})
		x := c.compile(t.Sub[0])
		c.prog[sp].out = x.start
		c.patch(x.holes, sp)
		return vmFrag{start: sp, holes: []uint32{sp<<1 | 1}}
	case syntax.OpPlus:
		x := c.compile(t.Sub[0])
		sp := c.emit(vmInst{op: vmSplit, out: x.start})
		c.patch(x.holes, sp)
		return vmFrag{start: x.start, holes: []uint32{sp<<1 | 1}}
	case syntax.OpQuest:
		sp := c.emit(vmInst{op: vmSplit})
		x := c.compile(t.Sub[0])
		c.prog[sp].out = x.start
		return vmFrag{start: sp, holes: append(x.holes, sp<<1|1)}
	case syntax.OpRepeat:
		// Simplify expands these; one left is taken as its copies.
		return c.compile(mkRepeatCopies(t))
	}
	return vmFrag{start: c.emit(vmInst{op: vmFail})}
}

// mkRepeatCopies is x{m,n} as x, x? and x* items.
func mkRepeatCopies(t *syntax.Regexp) *syntax.Regexp {
	x := t.Sub[0]
	var items []*syntax.Regexp
	for range t.Min {
		items = append(items, x)
	}
	switch {
	case t.Max < 0:
		items = append(items, &syntax.Regexp{Op: syntax.OpStar, Sub: []*syntax.Regexp{x}})
	default:
		for range t.Max - t.Min {
			items = append(items, &syntax.Regexp{Op: syntax.OpQuest, Sub: []*syntax.Regexp{x}})
		}
	}
	return &syntax.Regexp{Op: syntax.OpConcat, Sub: items}
}

// vmThread is a thread of the simulation: its instruction, where its
// match started, and the width of the rune there.
type vmThread struct {
	pc            uint32
	start, startW int
}

// vmQueue is a sparse set of threads, one per instruction, in priority
// order: the first to reach an instruction at a position holds it.
type vmQueue struct {
	sparse []uint32
	dense  []vmThread
}

func (q *vmQueue) has(pc uint32) bool {
	i := q.sparse[pc]
	return int(i) < len(q.dense) && q.dense[i].pc == pc
}

func (q *vmQueue) insert(t vmThread) {
	q.sparse[t.pc] = uint32(len(q.dense))
	q.dense = append(q.dense, t)
}

type vmMachine struct {
	v      *wordVM
	q0, q1 vmQueue
}

func (v *wordVM) machine() *vmMachine {
	if m, ok := v.pool.Get().(*vmMachine); ok {
		return m
	}
	n := len(v.prog)
	return &vmMachine{
		v:  v,
		q0: vmQueue{sparse: make([]uint32, n), dense: make([]vmThread, 0, n)},
		q1: vmQueue{sparse: make([]uint32, n), dense: make([]vmThread, 0, n)},
	}
}

// add follows t from its instruction through the empty-width ones, with
// the conditions cond that hold at its position.
func (m *vmMachine) add(q *vmQueue, t vmThread, cond uint8) {
	prog := m.v.prog
	for {
		if q.has(t.pc) {
			return
		}
		q.insert(t)
		in := &prog[t.pc]
		switch in.op {
		case vmSplit:
			m.add(q, vmThread{pc: in.out, start: t.start, startW: t.startW}, cond)
			t.pc = in.arg
		case vmEmpty:
			if uint8(in.arg)&^cond != 0 {
				return
			}
			t.pc = in.out
		case vmNop:
			t.pc = in.out
		default:
			return
		}
	}
}

// vmInput is text read one rune at a time: the rune and its width, or
// -1 and 0 at its end.
type vmInput interface {
	next() (rune, int)
}

// bytesInput reads a slice as RE2 does: a rune of UTF-8, or one byte of
// an invalid sequence as utf8.RuneError.
type bytesInput struct {
	b []byte
	i int
}

func (in *bytesInput) next() (rune, int) {
	if in.i >= len(in.b) {
		return -1, 0
	}
	c := in.b[in.i]
	if c < utf8.RuneSelf {
		in.i++
		return rune(c), 1
	}
	r, w := utf8.DecodeRune(in.b[in.i:])
	in.i += w
	return r, w
}

type readerInput struct{ rd io.RuneReader }

func (in readerInput) next() (rune, int) {
	r, w, err := in.rd.ReadRune()
	if err != nil {
		return -1, 0
	}
	return r, w
}

// run searches in, which starts at offset pos after the rune r1 (-1:
// none), for the leftmost-longest match, or only for whether there is
// one (any). It returns the match's bounds and the width of the rune at
// its start.
func (m *vmMachine) run(in vmInput, pos int, r1 rune, any bool) (s, e, sw int, ok bool) {
	prog := m.v.prog
	clist, nlist := &m.q0, &m.q1
	clist.dense, nlist.dense = clist.dense[:0], nlist.dense[:0]
	r, w := in.next()
	r2, w2 := rune(-1), 0
	if r >= 0 {
		r2, w2 = in.next()
	}
	s, e = -1, -1
	for {
		if !ok {
			m.add(clist, vmThread{pc: m.v.start, start: pos, startW: w}, emptyCtx(r1, r))
		}
		if len(clist.dense) == 0 && ok {
			break
		}
		var cond uint8
		if r >= 0 {
			cond = emptyCtx(r, r2)
		}
		for _, t := range clist.dense {
			if ok && t.start > s {
				continue // a later start than the match found
			}
			in := &prog[t.pc]
			switch in.op {
			case vmMatch:
				if any {
					return t.start, pos, t.startW, true
				}
				if !ok || pos > e {
					s, e, sw, ok = t.start, pos, t.startW, true
				}
			case vmRune:
				if r >= 0 && in.matches(r) {
					m.add(nlist, vmThread{pc: in.out, start: t.start, startW: t.startW}, cond)
				}
			}
		}
		if r < 0 {
			break
		}
		pos += w
		r1, r, w = r, r2, w2
		if r >= 0 {
			r2, w2 = in.next()
		} else {
			r2, w2 = -1, 0
		}
		clist, nlist = nlist, clist
		nlist.dense = nlist.dense[:0]
	}
	return s, e, sw, ok
}

// search runs a machine over in.
func (v *wordVM) search(in vmInput, pos int, r1 rune, any bool) (s, e, sw int, ok bool) {
	m := v.machine()
	s, e, sw, ok = m.run(in, pos, r1, any)
	v.pool.Put(m)
	return s, e, sw, ok
}

// find is the leftmost-longest match in b at or after pos, seen in b.
func (v *wordVM) find(b []byte, pos int) (s, e, sw int, ok bool) {
	r1 := rune(-1)
	if pos > 0 {
		r1, _ = utf8.DecodeLastRune(b[:pos])
	}
	return v.search(&bytesInput{b: b, i: pos}, pos, r1, false)
}

func (v *wordVM) loc(s, e, sw int, ok bool) []int {
	switch {
	case !ok:
		return nil
	case v.ctx:
		return []int{s, e, s + sw, e}
	}
	return []int{s, e}
}

func (v *wordVM) Match(b []byte) bool {
	_, _, _, ok := v.search(&bytesInput{b: b}, 0, -1, true)
	return ok
}

func (v *wordVM) MatchReader(r io.RuneReader) bool {
	_, _, _, ok := v.search(readerInput{r}, 0, -1, true)
	return ok
}

func (v *wordVM) FindIndex(b []byte) []int {
	s, e, _, ok := v.find(b, 0)
	if !ok {
		return nil
	}
	return []int{s, e}
}

func (v *wordVM) FindReaderIndex(r io.RuneReader) []int {
	s, e, _, ok := v.search(readerInput{r}, 0, -1, false)
	if !ok {
		return nil
	}
	return []int{s, e}
}

func (v *wordVM) FindSubmatchIndex(b []byte) []int { return v.loc(v.find(b, 0)) }

func (v *wordVM) FindReaderSubmatchIndex(r io.RuneReader) []int {
	return v.loc(v.search(readerInput{r}, 0, -1, false))
}

// FindAllIndex is regexp's: successive matches, each searched for from
// the end of the last (one rune on after an empty one), an empty match
// right after the last one left out.
func (v *wordVM) FindAllIndex(b []byte, n int) [][]int {
	var out [][]int
	prevEnd := -1
	for pos := 0; pos <= len(b) && (n < 0 || len(out) < n); {
		s, e, _, ok := v.find(b, pos)
		if !ok {
			break
		}
		accept := true
		if e == pos {
			if s == prevEnd {
				accept = false
			}
			if _, w := utf8.DecodeRune(b[pos:]); w > 0 {
				pos += w
			} else {
				pos = len(b) + 1
			}
		} else {
			pos = e
		}
		prevEnd = e
		if accept {
			out = append(out, []int{s, e})
		}
	}
	return out
}
