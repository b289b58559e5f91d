package text

import (
	"bytes"
	"context"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/halfclose/halfclose/compute"
)

func registerHeadTail(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    "head",
		Summary: "print the first lines or bytes of the input (-n, -c; -N to omit the last)",
		Flags:   headFlags,
		Build:   buildHead,
	})
	r.Register(&compute.Command{
		Name:    "tail",
		Summary: "print the last lines or bytes of the input (-n, -c; +N to start at N)",
		Flags:   tailFlags,
		Build:   buildTail,
	})
}

var headFlags = append(compute.WithStd(
	compute.FlagSpec{Short: 'c', Long: "bytes", Value: true, Summary: "print the first N bytes; -N: all but the last N"},
	compute.FlagSpec{Short: 'n', Long: "lines", Value: true, Summary: "print the first N lines; -N: all but the last N"},
	compute.FlagSpec{Short: 'q', Long: "quiet", Summary: "never print a header"},
	compute.FlagSpec{Long: "silent", Same: "q", Summary: "same as --quiet"},
	compute.FlagSpec{Short: 'v', Long: "verbose", Summary: "always print a header"},
	compute.FlagSpec{Short: 'z', Long: "zero-terminated", Summary: "lines end with NUL, not newline"},
	compute.FlagSpec{Long: "-presume-input-pipe", Summary: "no-op"},
), obsoleteDigits("invalid trailing option")...)

var tailFlags = append(compute.WithStd(
	compute.FlagSpec{Short: 'c', Long: "bytes", Value: true, Summary: "print the last N bytes; +N: from byte N"},
	compute.FlagSpec{Short: 'n', Long: "lines", Value: true, Summary: "print the last N lines; +N: from line N"},
	compute.FlagSpec{Short: 'q', Long: "quiet", Summary: "never print a header"},
	compute.FlagSpec{Long: "silent", Same: "q", Summary: "same as --quiet"},
	compute.FlagSpec{Short: 'v', Long: "verbose", Summary: "always print a header"},
	compute.FlagSpec{Short: 'z', Long: "zero-terminated", Summary: "lines end with NUL, not newline"},
	compute.FlagSpec{Long: "-presume-input-pipe", Summary: "no-op"},
	compute.FlagSpec{Long: "-disable-inotify", Summary: "no-op"},
	compute.FlagSpec{Short: 'f', Summary: "follow: ignored, as GNU ignores it for a pipe (the input ends at the half-close)"},
	compute.FlagSpec{Short: 'F', Summary: "follow by name: GNU's error, standard input has none"},
	compute.FlagSpec{Long: "follow", Value: true, Optional: true, Summary: "--follow[=descriptor] is -f; --follow=name is -F's error"},
	compute.FlagSpec{Long: "retry", Summary: "no-op, with GNU's warning"},
	compute.FlagSpec{Long: "pid", Value: true, Summary: "no-op (the PID checked), with GNU's warning without -f"},
	compute.FlagSpec{Long: "max-unchanged-stats", Value: true, Summary: "no-op (N checked)"},
	compute.FlagSpec{Short: 's', Long: "sleep-interval", Value: true, Summary: "no-op (N checked)"},
), obsoleteDigits("option used in invalid context")...)

// obsoleteDigits are the digits GNU's head and tail have among their
// short options for the obsolete -N: taken as that form in the first
// word (buildHead, parseObsolete), anywhere else getopt reads them as
// flags that fail with GNU's message, before any flag after them
// (tail -5 -Q, head -n 2 -5).
func obsoleteDigits(msg string) []compute.FlagSpec {
	var f []compute.FlagSpec
	for c := byte('0'); c <= '9'; c++ {
		f = append(f, compute.FlagSpec{Short: c, Misplaced: msg})
	}
	return f
}

// headerLine is what -v prints before the output of stdin.
const headerLine = "==> standard input <==\n"

// headTail is a configured head or tail.
type headTail struct {
	spool     compute.SpoolConfig
	lines     bool  // count lines, not bytes
	n         int64 // the count, clamped to MaxInt64
	elide     bool  // head: all but the last n
	fromStart bool  // tail: start at unit n
	tail      bool
	eol       byte
	header    int // -1 never (-q), 1 always (-v), 0 when there are several inputs
	inputs    int // "-" operands, at least 1: the others read an ended stdin
	// file: the input is a regular file (SetInputFile), which GNU head -n
	// seeks back in after its N-th line, so the next "-" reads on from
	// there; from a pipe the rest of its last read is gone.
	file bool
	// follow is tail's -f (or --follow, or an obsolete -Nf), named by
	// followFlag: GNU ignores it for a standard input that is a pipe or a
	// FIFO, as the stream is, but follows a regular file for ever.
	follow     bool
	followFlag string
	warnings   []string // tail's warnings about --retry and --pid
}

