package digest

import (
	"bufio"
	"context"
	"encoding/hex"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/halfclose/halfclose/compute"
)

// The digest commands hash their input while it flows and print one line
// at EOF, byte for byte as the GNU tool (or b3sum) reading stdin. Operands
// other than "-" are rejected: a server opens no files. Several "-"
// operands print one line each, as GNU does: the first for the input, the
// others for the already exhausted stdin, i.e. the empty input.

// digestBufSize is the read buffer of the digest stages.
const digestBufSize = 256 << 10

var digestBufPool = sync.Pool{New: func() any { b := make([]byte, digestBufSize); return &b }}

// readAll feeds every byte of in to w (which never fails) and returns the
// count, checking ctx between reads. An error other than io.EOF is an
// abort and is returned as is.
func readAll(ctx context.Context, in io.Reader, w io.Writer) (int64, error) {
	if wt, ok := in.(io.WriterTo); ok {
		return wt.WriteTo(ctxWriter{ctx, w})
	}
	bp := digestBufPool.Get().(*[]byte)
	defer digestBufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		k, err := in.Read(buf)
		if k > 0 {
			w.Write(buf[:k])
			n += int64(k)
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

// ctxWriter is w that fails once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// lineWriters buffer the digest lines a stage prints: a new 4 KiB
// bufio.Writer a job, zeroed by the runtime, was 4 % of the server's CPU
// on 1 KiB route jobs (pprof) and half the bytes they allocated (issue
// 14; docs/operations.md, "Small TCP jobs").
var lineWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}

// digestStage hashes its input and prints one line per output name.
type digestStage struct {
	newHash func() hash.Hash
	names   []string // one output per name; the first is for the input
	print   func(w *bufio.Writer, h hash.Hash, n int64, name string) error
	// diag is a line to report on standard error (cksum --debug).
	diag string
	// lineMax bounds the bytes print writes for one name (0: unknown).
	lineMax int64
}

// digestLineMax bounds a digest line of a sum of size bytes: its hex,
// the tag, "-" and the punctuation around them ("TAG (-) = HEX\n").
func digestLineMax(size int, tag string) int64 {
	return int64(2*size+len(tag)) + 16
}

// MaxOutput bounds the stage's output (compute.BoundedStage): a line per
// name.
func (s *digestStage) MaxOutput() int64 {
	if s.lineMax <= 0 {
		return -1
	}
	return int64(len(s.names)) * s.lineMax
}

func (s *digestStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	if s.diag != "" {
		compute.Diagnose(ctx, s.diag)
	}
	h := s.newHash()
	n, err := readAll(ctx, in, h)
	if err != nil {
		return err
	}
	bw := lineWriters.Get().(*bufio.Writer)
	bw.Reset(out)
	defer func() {
		bw.Reset(nil)
		lineWriters.Put(bw)
	}()
	for i, name := range s.names {
		if i > 0 {
			h, n = s.newHash(), 0
		}
		if err := s.print(bw, h, n, name); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// stdinOperands checks that every operand is "-" and returns how many
// outputs the command prints (at least one).
func stdinOperands(cmd string, f *compute.Flags) (int, error) {
	for _, op := range f.Operands {
		if op != "-" {
			return 0, compute.NoOperands(cmd, &compute.Flags{Operands: []string{op}})
		}
	}
	return max(1, len(f.Operands)), nil
}

func repeatName(name string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = name
	}
	return s
}

// refuseCheck and refuseCheckOnly are why the check-mode flags are
// refused: checking opens the files a list names, which a server never
// does; the halfclose client reads the lists and uploads each file
// (docs/cli.md).
const (
	refuseCheck     = "the server opens no files: the halfclose client checks lists itself (halfclose CMD -c LIST)"
	refuseCheckOnly = "meaningful only when verifying checksums, which the halfclose client does (-c)"
)

// checkFlags are GNU's check-mode flags, refused. With --help and
// --version.
var checkFlags = compute.WithStd(
	compute.FlagSpec{Short: 'c', Long: "check", Refuse: refuseCheck},
	compute.FlagSpec{Long: "ignore-missing", Refuse: refuseCheckOnly},
	compute.FlagSpec{Long: "quiet", Refuse: refuseCheckOnly},
	compute.FlagSpec{Long: "status", Refuse: refuseCheckOnly},
	compute.FlagSpec{Long: "strict", Refuse: refuseCheckOnly},
	compute.FlagSpec{Short: 'w', Long: "warn", Refuse: refuseCheckOnly},
)

// IsCheckFlag reports whether s is one of the check-mode flags (-c,
// --quiet, …), which the server refuses and the halfclose client runs.
func IsCheckFlag(s compute.FlagSpec) bool {
	return s.Refuse == refuseCheck || s.Refuse == refuseCheckOnly
}

// gnuLine writes a GNU digest line: "HEX  NAME" (or "HEX *NAME" in binary
// mode) or, tagged, "TAG (NAME) = HEX".
func gnuLine(w *bufio.Writer, tag string, sum []byte, name string, tagged, binaryMode bool, eol byte) {
	if tagged {
		w.WriteString(tag)
		w.WriteString(" (")
		w.WriteString(name)
		w.WriteString(") = ")
		writeHex(w, sum)
	} else {
		writeHex(w, sum)
		w.WriteByte(' ')
		if binaryMode {
			w.WriteByte('*')
		} else {
			w.WriteByte(' ')
		}
		w.WriteString(name)
	}
	w.WriteByte(eol)
}

func writeHex(w *bufio.Writer, b []byte) {
	var tmp [128]byte
	for len(b) > 0 {
		k := min(len(b), len(tmp)/2)
		hex.Encode(tmp[:], b[:k])
		w.Write(tmp[:2*k])
		b = b[k:]
	}
}

var sumFlags = []compute.FlagSpec{
	{Short: 'b', Long: "binary", Summary: "mark the input binary ('*' before the name)"},
	{Short: 't', Long: "text", Summary: "mark the input text (the default)"},
	{Long: "tag", Summary: "BSD-style output: ALGO (-) = HEX"},
	{Short: 'z', Long: "zero", Summary: "end the line with NUL, not newline"},
}

var lengthFlag = compute.FlagSpec{Short: 'l', Long: "length", Value: true, Summary: "digest length in bits: a multiple of 8, at most 512 (0 = 512)"}

// parseB2Length parses -l as GNU xdectoumax does (leading white space and
// '+' allowed, decimal digits only) and checks it is a multiple of 8. 0
// means 512. As in GNU, the maximum is checked once, on the last -l
// (checkB2Max): b2sum -l 520 -l 8 is -l 8, but -l 7 -l 8 is an error.
func parseB2Length(cmd string, u compute.FlagUse) (int, error) {
	s := strings.TrimLeft(u.Value, " \t\n\v\f\r")
	s = strings.TrimPrefix(s, "+")
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, compute.Invalidf("%s: invalid length %q for %s", cmd, u.Value, u.Name)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	switch {
	case err != nil:
		return 0, compute.Invalidf("%s: invalid length %q for %s: too large", cmd, u.Value, u.Name)
	case n%8 != 0:
		return 0, compute.Invalidf("%s: invalid length %q for %s: not a multiple of 8", cmd, u.Value, u.Name)
	case n > 512:
		return 513, nil // checkB2Max refuses it, if it is the last
	}
	return int(n), nil
}

// checkB2Max checks the last -l (u, parsed to bits) against BLAKE2b's
// maximum.
func checkB2Max(cmd string, u compute.FlagUse, bits int) error {
	if bits > 512 {
		return compute.Invalidf("%s: invalid length %q for %s: the maximum for BLAKE2b is 512 bits", cmd, u.Value, u.Name)
	}
	return nil
}

func blake2bTag(bits int) string {
	if bits == 512 {
		return "BLAKE2b"
	}
	return "BLAKE2b-" + strconv.Itoa(bits)
}

// gnuSumCommand is one of md5sum ... sha512sum, b2sum (with -l and a
// length-dependent tag).
func gnuSumCommand(algo *Algo) *compute.Command {
	b2 := algo.Name == "blake2b"
	flags := append([]compute.FlagSpec(nil), sumFlags...)
	if b2 {
		flags = append(flags, lengthFlag)
	}
	parse := append(append([]compute.FlagSpec(nil), flags...), checkFlags...)
	return &compute.Command{
		Name:    algo.Command,
		Summary: algo.summary,
		Flags:   parse,
		Build: func(env *compute.Env, args []string) (compute.Stage, error) {
			f, err := compute.ParseFlagsCheck(algo.Command, parse, compute.Permute, args, checkDigestFlag(algo.Command))
			if err != nil {
				return nil, err
			}
			var (
				tagged  bool
				binMode = -1 // -1 unset, 0 text, 1 binary, as GNU
				eol     = byte('\n')
				newHash = algo.New
				tag     = algo.Tag
				size    = algo.Size
				lenBits int             // the last -l
				lenUse  compute.FlagUse // the last -l, if any
			)
			for _, u := range f.Uses {
				switch u.Key {
				case "b":
					binMode = 1
				case "t":
					binMode = 0
				case "tag":
					tagged, binMode = true, 1
				case "z":
					eol = 0
				case "l":
					bits, err := parseB2Length(algo.Command, u)
					if err != nil {
						return nil, err
					}
					if bits == 0 {
						bits = 512
					}
					lenBits, lenUse = bits, u
				}
			}
			if lenUse.Name != "" {
				if err := checkB2Max(algo.Command, lenUse, lenBits); err != nil {
					return nil, err
				}
				newHash = func() hash.Hash { return newBlake2b(lenBits / 8) }
				tag = blake2bTag(lenBits)
				size = lenBits / 8
			}
			if tagged && binMode == 0 {
				return nil, compute.Invalidf("%s: --tag does not support --text mode", algo.Command)
			}
			// Files are GNU's last concern, after the flags' checks.
			outputs, err := stdinOperands(algo.Command, f)
			if err != nil {
				return nil, err
			}
			return &digestStage{
				newHash: newHash,
				names:   repeatName("-", outputs),
				lineMax: digestLineMax(size, tag),
				print: func(w *bufio.Writer, h hash.Hash, _ int64, name string) error {
					gnuLine(w, tag, h.Sum(nil), name, tagged, binMode == 1, eol)
					return nil
				},
			}, nil
		},
	}
}

// hexSumCommand is a non-GNU checksum printed as "HEX  -".
func hexSumCommand(algo *Algo) *compute.Command {
	cmd := algo.Command
	return &compute.Command{
		Name:    cmd,
		Summary: algo.summary,
		Build: func(env *compute.Env, args []string) (compute.Stage, error) {
			f, err := compute.ParseFlags(cmd, nil, args)
			if err != nil {
				return nil, err
			}
			outputs, err := stdinOperands(cmd, f)
			if err != nil {
				return nil, err
			}
			return &digestStage{
				newHash: algo.New,
				names:   repeatName("-", outputs),
				lineMax: digestLineMax(algo.Size, ""),
				print: func(w *bufio.Writer, h hash.Hash, _ int64, name string) error {
					gnuLine(w, "", h.Sum(nil), name, false, false, '\n')
					return nil
				},
			}, nil
		},
	}
}

// IsCommand reports whether name is a digest command: an algorithm's
// (ByCommand), or sum, whose sums cksum -a bsd and sysv also print.
func IsCommand(name string) bool {
	_, ok := ByCommand(name)
	return ok || name == "sum"
}

// Register adds the command of every algorithm to r, and sum.
func Register(r *compute.Registry) {
	for _, a := range algos {
		switch a.style {
		case styleGNU:
			r.Register(gnuSumCommand(a))
		case styleCksum:
			r.Register(&compute.Command{Name: a.Command, Summary: a.summary, Flags: cksumFlags, Build: buildCksum})
			r.Register(&compute.Command{Name: "sum", Summary: sumSummary, Flags: bsdSumFlags, Build: buildSum})
		case styleB3:
			r.Register(&compute.Command{Name: a.Command, Summary: a.summary, Flags: append(append([]compute.FlagSpec(nil), b3Flags...), b3Reject...), Build: buildB3sum})
		case styleHex:
			r.Register(hexSumCommand(a))
		}
	}
}
