package grep

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"slices"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/spool"
)

// Context output (-A, -B, -C, -NUM) follows GNU grep 3.8's prtext and
// prpending, line by line rather than over its buffer:
//
//   - a selected line is printed with ':' after its name and number, a
//     line of context with '-';
//   - up to -B lines not printed yet are printed before a selected line,
//     and the -A lines after one as they come;
//   - once either count is given (-A 0 too), the group separator is
//     printed before a line that does not follow the last line printed,
//     unless nothing was printed yet;
//   - after the -m-th selected line, the next -A lines are context,
//     whether they match or not;
//   - -o prints nothing of a line of context, but separators are printed
//     and the line counts as printed; with -v the lines of context are
//     the matching ones, and -o prints their matches, with '-';
//   - -c, -l, -L and -q print no line: context is ignored.
//
// It runs only when context was asked for (grepRun.cx): the paths without
// it do not look at it but for a nil test per line selected.

// ctxRun is the state of context output over one input.
type ctxRun struct {
	after   int64 // -A: lines to print after a selected line
	pending int64 // lines of after-context still to print
	ring    beforeRing
	sep     []byte // the group separator and its newline, or nil
	used    bool   // a selected line was printed (GNU's used)
	// final: -m was reached; the lines left to print are after-context.
	final bool
	wbuf  []byte // a line of the ring widened, for -o -v
}

func newCtxRun(g *grepStage) *ctxRun {
	c := &ctxRun{after: max(g.after, 0), sep: g.groupSep}
	c.ring = beforeRing{n: max(g.before, 0), keep: !g.only || g.invert, spool: g.spool, memMax: ringMem(g.spool.Mem(), g.lineLimit), lineLimit: g.lineLimit}
	return c
}

// ringMem is the memory the before-context may hold before it spills:
// the spool's memory less the line that may come over it, so that a
// stage holds no more than a spilling one (compute/engine.JobMemory), but
// at least 64 KiB, so that its batches are not many (one record each).
func ringMem(spoolMem int64, lineLimit int) int {
	return int(min(max(spoolMem-int64(lineLimit), 64<<10), 1<<30))
}

// ctxRegion is region with context: seg's lines, none of which matches,
// one by one.
func (r *grepRun) ctxRegion(seg []byte) {
	sel := r.g.invert && !r.g.noInvert
	skipped := sel // tried skipToBefore: once a region is enough
	for len(seg) > 0 && !r.done {
		if !skipped && !r.cx.final && r.cx.pending == 0 {
			skipped = true
			if seg = r.skipToBefore(seg); len(seg) == 0 {
				return
			}
		}
		var line []byte
		line, seg = cutLine(seg)
		r.lineNo++
		r.ctxLine(line, sel, false)
		if r.ctxErr != nil {
			return
		}
	}
}

// skipToBefore passes over the lines of seg (not selected, no context
// pending) that are more than -B lines before its end: only the last -B
// of them can be printed. It returns the rest.
func (r *grepRun) skipToBefore(seg []byte) []byte {
	b := &r.cx.ring
	if b.n == 0 {
		r.lineNo += countLines(seg)
		b.dropped = true
		return nil
	}
	start := len(seg) // where the last b.n lines start
	if seg[start-1] == '\n' {
		start--
	}
	for k := int64(0); k < b.n && start > 0; k++ {
		start = bytes.LastIndexByte(seg[:start], '\n')
		if start < 0 {
			return seg // seg has at most b.n lines
		}
	}
	if start == 0 {
		return seg
	}
	// seg[:start+1] ends a line; with the lines after it, more than b.n
	// follow what the ring holds: it is emptied and those lines skipped.
	r.lineNo += int64(bytes.Count(seg[:start+1], []byte{'\n'}))
	b.reset()
	b.dropped = true
	return seg[start+1:]
}

