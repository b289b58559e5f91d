package grep

import (
	"bytes"
	"slices"
	"strconv"
)

func (r *grepRun) write(b []byte) {
	if r.wide {
		r.num = narrow(r.num[:0], b)
		b = r.num
	}
	r.w.Write(b)
}

// prefix writes what comes before an output line or match, which starts
// where at starts: the input's name, the line number, the byte offset.
func (r *grepRun) prefix(at []byte) {
	if r.g.withName {
		r.w.WriteString(r.g.label)
		r.w.WriteByte(nameEnd(r.g.nullName, r.sep))
	}
	// The numbers are formatted in the output buffer's free space: an
	// array of their own would escape, one allocation a line.
	if r.g.lineNum {
		r.w.Write(strconv.AppendInt(r.w.AvailableBuffer(), r.lineNo, 10))
		r.w.WriteByte(r.sep)
	}
	if r.g.byteOff {
		r.w.Write(strconv.AppendInt(r.w.AvailableBuffer(), r.offOf(at), 10))
		r.w.WriteByte(r.sep)
	}
}

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
			r.prefix(line)
			r.write(line)
			r.w.WriteString("\n\n")
		}
	case g.only:
		if !g.invert && g.m.onlyLit != nil && !r.wide {
			r.literalMatches(line)
		} else if !g.invert {
			g.m.eachMatch(line, func(s, e int) {
				r.prefix(line[s:])
				r.write(line[s:e])
				r.w.WriteByte('\n')
			}, r.in, r.wide)
		}
	default:
		r.prefix(line)
		r.write(line)
		r.w.WriteByte('\n')
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
		r.prefix(line[s:])
		r.write(line[s : s+len(lit)])
		r.w.WriteByte('\n')
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
