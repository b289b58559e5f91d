package text

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/halfclose/halfclose/compute"
)

func registerTac(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    "tac",
		Summary: "print the input's lines in reverse order",
		Flags:   tacFlags,
		Build:   buildTac,
	})
}

func buildTac(env *compute.Env, args []string) (compute.Stage, error) {
	f, err := compute.ParseFlags("tac", tacFlags, args)
	if err != nil {
		return nil, err
	}
	if err := compute.NoOperandsButStdin("tac", f); err != nil {
		return nil, err
	}
	sep := []byte{'\n'}
	if u, ok := f.Value("s"); ok {
		sep = []byte(u.Value)
		if u.Value == "" {
			// GNU takes the string's terminating NUL: an empty separator
			// is a NUL byte.
			sep = []byte{0}
		}
	}
	t := &tacStage{spool: env.Spool, sep: sep, before: f.Has("b"), inputs: max(1, len(f.Operands))}
	if f.Has("r") {
		if u, ok := f.Value("s"); ok && u.Value == "" {
			return nil, compute.Invalidf("tac: separator cannot be empty")
		}
		re, err := compileTacRegex(string(sep))
		if err != nil {
			return nil, err
		}
		t.re = re
	}
	return t, nil
}

var tacFlags = compute.WithStd(
	compute.FlagSpec{Short: 'b', Long: "before", Summary: "attach the separator before instead of after"},
	compute.FlagSpec{Short: 's', Long: "separator", Value: true, Summary: "use STRING as the separator instead of newline (empty: NUL)"},
	compute.FlagSpec{Short: 'r', Long: "regex", Summary: "interpret the separator as a regular expression (GNU's Emacs syntax)"},
)

// tacStage must see all of its input before it can write its first byte, so
// it keeps the input in a chunkQueue (memory, then spill files) and walks it
// backwards.
type tacStage struct {
	spool  compute.SpoolConfig
	sep    []byte
	before bool
	// inputs is the number of "-" operands (at least 1); file says the
	// input is a regular file (SetInputFile). GNU tac seeks a regular
	// file to its end and reads it back to its start for every "-", so
	// each prints the whole input reversed; from a pipe the first "-"
	// takes it all and the others read an ended stdin.
	inputs int
	file   bool
	// re is the -r separator, compiled once; each run has its own
	// machine (reMachine).
	re *tacRegex
}

// SetInputFile says the input is a regular file: every "-" prints it.
func (t *tacStage) SetInputFile(int64) { t.file = true }