// SetInputFile says the input is a regular file: head -n N gives each
// further "-" the next N lines, as GNU's does after seeking back.
func (h *headTail) SetInputFile(int64) { h.file = true }

func clampCount(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// countValue parses the value of -n/-c (or of an obsolete option) for cmd.
func countValue(cmd string, lines bool, val, flag string) (int64, error) {
	// GNU's xdectoumax: any error, an overflow included, is fatal.
	v, _, e := compute.XStrtoumax(val, 10, "bkKmMGTPEZY0")
	what := "bytes"
	if lines {
		what = "lines"
	}
	if e == compute.NumOverflow {
		return 0, compute.Invalidf("%s: invalid number of %s %q for %s: value too large", cmd, what, val, flag)
	}
	if e != compute.NumOK {
		return 0, compute.Invalidf("%s: invalid number of %s %q for %s", cmd, what, val, flag)
	}
	return clampCount(v), nil
}

func buildHead(env *compute.Env, args []string) (compute.Stage, error) {
	h := &headTail{spool: env.Spool, lines: true, n: 10, eol: '\n'}
	// Obsolete syntax, first word only: -[0-9]+[bcklmqvz]*.
	if len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' && isDigit(args[0][1]) {
		a := args[0][1:]
		i := 0
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		num := a[:i]
		var mult byte
		for _, c := range []byte(a[i:]) {
			switch c {
			case 'c':
				h.lines, mult = false, 0
			case 'b', 'k', 'm':
				h.lines, mult = false, c
			case 'l':
				h.lines = true
			case 'q':
				h.header = -1
			case 'v':
				h.header = 1
			case 'z':
				h.eol = 0
			default:
				return nil, compute.Invalidf("head: invalid trailing option -- %c in %q", c, args[0])
			}
		}
		if mult != 0 {
			num += string(mult)
		}
		n, err := countValue("head", h.lines, num, args[0])
		if err != nil {
			return nil, err
		}
		h.n = n
		args = args[1:]
	}
	f, err := compute.ParseFlagsCheck("head", headFlags, compute.Permute, args, checkCount("head"))
	if err != nil {
		return nil, err
	}
	h.inputs = max(1, len(f.Operands))
	// big: the last count is over the largest file offset (2^63-1), which
	// GNU refuses for -c -N only, once all flags are read.
	big, bigVal := false, ""
	for _, u := range f.Uses {
		switch u.Key {
		case "n", "c":
			h.lines = u.Key == "n"
			val := u.Value
			h.elide = strings.HasPrefix(val, "-")
			if h.elide {
				val = val[1:]
			}
			if h.n, err = countValue("head", h.lines, val, u.Name); err != nil {
				return nil, err
			}
			v, _, _ := compute.XStrtoumax(val, 10, "bkKmMGTPEZY0")
			big, bigVal = v > math.MaxInt64, val
		case "q":
			h.header = -1
		case "v":
			h.header = 1
		case "z":
			h.eol = 0
		}
	}
	if big && h.elide && !h.lines {
		return nil, compute.Invalidf("head: invalid number of bytes %q for -c -N: value too large (at most %d)", bigVal, int64(math.MaxInt64))
	}
	// Files are GNU's last concern, after the counts.
	if err := compute.NoOperandsButStdin("head", f); err != nil {
		return nil, err
	}
	return h, nil
}

// checkCount judges a -n or -c count as it is read, as GNU's option
// loop does (head -n x -Q names the count, not the flag after it); the
// last one is the one used, once all are read.
func checkCount(cmd string) func(compute.FlagUse) error {
	return func(u compute.FlagUse) error {
		if u.Key != "n" && u.Key != "c" {
			return nil
		}
		_, err := countValue(cmd, u.Key == "n", strings.TrimPrefix(u.Value, "-"), u.Name)
		return err
	}
}

