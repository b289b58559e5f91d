package text

import (
	"bufio"
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
		compute.FlagSpec{Short: 'D', Refuse: compute.RefuseNotImpl},
		compute.FlagSpec{Long: "all-repeated", Same: "D", Value: true, Optional: true, Refuse: compute.RefuseNotImpl},
		compute.FlagSpec{Long: "group", Value: true, Optional: true, Refuse: compute.RefuseNotImpl},
		compute.FlagSpec{Short: 'f', Long: "skip-fields", Value: true, Summary: "avoid comparing the first N fields (blank-separated)"},
		compute.FlagSpec{Short: 's', Long: "skip-chars", Value: true, Summary: "avoid comparing the first N bytes (after the fields)"},
		compute.FlagSpec{Short: 'w', Long: "check-chars", Value: true, Summary: "compare no more than N bytes"},
		compute.FlagSpec{Short: 'z', Long: "zero-terminated", Refuse: compute.RefuseNotImpl},
	)
	for c := byte('0'); c <= '9'; c++ {
		f = append(f, compute.FlagSpec{Short: c, Summary: "obsolete -N: same as -f N"})
	}
	return f
}()

// uniqStage holds two lines at most: the group's first and the one read
// (each at most lineLimit), as buffers it swaps rather than copies.
type uniqStage struct {
	count, repeated, unique, fold bool
	lineLimit                     int
	// skipFields, skipChars and checkChars are -f, -s and -w (checkChars
	// MaxUint64 when not given), each as GNU's size_opt reads it: an
	// overflowing value is the maximum.
	skipFields, skipChars, checkChars uint64
}

func buildUniq(env *compute.Env, args []string) (compute.Stage, error) {
	const cmd = "uniq"
	g := compute.NewGetopt(cmd, uniqFlags, compute.InOrder, args)
	f := &compute.Flags{}
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
			f.Uses = append(f.Uses, it.Flag)
			continue
		}
		// Before "--", an operand +N is the obsolete form of -s N.
		if strings.HasPrefix(it.Operand, "+") {
			if _, _, e := compute.XStrtoumax(it.Operand, 10, ""); e == compute.NumOK {
				f.Uses = append(f.Uses, compute.FlagUse{Key: "s", Name: it.Operand, Value: it.Operand})
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
	if len(files) > 0 && files[0] != "-" {
		return nil, compute.NoOperands(cmd, &compute.Flags{Operands: files[:1]})
	}
	if len(files) > 1 && files[1] != "-" {
		return nil, compute.Invalidf("%s: unsupported output operand %q (%s)", cmd, files[1], compute.RefuseOutput)
	}
	u := &uniqStage{count: f.Has("c"), repeated: f.Has("d"), unique: f.Has("u"), fold: f.Has("i"), lineLimit: env.LineLimit(), checkChars: math.MaxUint64}
	obsolete := false // the last field count was GNU's obsolete -N
	for _, use := range f.Uses {
		var dst *uint64
		var what string
		switch k := use.Key; {
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
			continue
		case k == "f":
			obsolete = false
			dst, what = &u.skipFields, "invalid number of fields to skip"
		case k == "s": // also the obsolete +N
			dst, what = &u.skipChars, "invalid number of bytes to skip"
		case k == "w":
			dst, what = &u.checkChars, "invalid number of bytes to compare"
		default:
			continue
		}
		v, _, e := compute.XStrtoumax(use.Value, 10, "")
		if e > compute.NumOverflow {
			return nil, compute.Invalidf("%s: %s: %q for %s", cmd, what, use.Value, use.Name)
		}
		*dst = v // NumOverflow leaves the maximum
	}
	return u, nil
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

// isBlankByte is isblank in the C locale (a newline cannot occur in a line).
func isBlankByte(c byte) bool { return c == ' ' || c == '\t' }

// Run prints the first line of each group of equal adjacent lines.
func (u *uniqStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	done, release := compute.DoneFlag(ctx)
	defer release()
	lr := newLineReader("uniq", in, lineBufSize, u.lineLimit)
	bw := bufio.NewWriterSize(out, 64<<10)
	var (
		prev []byte
		n    int64 // lines in the current group; 0 before the first line
	)
	flush := func() error {
		if n == 0 || (u.repeated && n < 2) || (u.unique && n > 1) {
			return nil
		}
		if u.count {
			var num [24]byte
			b := strconv.AppendInt(num[:0], n, 10)
			for i := len(b); i < 7; i++ {
				bw.WriteByte(' ')
			}
			bw.Write(b)
			bw.WriteByte(' ')
		}
		bw.Write(prev)
		return bw.WriteByte('\n')
	}
	for {
		line, _, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if done.Load() {
			return ctx.Err()
		}
		if n > 0 && u.same(prev, line) {
			n++
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if own, ok := lr.takeLong(line); ok {
			// a long line: keep its buffer, and give the reader the old
			// one to gather the next
			prev, lr.long = own, prev[:0]
		} else {
			prev = append(growLine(prev[:0], len(line), u.lineLimit), line...)
		}
		n = 1
	}
	if err := flush(); err != nil {
		return err
	}
	return bw.Flush()
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