func (t *tacStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	q := newChunkQueue(t.spool)
	defer q.Close()
	for {
		_, err := q.ReadOnce(in)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	times := 1
	if t.file {
		times = t.inputs
	}
	// The output is the input, times times: a small one needs no large
	// buffer.
	bw := bufio.NewWriterSize(out, int(min(256<<10, max(smallBufSize, q.Len()*int64(times)))))
	for range times {
		var err error
		if t.re != nil {
			err = t.reverseRegex(ctx, q, bw)
		} else if len(t.sep) == 1 && !t.before {
			err = t.reverseByte(ctx, q, bw)
		} else {
			err = t.reverseString(ctx, q, bw)
		}
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

// reverseByte is the common case: a one-byte separator that ends records.
// A record is everything up to and including a separator; the last record
// may lack one and is then printed first, as is (GNU semantics).
func (t *tacStage) reverseByte(ctx context.Context, q *chunkQueue, w *bufio.Writer) error {
	sep := t.sep[0]
	total := q.Len()
	recEnd := total
	// Positions j with a separator at j < total-1 split records at j+1.
	err := q.walkBackward(func(base int64, full []byte) error {
		b := full
		if base+int64(len(b)) == total && len(b) > 0 {
			b = b[:len(b)-1] // a separator at the very end splits nothing
		}
		for {
			i := bytes.LastIndexByte(b, sep)
			if i < 0 {
				return ctx.Err()
			}
			start := base + int64(i) + 1
			if err := writeRecord(w, q, full, base, start, recEnd); err != nil {
				return err
			}
			recEnd = start
			b = b[:i]
		}
	})
	if err != nil {
		return err
	}
	return q.writeRange(w, 0, recEnd)
}

// tacReadSize is GNU tac's INITIAL_READSIZE.
const tacReadSize = 8192

// reverseString handles a multi-byte separator or -b as GNU tac 9.1 does
// (tac_seekable), step for step where its steps show in the output. GNU
// reads the input backwards in blocks (the first one the input's size
// modulo 8 KiB, then 8 KiB, doubled while a record outgrows it, and a short
// last one), keeping the pending record after the block, and searches each
// block backwards: after a match at c the next one must start at or before
// c-len(sep), but after a new block is read the search starts again from
// the block's end, so a separator that overlaps itself can match across
// the boundary over a match already made. A candidate there also reads up
// to len(sep)-1 bytes past the pending record; when that record is shorter
// (with -b, a record starting at the boundary), those bytes are what GNU's
// buffer held from earlier blocks, not the input (tacMemory).
func (t *tacStage) reverseString(ctx context.Context, q *chunkQueue, w *bufio.Writer) error {
	total := q.Len()
	if total == 0 {
		return nil
	}
	sep := t.sep
	sl := int64(len(sep))
	r := int64(tacReadSize)
	for sl >= r/2 {
		r *= 2
	}
	f := total - total%r // the block's start (GNU's file_pos)
	if f == total {
		f = total - r
	}
	var (
		pe    = total          // past_end: the pending record ends here
		limit = total - sl + 1 // candidates start below limit
		valid = total          // GNU's buffer holds the input below valid
		win   = tacWindow{ctx: ctx, q: q}
		mem   = newTacMemory(q, sl, r, f, total)
		cand  prefixMatch
	)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Candidates that read past valid, checked one by one; then the
		// input below.
		c := int64(-1)
		for k := limit - 1; k >= max(f, valid-sl+1) && c < 0; k-- {
			// The candidate is the input's [k, valid) and then what GNU's
			// buffer holds; compared as it comes, it stops at its first
			// byte unlike sep's (no copy of it: a separator of 60 KB made
			// 60,000 copies of up to 60 KB at a block boundary).
			if k > valid { // longer than sep: never it
				continue
			}
			cand.want, cand.ok = sep[:valid-k], true
			if err := win.write(&cand, k, valid); err != nil && !errors.Is(err, errPrefixDiffers) {
				return err
			}
			match := cand.ok
			if match && k+sl > valid {
				var err error
				if match, err = mem.equal(valid-f, sep[valid-k:]); err != nil {
					return err
				}
			}
			if match {
				c = k
			}
		}
		if c < 0 {
			var err error
			if c, err = win.lastIndex(sep, f, min(limit, valid-sl+1)+sl-1); err != nil {
				return err
			}
		}
		if c >= 0 {
			start := c
			if !t.before {
				start = c + sl
			}
			if err := win.write(w, start, pe); err != nil {
				return err
			}
			pe = start
			limit = c - sl + 1
			continue
		}
		if f == 0 {
			return win.write(w, 0, pe)
		}
		// GNU reads the block before: the pending record moves after it.
		s := pe - f
		if s > r {
			r *= 2
		}
		oldR := r
		if f >= r {
			f -= r
		} else {
			r, f = f, 0
		}
		if err := mem.moved(f, r, s, oldR); err != nil {
			return err
		}
		valid, limit = f+r+s, f+r
	}
}

// tacWindow reads the input backwards for the separator search, a window
// at a time.
type tacWindow struct {
	ctx context.Context // checked at each window, as a block may be GiBs
	q   *chunkQueue
	buf bytes.Buffer
	a   int64 // buf holds the input's bytes [a, a+buf.Len())
}

const tacWindowSize = 256 << 10

// lastIndex returns the largest c >= lo with sep at [c, c+len(sep)) and
// c+len(sep) <= hi, or -1.
func (tw *tacWindow) lastIndex(sep []byte, lo, hi int64) (int64, error) {
	sl := int64(len(sep))
	for hi-lo >= sl {
		if !(tw.a < hi-sl+1 && hi <= tw.a+int64(tw.buf.Len())) {
			if err := tw.ctx.Err(); err != nil {
				return -1, err
			}
			a := max(lo, hi-max(tacWindowSize, 2*sl))
			tw.buf.Reset()
			if err := tw.q.writeRange(&tw.buf, a, hi); err != nil {
				return -1, err
			}
			tw.a = a
		}
		from := max(lo, tw.a)
		if j := bytes.LastIndex(tw.buf.Bytes()[from-tw.a:hi-tw.a], sep); j >= 0 {
			return from + int64(j), nil
		}
		if from == lo {
			break
		}
		hi = from + sl - 1
	}
	return -1, nil
}

// write writes the input's bytes [a, b) to w, from the window where it
// holds them (the queue may be on disk).
func (tw *tacWindow) write(w io.Writer, a, b int64) error {
	end := tw.a + int64(tw.buf.Len())
	if a >= tw.a && a < end {
		if _, err := w.Write(tw.buf.Bytes()[a-tw.a : min(b, end)-tw.a]); err != nil {
			return err
		}
		a = end
	}
	if a >= b {
		return nil
	}
	return tw.q.writeRange(w, a, b)
}

// prefixMatch is a writer that checks that what it is written is want,
// from its start: the first write that differs (or goes past want) sets
// ok false and fails with errPrefixDiffers, so the writer stops early.
type prefixMatch struct {
	want []byte
	ok   bool
}

var errPrefixDiffers = errors.New("tac: prefix differs")

func (m *prefixMatch) Write(p []byte) (int, error) {
	if !m.ok || len(p) > len(m.want) || !bytes.Equal(p, m.want[:len(p)]) {
		m.ok = false
		return 0, errPrefixDiffers
	}
	m.want = m.want[len(p):]
	return len(p), nil
}

// tacMemory is what GNU tac's buffer holds past the pending record, at the
// few positions a separator search can read there: len(sep)-1 bytes at
// each position the block size may take (r, 2r, 4r, ...). GNU writes them
// only when it moves a pending record after a new block; what it never
// wrote is taken as zeros (fresh memory).
type tacMemory struct {
	q    *chunkQueue
	n    int64            // len(sep)-1
	wins map[int64][]byte // window base (a buffer position) → its bytes
	// The block read last ([readF, readF+readLen) of the input, at buffer
	// position 0) and the one before it; base: the block size before the
	// last move, whose window a short last block reads.
	readF, readLen, prevF, prevLen, base int64
}

func newTacMemory(q *chunkQueue, sl, r, f, total int64) *tacMemory {
	m := &tacMemory{q: q, n: sl - 1, wins: map[int64][]byte{}, readF: f, readLen: total - f}
	if m.n == 0 {
		return m
	}
	for b := r; b < 2*total+2*r; b *= 2 {
		m.wins[b] = make([]byte, m.n)
	}
	return m
}

// moved records GNU's memmove of the pending record (s bytes, the input
// from f+r on) to buffer position r. oldR is the block size before a
// short last block.
func (m *tacMemory) moved(f, r, s, oldR int64) error {
	m.prevF, m.prevLen = m.readF, m.readLen
	m.readF, m.readLen, m.base = f, r, oldR
	if m.n == 0 {
		return nil
	}
	for b, win := range m.wins {
		lo, hi := max(b, r), min(b+m.n, r+s)
		if lo >= hi {
			continue
		}
		var buf bytes.Buffer
		if err := m.q.writeRange(&buf, f+lo, f+hi); err != nil {
			return err
		}
		copy(win[lo-b:], buf.Bytes())
	}
	return nil
}

// equal reports whether what GNU's buffer holds from position p past the
// pending record on is want: the block read before, where it reached that
// far (a short last block), else the window at base, else zeros. It
// compares a range at a time: a candidate separator may read tens of KB
// there, at each of tens of thousands of candidates (a byte at a time,
// a 60,000-byte separator over 534 KB took 304 million reads, 1.2 s).
func (m *tacMemory) equal(p int64, want []byte) (bool, error) {
	if n := min(int64(len(want)), m.prevLen-p); n > 0 {
		pm := prefixMatch{want: want[:n], ok: true}
		if err := m.q.writeRange(&pm, m.prevF+p, m.prevF+p+n); err != nil && !errors.Is(err, errPrefixDiffers) {
			return false, err
		}
		if !pm.ok || len(pm.want) > 0 {
			return false, nil
		}
		p, want = p+n, want[n:]
	}
	win, ok := m.wins[m.base]
	for len(want) > 0 {
		n := int64(len(want))
		if ok && p >= m.base && p < m.base+m.n {
			n = min(n, m.base+m.n-p)
			if !bytes.Equal(win[p-m.base:p-m.base+n], want[:n]) {
				return false, nil
			}
		} else {
			if ok && p < m.base {
				n = min(n, m.base-p)
			}
			for _, c := range want[:n] {
				if c != 0 {
					return false, nil
				}
			}
		}
		p, want = p+n, want[n:]
	}
	return true, nil
}

// writeRecord writes the bytes at [start, end) taking what lies in the
// chunk at base (whose bytes are b) from b, and the rest from the queue.
func writeRecord(w io.Writer, q *chunkQueue, b []byte, base, start, end int64) error {
	chunkEnd := base + int64(len(b))
	if start >= base && start < chunkEnd {
		if _, err := w.Write(b[start-base : min(end, chunkEnd)-base]); err != nil {
			return err
		}
		start = chunkEnd
	}
	return q.writeRange(w, start, end)
}
