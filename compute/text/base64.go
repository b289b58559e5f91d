package text

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"math"

	"github.com/halfclose/halfclose/compute"
)

func registerBase64(r *compute.Registry) {
	r.Register(&compute.Command{
		Name:    "base64",
		Summary: "base64 encode (wrapped at 76, -w N) or decode (-d, -i) the input",
		Flags:   base64Flags,
		Build:   buildBase64,
	})
}

var base64Flags = compute.WithStd(
	compute.FlagSpec{Short: 'd', Long: "decode", Summary: "decode"},
	compute.FlagSpec{Short: 'i', Long: "ignore-garbage", Summary: "when decoding, ignore bytes outside the alphabet"},
	compute.FlagSpec{Short: 'w', Long: "wrap", Value: true, Summary: "wrap encoded lines after N columns (0: no wrapping)"},
)

type base64Stage struct {
	decode bool
	ignore bool
	wrap   int
}

func buildBase64(env *compute.Env, args []string) (compute.Stage, error) {
	s := &base64Stage{wrap: 76}
	// Each -w is judged as it is read, as GNU's option loop does; the
	// last one counts.
	wrap := func(u compute.FlagUse) error {
		if u.Key != "w" {
			return nil
		}
		// GNU: xstrtoimax; negative is an error, an overflow means no
		// wrapping.
		n, _, e := compute.XStrtoimax(u.Value, 10, "")
		if e != compute.NumOK && e != compute.NumOverflow || n < 0 {
			return compute.Invalidf("base64: invalid wrap size %q for %s", u.Value, u.Name)
		}
		if e == compute.NumOverflow {
			n = 0
		}
		s.wrap = int(min(n, math.MaxInt32))
		return nil
	}
	f, err := compute.ParseFlagsCheck("base64", base64Flags, compute.Permute, args, wrap)
	if err != nil {
		return nil, err
	}
	if len(f.Operands) > 1 {
		return nil, compute.Invalidf("base64: extra operand %q", f.Operands[1])
	}
	if err := compute.NoOperandsButStdin("base64", f); err != nil {
		return nil, err
	}
	s.decode, s.ignore = f.Has("d"), f.Has("i")
	return s, nil
}

