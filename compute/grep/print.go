package grep

import (
	"bytes"
	"slices"
	"strconv"
)

// write writes b, text of the input (widened when r.wide is set), as the
// input has it.
func (r *grepRun) write(b []byte) {
	if r.wide {
		r.num = narrow(r.num[:0], b)
		b = r.num
	}
	r.writeText(b)
}

// writeText writes b, text of the input not widened, as the input has
// it: under -z its NULs and newlines were swapped (swapNL), and are
// swapped back a piece at a time in the output buffer's free space.
func (r *grepRun) writeText(b []byte) {
	if !r.g.nul {
		r.w.Write(b)
		return
	}
	for len(b) > 0 {
		if r.w.Available() == 0 {
			if err := r.w.Flush(); err != nil {
				return // the error stays in r.w, for the final Flush
			}
		}
		k := min(len(b), r.w.Available())
		p := append(r.w.AvailableBuffer(), b[:k]...)
		swapNL(p)
		r.w.Write(p)
		b = b[k:]
	}
}

// prefix writes what comes before an output line or match, which starts
// where at starts: the input's name, the line number, the byte offset;
// under -T, numbers padded and, if there was a prefix and what follows
// is not empty (n bytes), a tab.
func (r *grepRun) prefix(at []byte, n int) {
	g := r.g
	if g.withName {
		r.w.WriteString(g.label)
		r.w.WriteByte(nameEnd(g.nullName, r.sep))
	}
	// The numbers are formatted in the output buffer's free space: an
	// array of their own would escape, one allocation a line.
	if g.lineNum {
		r.w.Write(r.padded(strconv.AppendInt(r.w.AvailableBuffer(), r.lineNo, 10)))
		r.w.WriteByte(r.sep)
	}
	if g.byteOff {
		r.w.Write(r.padded(strconv.AppendInt(r.w.AvailableBuffer(), r.offOf(at), 10)))
		r.w.WriteByte(r.sep)
	}
	if g.tab && (g.withName || g.lineNum || g.byteOff) && n > 0 {
		r.w.WriteByte('\t')
	}
}

// padded returns the digits d right-aligned to -T's width (GNU's
// "%*jd"), or d without -T.
func (r *grepRun) padded(d []byte) []byte {
	if !r.g.tab || len(d) >= r.g.numWidth {
		return d
	}
	k := r.g.numWidth - len(d)
	d = slices.Grow(d, k)[:len(d)+k]
	copy(d[k:], d)
	for i := range k {
		d[i] = ' '
	}
	return d
}

// swapNL swaps the NULs and newlines of b: -z reads its lines as
// newline-ended, and writes them back.
func swapNL(b []byte) {
	for i, c := range b {
		b[i] = nlSwap[c]
	}
}

// nlSwap maps each byte to itself, but NUL and newline to each other.
var nlSwap = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	t[0], t['\n'] = '\n', 0
	return t
}()

// selected outputs a selected line (r.lineNo is its number).
func (r *grepRun) selected(line []byte) {
	g := r.g
	r.matched++
	if g.maxCount >= 0 && r.matched >= g.maxCount || g.firstOnly {
		r.done = true
	}
	switch {
	case g.count:
	case g.only && g.lineNL:
		if !g.invert && g.m.wholeO(line, r.in) {
			r.prefix(line, len(line)+1)
			r.write(line)
			r.w.WriteByte(g.eol)
			r.w.WriteByte(g.eol)
		}
	case g.only:
		if !g.invert && g.m.onlyLit != nil && !r.wide {
			r.literalMatches(line)
		} else if !g.invert && !g.m.oEmpty {
			g.m.eachMatch(line, func(s, e int) {
				r.prefix(line[s:], e-s)
				r.write(line[s:e])
				r.w.WriteByte(g.eol)
			}, r.in, r.wide)
		}
	default:
		r.prefix(line, len(line))
		r.write(line)
		r.w.WriteByte(g.eol)
	}
}

// literalMatches outputs, as -o, the occurrences of the literal the
// pattern is (m.onlyLit) in line, left to right, each after the previous.
func (r *grepRun) literalMatches(line []byte) {
	m := r.g.m
	lit, hay := m.onlyLit, line
	if m.onlyFold && m.onlyFinder == nil {
		r.lowLine = slices.Grow(r.lowLine[:0], len(line))[:len(line)]
		lowerASCII(r.lowLine, line)
		hay = r.lowLine
	}
	for pos := 0; pos+len(lit) <= len(line); {
		var j int
		if m.onlyFinder != nil {
			j = m.onlyFinder.index(hay[pos:])
		} else {
			j = bytes.Index(hay[pos:], lit)
		}
		if j < 0 {
			return
		}
		s := pos + j
		r.prefix(line[s:], len(lit))
		r.write(line[s : s+len(lit)])
		r.w.WriteByte(r.g.eol)
		pos = s + len(lit)
	}
}

// textFrame is where the text being printed from lies in the input, for
// -b: the capacity of the slice holding it (a line or match at is at
// index tcap-cap(at) in it), the input offset of its first byte, and,
// when it is widened, its bytes and a cursor that maps its indexes back.
type textFrame struct {
	tcap   int
	base   int64
	wtext  []byte // the widened text, or nil
	mw, mo int    // an index in wtext and the input's index it maps to
}

// offOf returns the input offset of where at starts, at lying in the
// current frame's text.
func (r *grepRun) offOf(at []byte) int64 {
	f := &r.frame
	i := f.tcap - cap(at)
	if f.wtext != nil {
		if i < f.mw {
			f.mw, f.mo = 0, 0
		}
		for f.mw < i {
			if f.wtext[f.mw] >= 0xC0 { // a widened byte: two
				f.mw++
			}
			f.mw++
			f.mo++
		}
		i = f.mo
	}
	return f.base + int64(i)
}
