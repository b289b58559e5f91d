package text

import (
	"bufio"
	"bytes"
	"context"
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
	t := &tacStage{spool: env.Spool, sep: sep, before: f.Has("b")}
	return t, nil
}

var tacFlags = compute.WithStd(
	compute.FlagSpec{Short: 'b', Long: "before", Summary: "attach the separator before instead of after"},
	compute.FlagSpec{Short: 's', Long: "separator", Value: true, Summary: "use STRING as the separator instead of newline (empty: NUL)"},
	compute.FlagSpec{Short: 'r', Long: "regex", Refuse: "regular-expression separators are " + compute.RefuseNotImpl},
)

// tacStage must see all of its input before it can write its first byte, so
// it keeps the input in a chunkQueue (memory, then spill files) and walks it
// backwards.
type tacStage struct {
	spool  compute.SpoolConfig
	sep    []byte
	before bool
}

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
	bw := bufio.NewWriterSize(out, 256<<10)
	var err error
	if len(t.sep) == 1 && !t.before {
		err = t.reverseByte(ctx, q, bw)
	} else {
		err = t.reverseString(ctx, q, bw)
	}
	if err != nil {
		return err
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

// reverseString handles a multi-byte separator or -b. Like GNU tac it
// finds separators from the end backwards, each match ending at or before
// the start of the one after it.
func (t *tacStage) reverseString(ctx context.Context, q *chunkQueue, w *bufio.Writer) error {
	total := q.Len()
	sl := int64(len(t.sep))
	recEnd, limit := total, total
	var carry []byte // the bytes just after the current chunk, up to len(sep)-1
	err := q.walkBackward(func(base int64, b []byte) error {
		buf := append(b[:len(b):len(b)], carry...)
		end := int(min(int64(len(buf)), limit-base))
		for end > 0 {
			j := bytes.LastIndex(buf[:end], t.sep)
			if j < 0 {
				break
			}
			p := base + int64(j)
			start := p
			if !t.before {
				start = p + sl
			}
			if start < total {
				if err := writeRecord(w, q, b, base, start, recEnd); err != nil {
					return err
				}
				recEnd = start
			}
			limit, end = p, j
		}
		carry = append([]byte(nil), buf[:min(len(buf), len(t.sep)-1)]...)
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	return q.writeRange(w, 0, recEnd)
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