// ctxLine handles one line (r.lineNo is its number): selected or not,
// and whether it matches the patterns.
func (r *grepRun) ctxLine(line []byte, sel, matched bool) {
	c := r.cx
	switch {
	case c.final:
		if c.pending > 0 {
			r.contextLine(line, matched)
			c.pending--
		}
		if c.pending == 0 {
			r.done = true
		}
	case sel:
		r.flushBefore()
		r.selected(line)
		c.used = true
		c.pending = c.after
		if r.done && c.pending > 0 {
			// -m reached: the next -A lines are printed as context.
			r.done, c.final = false, true
		}
	case c.pending > 0:
		r.contextLine(line, matched)
		c.pending--
	default:
		var off int64
		if r.g.byteOff {
			off = r.offOf(line)
		}
		if err := c.ring.push(line, r.wide, off); err != nil {
			r.ctxErr, r.done = err, true
		}
	}
}

// flushBefore prints, before a selected line, the group separator if the
// output is not adjacent to what was printed before, and the lines of
// before-context held.
func (r *grepRun) flushBefore() {
	c := r.cx
	if c.ring.dropped && c.used && c.sep != nil {
		r.w.Write(c.sep)
	}
	if c.ring.lines == 0 || !c.ring.keep {
		c.ring.reset()
		return
	}
	no := r.lineNo
	r.lineNo -= c.ring.lines + 1
	err := c.ring.each(r.ctx, func(line []byte, off int64) {
		r.lineNo++
		// the ring holds lines not selected: with -v, matching ones
		r.contextRaw(line, r.g.invert, off)
	})
	r.lineNo = no
	c.ring.reset()
	if err != nil {
		r.ctxErr, r.done = err, true
	}
}

// contextRaw is contextLine of a line as the input has it (not widened),
// which starts at input offset off.
func (r *grepRun) contextRaw(line []byte, matched bool, off int64) {
	m, wide, frame := r.g.m, r.wide, r.frame
	r.wide = false
	r.frame = textFrame{tcap: cap(line), base: off}
	if r.g.only && m.wide && !m.isLit && hasHigh(line) {
		r.cx.wbuf = widen(r.cx.wbuf, line)
		line, r.wide = r.cx.wbuf, true
		r.frame = textFrame{tcap: cap(line), base: off, wtext: line}
	}
	r.slow.wide = r.wide
	r.contextLine(line, matched)
	r.wide, r.frame, r.slow.wide = wide, frame, wide
}

// lineMatches reports whether a line as the input has it matches.
func (r *grepRun) lineMatches(line []byte) bool {
	m := r.g.m
	wide := r.slow.wide
	r.slow.wide = m.wide && hasHigh(line)
	if r.slow.wide {
		r.cx.wbuf = widen(r.cx.wbuf, line)
		line = r.cx.wbuf
	}
	ok := m.lineMatch(line, r.in) && m.supMatch(line, r.in)
	r.slow.wide = wide
	return ok
}

// readTo reads from in onto data until it holds want bytes or in ends
// (eof, also when it had ended before).
func readTo(in io.Reader, data []byte, want int, eof bool) ([]byte, bool, error) {
	if eof || len(data) >= want {
		return data, eof, nil
	}
	data = slices.Grow(data, want-len(data))
	for len(data) < want {
		k, err := in.Read(data[len(data):want])
		data = data[:len(data)+k]
		if err == io.EOF {
			return data, true, nil
		} else if err != nil {
			return data, false, err
		}
	}
	return data, false, nil
}

