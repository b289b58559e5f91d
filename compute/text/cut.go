package text

import (
	"bytes"
	"context"
	"io"
	"math"
	"sort"

	"github.com/halfclose/halfclose/compute"
)

func registerCut(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    "cut",
		Summary: "print selected bytes, characters or fields of each line",
		Flags:   cutFlags,
		Build:   buildCut,
	})
}

var cutFlags = compute.WithStd(
	compute.FlagSpec{Short: 'b', Long: "bytes", Value: true, Summary: "select only these bytes"},
	compute.FlagSpec{Short: 'c', Long: "characters", Value: true, Summary: "select only these characters (bytes: C locale)"},
	compute.FlagSpec{Short: 'd', Long: "delimiter", Value: true, Summary: "use this byte instead of TAB as the field delimiter"},
	compute.FlagSpec{Short: 'f', Long: "fields", Value: true, Summary: "select only these fields"},
	compute.FlagSpec{Short: 'n', Summary: "ignored"},
	compute.FlagSpec{Short: 's', Long: "only-delimited", Summary: "do not print lines without delimiters"},
	compute.FlagSpec{Long: "complement", Summary: "complement the set of selected bytes, characters or fields"},
	compute.FlagSpec{Long: "output-delimiter", Value: true, Summary: "use this string as the output delimiter"},
	compute.FlagSpec{Short: 'z', Long: "zero-terminated", Summary: "lines end with NUL, not newline"},
)

// cutRange is an inclusive range of 1-based positions.
type cutRange struct{ lo, hi uint64 }

type cutStage struct {
	spool       compute.SpoolConfig
	fields      bool
	ranges      []cutRange // sorted, merged, ending with {MaxUint64, MaxUint64}
	delim       byte
	outDelim    []byte
	outDelimSet bool
	suppress    bool
	eol         byte
}

func buildCut(env *compute.Env, args []string) (compute.Stage, error) {
	c := &cutStage{spool: env.Spool, delim: '\t', eol: '\n'}
	var (
		list     string
		listFlag string
		delimSet bool
	)
	// Each flag is taken as it is read, as GNU's option loop does (cut
	// -d ab -Q names the delimiter, not the flag after it).
	apply := func(u compute.FlagUse) error {
		switch u.Key {
		case "b", "c", "f":
			if listFlag != "" {
				return compute.Invalidf("cut: only one list may be specified (%s and %s)", listFlag, u.Name)
			}
			list, listFlag, c.fields = u.Value, u.Name, u.Key == "f"
		case "d":
			if len(u.Value) > 1 {
				return compute.Invalidf("cut: the delimiter must be a single character, not %q for %s", u.Value, u.Name)
			}
			c.delim, delimSet = 0, true
			if u.Value != "" {
				c.delim = u.Value[0]
			}
		case "s":
			c.suppress = true
		case "output-delimiter":
			c.outDelim, c.outDelimSet = []byte(u.Value), true
			if u.Value == "" {
				c.outDelim = []byte{0}
			}
		case "z":
			c.eol = 0
		}
		return nil
	}
	f, err := compute.ParseFlagsCheck("cut", cutFlags, compute.Permute, args, apply)
	if err != nil {
		return nil, err
	}
	if listFlag == "" {
		return nil, compute.Invalidf("cut: you must specify a list of bytes, characters, or fields (-b, -c or -f)")
	}
	if delimSet && !c.fields {
		return nil, compute.Invalidf("cut: an input delimiter (-d) may be specified only when operating on fields")
	}
	if c.suppress && !c.fields {
		return nil, compute.Invalidf("cut: suppressing non-delimited lines (-s) makes sense only when operating on fields")
	}
	if c.ranges, err = parseCutList(list, listFlag, c.fields, f.Has("complement")); err != nil {
		return nil, err
	}
	if c.fields && !c.outDelimSet {
		c.outDelim = []byte{c.delim}
	}
	// Files are GNU's last concern, after the list and the flags' checks.
	if err := compute.NoOperandsButStdin("cut", f); err != nil {
		return nil, err
	}
	return c, nil
}

