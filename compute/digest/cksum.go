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
	{Short: 'a', Long: "algorithm", Value: true, Summary: "sysv, bsd, crc (default), md5, sha1, sha224, sha256, sha384, sha512, blake2b, sm3"},
	lengthFlag,
	{Long: "tag", Summary: "BSD-style output (the default for digests)"},
	{Long: "untagged", Summary: "GNU-style output: HEX  -"},
	{Short: 'z', Long: "zero", Summary: "end the line with NUL, not newline"},
	{Long: "debug", Summary: "report on standard error which implementation GNU would use for the CRC"},
}, checkFlags...)

var cksumAlgos = []string{"sysv", "bsd", "crc", "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "sm3"}

// checkDigestFlag judges, as each flag is read, the values GNU's option
// loop judges (-l, cksum's -a), so that of two errors on a line the first
// is named, as in GNU (b2sum -l 9 -Q: the length). The builders read
// them again once all are read.
func checkDigestFlag(cmd string) func(compute.FlagUse) error {
	return func(u compute.FlagUse) error {
		switch u.Key {
		case "a":
			if slices.Contains(cksumAlgos, u.Value) {
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
			// checkDigestFlag judged it as it was read; the last wins.
			algo = u.Value
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
	// Files are GNU's last concern, after the flags' checks.
	outputs, err := stdinOperands(cmd, f)
	if err != nil {
		return nil, err
	}
	names := repeatName("-", outputs)
	switch algo {
	case "crc", "sysv", "bsd":
		st := legacySumStage(algo, names, len(f.Operands) > 0, eol)
		if algo == "crc" && f.Has("debug") {
			// GNU chooses once, for the first input.
			st.diag = crcDebugLine()
		}
		return st, nil
	default:
		st := &digestStage{names: names}
		var size int
		if algo == "sm3" {
			// SM3 is cksum's alone: no sm3sum, no Digest algorithm.
			st.newHash, size = func() hash.Hash { return newSM3() }, sm3Size
		} else {
			a, _ := Lookup(algo)
			st.newHash, size = a.New, a.Size
		}
		tag := strings.ToUpper(algo)
		if algo == "blake2b" {
			if bits == 0 {
				bits = 512
			}
			st.newHash, size = func() hash.Hash { return newBlake2b(bits / 8) }, bits/8
			tag = blake2bTag(bits)
		}
		st.lineMax = digestLineMax(size, tag)
		st.print = func(w *bufio.Writer, h hash.Hash, _ int64, name string) error {
			gnuLine(w, tag, h.Sum(nil), name, tagged, false, eol)
			return nil
		}
		return st, nil
	}
}

// legacySumStage prints cksum's and sum's checksums that are no digest:
// the POSIX CRC (crc), and sum's BSD (bsd) and System V (sysv) sums, each
// with the size, as GNU prints them. With no operand their lines name no
// input; with operands (all "-") each line ends in " -".
func legacySumStage(algo string, names []string, named bool, eol byte) *digestStage {
	sep := ""
	if named {
		sep = " -"
	}
	// Their lines are two numbers of at most 20 digits, " -" and the end
	// of line.
	st := &digestStage{names: names, lineMax: 64}
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
		panic("digest: no legacy sum " + algo)
	}
	return st
}

// sum: GNU's BSD (-r, the default) or System V (-s, --sysv) checksum; the
// last of them wins, as in GNU.

var bsdSumFlags = []compute.FlagSpec{
	{Short: 'r', Summary: "the BSD sum (the default), with the size in 1 KiB blocks"},
	{Short: 's', Long: "sysv", Summary: "the System V sum, with the size in 512-byte blocks"},
}

const sumSummary = "print the BSD (or with -s System V) checksum and block count of the input, as GNU sum"

func buildSum(env *compute.Env, args []string) (compute.Stage, error) {
	const cmd = "sum"
	f, err := compute.ParseFlags(cmd, bsdSumFlags, args)
	if err != nil {
		return nil, err
	}
	algo := "bsd"
	for _, u := range f.Uses {
		if u.Key == "s" {
			algo = "sysv"
		} else {
			algo = "bsd"
		}
	}
	outputs, err := stdinOperands(cmd, f)
	if err != nil {
		return nil, err
	}
	return legacySumStage(algo, repeatName("-", outputs), len(f.Operands) > 0, '\n'), nil
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