// binaryTail is GNU's output once it has met the read with the first
// NUL (start of data: its offset, the first byte after the last line
// processed; reads: GNU's reads, at the one with the NUL) while
// after-context is pending: nothing more is selected, but from each
// buffer GNU reads next (what the last one left, then a read) in which
// no line would be selected, it prints the pending lines, its NULs made
// newlines. A buffer with a line it would select ends the output. Past
// -m no line is selected and the pending lines are printed whatever
// they hold.
func (r *grepRun) binaryTail(in io.Reader, data []byte, start int64, reads *gnuReads, eof bool) error {
	c := r.cx
	data = append([]byte(nil), data...)
	for c.pending > 0 {
		if err := r.ctx.Err(); err != nil {
			return err // one look a read: the input may not end
		}
		end := reads.end
		var err error
		if data, eof, err = readTo(in, data, int(end-start), eof); err != nil {
			return err
		}
		b := data[:min(len(data), int(end-start))] // GNU's buffer
		for i := bytes.IndexByte(b, 0); i >= 0; i = bytes.IndexByte(b, 0) {
			b[i] = '\n'
		}
		lim := bytes.LastIndexByte(b, '\n') + 1
		if lim == 0 && len(b) > r.g.lineLimit {
			return compute.LineTooLong("grep", r.g.lineLimit)
		}
		if r.binaryBuffer(b[:lim], start) {
			return nil
		}
		last := eof && len(b) == len(data)
		data, start = data[lim:], start+int64(lim)
		save := end - start // the partial line GNU keeps
		// GNU's buffer grows: by how much depends on the input left
		if data, eof, err = readTo(in, data, int(save+reads.lookahead(save)), eof); err != nil {
			return err
		}
		reads.next(save, int64(len(data))-save)
		if last {
			// GNU reads the end, then the last line without its newline
			if len(data) > 0 {
				r.binaryBuffer(data, start)
			}
			return nil
		}
	}
	return nil
}

// binaryBuffer is binaryTail over the lines of one of GNU's buffers: it
// reports whether the output has ended.
func (r *grepRun) binaryBuffer(text []byte, base int64) bool {
	c, g := r.cx, r.g
	if !c.final {
		for p := text; len(p) > 0; {
			line, rest := cutLine(p)
			if r.lineMatches(line) != g.invert {
				c.pending = 0
				return true
			}
			p = rest
		}
	}
	for p := text; len(p) > 0 && c.pending > 0; c.pending-- {
		line, rest := cutLine(p)
		r.lineNo++
		r.contextRaw(line, g.only && g.invert && r.lineMatches(line), base+int64(len(text)-len(p)))
		p = rest
	}
	return c.pending == 0
}

// contextLine prints a line of context (r.lineNo is its number; it is
// widened when r.wide is set); matched: it matches the patterns.
func (r *grepRun) contextLine(line []byte, matched bool) {
	g := r.g
	r.sep = '-'
	switch {
	case !g.only:
		r.prefix(line, len(line))
		r.write(line)
		r.w.WriteByte(g.eol)
	case !g.invert:
	case g.lineNL:
		if matched && g.m.wholeO(line, r.in) || !matched && g.xo != nil && g.xo.matchesWhole(line, r.in) {
			r.prefix(line, len(line)+1)
			r.write(line)
			r.w.WriteByte(g.eol)
			r.w.WriteByte(g.eol)
		}
	case g.m.onlyLit != nil && !r.wide:
		r.literalMatches(line)
	default:
		m := g.m
		if !matched && g.xo != nil {
			m = g.xo // an -A line past -m that -x does not select
		}
		m.eachMatch(line, func(s, e int) {
			r.prefix(line[s:], e-s)
			r.write(line[s:e])
			r.w.WriteByte(g.eol)
		}, r.in, r.wide)
	}
	r.sep = ':'
}

// beforeRing holds the lines read since the last line printed, at most n
// of them (-B n), to print before the next selected line. Their bytes are
// kept in memory up to memMax; past that the older ones go, in batches, to
// a spool.Queue (a spill file charged to the disk budget), so that -B with
// a large count holds no more memory than the spool budget however far
// apart the selected lines are. A batch whose lines have all left the
// window is dropped whole; the first lines of the oldest batch that left
// it are skipped when the ring is printed.
type beforeRing struct {
	n         int64 // at most this many lines
	keep      bool  // hold the lines' bytes (-o without -v prints none)
	lines     int64 // lines held
	dropped   bool  // a line left (or never entered) since the last reset
	spool     compute.SpoolConfig
	memMax    int
	lineLimit int
	mem       []byte // the newest lines, each with its newline, from head
	head      int
	memOff    int64 // the input offset of mem[head:] (-b)
	q         *spool.Queue
	batches   []ringBatch // what q holds, oldest first
	skip      int64       // lines of batches[0] that left the window
}

// ringCheck is how many bytes of the spill file beforeRing.each reads
// back between two looks at the job's context.
const ringCheck = 256 << 10