func buildTail(env *compute.Env, args []string) (compute.Stage, error) {
	t := &headTail{spool: env.Spool, lines: true, n: 10, eol: '\n', tail: true}
	// GNU: the obsolete form is the only option, with at most one file
	// operand, which "--" may precede.
	if len(args) == 1 || len(args) == 2 && !(len(args[1]) > 1 && args[1][0] == '-') ||
		(len(args) == 2 || len(args) == 3) && args[1] == "--" {
		ok, err := t.parseObsolete(args[0])
		if err != nil {
			return nil, err
		}
		if ok {
			args = args[1:]
		}
	}
	f, err := compute.ParseFlagsCheck("tail", tailFlags, compute.Permute, args, checkTailFlag)
	if err != nil {
		return nil, err
	}
	byName, retry, pid := false, false, false
	for _, u := range f.Uses {
		switch u.Key {
		case "f", "follow":
			// GNU: -f and --follow set the mode to descriptor (the
			// default), --follow=ARG to ARG; -F to name, with --retry.
			byName = false
			if u.HasValue {
				m, err := argmatch("tail", u, "descriptor", "name")
				if err != nil {
					return nil, err
				}
				byName = m == "name"
			}
			t.follow, t.followFlag = true, u.Name
		case "F":
			t.follow, t.followFlag, byName, retry = true, u.Name, true, true
		case "retry":
			retry = true
		case "pid":
			v, _, _ := compute.XStrtoumax(u.Value, 10, "")
			pid = v != 0
		case "n", "c":
			t.lines = u.Key == "n"
			val := u.Value
			if strings.HasPrefix(val, "+") {
				t.fromStart = true // sticky, as in GNU tail
			} else if strings.HasPrefix(val, "-") {
				val = val[1:]
			}
			if t.n, err = countValue("tail", t.lines, val, u.Name); err != nil {
				return nil, err
			}
		case "q":
			t.header = -1
		case "v":
			t.header = 1
		case "z":
			t.eol = 0
		}
	}
	// GNU's warnings, at the end of its option loop.
	switch {
	case retry && !t.follow:
		t.warnings = append(t.warnings, "tail: warning: --retry ignored; --retry is useful only when following")
	case retry && !byName:
		t.warnings = append(t.warnings, "tail: warning: --retry only effective for the initial open")
	}
	if pid && !t.follow {
		t.warnings = append(t.warnings, "tail: warning: PID ignored; --pid=PID is useful only when following")
	}
	// GNU's tail -n 0 (or -c 0) stops before opening anything: its
	// operands are never read, files or not (unless it follows them).
	if t.n == 0 && !t.fromStart && !t.follow {
		t.inputs = 1
		return t, nil
	}
	if byName {
		// Standard input has no name to follow; GNU says so before it
		// reads anything, whatever the operands (a file among them is
		// refused below only after this, as GNU opens none before).
		if len(f.Operands) == 0 || slices.Contains(f.Operands, "-") {
			return nil, compute.Invalidf("tail: cannot follow %q by name (%s)", "-", t.followFlag)
		}
	}
	if err := compute.NoOperandsButStdin("tail", f); err != nil {
		return nil, err
	}
	t.inputs = max(1, len(f.Operands))
	return t, nil
}

// parseObsolete parses tail's obsolete one-word form ([+-]N[bcl]) as GNU
// does with POSIX 2008 conformance: -N or +N, counting lines by default.
func (t *headTail) parseObsolete(a string) (bool, error) {
	if a == "" {
		return false, nil
	}
	p := a[1:]
	switch a[0] {
	case '+':
		t.fromStart = true
	case '-':
		k := 0
		if len(p) > 0 && p[0] == 'c' {
			k = 1
		}
		if len(p) <= k {
			return false, nil
		}
	default:
		return false, nil
	}
	i := 0
	for i < len(p) && isDigit(p[i]) {
		i++
	}
	num, rest := p[:i], p[i:]
	def := int64(10)
	lines := true
	if rest != "" {
		switch rest[0] {
		case 'b':
			def *= 512
			lines = false
			rest = rest[1:]
		case 'c':
			lines = false
			rest = rest[1:]
		case 'l':
			rest = rest[1:]
		}
	}
	if rest == "f" {
		// -Nf, +Nf, -cf...: GNU follows. A word with more after the f
		// (-fn3, -cfq) is no obsolete form for GNU: getopt reads it (-f
		// and -n 3; -c with the value "fq").
		t.follow, t.followFlag, rest = true, a, ""
	}
	if rest != "" {
		t.fromStart = false
		return false, nil
	}
	t.lines = lines
	if num == "" {
		t.n = def
		return true, nil
	}
	// GNU: xstrtoumax with the suffix "b", what follows ignored.
	v, _, e := compute.XStrtoumax(p, 10, "b")
	if e&compute.NumOverflow != 0 {
		return false, compute.Invalidf("tail: invalid number %q: value too large", a)
	}
	t.n = clampCount(v)
	return true, nil
}

