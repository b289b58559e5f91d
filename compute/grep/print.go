package grep

import (
	"strconv"
)

func (r *grepRun) write(b []byte) {
	if r.wide {
		r.num = narrow(r.num[:0], b)
		b = r.num
	}
	r.w.Write(b)
}

func (r *grepRun) prefix() {
	if r.g.withName {
		r.w.WriteString(r.g.label)
		r.w.WriteByte(':')
	}
	if r.g.lineNum {
		var tmp [24]byte
		r.w.Write(strconv.AppendInt(tmp[:0], r.lineNo, 10))
		r.w.WriteByte(':')
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
	case g.only:
		if !g.invert {
			g.m.eachMatch(line, func(s, e int) {
				r.prefix()
				r.write(line[s:e])
				r.w.WriteByte('\n')
			}, r.in)
		}
	default:
		r.prefix()
		r.write(line)
		r.w.WriteByte('\n')
	}
}
