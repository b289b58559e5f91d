package grep

import (
	"bytes"
	"context"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/halfclose/halfclose/compute"
)

// grepBlock is GNU grep's first read size (blocks.go models the others).
const grepBlock = 96 << 10

// grepBufSize is the input buffer: a multiple of grepBlock.
const grepBufSize = 12 * grepBlock

// Each job takes its input buffer and output writer from these pools and
// gives them back when it returns: a new 1.2 MiB buffer per job (zeroed,
// faulted in, collected) cost a small job 20 times its search (1 KiB of
// input: 435–1700 µs against 50 µs for sha256sum). Nothing of them
// outlives Run: lines kept (context, -o) are copies.
var (
	bufPool = sync.Pool{New: func() any { b := make([]byte, grepBufSize); return &b }}
	outPool = sync.Pool{New: func() any { return newOutBuf() }}
)

// grepRun is the state of one grep over one input.
type grepRun struct {
	ctx     context.Context
	stop    *atomic.Bool // ctx is done
	in      *interrupt   // set while a long line is searched through slow
	slow    interrupt
	g       *grepStage
	w       *outBuf
	lineNo  int64 // lines before the text being processed
	matched int64 // selected lines so far
	// some: a line was selected where matched is not kept (-v's run of
	// lines written whole)
	some    bool
	done    bool // -m reached
	wide    bool // the current text is widened: decode before output
	scratch []byte
	num     []byte
	next    []int   // findLine's cache
	low     []byte  // the text lower-cased, for a fold prefilter
	lowLine []byte  // a line lower-cased, for -o
	set     *litSet // the prefilter, once chosen
	chosen  bool
	// cx is the context output (context.go), nil without -A, -B, -C.
	cx     *ctxRun
	ctxErr error // what failed holding the before-context
	sep    byte  // ':' after the name and number, '-' on context lines
	frame  textFrame
	// lit is what processLit does with the lines selected (litNone:
	// process runs).
	lit litMode
	// finds are, for each literal searched for in text that is not
	// widened (m.lit, or set's lits, lower-cased for a fold set without
	// finders), how it is searched for (planFinder); nil: none.
	finds []litFinder
}

// choose picks, on the first text, the prefilter whose literals occur
// least often in a sample of it.
func (r *grepRun) choose(text []byte) *litSet {
	m := r.g.m
	if r.chosen {
		return r.set
	}
	r.chosen = true
	sample := text[:min(len(text), 256<<10)]
	if m.isLit {
		if !r.wide {
			r.finds = []litFinder{planFinder(m.lit, sample, histogram(sample))}
		}
		return nil
	}
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
		if !r.wide {
			hay := sample
			if r.set.fold {
				hay = low
			}
			h := histogram(hay)
			for i, l := range r.set.lits {
				if r.set.finders != nil {
					r.finds = append(r.finds, planFoldFinder(l, hay, h, r.set.finders[i]))
				} else {
					r.finds = append(r.finds, planFinder(l, hay, h))
				}
			}
		}
	}
	return r.set
}

// histogram counts each byte value of b.
func histogram(b []byte) *[256]int {
	var h [256]int
	for _, c := range b {
		h[c]++
	}
	return &h
}

// anchorOf returns the offset in lit of its byte that is rarest by h,
// when it is much rarer than lit[0] (which bytes.Index searches for),
// else 0.
func anchorOf(lit []byte, h *[256]int) int {
	k := 0
	for i, c := range lit {
		if h[c] < h[lit[k]] {
			k = i
		}
	}
	if 3*h[lit[k]] >= 2*h[lit[0]] {
		return 0
	}
	return k
}

// indexAnchored is bytes.Index(hay, lit), led by lit[k]: the candidates
// are where IndexByte finds that byte (bytes.Index looks for lit[0]).
// When the anchor turns out frequent, the rest is bytes.Index's.
func indexAnchored(hay, lit []byte, k int) int {
	n := len(lit)
	if k == 0 || len(hay) < n {
		return bytes.Index(hay, lit)
	}
	c := lit[k]
	end := len(hay) - n + k + 1 // the anchor lies before end
	fails := 0
	for p := k; p < end; {
		j := bytes.IndexByte(hay[p:end], c)
		if j < 0 {
			return -1
		}
		p += j
		if s := p - k; bytes.Equal(hay[s:s+n], lit) {
			return s
		}
		p++
		if fails++; fails > 16 && fails > (p-k)>>4 {
			// more than one candidate in 16 bytes: bytes.Index's
			// brute force is faster
			if i := bytes.Index(hay[p-k:], lit); i >= 0 {
				return p - k + i
			}
			return -1
		}
	}
	return -1
}