func (h *headTail) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	if h.follow && h.file {
		// GNU follows a regular file for ever: no output of its ends.
		return compute.Invalidf("tail: unsupported flag %q (following a regular file never ends; from a pipe, as the stream is, GNU ignores it)", h.followFlag)
	}
	for _, w := range h.warnings {
		compute.Diagnose(ctx, w)
	}
	if h.headers() {
		if _, err := io.WriteString(out, headerLine); err != nil {
			return err
		}
	}
	w := newBlockWriter(out)
	var err error
	switch {
	case !h.tail && !h.elide:
		if h.lines && !(h.file && h.inputs > 1) {
			_, err = copyLines(ctx, w, in, h.n, h.eol)
			break
		}
		// GNU reads no more than it prints (-c), or seeks a regular file
		// back to just after the N-th line (-n): each further "-" prints
		// the next N units of stdin.
		var rest *unreadReader
		if h.lines {
			rest = &unreadReader{r: in}
			in = rest
		}
		for i := range h.inputs {
			if i > 0 && h.headers() {
				if err = w.Flush(); err != nil {
					return err
				}
				if _, err = io.WriteString(out, "\n"+headerLine); err != nil {
					return err
				}
			}
			if h.lines {
				_, err = copyLines(ctx, w, rest, h.n, h.eol)
			} else {
				err = copyBytes(ctx, w, in, h.n)
			}
			if err != nil {
				return err
			}
		}
		return w.Flush()
	case !h.tail:
		err = h.runElide(ctx, in, w)
	case h.fromStart:
		skip := max(h.n-1, 0)
		if h.lines {
			err = skipLinesCopy(ctx, w, in, skip, h.eol)
		} else {
			err = skipBytesCopy(ctx, w, in, skip)
		}
	default:
		err = h.runTail(ctx, in, w)
	}
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if h.headers() {
		// Every further "-" reads the stdin that has already ended.
		for range h.inputs - 1 {
			if _, err := io.WriteString(out, "\n"+headerLine); err != nil {
				return err
			}
		}
	}
	return nil
}

// runElide is head -n -N / -c -N: everything but the last N units, with a
// delay queue bounded by the spool budget.
func (h *headTail) runElide(ctx context.Context, in io.Reader, w *blockWriter) error {
	if h.n == 0 {
		return skipBytesCopy(ctx, w, in, 0)
	}
	q := newChunkQueue(h.spool)
	q.eol = h.eol
	defer q.Close()
	if err := h.keepLast(ctx, in, q, w); err != nil {
		return err
	}
	if h.lines {
		keep := q.Lines() + q.partial() - h.n
		if keep <= 0 {
			return nil
		}
		_, err := copyLines(ctx, w, q.Reader(), keep, h.eol)
		return err
	}
	return copyBytes(ctx, w, q.Reader(), q.Len()-h.n)
}

// keepLast reads all of in into q, dropping whole chunks from its front —
// written to w, or nowhere when w is nil — while the rest still holds the
// last h.n units, so q stays bounded by what must be kept.
func (h *headTail) keepLast(ctx context.Context, in io.Reader, q *chunkQueue, w io.Writer) error {
	for {
		_, err := q.ReadOnce(in)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for len(q.live()) > 1 {
			fn, fl, _ := q.Front()
			if h.lines && q.Lines()-fl <= h.n || !h.lines && q.Len()-fn < h.n {
				break
			}
			if err := q.DropFront(w); err != nil {
				return err
			}
		}
	}
}

// runTail is tail -n N / -c N: the last N units, kept in a queue bounded by
// the spool budget.
func (h *headTail) runTail(ctx context.Context, in io.Reader, w *blockWriter) error {
	if h.n == 0 {
		return nil // the engine drains the input
	}
	q := newChunkQueue(h.spool)
	q.eol = h.eol
	defer q.Close()
	if err := h.keepLast(ctx, in, q, nil); err != nil {
		return err
	}
	if h.lines {
		return skipLinesCopy(ctx, w, q.Reader(), max(q.Lines()+q.partial()-h.n, 0), h.eol)
	}
	return skipBytesCopy(ctx, w, q.Reader(), max(q.Len()-h.n, 0))
}

