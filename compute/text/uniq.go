package text

import (
	"bytes"
	"context"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/halfclose/halfclose/compute"
)

func registerUniq(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    "uniq",
		Summary: "report or omit repeated adjacent lines (GNU uniq)",
		Flags:   uniqFlags,
		Build:   buildUniq,
	})
}

// uniqFlags is GNU uniq's option table; the digits are -N (skip fields).
var uniqFlags = func() []compute.FlagSpec {
	f := compute.WithStd(
		compute.FlagSpec{Short: 'c', Long: "count", Summary: "prefix lines by the number of occurrences"},
		compute.FlagSpec{Short: 'd', Long: "repeated", Summary: "only print duplicate lines, one for each group"},
		compute.FlagSpec{Short: 'u', Long: "unique", Summary: "only print unique lines"},
		compute.FlagSpec{Short: 'i', Long: "ignore-case", Summary: "ignore ASCII case when comparing"},
		compute.FlagSpec{Short: 'D', Summary: "print all duplicate lines"},
		compute.FlagSpec{Long: "all-repeated", Same: "D", Value: true, Optional: true, Summary: "like -D, groups delimited by METHOD (none, prepend, separate)"},
		compute.FlagSpec{Long: "group", Value: true, Optional: true, Summary: "print all lines, groups delimited by METHOD (separate, prepend, append, both)"},
		compute.FlagSpec{Short: 'f', Long: "skip-fields", Value: true, Summary: "avoid comparing the first N fields (blank-separated)"},
		compute.FlagSpec{Short: 's', Long: "skip-chars", Value: true, Summary: "avoid comparing the first N bytes (after the fields)"},
		compute.FlagSpec{Short: 'w', Long: "check-chars", Value: true, Summary: "compare no more than N bytes"},
		compute.FlagSpec{Short: 'z', Long: "zero-terminated", Summary: "lines end in NUL, not newline"},
	)
	for c := byte('0'); c <= '9'; c++ {
		f = append(f, compute.FlagSpec{Short: c, Summary: "obsolete -N: same as -f N"})
	}
	return f
}()

// uniqStage holds two lines at most: the group's first and the one read
// (each at most lineLimit), as buffers it swaps rather than copies.
type uniqStage struct {
	// GNU's output_unique, output_first_repeated, output_later_repeated
	// and countmode: which lines of a group writeLine prints.
	unique, firstRepeated, later, count bool
	fold                                bool
	delimit                             string // -D's METHOD: "none", "prepend", "separate"
	grouping                            string // --group's METHOD, "" without it
	eol                                 byte
	lineLimit                           int
	// skipFields, skipChars and checkChars are -f, -s and -w (checkChars
	// MaxUint64 when not given), each as GNU's size_opt reads it: an
	// overflowing value is the maximum.
	skipFields, skipChars, checkChars uint64
}