// parseCutList parses a list as GNU's set_fields does.
func parseCutList(s, flag string, fields, complement bool) ([]cutRange, error) {
	numbered := "byte/character positions are numbered from 1"
	badRange := "invalid byte or character range"
	if fields {
		numbered, badRange = "fields are numbered from 1", "invalid field range"
	}
	fail := func(msg string) error { return compute.Invalidf("cut: %s in %q for %s", msg, s, flag) }
	var (
		rs                    []cutRange
		initial               uint64 = 1
		value                 uint64
		lhs, rhs, dash, inNum bool
		numStart              int
	)
	for i := 0; ; i++ {
		var ch byte
		if i < len(s) {
			ch = s[i]
		}
		switch {
		case i < len(s) && ch == '-':
			inNum = false
			if dash {
				return nil, fail(badRange)
			}
			dash = true
			if lhs && value == 0 {
				return nil, fail(numbered)
			}
			initial = 1
			if lhs {
				initial = value
			}
			value = 0
		case i >= len(s) || ch == ',' || ch == ' ' || ch == '\t':
			inNum = false
			if dash {
				dash = false
				if !lhs && !rhs {
					return nil, fail("invalid range with no endpoint: -")
				}
				if !rhs {
					rs = append(rs, cutRange{initial, math.MaxUint64})
				} else {
					if value < initial {
						return nil, fail("invalid decreasing range")
					}
					rs = append(rs, cutRange{initial, value})
				}
				value = 0
			} else {
				if value == 0 {
					return nil, fail(numbered)
				}
				rs = append(rs, cutRange{value, value})
				value = 0
			}
			if i >= len(s) {
				goto done
			}
			lhs, rhs = false, false
		case ch >= '0' && ch <= '9':
			if !inNum {
				numStart = i
			}
			inNum = true
			if dash {
				rhs = true
			} else {
				lhs = true
			}
			d := uint64(ch - '0')
			if value > (math.MaxUint64-d)/10 || value*10+d == math.MaxUint64 {
				j := numStart
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				what := "byte/character offset"
				if fields {
					what = "field number"
				}
				return nil, compute.Invalidf("cut: %s %q is too large for %s", what, s[numStart:j], flag)
			}
			value = value*10 + d
		default:
			what := "invalid byte/character position"
			if fields {
				what = "invalid field value"
			}
			return nil, compute.Invalidf("cut: %s %q for %s", what, s[i:], flag)
		}
	}
done:
	if len(rs) == 0 {
		if fields {
			return nil, fail("missing list of fields")
		}
		return nil, fail("missing list of byte/character positions")
	}
	// GNU sorts the ranges by their start converted to a C int (coreutils
	// 9.1's compare_ranges), with glibc's stable merge sort, and then merges
	// each range into the one before when it starts at or before that one's
	// end. A start of 2^31 or more is thus sorted by its low 32 bits taken
	// as signed: `-b 4294967296,1` sorts 4294967296 (0) first, which
	// swallows 1, and prints nothing of "abc".
	sort.SliceStable(rs, func(i, j int) bool { return int32(uint32(rs[i].lo)) < int32(uint32(rs[j].lo)) })
	merged := rs[:1]
	for _, r := range rs[1:] {
		last := &merged[len(merged)-1]
		if r.lo <= last.hi {
			last.hi = max(last.hi, r.hi)
		} else {
			merged = append(merged, r)
		}
	}
	if complement {
		var c []cutRange
		if merged[0].lo > 1 {
			c = append(c, cutRange{1, merged[0].lo - 1})
		}
		for i := 1; i < len(merged); i++ {
			if merged[i-1].hi+1 == merged[i].lo {
				continue
			}
			c = append(c, cutRange{merged[i-1].hi + 1, merged[i].lo - 1})
		}
		if last := merged[len(merged)-1]; last.hi < math.MaxUint64 {
			c = append(c, cutRange{last.hi + 1, math.MaxUint64})
		}
		merged = c
	}
	return append(merged, cutRange{math.MaxUint64, math.MaxUint64}), nil
}