func (s *base64Stage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	w := newBlockWriter(out)
	var err error
	if s.decode {
		err = s.runDecode(ctx, in, w)
	} else {
		err = s.runEncode(ctx, in, w)
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

func (s *base64Stage) runEncode(ctx context.Context, in io.Reader, w *blockWriter) error {
	enc := base64.StdEncoding
	// lineIn is the input of one output line when lines are whole groups
	// of four: such lines are encoded straight into the output buffer.
	lineIn := 0
	if s.wrap > 0 && s.wrap%4 == 0 && s.wrap <= 1<<16 {
		lineIn = s.wrap / 4 * 3
	}
	unit := 3 // a block is a multiple of 3: no padding mid-stream
	if lineIn > 0 {
		unit = lineIn // whole lines
	}
	block := unit * max(1, (96<<10)/unit)
	// The buffers start small and double, in units, up to block while
	// the input fills them: a small job never allocates block.
	buf := make([]byte, min(block, unit*max(1, smallBufSize/unit)))
	var out, scratch []byte
	col := 0
	have := 0
	emit := func(p []byte) error {
		if n := enc.EncodedLen(len(p)); cap(scratch) < n {
			scratch = make([]byte, n)
			out = make([]byte, 0, n+n/max(1, s.wrap)+2)
		}
		out = out[:0]
		if lineIn > 0 && col == 0 {
			for len(p) >= lineIn {
				n := len(out)
				out = out[:n+s.wrap+1]
				enc.Encode(out[n:], p[:lineIn])
				out[n+s.wrap] = '\n'
				p = p[lineIn:]
			}
		}
		if len(p) > 0 {
			e := scratch[:enc.EncodedLen(len(p))]
			enc.Encode(e, p)
			if s.wrap == 0 {
				out = append(out, e...)
			}
			for s.wrap > 0 && len(e) > 0 { // insert the newlines
				k := min(len(e), s.wrap-col)
				out = append(out, e[:k]...)
				e = e[k:]
				col += k
				if col == s.wrap {
					out = append(out, '\n')
					col = 0
				}
			}
		}
		_, err := w.Write(out)
		return err
	}
	for {
		n, err := in.Read(buf[have:])
		have += n
		if have == len(buf) {
			if werr := emit(buf); werr != nil {
				return werr
			}
			have = 0
			if len(buf) < block {
				buf = make([]byte, min(2*len(buf), block))
			}
		}
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
	if have > 0 {
		if err := emit(buf[:have]); err != nil {
			return err
		}
	}
	if s.wrap > 0 && col > 0 {
		_, err := w.Write([]byte{'\n'})
		return err
	}
	return nil
}

// b64dec maps an alphabet byte to its value; 0xff marks others.
var b64dec = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(a); i++ {
		t[a[i]] = byte(i)
	}
	return t
}()

var errBase64 = compute.Invalidf("base64: invalid input")

// runDecode decodes as GNU base64 -d: newlines are ignored (with -i every
// byte outside the alphabet and '=' is), the rest must be groups of four
// where "xx==" and "xxx=" may end a group anywhere, and a partial group at
// the end is invalid. On invalid input nothing is claimed: the error aborts
// the job.
func (s *base64Stage) runDecode(ctx context.Context, in io.Reader, w *blockWriter) error {
	var text, dst []byte // a chunk without its newlines; what it decodes to
	var q [4]byte
	nq := 0
	err := eachBlock(ctx, in, 128<<10, func(chunk []byte) error {
		if cap(text) < len(chunk) {
			text = make([]byte, 0, len(chunk))
			dst = make([]byte, len(chunk)/4*3+3)
		}
		t := text[:0]
		for p := chunk; len(p) > 0; {
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				t = append(t, p...)
				break
			}
			t = append(t, p[:i]...)
			p = p[i+1:]
		}
		o := 0
		if nq == 0 {
			// Whole groups before any '=' or '\r' (which the standard
			// decoder skips): the standard decoder, unless it finds a
			// byte outside the alphabet, which the loop below handles.
			m := len(t) / 4 * 4
			if j := bytes.IndexByte(t[:m], '='); j >= 0 {
				m = j / 4 * 4
			}
			if j := bytes.IndexByte(t[:m], '\r'); j >= 0 {
				m = 0
			}
			if k, derr := base64.StdEncoding.Decode(dst, t[:m]); derr == nil && k == m/4*3 {
				o, t = k, t[m:]
			}
		}
		for _, c := range t {
			if b64dec[c] == 0xff && c != '=' {
				if c == '\n' || s.ignore {
					continue
				}
				return errBase64
			}
			q[nq] = c
			nq++
			if nq < 4 {
				continue
			}
			nq = 0
			a, b, c2, d := b64dec[q[0]], b64dec[q[1]], b64dec[q[2]], b64dec[q[3]]
			if a|b|c2|d < 64 {
				dst[o] = a<<2 | b>>4
				dst[o+1] = b<<4 | c2>>2
				dst[o+2] = c2<<6 | d
				o += 3
				continue
			}
			if a == 0xff || b == 0xff {
				return errBase64
			}
			dst[o] = a<<2 | b>>4
			o++
			switch {
			case q[2] == '=':
				if q[3] != '=' {
					return errBase64
				}
			case c2 == 0xff:
				return errBase64
			default:
				dst[o] = b<<4 | c2>>2
				o++
				if q[3] != '=' {
					return errBase64
				}
			}
		}
		return writeAll(w, dst[:o])
	})
	if err != nil {
		return err
	}
	if nq != 0 {
		return errBase64
	}
	return nil
}