// copyLines copies the first n lines of r to w and stops reading; it
// returns how many lines were left to copy. From an *unreadReader, what it
// read past the n-th line is read again next.
func copyLines(ctx context.Context, w io.Writer, r io.Reader, n int64, eol byte) (int64, error) {
	if n <= 0 {
		return n, nil
	}
	buf := newGrowBuf(filterBufSize)
	for {
		k, err := r.Read(buf)
		b := buf[:k]
		buf = growBuf(buf, k, filterBufSize)
		for len(b) > 0 {
			c := int64(bytes.Count(b, []byte{eol}))
			if c < n {
				if _, werr := w.Write(b); werr != nil {
					return n, werr
				}
				n -= c
				break
			}
			end := 0
			for ; n > 0; n-- {
				end += bytes.IndexByte(b[end:], eol) + 1
			}
			if u, ok := r.(*unreadReader); ok {
				u.unread(b[end:])
			}
			_, werr := w.Write(b[:end])
			return 0, werr
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
}

// unreadReader reads what copyLines read past its last line before the
// rest of r.
type unreadReader struct {
	r io.Reader
	// buf[off:] is read before r. fromBuf: the last Read took its bytes
	// from buf, which still holds them just before off.
	buf     []byte
	off     int
	fromBuf bool
}

// unread puts back p, the end of what the last Read returned. When that
// came from buf (a later copyLines, whose buffer starts small, took its
// lines from part of what an earlier one read past its own), moving off
// back puts p before the rest of buf, without copying: a copy of that
// rest for every "-" operand cost up to 128 KiB each of them.
func (u *unreadReader) unread(p []byte) {
	if u.fromBuf {
		u.off -= len(p)
		return
	}
	u.buf, u.off = p, 0
}

func (u *unreadReader) Read(p []byte) (int, error) {
	u.fromBuf = u.off < len(u.buf)
	if u.fromBuf {
		n := copy(p, u.buf[u.off:])
		u.off += n
		return n, nil
	}
	return u.r.Read(p)
}

// copyBytes copies the first n bytes of r to w and stops reading.
func copyBytes(ctx context.Context, w io.Writer, r io.Reader, n int64) error {
	buf := newGrowBuf(filterBufSize)
	for n > 0 {
		k, err := r.Read(buf[:min(int64(len(buf)), n)])
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return werr
			}
			n -= int64(k)
		}
		buf = growBuf(buf, k, filterBufSize)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// skipLinesCopy discards the first skip lines of r and copies the rest.
func skipLinesCopy(ctx context.Context, w io.Writer, r io.Reader, skip int64, eol byte) error {
	return eachBlock(ctx, r, filterBufSize, func(b []byte) error {
		if skip > 0 {
			c := int64(bytes.Count(b, []byte{eol}))
			if c < skip {
				skip -= c
				return nil
			}
			start := 0
			for ; skip > 0; skip-- {
				start += bytes.IndexByte(b[start:], eol) + 1
			}
			b = b[start:]
		}
		return writeAll(w, b)
	})
}

// skipBytesCopy discards the first skip bytes of r and copies the rest.
func skipBytesCopy(ctx context.Context, w io.Writer, r io.Reader, skip int64) error {
	return eachBlock(ctx, r, filterBufSize, func(b []byte) error {
		d := min(skip, int64(len(b)))
		skip -= d
		return writeAll(w, b[d:])
	})
}

// checkTailFlag judges each of tail's flags as GNU's option loop does,
// in order: the counts, and the values of the following flags, which are
// checked though a stream is never followed.
func checkTailFlag(u compute.FlagUse) error {
	switch u.Key {
	case "s":
		if !validSeconds(u.Value) {
			return compute.Invalidf("tail: invalid number of seconds %q for %s", u.Value, u.Name)
		}
	case "pid":
		// GNU: xdectoumax to PID_T_MAX, which takes no '-' at all,
		// not even in "-0".
		v, rest, e := compute.XStrtoumax(u.Value, 10, "")
		switch {
		case rest == "" && (e == compute.NumOverflow || e == compute.NumOK && v > math.MaxInt32):
			return compute.Invalidf("tail: invalid PID %q for %s: value too large", u.Value, u.Name)
		case e != compute.NumOK || rest != "":
			return compute.Invalidf("tail: invalid PID %q for %s", u.Value, u.Name)
		}
	case "max-unchanged-stats":
		_, rest, e := compute.XStrtoumax(u.Value, 10, "")
		if e == compute.NumOverflow && rest == "" {
			return compute.Invalidf("tail: invalid maximum number of unchanged stats between opens %q for %s: value too large", u.Value, u.Name)
		}
		if e != compute.NumOK || rest != "" {
			return compute.Invalidf("tail: invalid maximum number of unchanged stats between opens %q for %s", u.Value, u.Name)
		}
	}
	return checkCount("tail")(u)
}

// validSeconds reports whether GNU tail takes s for -s: what C's strtod
// reads whole (leading blanks, a sign, decimal or hexadecimal digits, inf,
// infinity), not NaN, not negative, and not out of range: an overflow, or
// a tiny result that glibc's strtod flags with ERANGE and does not round
// to zero (glibcTiny; an underflow to zero, -0 too, is taken).
func validSeconds(s string) bool {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	sign := ""
	if s != "" && (s[0] == '+' || s[0] == '-') {
		sign, s = s[:1], s[1:]
	}
	if s == "" || s[0] == '+' || s[0] == '-' || strings.ContainsRune(s, '_') {
		return false
	}
	low := strings.ToLower(s)
	if strings.HasPrefix(low, "0x") && !strings.ContainsRune(low, 'p') {
		s += "p0" // strtod's hexadecimal needs no exponent; Go's does
	}
	v, err := strconv.ParseFloat(sign+s, 64)
	if err != nil {
		return false
	}
	if v != 0 && math.Abs(v) <= 0x1p-1022 {
		f, _, err := big.ParseFloat(s, 0, 4096, big.ToNearestEven)
		if err != nil {
			return false
		}
		zero, erange := glibcTiny(f)
		if zero {
			return true
		}
		if erange {
			return false
		}
	}
	return v >= 0 // -0 is taken, NaN and negatives are not
}

// glibcTiny is what glibc's strtod (2.36, as GNU 9.1 runs on) makes of a
// positive x near the denormals: whether it rounds x to zero, and whether
// it sets ERANGE. glibc keeps 53 bits of x, a round bit and whether any
// bit beyond is set; then, for x below the smallest normal double, it
// shifts the 53 bits onto the denormals' grid, and the round bit it kept
// is lost: only the bits shifted out and those beyond the round bit make
// the result inexact (0x1.ffffffffffffe8p-1023 is exact for it, and
// 0x1.00000000000008p-1075 rounds to zero). x is tiny as x86 judges it,
// after rounding to 53 bits with no bound on the exponent
// (0x1.fffffffffffffp-1023 is tiny, though its double is DBL_MIN), and
// ERANGE is tiny and inexact. Below 2^-1075 the result is zero.
func glibcTiny(x *big.Float) (zero, erange bool) {
	mant := new(big.Float)
	e := x.MantExp(mant) - 1 // x = 1.m * 2^e
	switch {
	case x.Sign() == 0:
		return true, false
	case e >= -1022:
		return false, false
	case e < -1075:
		return true, true
	}
	y, acc := mant.SetMantExp(mant, 54).Int(nil) // 54 bits: the 53 and the round bit
	more := acc != big.Exact
	m, round := y.Uint64()>>1, y.Bit(0) == 1
	shift := uint(-1022 - e)
	if shift == 53 {
		// Nothing of the 53 bits is left: the top one is the round
		// bit, and the result is 2^-1074 if any other is set, else 0.
		return m&(1<<52-1) == 0 && !more, true
	}
	if shift == 1 && round && (m&1 == 1 || more) && m+1 == 1<<53 {
		return false, false // rounds to DBL_MIN: not tiny
	}
	return false, m&(1<<shift-1) != 0 || more
}

// headers reports whether the output has "==> standard input <==" lines.
// GNU's tail -n 0 (or -c 0) stops before printing anything.
func (h *headTail) headers() bool {
	if h.tail && h.n == 0 && !h.fromStart && !h.follow {
		return false
	}
	return h.header > 0 || h.header == 0 && h.inputs > 1
}