func buildUniq(env *compute.Env, args []string) (compute.Stage, error) {
	const cmd = "uniq"
	g := compute.NewGetopt(cmd, uniqFlags, compute.InOrder, args)
	u := &uniqStage{unique: true, firstRepeated: true, eol: '\n', delimit: "none", lineLimit: env.LineLimit(), checkChars: math.MaxUint64}
	outputOption := false // one of -c -d -D -u
	obsolete := false     // the last field count was GNU's obsolete -N
	// apply takes each flag as it is read, as GNU's option loop does (a
	// bad value is named before a bad flag after it).
	apply := func(use compute.FlagUse) error {
		var dst *uint64
		var what string
		switch k := use.Key; {
		case k == "c":
			u.count, outputOption = true, true
			return nil
		case k == "d":
			u.unique, outputOption = false, true
			return nil
		case k == "u":
			u.firstRepeated, outputOption = false, true
			return nil
		case k == "z":
			u.eol = 0
			return nil
		case k == "D":
			u.unique, u.later, outputOption = false, true, true
			u.delimit = "none"
			if use.HasValue {
				m, err := argmatch(cmd, use, "none", "prepend", "separate")
				if err != nil {
					return err
				}
				u.delimit = m
			}
			return nil
		case k == "group":
			u.grouping = "separate"
			if use.HasValue {
				m, err := argmatch(cmd, use, "separate", "prepend", "append", "both")
				if err != nil {
					return err
				}
				u.grouping = m
			}
			return nil
		case len(k) == 1 && k[0] >= '0' && k[0] <= '9':
			// -N: digits accumulate, also over several flags (-1 -2 is
			// -f 12), from 0 after a -f; an overflow is the maximum.
			if !obsolete {
				u.skipFields = 0
			}
			obsolete = true
			d := uint64(k[0] - '0')
			if u.skipFields > (math.MaxUint64-d)/10 {
				u.skipFields = math.MaxUint64
			} else {
				u.skipFields = u.skipFields*10 + d
			}
			return nil
		case k == "f":
			obsolete = false
			dst, what = &u.skipFields, "invalid number of fields to skip"
		case k == "s": // also the obsolete +N
			dst, what = &u.skipChars, "invalid number of bytes to skip"
		case k == "w":
			dst, what = &u.checkChars, "invalid number of bytes to compare"
		case k == "i":
			u.fold = true
			return nil
		default:
			return nil
		}
		v, _, e := compute.XStrtoumax(use.Value, 10, "")
		if e > compute.NumOverflow {
			return compute.Invalidf("%s: %s: %q for %s", cmd, what, use.Value, use.Name)
		}
		*dst = v // NumOverflow leaves the maximum
		return nil
	}
	var files []string // GNU's INPUT and OUTPUT operands
	file := func(op string) error {
		if len(files) == 2 {
			return compute.Invalidf("%s: extra operand %q", cmd, op)
		}
		files = append(files, op)
		return nil
	}
	for {
		it, ok, err := g.Next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if it.IsFlag {
			if err := apply(it.Flag); err != nil {
				return nil, err
			}
			continue
		}
		// Before "--", an operand +N is the obsolete form of -s N.
		if strings.HasPrefix(it.Operand, "+") {
			if _, _, e := compute.XStrtoumax(it.Operand, 10, ""); e == compute.NumOK {
				if err := apply(compute.FlagUse{Key: "s", Name: it.Operand, Value: it.Operand}); err != nil {
					return nil, err
				}
				continue
			}
		}
		if err := file(it.Operand); err != nil {
			return nil, err
		}
	}
	for _, op := range g.Rest() {
		if err := file(op); err != nil {
			return nil, err
		}
	}
	// GNU judges the output options before it opens a file.
	switch {
	case u.grouping != "" && outputOption:
		return nil, compute.Invalidf("%s: --group is mutually exclusive with -c/-d/-D/-u", cmd)
	case u.count && u.later:
		return nil, compute.Invalidf("%s: printing all duplicated lines and repeat counts is meaningless", cmd)
	}
	if len(files) > 0 && files[0] != "-" {
		return nil, compute.NoOperands(cmd, &compute.Flags{Operands: files[:1]})
	}
	if len(files) > 1 && files[1] != "-" {
		return nil, compute.Invalidf("%s: unsupported output operand %q (%s)", cmd, files[1], compute.RefuseOutput)
	}
	return u, nil
}

// argmatch is gnulib's: the METHOD named in full, or by a prefix of one
// name only.
func argmatch(cmd string, use compute.FlagUse, names ...string) (string, error) {
	var found []string
	for _, n := range names {
		if n == use.Value {
			return n, nil
		}
		if strings.HasPrefix(n, use.Value) {
			found = append(found, n)
		}
	}
	what := "invalid"
	if len(found) == 1 {
		return found[0], nil
	} else if len(found) > 1 {
		what = "ambiguous"
	}
	return "", compute.Invalidf("%s: %s argument %q for %q (valid arguments: %s)", cmd, what, use.Value, use.Name, strings.Join(names, ", "))
}

// key is the part of line uniq compares, as GNU's find_field and
// different cut it: past skipFields fields (blanks, then non-blanks), then
// past skipChars bytes, then at most checkChars bytes.
func (u *uniqStage) key(line []byte) []byte {
	i := 0
	for n := uint64(0); n < u.skipFields && i < len(line); n++ {
		for i < len(line) && isBlankByte(line[i]) {
			i++
		}
		for i < len(line) && !isBlankByte(line[i]) {
			i++
		}
	}
	i += int(min(u.skipChars, uint64(len(line)-i)))
	k := line[i:]
	if u.checkChars < uint64(len(k)) {
		k = k[:u.checkChars]
	}
	return k
}

