package text

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strconv"

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

var uniqFlags = []compute.FlagSpec{
	{Short: 'c', Long: "count", Summary: "prefix lines by the number of occurrences"},
	{Short: 'd', Long: "repeated", Summary: "only print duplicate lines, one for each group"},
	{Short: 'u', Long: "unique", Summary: "only print unique lines"},
	{Short: 'i', Long: "ignore-case", Summary: "ignore ASCII case when comparing"},
}

type uniqStage struct {
	count, repeated, unique, fold bool
}

func buildUniq(env *compute.Env, args []string) (compute.Stage, error) {
	f, err := compute.ParseFlags("uniq", uniqFlags, args)
	if err != nil {
		return nil, err
	}
	if err := uniqOperands("uniq", f); err != nil {
		return nil, err
	}
	return &uniqStage{count: f.Has("c"), repeated: f.Has("d"), unique: f.Has("u"), fold: f.Has("i")}, nil
}

// uniqOperands is NoOperands accepting a lone "-" (stdin), as GNU does.
func uniqOperands(cmd string, f *compute.Flags) error {
	if len(f.Operands) == 1 && f.Operands[0] == "-" {
		return nil
	}
	return compute.NoOperands(cmd, f)
}

// Run prints the first line of each group of equal adjacent lines.
func (u *uniqStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	lr := newLineReader("uniq", in, lineBufSize)
	bw := bufio.NewWriterSize(out, 64<<10)
	var (
		prev  []byte
		n     int64 // lines in the current group; 0 before the first line
		lines int
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
		if lines++; lines&4095 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if n > 0 && (bytes.Equal(prev, line) || (u.fold && foldEqual(prev, line))) {
			n++
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		prev = append(prev[:0], line...)
		n = 1
	}
	if err := flush(); err != nil {
		return err
	}
	return bw.Flush()
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