func (c *cutStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	w := newBlockWriter(out)
	r := &byteReader{r: in, buf: newGrowBuf(filterBufSize), ctx: ctx, nextEOL: -1}
	var err error
	if c.fields && c.delim == c.eol {
		err = c.cutFieldsOneRecord(r, w)
	} else if c.fields {
		err = c.cutFields(r, w)
	} else {
		err = c.cutBytes(r, w)
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

// byteReader is a minimal buffered reader with the scans cut needs.
type byteReader struct {
	r        io.Reader
	ctx      context.Context
	buf      []byte
	pos, end int
	err      error // sticky: io.EOF or an abort
	nextEOL  int   // cut -f's cached position of the next eol in buf; -1: none
}

// fill makes at least one byte available, or returns false with r.err set.
func (r *byteReader) fill() bool {
	for r.pos == r.end {
		if r.err != nil {
			return false
		}
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return false
		}
		r.buf = growBuf(r.buf, r.end, filterBufSize) // r.end: the last read's count
		n, err := r.r.Read(r.buf)
		r.pos, r.end, r.nextEOL = 0, n, -1
		if err != nil {
			r.err = err
		}
	}
	return true
}

// abort returns the read error that is not the end of input.
func (r *byteReader) abort() error {
	if r.err == io.EOF {
		return nil
	}
	return r.err
}

// peekByte returns the next byte, or -1 at the end.
func (r *byteReader) peekByte() int {
	if !r.fill() {
		return -1
	}
	return int(r.buf[r.pos])
}

// cutBytes is -b/-c.
func (c *cutStage) cutBytes(r *byteReader, w *blockWriter) error {
	var (
		idx       uint64 // bytes of the current line so far
		printDlm  bool
		rp        int
		eolOut    = []byte{c.eol}
		rs        = c.ranges
		lineStart = true
	)
	for r.fill() {
		b := r.buf[r.pos:r.end]
		k := bytes.IndexByte(b, c.eol)
		seg := b
		if k >= 0 {
			seg = b[:k]
		}
		// Positions idx+1 .. idx+len(seg).
		n := uint64(len(seg))
		for n > 0 {
			for rs[rp].hi < idx+1 {
				rp++
			}
			r0 := rs[rp]
			if r0.lo > idx+n {
				break
			}
			start := max(r0.lo, idx+1)
			end := min(r0.hi, idx+n)
			if c.outDelimSet {
				if printDlm && start == r0.lo {
					if _, err := w.Write(c.outDelim); err != nil {
						return err
					}
				}
				printDlm = true
			}
			if _, err := w.Write(seg[start-idx-1 : end-idx]); err != nil {
				return err
			}
			if r0.hi > idx+n {
				break
			}
			rp++
		}
		idx += n
		if n > 0 {
			lineStart = false
		}
		if k >= 0 {
			if _, err := w.Write(eolOut); err != nil {
				return err
			}
			idx, printDlm, rp, lineStart = 0, false, 0, true
			r.pos += k + 1
		} else {
			r.pos = r.end
		}
	}
	if err := r.abort(); err != nil {
		return err
	}
	if !lineStart {
		_, err := w.Write(eolOut)
		return err
	}
	return nil
}

// cutFields is -f, a port of GNU cut's cut_fields, byte for byte in its
// quirks, with the scans done a buffer at a time.
func (c *cutStage) cutFields(r *byteReader, w *blockWriter) error {
	const eof = -1
	var (
		rs       = c.ranges
		rp       = 0
		fieldIdx = uint64(1)
		found    bool
		delim    = int(c.delim)
		eol      = int(c.eol)
		eolOut   = []byte{c.eol}
		f1       = &field1{limit: c.spool.Mem(), spool: c.spool}
	)
	defer f1.close()
	printKth := func(k uint64) bool { return rs[rp].lo <= k }
	nextItem := func() {
		fieldIdx++
		if fieldIdx > rs[rp].hi {
			rp++
		}
	}
	if r.peekByte() == eof {
		return r.abort()
	}
	ch := 0
	bufferFirst := c.suppress != !printKth(1)
	// scan consumes up to the next delim or eol (returned) or the end (eof),
	// writing what it passes over when write is set; prev is updated to the
	// last byte passed over.
	scan := func(write bool, prev *int) (int, error) {
		for r.fill() {
			if r.nextEOL < r.pos {
				if k := bytes.IndexByte(r.buf[r.pos:r.end], c.eol); k >= 0 {
					r.nextEOL = r.pos + k
				} else {
					r.nextEOL = r.end
				}
			}
			limit := r.nextEOL
			stop := limit
			if k := bytes.IndexByte(r.buf[r.pos:limit], c.delim); k >= 0 {
				stop = r.pos + k
			}
			if stop > r.pos {
				if write {
					if _, err := w.Write(r.buf[r.pos:stop]); err != nil {
						return 0, err
					}
				}
				*prev = int(r.buf[stop-1])
			}
			r.pos = stop
			if stop < r.end {
				r.pos++
				b := int(r.buf[stop])
				if stop == r.nextEOL {
					r.nextEOL = -1
				}
				return b, nil
			}
		}
		return eof, r.abort()
	}
	for {
		if fieldIdx == 1 && delim != eol && r.pos < r.end {
			// A whole line in the buffer: cut it in one go.
			if k := bytes.IndexByte(r.buf[r.pos:r.end], c.eol); k >= 0 {
				if err := c.cutLine(w, r.buf[r.pos:r.pos+k+1]); err != nil {
					return err
				}
				r.pos += k + 1
				r.nextEOL = -1
				ch = eol
				continue
			}
		}
		if fieldIdx == 1 && bufferFirst {
			last, err := f1.read(r, c.delim, c.eol)
			if err != nil {
				return err
			}
			r.nextEOL = -1
			if last == eof {
				break // nothing left
			}
			ch = 0
			if last != delim {
				if !c.suppress {
					if err := f1.writeTo(w, 0); err != nil {
						return err
					}
					if last != eol {
						if _, err := w.Write(eolOut); err != nil {
							return err
						}
					}
					ch = eol
				}
				continue
			}
			if printKth(1) {
				if err := f1.writeTo(w, 1); err != nil {
					return err
				}
				if delim == eol {
					r.peekByte()
				} else {
					found = true
				}
			}
			nextItem()
		}
		prev := ch
		var err error
		if printKth(fieldIdx) {
			if found {
				if _, err := w.Write(c.outDelim); err != nil {
					return err
				}
			}
			found = true
			ch, err = scan(true, &prev)
		} else {
			ch, err = scan(false, &prev)
		}
		if err != nil {
			return err
		}
		if delim == eol && ch == delim {
			// GNU reads the next byte and pushes it back: it is seen as ch
			// here and read again by the next scan.
			ch = r.peekByte()
		}
		if ch == delim {
			nextItem()
		} else if ch == eol || ch == eof {
			if found || !(c.suppress && fieldIdx == 1) {
				if ch == eol || prev != eol || delim == eol {
					if _, err := w.Write(eolOut); err != nil {
						return err
					}
				}
			}
			if ch == eof {
				break
			}
			fieldIdx, rp, found = 1, 0, false
		}
	}
	return r.abort()
}

// cutLine writes the selected fields of line, which ends with its eol
// (delim is not eol).
func (c *cutStage) cutLine(w *blockWriter, line []byte) error {
	text := line[:len(line)-1]
	i := bytes.IndexByte(text, c.delim)
	if i < 0 {
		if c.suppress {
			return nil
		}
		_, err := w.Write(line)
		return err
	}
	rs, rp := c.ranges, 0
	found := false
	for idx := uint64(1); ; idx++ {
		if rs[rp].lo == math.MaxUint64 {
			break // no more fields selected
		}
		f := text
		if i >= 0 {
			f = text[:i]
		}
		if rs[rp].lo <= idx {
			if found {
				if _, err := w.Write(c.outDelim); err != nil {
					return err
				}
			}
			found = true
			if _, err := w.Write(f); err != nil {
				return err
			}
		}
		if i < 0 {
			break
		}
		text = text[i+1:]
		i = bytes.IndexByte(text, c.delim)
		if idx+1 > rs[rp].hi {
			rp++
		}
	}
	_, err := w.Write(line[len(line)-1:])
	return err
}

// field1 holds a line's first field while cut decides whether the line has
// a delimiter: in memory up to the spool budget, then in a chunkQueue.
type field1 struct {
	limit int64
	spool compute.SpoolConfig
	mem   []byte
	q     *chunkQueue
}

// read reads through the next delim or eol (inclusive) or to the end and
// returns the last byte read, or -1 when nothing was left.
func (f *field1) read(r *byteReader, delim, eol byte) (int, error) {
	f.mem = f.mem[:0]
	if f.q != nil {
		f.q.Close()
		f.q = nil
	}
	got := false
	for r.fill() {
		b := r.buf[r.pos:r.end]
		k := bytes.IndexByte(b, eol)
		if delim != eol {
			lim := b
			if k >= 0 {
				lim = b[:k]
			}
			if d := bytes.IndexByte(lim, delim); d >= 0 {
				k = d
			}
		}
		n := len(b)
		if k >= 0 {
			n = k + 1
		}
		if err := f.add(b[:n]); err != nil {
			return 0, err
		}
		got = true
		r.pos += n
		if k >= 0 {
			return int(b[k]), nil
		}
	}
	if err := r.abort(); err != nil {
		return 0, err
	}
	if !got {
		return -1, nil
	}
	return int(f.lastByte()), nil
}

func (f *field1) add(p []byte) error {
	if f.q == nil && int64(len(f.mem)+len(p)) <= f.limit {
		f.mem = append(f.mem, p...)
		return nil
	}
	if f.q == nil {
		f.q = newChunkQueue(f.spool)
		if err := f.q.Write(f.mem); err != nil {
			return err
		}
		f.mem = f.mem[:0]
	}
	if len(p) > 0 {
		f.mem = append(f.mem[:0], p[len(p)-1])
	}
	return f.q.Write(p)
}

func (f *field1) lastByte() byte { return f.mem[len(f.mem)-1] }

// writeTo writes the field less its last trim bytes.
func (f *field1) writeTo(w io.Writer, trim int64) error {
	if f.q == nil {
		_, err := w.Write(f.mem[:int64(len(f.mem))-trim])
		return err
	}
	return f.q.writeRange(w, 0, f.q.Len()-trim)
}

func (f *field1) close() {
	if f.q != nil {
		f.q.Close()
	}
}

// cutFieldsOneRecord is -f with the line terminator as the delimiter: GNU
// then treats the whole input as one line whose fields are its lines (a
// final terminator ends the last field rather than starting an empty one).
func (c *cutStage) cutFieldsOneRecord(r *byteReader, w *blockWriter) error {
	rs, rp := c.ranges, 0
	f1 := &field1{limit: c.spool.Mem(), spool: c.spool}
	defer f1.close()
	last, err := f1.read(r, c.delim, c.eol)
	if err != nil || last == -1 {
		return err
	}
	eolOut := []byte{c.eol}
	if last != int(c.eol) {
		if c.suppress {
			return nil
		}
		if err := f1.writeTo(w, 0); err != nil {
			return err
		}
		_, err := w.Write(eolOut)
		return err
	}
	if c.suppress && rs[0].lo > 1 && r.peekByte() == -1 {
		// One field, terminated: GNU's field count stays 1 when it does
		// not keep the first field, and -s then prints nothing.
		return r.abort()
	}
	found := false
	if rs[0].lo <= 1 {
		if err := f1.writeTo(w, 1); err != nil {
			return err
		}
		found = true
	}
	for idx := uint64(2); r.peekByte() != -1; idx++ {
		if idx > rs[rp].hi {
			rp++
		}
		sel := rs[rp].lo <= idx
		if sel && found {
			if _, err := w.Write(c.outDelim); err != nil {
				return err
			}
		}
		found = found || sel
		for r.fill() {
			b := r.buf[r.pos:r.end]
			k := bytes.IndexByte(b, c.eol)
			n := len(b)
			if k >= 0 {
				n = k
			}
			if sel {
				if _, err := w.Write(b[:n]); err != nil {
					return err
				}
			}
			r.pos += n
			if k >= 0 {
				r.pos++
				break
			}
		}
	}
	if err := r.abort(); err != nil {
		return err
	}
	_, err = w.Write(eolOut)
	return err
}