// ringBatch is a part of beforeRing's queue: its bytes and lines, and
// the input offset of its first line (-b).
type ringBatch struct{ bytes, lines, off int64 }

// push adds a line (widened when wide) at input offset off, and drops
// the oldest past n.
func (b *beforeRing) push(line []byte, wide bool, off int64) error {
	if b.n == 0 {
		b.dropped = true
		return nil
	}
	b.lines++
	if b.keep {
		if b.head == len(b.mem) {
			b.memOff = off
		}
		if wide {
			b.mem = narrow(b.mem, line)
		} else {
			b.mem = append(b.mem, line...)
		}
		b.mem = append(b.mem, '\n')
	}
	if b.lines > b.n {
		b.dropped = true
		b.lines--
		if err := b.dropOldest(); err != nil {
			return err
		}
	}
	if len(b.mem)-b.head > b.memMax {
		return b.spill()
	}
	if b.head > len(b.mem)/2 && b.head > 4096 {
		b.mem = b.mem[:copy(b.mem, b.mem[b.head:])]
		b.head = 0
	}
	return nil
}

func (b *beforeRing) dropOldest() error {
	if !b.keep {
		return nil
	}
	if len(b.batches) == 0 {
		n := bytes.IndexByte(b.mem[b.head:], '\n') + 1
		b.head += n
		b.memOff += int64(n)
		return nil
	}
	b.skip++
	if bt := b.batches[0]; b.skip == bt.lines {
		if _, err := io.CopyN(io.Discard, b.q, bt.bytes); err != nil {
			return err
		}
		b.batches, b.skip = b.batches[1:], 0
	}
	return nil
}

// spill moves the lines in memory to the queue, as one batch.
func (b *beforeRing) spill() error {
	if b.q == nil {
		b.q = spool.NewQueue(b.spool, 1)
	}
	held := b.mem[b.head:]
	if _, err := b.q.Write(held); err != nil {
		return err
	}
	b.batches = append(b.batches, ringBatch{bytes: int64(len(held)), lines: int64(bytes.Count(held, []byte{'\n'})), off: b.memOff})
	b.mem, b.head = b.mem[:0], 0
	if cap(b.mem) > 2*b.memMax {
		b.mem = nil
	}
	return nil
}

// each calls f with every line held, oldest first, without its newline,
// and its input offset. It stops with ctx's error once ctx is done,
// looking at it every ringCheck bytes read back from the spill file
// (what memory holds is bounded by the spool's memory).
func (b *beforeRing) each(ctx context.Context, f func(line []byte, off int64)) error {
	if len(b.batches) > 0 {
		off := b.batches[0].off
		br := bufio.NewReaderSize(b.q, 64<<10)
		var acc []byte
		check := off + ringCheck
		for skip := b.skip; ; {
			if off >= check {
				if err := ctx.Err(); err != nil {
					return err
				}
				check = off + ringCheck
			}
			part, err := br.ReadSlice('\n')
			acc = append(acc, part...)
			if err == bufio.ErrBufferFull {
				if len(acc) > b.lineLimit+1 {
					return compute.LineTooLong("grep", b.lineLimit)
				}
				continue
			}
			if err == io.EOF && len(acc) == 0 {
				break
			}
			if err != nil && err != io.EOF {
				return err
			}
			if skip > 0 {
				skip--
			} else {
				f(acc[:len(acc)-1], off)
			}
			off += int64(len(acc))
			acc = acc[:0]
		}
	}
	off := b.memOff
	for p := b.mem[b.head:]; len(p) > 0; {
		i := bytes.IndexByte(p, '\n')
		f(p[:i], off)
		off += int64(i + 1)
		p = p[i+1:]
	}
	return nil
}

// reset empties the ring.
func (b *beforeRing) reset() {
	b.lines, b.dropped = 0, false
	b.mem, b.head = b.mem[:0], 0
	if b.q != nil {
		b.q.Close()
		b.q = nil
	}
	b.batches, b.skip = b.batches[:0], 0
}

// close frees what the ring holds.
func (b *beforeRing) close() {
	if b.q != nil {
		b.q.Close()
		b.q = nil
	}
}