// isBlankByte is GNU uniq's field_sep: isblank in the C locale, or a
// newline (which a line holds only with -z).
func isBlankByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// Run is GNU uniq's check_file: with no -c -d -D -u it prints each line
// that starts a group (all lines with --group, and the group delimiters),
// else it prints the lines writeLine selects, holding two lines at most (the
// one kept and the one read, each at most lineLimit) as buffers it swaps
// rather than copies.
func (u *uniqStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	done, release := compute.DoneFlag(ctx)
	defer release()
	lr := newLineReader("uniq", in, lineBufSize, u.lineLimit)
	lr.delim = u.eol
	bw := newBlockWriterSize(out, 64<<10)
	var (
		prev     []byte
		havePrev bool
	)
	// keep makes line (valid until the next read) the kept one.
	keep := func(line []byte) {
		if own, ok := lr.takeLong(line); ok {
			// a long line: keep its buffer, and give the reader the old
			// one to gather the next
			prev, lr.long = own, prev[:0]
		} else {
			prev = append(growLine(prev[:0], len(line), u.lineLimit), line...)
		}
		havePrev = true
	}
	next := func() ([]byte, error) {
		if bw.err != nil {
			// A write failed (the reply's disk budget): stop, as GNU
			// uniq dies at a write error, rather than read the rest of
			// the input for nothing.
			return nil, bw.err
		}
		line, _, err := lr.next()
		if err == nil && done.Load() {
			return nil, ctx.Err()
		}
		return line, err
	}
	if u.unique && u.firstRepeated && !u.count {
		printed := false
		for {
			line, err := next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			newGroup := !havePrev || !u.same(prev, line)
			g := u.grouping
			if newGroup && g != "" && (g == "prepend" || g == "both" || printed && (g == "append" || g == "separate")) {
				bw.WriteByte(u.eol)
			}
			if newGroup || g != "" {
				bw.Write(line)
				bw.WriteByte(u.eol)
				keep(line)
				printed = true
			}
		}
		if (u.grouping == "both" || u.grouping == "append") && printed {
			bw.WriteByte(u.eol)
		}
		return bw.Flush()
	}
	first, err := next()
	if err == io.EOF {
		return bw.Flush()
	}
	if err != nil {
		return err
	}
	keep(first)
	var matches int64 // lines after the group's first that matched
	firstDelim := true
	for {
		line, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		match := u.same(prev, line)
		if match {
			matches++
		}
		if u.delimit != "none" {
			if !match {
				if matches > 0 {
					firstDelim = false
				}
			} else if matches == 1 && (u.delimit == "prepend" || u.delimit == "separate" && !firstDelim) {
				bw.WriteByte(u.eol)
			}
		}
		if !match || u.later {
			u.writeLine(bw, prev, match, matches)
			keep(line)
			if !match {
				matches = 0
			}
		}
	}
	u.writeLine(bw, prev, false, matches)
	return bw.Flush()
}

// writeLine is GNU's writeline: line, with matches lines after it in its
// group so far, and whether the line read after it matched.
func (u *uniqStage) writeLine(bw *blockWriter, line []byte, match bool, matches int64) {
	switch {
	case matches == 0 && !u.unique, matches > 0 && !match && !u.firstRepeated, matches > 0 && match && !u.later:
		return
	}
	if u.count {
		var num [24]byte
		b := strconv.AppendInt(num[:0], matches+1, 10)
		for i := len(b); i < 7; i++ {
			bw.WriteByte(' ')
		}
		bw.Write(b)
		bw.WriteByte(' ')
	}
	bw.Write(line)
	bw.WriteByte(u.eol)
}

// same reports whether the group's first line and line compare equal.
func (u *uniqStage) same(first, line []byte) bool {
	if u.skipFields > 0 || u.skipChars > 0 || u.checkChars != math.MaxUint64 {
		first, line = u.key(first), u.key(line)
	}
	return bytes.Equal(first, line) || (u.fold && foldEqual(first, line))
}

// foldEqual reports whether a and b are equal ignoring ASCII case.
func foldEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if upper(a[i]) != upper(b[i]) {
			return false
		}
	}
	return true
}
