package digest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/halfclose/halfclose/compute"
)

// cksum.

var cksumFlags = append([]compute.FlagSpec{
	{Short: 'a', Long: "algorithm", Value: true, Summary: "sysv, bsd, crc (default), md5, sha1, sha224, sha256, sha384, sha512, blake2b"},
	lengthFlag,
	{Long: "tag", Summary: "BSD-style output (the default for digests)"},
	{Long: "untagged", Summary: "GNU-style output: HEX  -"},
	{Short: 'z', Long: "zero", Summary: "end the line with NUL, not newline"},
	{Long: "debug", Summary: "report on standard error which implementation GNU would use for the CRC"},
}, checkFlags...)

var cksumAlgos = []string{"sysv", "bsd", "crc", "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b"}

// checkDigestFlag judges, as each flag is read, the values GNU's option
// loop judges (-l, cksum's -a), so that of two errors on a line the first
// is named, as in GNU (b2sum -l 9 -Q: the length). The builders read
// them again once all are read.
func checkDigestFlag(cmd string) func(compute.FlagUse) error {
	return func(u compute.FlagUse) error {
		switch u.Key {
		case "a":
			if u.Value == "sm3" || slices.Contains(cksumAlgos, u.Value) {
				return nil
			}
			return compute.Invalidf("%s: invalid algorithm %q for %s (valid: %s)", cmd, u.Value, u.Name, strings.Join(cksumAlgos, ", "))
		case "l":
			_, err := parseB2Length(cmd, u)
			return err
		}
		return nil
	}
}

func buildCksum(env *compute.Env, args []string) (compute.Stage, error) {
	const cmd = "cksum"
	f, err := compute.ParseFlagsCheck(cmd, cksumFlags, compute.Permute, args, checkDigestFlag(cmd))
	if err != nil {
		return nil, err
	}
	var (
		algo   = "crc"
		bits   = 0
		lenUse compute.FlagUse
		tagged = true
		eol    = byte('\n')
	)
	for _, u := range f.Uses {
		switch u.Key {
		case "a":
			algo = u.Value
			// sm3 is GNU's too: refused below only if no later -a
			// replaces it (GNU's last -a wins).
			known := algo == "sm3"
			for _, a := range cksumAlgos {
				known = known || a == algo
			}
			if !known {
				return nil, compute.Invalidf("%s: invalid algorithm %q for %s (valid: %s)", cmd, algo, u.Name, strings.Join(cksumAlgos, ", "))
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
		return nil, compute.Invalidf("%s: %s is only supported with --algorithm=blake2b", cmd, lenUse.Name)
	}
	if err := checkB2Max(cmd, lenUse, bits); err != nil {
		return nil, err
	}
	if algo == "sm3" {
		return nil, compute.Invalidf("%s: unsupported algorithm %q (%s)", cmd, algo, compute.RefuseNotImpl)
	}
	// Files are GNU's last concern, after the flags' checks.
	outputs, err := stdinOperands(cmd, f)
	if err != nil {
		return nil, err
	}
	// With no operand the legacy sums print no name; the digests print "-".
	names := repeatName("-", outputs)
	sep := " -"
	if len(f.Operands) == 0 {
		sep = ""
	}
	// The legacy sums' lines are two numbers of at most 20 digits, " -"
	// and the end of line.
	st := &digestStage{names: names, lineMax: 64}
	switch algo {
	case "crc":
		if f.Has("debug") {
			// GNU chooses once, for the first input.
			st.diag = crcDebugLine()
		}
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
		a, _ := Lookup(algo)
		st.newHash = a.New
		tag := strings.ToUpper(algo)
		if algo == "blake2b" {
			if bits == 0 {
				bits = 512
			}
			st.newHash = func() hash.Hash { return newBlake2b(bits / 8) }
			tag = blake2bTag(bits)
		}
		size := a.Size
		if algo == "blake2b" {
			size = bits / 8
		}
		st.lineMax = digestLineMax(size, tag)
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
