package compute

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/zeebo/blake3"
)

// The digest commands hash their input while it flows and print one line
// at EOF, byte for byte as the GNU tool (or b3sum) reading stdin. Operands
// other than "-" are rejected: a server opens no files. Several "-"
// operands print one line each, as GNU does: the first for the input, the
// others for the already exhausted stdin, i.e. the empty input.

// digestBufSize is the read buffer of the digest and wc stages.
const digestBufSize = 256 << 10

var digestBufPool = sync.Pool{New: func() any { b := make([]byte, digestBufSize); return &b }}

// readAll feeds every byte of in to w (which never fails) and returns the
// count. An error other than io.EOF is an abort and is returned as is.
func readAll(in io.Reader, w io.Writer) (int64, error) {
	if wt, ok := in.(io.WriterTo); ok {
		return wt.WriteTo(w)
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
	}
}

// digestStage hashes its input and prints one line per output name.
type digestStage struct {
	newHash func() hash.Hash
	names   []string // one output per name; the first is for the input
	print   func(w *bufio.Writer, h hash.Hash, n int64, name string) error
}

func (s *digestStage) Run(ctx context.Context, in io.Reader, out io.Writer) error {
	h := s.newHash()
	n, err := readAll(in, h)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 4096)
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
func stdinOperands(cmd string, f *Flags) (int, error) {
	for _, op := range f.Operands {
		if op != "-" {
			return 0, NoOperands(cmd, &Flags{Operands: []string{op}})
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

// rejectFlags are accepted by the parser only to be refused with a clear
// message: there are no checksum files to verify on a server.
func rejectCheckFlags(cmd string, f *Flags, reject []FlagSpec) error {
	for _, u := range f.Uses {
		for _, r := range reject {
			if u.Key == r.Key() {
				return Invalidf("%s: %s is not supported: there are no checksum files to verify", cmd, u.Name)
			}
		}
	}
	return nil
}

var checkFlags = []FlagSpec{
	{Short: 'c', Long: "check"},
	{Long: "ignore-missing"},
	{Long: "quiet"},
	{Long: "status"},
	{Long: "strict"},
	{Short: 'w', Long: "warn"},
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

// gnuSum describes one of md5sum ... sha512sum, b2sum.
type gnuSum struct {
	cmd  string
	tag  string
	algo string
	b2   bool // b2sum: -l and a length-dependent tag
}

var gnuSums = []gnuSum{
	{cmd: "md5sum", tag: "MD5", algo: "md5"},
	{cmd: "sha1sum", tag: "SHA1", algo: "sha1"},
	{cmd: "sha224sum", tag: "SHA224", algo: "sha224"},
	{cmd: "sha256sum", tag: "SHA256", algo: "sha256"},
	{cmd: "sha384sum", tag: "SHA384", algo: "sha384"},
	{cmd: "sha512sum", tag: "SHA512", algo: "sha512"},
	{cmd: "b2sum", tag: "BLAKE2b", algo: "blake2b", b2: true},
}

var sumFlags = []FlagSpec{
	{Short: 'b', Long: "binary", Summary: "mark the input binary ('*' before the name)"},
	{Short: 't', Long: "text", Summary: "mark the input text (the default)"},
	{Long: "tag", Summary: "BSD-style output: ALGO (-) = HEX"},
	{Short: 'z', Long: "zero", Summary: "end the line with NUL, not newline"},
}

var lengthFlag = FlagSpec{Short: 'l', Long: "length", Value: true, Summary: "digest length in bits: a multiple of 8, at most 512 (0 = 512)"}

// parseB2Length parses -l as GNU xdectoumax does (leading white space and
// '+' allowed, decimal digits only) and checks it for BLAKE2b. 0 means 512.
func parseB2Length(cmd string, u FlagUse) (int, error) {
	s := strings.TrimLeft(u.Value, " \t\n\v\f\r")
	s = strings.TrimPrefix(s, "+")
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, Invalidf("%s: invalid length %q for %s", cmd, u.Value, u.Name)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	switch {
	case err != nil:
		return 0, Invalidf("%s: invalid length %q for %s: too large", cmd, u.Value, u.Name)
	case n%8 != 0:
		return 0, Invalidf("%s: invalid length %q for %s: not a multiple of 8", cmd, u.Value, u.Name)
	case n > 512:
		return 0, Invalidf("%s: invalid length %q for %s: the maximum for BLAKE2b is 512 bits", cmd, u.Value, u.Name)
	}
	return int(n), nil
}

func blake2bTag(bits int) string {
	if bits == 512 {
		return "BLAKE2b"
	}
	return "BLAKE2b-" + strconv.Itoa(bits)
}

func (g gnuSum) register() {
	flags := append([]FlagSpec(nil), sumFlags...)
	if g.b2 {
		flags = append(flags, lengthFlag)
	}
	parse := append(append([]FlagSpec(nil), flags...), checkFlags...)
	algo, _ := LookupAlgo(g.algo)
	Register(&Command{
		Name:    g.cmd,
		Summary: "print the " + g.tag + " digest of the input, as GNU " + g.cmd,
		Flags:   flags,
		Build: func(env *Env, args []string) (Stage, error) {
			f, err := ParseFlags(g.cmd, parse, args)
			if err != nil {
				return nil, err
			}
			if err := rejectCheckFlags(g.cmd, f, checkFlags); err != nil {
				return nil, err
			}
			outputs, err := stdinOperands(g.cmd, f)
			if err != nil {
				return nil, err
			}
			var (
				tagged  bool
				binMode = -1 // -1 unset, 0 text, 1 binary, as GNU
				eol     = byte('\n')
				newHash = algo.New
				tag     = g.tag
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
					bits, err := parseB2Length(g.cmd, u)
					if err != nil {
						return nil, err
					}
					if bits == 0 {
						bits = 512
					}
					newHash = func() hash.Hash { return newBlake2b(bits / 8) }
					tag = blake2bTag(bits)
				}
			}
			if tagged && binMode == 0 {
				return nil, Invalidf("%s: --tag does not support --text mode", g.cmd)
			}
			return &digestStage{
				newHash: newHash,
				names:   repeatName("-", outputs),
				print: func(w *bufio.Writer, h hash.Hash, _ int64, name string) error {
					gnuLine(w, tag, h.Sum(nil), name, tagged, binMode == 1, eol)
					return nil
				},
			}, nil
		},
	})
}

// cksum.

var cksumFlags = []FlagSpec{
	{Short: 'a', Long: "algorithm", Value: true, Summary: "sysv, bsd, crc (default), md5, sha1, sha224, sha256, sha384, sha512, blake2b"},
	lengthFlag,
	{Long: "tag", Summary: "BSD-style output (the default for digests)"},
	{Long: "untagged", Summary: "GNU-style output: HEX  -"},
	{Short: 'z', Long: "zero", Summary: "end the line with NUL, not newline"},
	{Long: "debug", Summary: "accepted; has no effect on the output"},
}

var cksumAlgos = []string{"sysv", "bsd", "crc", "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b"}

func buildCksum(env *Env, args []string) (Stage, error) {
	const cmd = "cksum"
	f, err := ParseFlags(cmd, append(append([]FlagSpec(nil), cksumFlags...), checkFlags...), args)
	if err != nil {
		return nil, err
	}
	if err := rejectCheckFlags(cmd, f, checkFlags); err != nil {
		return nil, err
	}
	outputs, err := stdinOperands(cmd, f)
	if err != nil {
		return nil, err
	}
	var (
		algo   = "crc"
		bits   = 0
		lenUse FlagUse
		tagged = true
		eol    = byte('\n')
	)
	for _, u := range f.Uses {
		switch u.Key {
		case "a":
			algo = u.Value
			if algo == "sm3" {
				return nil, Invalidf("%s: algorithm %q is not supported", cmd, algo)
			}
			known := false
			for _, a := range cksumAlgos {
				known = known || a == algo
			}
			if !known {
				return nil, Invalidf("%s: invalid algorithm %q for %s (valid: %s)", cmd, algo, u.Name, strings.Join(cksumAlgos, ", "))
			}
		case "l":
			if bits, err = parseB2Length(cmd, u); err != nil {
				return nil, err
			}
			lenUse = u
		case "tag":
			tagged = true
		case "untagged":
			tagged = false
		case "z":
			eol = 0
		}
	}
	if bits != 0 && algo != "blake2b" {
		return nil, Invalidf("%s: %s is only supported with --algorithm=blake2b", cmd, lenUse.Name)
	}
	// With no operand the legacy sums print no name; the digests print "-".
	names := repeatName("-", outputs)
	sep := " -"
	if len(f.Operands) == 0 {
		sep = ""
	}
	st := &digestStage{names: names}
	switch algo {
	case "crc":
		st.newHash = func() hash.Hash { return new(posixCRC) }
		st.print = func(w *bufio.Writer, h hash.Hash, n int64, _ string) error {
			fmt.Fprintf(w, "%d %d%s%c", h.(*posixCRC).sum32(), n, sep, eol)
			return nil
		}
	case "sysv":
		st.newHash = func() hash.Hash { return new(sysvSum) }
		st.print = func(w *bufio.Writer, h hash.Hash, n int64, _ string) error {
			fmt.Fprintf(w, "%d %d%s%c", h.(*sysvSum).sum16(), (n+511)/512, sep, eol)
			return nil
		}
	case "bsd":
		st.newHash = func() hash.Hash { return new(bsdSum) }
		st.print = func(w *bufio.Writer, h hash.Hash, n int64, _ string) error {
			fmt.Fprintf(w, "%05d %5d%s%c", h.(*bsdSum).c, (n+1023)/1024, sep, eol)
			return nil
		}
	default:
		a, _ := LookupAlgo(algo)
		st.newHash = a.New
		tag := strings.ToUpper(algo)
		if algo == "blake2b" {
			if bits == 0 {
				bits = 512
			}
			st.newHash = func() hash.Hash { return newBlake2b(bits / 8) }
			tag = blake2bTag(bits)
		}
		st.print = func(w *bufio.Writer, h hash.Hash, _ int64, name string) error {
			gnuLine(w, tag, h.Sum(nil), name, tagged, false, eol)
			return nil
		}
	}
	return st, nil
}

// sysvSum is `sum -s`: the byte sum modulo 2^32 (an unsigned int in GNU),
// folded to 16 bits.
type sysvSum struct{ s uint32 }

func (s *sysvSum) Write(p []byte) (int, error) {
	var a, b, c, d uint32
	q := p
	for len(q) >= 4 {
		a += uint32(q[0])
		b += uint32(q[1])
		c += uint32(q[2])
		d += uint32(q[3])
		q = q[4:]
	}
	for _, x := range q {
		a += uint32(x)
	}
	s.s += a + b + c + d
	return len(p), nil
}

func (s *sysvSum) sum16() uint32 {
	r := s.s&0xffff + s.s>>16
	return r&0xffff + r>>16
}

func (s *sysvSum) Sum(b []byte) []byte { return binary.BigEndian.AppendUint16(b, uint16(s.sum16())) }
func (s *sysvSum) Reset()              { s.s = 0 }
func (s *sysvSum) Size() int           { return 2 }
func (s *sysvSum) BlockSize() int      { return 1 }

// bsdSum is `sum -r`: the 16-bit rotating checksum.
type bsdSum struct{ c uint16 }

func (s *bsdSum) Write(p []byte) (int, error) {
	c := s.c
	for _, x := range p {
		c = (c>>1 | c<<15) + uint16(x)
	}
	s.c = c
	return len(p), nil
}

func (s *bsdSum) Sum(b []byte) []byte { return binary.BigEndian.AppendUint16(b, s.c) }
func (s *bsdSum) Reset()              { s.c = 0 }
func (s *bsdSum) Size() int           { return 2 }
func (s *bsdSum) BlockSize() int      { return 1 }

// b3sum.

// maxB3Len bounds b3sum -l: BLAKE3's output is unbounded, a reply is not.
const maxB3Len = 64 << 20

var b3Flags = []FlagSpec{
	{Short: 'l', Long: "length", Value: true, Summary: "output bytes before hex encoding (default 32, at most 64 MiB)"},
	{Long: "no-names", Summary: "omit the name"},
	{Long: "raw", Summary: "write the raw output bytes, no hex and no name"},
	{Long: "derive-key", Value: true, Summary: "key derivation mode with this context string"},
	{Long: "num-threads", Value: true, Summary: "accepted; has no effect"},
	{Long: "no-mmap", Summary: "accepted; has no effect"},
}

var b3Reject = []FlagSpec{{Short: 'c', Long: "check"}, {Long: "quiet"}, {Long: "keyed"}}

// parseUsize parses as Rust's usize::from_str: an optional '+' and digits.
func parseUsize(s string) (uint64, bool) {
	s = strings.TrimPrefix(s, "+")
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

func buildB3sum(env *Env, args []string) (Stage, error) {
	const cmd = "b3sum"
	f, err := ParseFlags(cmd, append(append([]FlagSpec(nil), b3Flags...), b3Reject...), args)
	if err != nil {
		return nil, err
	}
	for _, u := range f.Uses {
		switch u.Key {
		case "keyed":
			return nil, Invalidf("%s: --keyed is not supported: the key would be read from the input", cmd)
		case "c", "quiet":
			return nil, Invalidf("%s: %s is not supported: there are no checksum files to verify", cmd, u.Name)
		}
	}
	outputs, err := stdinOperands(cmd, f)
	if err != nil {
		return nil, err
	}
	var (
		size    uint64 = 32
		noNames bool
		raw     bool
		newHash = func() hash.Hash { return blake3.New() }
	)
	for _, u := range f.Uses {
		switch u.Key {
		case "l":
			n, ok := parseUsize(u.Value)
			if !ok {
				return nil, Invalidf("%s: invalid length %q for %s", cmd, u.Value, u.Name)
			}
			if n > maxB3Len {
				return nil, Invalidf("%s: length %q for %s is over the limit of %d bytes", cmd, u.Value, u.Name, maxB3Len)
			}
			size = n
		case "no-names":
			noNames = true
		case "raw":
			raw = true
		case "derive-key":
			ctxStr := u.Value
			newHash = func() hash.Hash { return blake3.NewDeriveKey(ctxStr) }
		case "num-threads":
			if _, ok := parseUsize(u.Value); !ok {
				return nil, Invalidf("%s: invalid number %q for %s", cmd, u.Value, u.Name)
			}
		}
	}
	if raw && outputs > 1 {
		return nil, Invalidf("%s: --raw takes at most one input", cmd)
	}
	return &digestStage{
		newHash: newHash,
		names:   repeatName("-", outputs),
		print: func(w *bufio.Writer, h hash.Hash, _ int64, name string) error {
			d := h.(*blake3.Hasher).Digest()
			var buf [4096]byte
			for left := size; left > 0; {
				k := min(left, uint64(len(buf)))
				if _, err := io.ReadFull(d, buf[:k]); err != nil {
					return Internal("b3sum: output failed", err)
				}
				if raw {
					w.Write(buf[:k])
				} else {
					writeHex(w, buf[:k])
				}
				left -= k
			}
			if raw {
				return nil
			}
			if !noNames {
				w.WriteString("  ")
				w.WriteString(name)
			}
			return w.WriteByte('\n')
		},
	}, nil
}

// hexSumCommand registers a non-GNU checksum printed as "HEX  -".
func hexSumCommand(cmd, algoName, summary string) {
	algo, _ := LookupAlgo(algoName)
	Register(&Command{
		Name:    cmd,
		Summary: summary,
		Build: func(env *Env, args []string) (Stage, error) {
			f, err := ParseFlags(cmd, nil, args)
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
				print: func(w *bufio.Writer, h hash.Hash, _ int64, name string) error {
					gnuLine(w, "", h.Sum(nil), name, false, false, '\n')
					return nil
				},
			}, nil
		},
	})
}

func init() {
	for _, g := range gnuSums {
		g.register()
	}
	Register(&Command{
		Name:    "cksum",
		Summary: "print the POSIX CRC and size of the input, or another digest with -a, as GNU cksum 9.1",
		Flags:   cksumFlags,
		Build:   buildCksum,
	})
	Register(&Command{
		Name:    "b3sum",
		Summary: "print the BLAKE3 digest of the input, as the b3sum tool",
		Flags:   b3Flags,
		Build:   buildB3sum,
	})
	hexSumCommand("crc32c", "crc32c", "print the CRC-32C (Castagnoli) of the input as 8 hex digits: HEX  -")
	hexSumCommand("xxh3", "xxh3", "print the XXH3-64 hash of the input as 16 hex digits: HEX  -")
}