// Run selects lines from in.
func (g *grepStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	done, release := compute.DoneFlag(ctx)
	defer release()
	w := outPool.Get().(*outBuf)
	w.reset(out)
	defer func() { w.reset(nil); outPool.Put(w) }()
	r := &grepRun{ctx: ctx, stop: done, g: g, w: w, sep: ':'}
	for _, line := range g.warnings {
		compute.Diagnose(ctx, "grep: "+line)
	}
	if g.silent {
		compute.SetExitStatus(ctx, 1)
		return nil
	}
	if !g.count && (g.before >= 0 || g.after >= 0) {
		r.cx = newCtxRun(g)
		defer r.cx.ring.close()
	}
	r.lit = litModeOf(g, r.cx != nil)
	if g.maxCount == 0 {
		// GNU stops before reading: no output, even with -c; -L still
		// names every input.
		if g.list == 'L' {
			for range g.inputs {
				r.end(0)
			}
		}
		return r.finish()
	}
	r.slow = interrupt{stop: done, every: max(1, readerCheckWork/g.m.insts)}
	// The buffer holds a line of lineLimit bytes and the rest of the
	// block it ends in (and the block before, when the line does not
	// start on a block boundary), and one of GNU's reads after a line
	// of lineLimit bytes, or what it must know of the input to tell
	// that read's size (gnuReads.lookahead: half as much again as GNU's
	// buffer, which grows only when such a line fills it), and grows to
	// that at most.
	maxBuf := max((g.lineLimit/grepBlock+3)*grepBlock, (g.lineLimit+2*gnuPage+gnuWord)*3/2+grepBlock)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	size := min(grepBufSize, maxBuf)
	buf := (*bp)[:size:size]
	n := 0           // bytes held in buf
	var off int64    // input offset of buf[0]
	nul := int64(-1) // offset of the first NUL, in non-count mode
	// Where GNU's reads end matters where it looks for NULs: reads
	// models them (its read ending at reads.end); the input before
	// clean has no NUL (the lines that end there may be printed).
	blocks := g.binary != binText && (!g.count || g.binary == binWithout)
	reads := newGNUReads()
	var clean int64
	proc := int64(0) // the input before proc is processed, from off on kept
	// kept: with -B, GNU keeps in its buffer, before the partial line,
	// up to -B lines not printed yet (and not from before the buffer),
	// which shortens its next read. They are kept here too, and lines
	// processed read by read to know which were printed. (Not where the
	// kept bytes would come to more than a line of lineLimit: the
	// buffer's bounds above hold for that at most.)
	var kept func(lineEnd, partial int64) (int64, error)
	if blocks && r.cx != nil && g.before > 0 {
		kept = func(lineEnd, partial int64) (int64, error) {
			if lineEnd > proc {
				if err := r.processAll(buf[proc-off:lineEnd-off], proc); err != nil {
					return 0, err
				}
				proc = lineEnd
			}
			low := int(max(reads.beg, off) - off)
			from := int(lineEnd - off)
			if k := min(g.before, r.cx.ring.lines); int64(bytes.Count(buf[low:from], []byte{'\n'})) <= k {
				from = low // all of GNU's buffer (one count, not a walk)
			} else {
				for ; k > 0; k-- {
					from = low + bytes.LastIndexByte(buf[low:from-1], '\n') + 1
				}
			}
			if b := lineEnd - off - int64(from); b+partial <= int64(g.lineLimit) {
				return b, nil
			}
			return 0, nil
		}
	}
	eof := false
	binMatches := false // a line was selected from the NUL's block on
	for !eof && !r.done {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n == len(buf) { // a line longer than the buffer
			if len(buf) >= maxBuf {
				return compute.LineTooLong("grep", g.lineLimit)
			}
			// to the most at once: one copy, not a doubling series
			nb := make([]byte, maxBuf)
			copy(nb, buf[:n])
			buf = nb
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
		if g.nul {
			swapNL(buf[start:n])
		}
		switch {
		case g.binary == binText:
		case g.count && g.binary == binBinary:
			// GNU zaps NULs to newlines; a run of them a byte at a
			// time (one IndexByte a NUL cost 256 MiB of NULs 1.9 s)
			for i := start; i < n; {
				j := bytes.IndexByte(buf[i:n], 0)
				if j < 0 {
					break
				}
				for i += j; i < n && buf[i] == 0; i++ {
					buf[i] = '\n'
				}
			}
		case nul < 0:
			if j := bytes.IndexByte(buf[start:n], 0); j >= 0 {
				nul = off + int64(start+j)
			}
		}
		// The text to process: complete lines whose fate is known.
		lim := n
		binary := false
		switch {
		case blocks:
			limit := off + int64(n)
			if nul >= 0 {
				limit = nul
			}
			known, err := advanceReads(&reads, &clean, buf[:n], off, limit, eof, kept)
			if err != nil {
				return err
			}
			binary = nul >= 0 && known
			if !eof || binary {
				lim = bytes.LastIndexByte(buf[:clean-off], '\n') + 1
			}
		case !eof:
			lim = bytes.LastIndexByte(buf[:n], '\n') + 1
		}
		if p := int(proc - off); lim > p {
			if err := r.processAll(buf[p:lim], proc); err != nil {
				return err
			}
			proc = off + int64(lim)
		}
		if binary {
			// GNU prints nothing more once it has seen a NUL; with -I,
			// unless it stopped before (-m, -l, -q), the input selected
			// no line.
			if g.binary == binWithout && !r.done {
				r.matched, r.some = 0, false
			}
			if r.cx != nil && r.cx.pending > 0 && g.binary == binBinary && !r.done {
				if err := r.binaryTail(in, buf[lim:n], off+int64(lim), &reads, eof); err != nil {
					return err
				}
			}
			// -m reached, after-context pending: GNU counts no line more
			final := r.cx != nil && r.cx.final
			if g.binary == binBinary && !r.done && !final {
				// GNU goes on quietly, its NULs line ends, up to the
				// first selected line: its exit status says whether
				// there was one, and it then writes "binary file
				// matches" on standard error. (Not with -c, -l, -L or
				// -q, which read no input as binary.)
				rest := io.MultiReader(bytes.NewReader(buf[lim:n]), in)
				if eof {
					rest = bytes.NewReader(buf[lim:n])
				}
				sel, err := g.selectsAny(ctx, rest)
				if err != nil {
					return err
				}
				r.some = r.some || sel
				binMatches = sel
			}
			break
		}
		cut := lim
		if kept != nil {
			cut = min(cut, int(reads.beg-off)) // what GNU keeps
		}
		copy(buf, buf[cut:n])
		n -= cut
		off += int64(cut)
		if err := r.w.flushRead(); err != nil {
			return err
		}
	}
	r.end(r.matched)
	if binMatches {
		compute.Diagnose(ctx, "grep: "+g.label+": binary file matches")
	}
	// Every further "-" reads the stdin that has already ended.
	for range g.inputs - 1 {
		r.end(0)
	}
	return r.finish()
}

// selectsAny reports whether g selects a line of in, read as GNU reads
// what follows a NUL: its NULs end lines, nothing is printed, and the
// search stops at the first line selected.
func (g *grepStage) selectsAny(ctx context.Context, in io.Reader) (bool, error) {
	q := *g
	q.count, q.showCount, q.firstOnly, q.list = true, false, true, 0
	q.only, q.lineNL, q.withName, q.byteOff, q.tab = false, false, false, false, false
	q.before, q.after, q.inputs, q.maxCount = -1, -1, 1, -1
	q.warnings = nil // reported by g's run
	var st compute.ExitStatus
	if err := q.Run(compute.WithExitStatus(ctx, &st), in, io.Discard); err != nil {
		return false, err
	}
	return st.Get() == 0, nil
}

// finish flushes the output and reports GNU's exit status: 0 when a line
// was selected, else 1 (with -L too: GNU 3.8's status follows the lines,
// not the names listed).
func (r *grepRun) finish() error {
	if err := r.w.Flush(); err != nil {
		return err
	}
	if r.matched == 0 && !r.some {
		compute.SetExitStatus(r.ctx, 1)
	}
	return nil
}

// processAll is process over text in pieces of at most matchWork, with a
// look at ctx between pieces; a line longer than that is a piece of its
// own, searched through r.slow. It fails on a line longer than lineLimit
// once the lines before it are processed, unless they ended the search
// (-m reached, -q, -l): GNU reads no further then, so the long line is
// none of its business, wherever the read that brought it ended. (It
// failed before processing any of text: over `x`, then a line of 1 MiB
// and one byte, `grep -m1 x` failed when the long line came in the same
// read buffer as `x` and printed `x` when it came later.)
func (r *grepRun) processAll(text []byte, base int64) error {
	long := firstLongLine(text, r.g.lineLimit)
	if err := r.processPieces(text[:long], base); err != nil {
		return err
	}
	if long < len(text) && !r.done {
		return compute.LineTooLong("grep", r.g.lineLimit)
	}
	return nil
}

// processPieces is processAll over text without a line longer than
// lineLimit.
func (r *grepRun) processPieces(text []byte, base int64) error {
	for len(text) > 0 && !r.done {
		if r.stop.Load() {
			return r.ctx.Err()
		}
		end, slow := r.g.m.nextPiece(text)
		r.in = nil
		if slow {
			r.in = &r.slow
		}
		r.frame.base = base
		r.process(text[:end])
		base += int64(end)
		if r.slow.hit {
			return r.ctx.Err()
		}
		if r.ctxErr != nil {
			return r.ctxErr
		}
		text = text[end:]
	}
	return nil
}

// firstLongLine returns where the first line of text longer than limit
// bytes (its newline not counted) starts, or len(text) when there is
// none: the start of the first window of limit+1 bytes without a
// newline.
func firstLongLine(text []byte, limit int) int {
	at := 0
	for len(text)-at > limit {
		i := bytes.LastIndexByte(text[at:at+limit+1], '\n')
		if i < 0 {
			return at
		}
		at += i + 1
	}
	return len(text)
}

// process handles text: whole lines, the last one possibly unterminated
// (end of input).
func (r *grepRun) process(text []byte) {
	m := r.g.m
	r.wide = false
	if m.every && r.cx == nil && r.processEvery(text) {
		return
	}
	if m.wide && !m.isLit && (m.seq == nil || r.g.only) && hasHigh(text) {
		r.scratch = widen(r.scratch, text)
		text, r.wide = r.scratch, true
	}
	// The reader search of a long line decodes what it reads as the text
	// is: a widened byte is one rune of two bytes, not two runes.
	r.slow.wide = r.wide
	r.frame.tcap, r.frame.wtext = cap(text), nil
	if r.wide {
		r.frame.wtext, r.frame.mw, r.frame.mo = text, 0, 0
	}
	set := r.choose(text)
	hay := text // where set's literals are searched for
	var lits [][]byte
	var finders []*foldFinder // set's fold literals, searched for in text
	if set != nil {
		lits, finders = set.lits, set.finders
		if r.wide {
			lits, finders = set.wide, set.wfinders
		}
		if set.fold && finders == nil {
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
	if r.lit != litNone && r.finds != nil {
		r.processLit(text, end, &r.finds[0])
		return
	}
	// Plain output: selected lines as they are, without prefixes; a run of
	// them that are adjacent in text is written at once, text[runS:runE].
	plain := !r.wide && !r.g.invert && !r.g.count && !r.g.only && !r.g.lineNum && !r.g.withName && r.g.maxCount < 0 && !r.g.firstOnly && r.cx == nil && !r.g.byteOff
	runS, runE := 0, 0
	// noStart: only the count of matching lines is wanted, not where
	// they start (-c, -l, -L, -q)
	noStart := r.g.count && !r.g.invert && !r.g.lineNum
	defer func() {
		if runE > runS {
			r.writeText(text[runS:runE])
			if text[runE-1] != '\n' { // the input's last line, unterminated
				r.w.WriteByte(r.g.eol)
			}
		}
	}()
	pos := 0
	for pos < len(text) && !r.done {
		seq := m.seq
		if r.wide {
			seq = nil
		}
		var finds []litFinder
		if !r.wide {
			finds = r.finds
		}
		ls, le := m.findLine(text[:end], hay[:end], pos, set, lits, finders, finds, r.next, seq, r.in, noStart)
		if r.in != nil && r.in.hit {
			return
		}
		if ls < 0 {
			r.region(text, pos, len(text))
			return
		}
		r.region(text, pos, ls)
		if r.done {
			return
		}
		r.lineNo++
		switch {
		case plain:
			r.matched++
			if ls != runE {
				if runE > runS {
					r.writeText(text[runS:runE])
				}
				runS = ls
			}
			runE = min(le+1, len(text))
		case r.cx != nil:
			r.ctxLine(text[ls:le], !r.g.invert, true)
		case !r.g.invert:
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
	if r.cx != nil {
		r.ctxRegion(seg)
		return
	}
	if !g.invert || g.noInvert {
		if g.lineNum {
			r.lineNo += countLines(seg)
		}
		return
	}
	if !g.lineNum && !g.only && g.maxCount < 0 && !g.firstOnly && !g.withName && !g.byteOff {
		if g.count {
			r.matched += countLines(seg)
			return
		}
		// r.matched is not kept: without -c, -m, -l, -L or -q only the
		// exit status reads it
		r.some = true
		r.write(seg)
		if seg[len(seg)-1] != '\n' {
			r.w.WriteByte(g.eol)
		}
		return
	}
	for len(seg) > 0 && !r.done {
		var line []byte
		line, seg = cutLine(seg)
		r.lineNo++
		r.selected(line)
	}
}

// countLines returns the number of lines in seg (not empty), its last
// one counted whether or not a newline ends it.
func countLines(seg []byte) int64 {
	n := int64(bytes.Count(seg, []byte{'\n'}))
	if seg[len(seg)-1] != '\n' {
		n++
	}
	return n
}

// cutLine returns the first line of seg, without its newline, and the
// lines after it (nil after the last).
func cutLine(seg []byte) (line, rest []byte) {
	if i := bytes.IndexByte(seg, '\n'); i >= 0 {
		return seg[:i], seg[i+1:]
	}
	return seg, nil
}

// findLine returns the bounds of the first line of text at or after pos
// that matches, or -1. hay is text, or text lower-cased for a fold set
// searched without finders. finders, if not nil, search for lits (a fold
// set's) in text as it is; finds, if not nil, search for m.lit or lits
// instead (planFinder, planFoldFinder).
// next caches, per literal of lits (set's, in hay), where it next occurs
// (-1: unknown, math.MaxInt: nowhere). noStart: the caller needs only
// where the line ends, ls may then be any position within it.
// seq, if not nil, is m.seq, usable on text. in, if not nil, is how the
// regexps search (interrupt.go).
func (m *grepMatcher) findLine(text, hay []byte, pos int, set *litSet, lits [][]byte, finders []*foldFinder, finds []litFinder, next []int, seq *seqMatcher, in *interrupt, noStart bool) (ls, le int) {
	for pos <= len(text) {
		var s int
		switch {
		case m.every:
			s = 0 // the line at pos matches (every.go)
		case m.isLit:
			if finds != nil {
				s = finds[0].index(text[pos:], m.lit)
			} else {
				s = bytes.Index(text[pos:], m.lit)
			}
		case set != nil:
			s = math.MaxInt
			for i, l := range lits {
				if next[i] < pos {
					next[i] = math.MaxInt
					var j int
					if finds != nil {
						j = finds[i].index(hay[pos:], l)
					} else if finders != nil {
						j = finders[i].index(hay[pos:])
					} else {
						j = bytes.Index(hay[pos:], l)
					}
					if j >= 0 {
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
		case m.kw != nil:
			if s = m.kw.find(text, pos, in); s >= 0 {
				s -= pos
			}
		default:
			s = m.findWindowed(text, pos, in)
		}
		if s < 0 {
			return -1, -1
		}
		s += pos
		exact := m.isLit || set == nil || set.exact // the line matches
		if noStart && exact && m.sup == nil {
			ls = s
		} else {
			ls = pos + lastNewline(text[pos:s]) + 1 // text[pos] starts a line
		}
		le = bytes.IndexByte(text[s:], '\n')
		if le < 0 {
			le = len(text)
		} else {
			le += s
		}
		// m.sup == nil is tested here, inline: a call of supMatch per selected
		// line cost grep -c INFO 5 % of its CPU (docs/operations.md).
		if (exact || seq != nil && seq.matchLine(text[ls:le]) || seq == nil && m.lineMatch(text[ls:le], in)) && (m.sup == nil || m.supMatch(text[ls:le], in)) {
			return ls, le
		}
		if in != nil && in.hit {
			return -1, -1
		}
		pos = le + 1
	}
	return -1, -1
}

// end writes what an input gives once read: its count (-c) or its name
// (-l, -L), given the lines it selected.
func (r *grepRun) end(matched int64) {
	g := r.g
	if g.showCount {
		if g.withName {
			r.w.WriteString(g.label)
			r.w.WriteByte(nameEnd(g.nullName, ':'))
		}
		if g.maxCount >= 0 {
			matched = min(matched, g.maxCount)
		}
		r.w.WriteString(strconv.FormatInt(matched, 10))
		r.w.WriteByte('\n')
	}
	if g.list == 'l' && matched > 0 || g.list == 'L' && matched == 0 {
		r.w.WriteString(g.label)
		r.w.WriteByte(nameEnd(g.nullName, '\n'))
	}
}

// nameEnd is what follows the input's name: c, or a NUL under -Z.
func nameEnd(null bool, c byte) byte {
	if null {
		return 0
	}
	return c
}
