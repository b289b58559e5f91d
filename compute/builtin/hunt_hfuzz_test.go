package builtin_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// Focused generators (hunt-hfuzz): what gnudiff_test.go's generator draws
// from each command's flag table one flag at a time, these draw as a user
// combines them, over inputs built for the flags drawn. sort: several -k
// keys each with its own modifiers and a -t separator that the input's
// lines hold at their start, their end and twice in a row, numbers with
// signs, blanks, '+', points and thousands separators. head and tail:
// -n and -c in every spelling over inputs whose sizes and lines sit on
// 4 KiB, 64 KiB and 1 MiB. cut: lists of overlapping, open and reversed
// ranges with -s, --complement, --output-delimiter, -z. tr: -c -d -s -t
// over classes, repeats and octal escapes. uniq: -f -s -w -i -c -d -u -D
// --group over fields of blanks. wc: every flag set over text of high
// bytes and long lines. base64: -w, -d, -i over encodings with garbage,
// padding and blanks; tac, the digests, gzip and grep over the same sized
// inputs; and grepre, grep's regexp path over lists of -e patterns
// (repeats, a ')' that closes GNU's -x or -w wrapper) with -x -w -o -v -m
// -A. Each case is compared with GNU (checkCases' verdict: GNU's
// bytes and status, or an error where GNU fails, an INVALID_ARGUMENT
// naming a part GNU's message names: refusalVerdict). Every other case
// (every case under HFUZZ_CHUNKED=1) reads its input in pieces of random
// sizes, 0 bytes to 68 KiB, as the adapters hand over a client's messages
// and segments (chunkedReader), not at once.
//
// HFUZZ_N sets the number of cases per generator (make test: 4 each; the
// long run 300; make fuzz more), HFUZZ_SEED the seed, HFUZZ_ONLY a comma
// list of generators, HFUZZ_SPOOL the spool memory of the chunked runs
// (a small one spills sort, tac and tail), HFUZZ_DUMP a directory where
// each differing case's input and argv (NUL-separated) are written.

// hfuzzGen is one focused generator.
type hfuzzGen struct {
	name string
	gen  func(g *gen) diffCase
}

var hfuzzGens = []hfuzzGen{
	{"sort", (*gen).hfSort},
	{"head", func(g *gen) diffCase { return g.hfHeadTail("head") }},
	{"tail", func(g *gen) diffCase { return g.hfHeadTail("tail") }},
	{"cut", (*gen).hfCut},
	{"tr", (*gen).hfTr},
	{"uniq", (*gen).hfUniq},
	{"wc", (*gen).hfWc},
	{"base64", (*gen).hfBase64},
	{"tac", (*gen).hfTac},
	{"digest", (*gen).hfDigest},
	{"gzip", (*gen).hfGzip},
	{"grep", (*gen).hfGrep},
	{"grepre", (*gen).hfGrepRE},
}

// TestHuntHfuzz runs each focused generator.
func TestHuntHfuzz(t *testing.T) {
	t.Parallel()
	n := 4
	if testenv.Long() {
		n = 300
	}
	n = int(testenv.Uint(t, "HFUZZ_N", uint64(n)))
	seed := testenv.Uint(t, "HFUZZ_SEED", 20261205)
	only := envString("HFUZZ_ONLY")
	chunked := envString("HFUZZ_CHUNKED") != ""
	runner := newGNURunner(t)
	for i, hg := range hfuzzGens {
		if only != "" && !strings.Contains(","+only+",", ","+hg.name+",") {
			continue
		}
		g := &gen{r: rand.New(rand.NewPCG(seed, uint64(i)))}
		diffs, failed := 0, 0
		for k := range n {
			c := hg.gen(g)
			r := runner.run(t, c)
			if gnuFailed(c.argv[0], r.gnuCode) {
				failed++
				if v := refusalVerdict(r); v != "" && r.ourErr != nil {
					diffs++
					if diffs <= 10 {
						t.Errorf("%s\n  %s", c, v)
					}
				}
			}
			if (chunked || k%2 == 1) && !r.skipped {
				r.ourOut, r.ourCode, r.ourDiag, r.ourErr = runChunked(t, c, seed+uint64(k))
				if r.ourErr == nil && c.roundTrip {
					r.ourOut, _ = computetest.GNU(t, r.ourOut, "gunzip", "-c")
				}
			}
			if r.ourErr != nil && strings.Contains(r.ourErr.Error(), "--max-line-bytes") {
				continue // a server limit (docs/operations.md)
			}
			if v := c.verdict(r); v != "" {
				diffs++
				if d := envString("HFUZZ_DUMP"); d != "" {
					name := fmt.Sprintf("%s/%s-%d", d, hg.name, k)
					os.WriteFile(name+".in", c.input, 0o644)
					os.WriteFile(name+".argv", []byte(strings.Join(c.argv, "\x00")), 0o644)
				}
				if diffs <= 10 {
					t.Errorf("%s\n  %s", c, v)
				}
			}
		}
		t.Logf("%s: seed %d, %d cases (GNU failed %d), %d differences", hg.name, seed, n, failed, diffs)
	}
}

// hfSep is a field separator as users and fuzzers give one to -t or -d.
func (g *gen) hfSep() string {
	return g.pick(",", ":", " ", "\t", ".", "-", "+", "0", "1", "a", "\\", "\xff", "\x80", "|", ";", "e", "K", "/", "=", "\r")
}

// hfNumber is a number-like field for sort -n and its kin.
func (g *gen) hfNumber() string {
	lead := g.pick("", "", "", " ", "  ", "\t", " \t")
	sign := g.pick("", "", "", "-", "+", "--", "-+")
	var d string
	switch g.n(6) {
	case 0:
		d = strconv.Itoa(g.n(10))
	case 1:
		d = strconv.Itoa(g.n(2000000) - 1000000)
	case 2:
		d = fmt.Sprintf("%d,%03d", 1+g.n(99), g.n(1000)) // thousands separator
	case 3:
		d = fmt.Sprintf("%d.%d", g.n(100), g.n(1000))
	case 4:
		d = g.pick(".5", "0.", ".", "00", "000.000", "1e3", "1E-3", "0x1F", "1K", "2M", "1k", "3G", "inf", "-0", "1.2.3", "1,2,3", "\xff1", "1\xff", "١")
	default:
		d = strconv.Itoa(g.n(100))
	}
	return lead + sign + d + g.pick("", "", "", " ", "x", ".")
}

// hfField is a field for sort, cut and uniq lines.
func (g *gen) hfField() string {
	switch g.n(6) {
	case 0, 1:
		return g.hfNumber()
	case 2:
		return g.pick("", "", " ", "  ")
	case 3:
		return g.pick("\xff", "\x80a", "a\x00b", "\x00", "é", "Z", "z", "_", "~")
	}
	return g.word()
}

// hfLines draws lines of fields joined by sep (or by blanks), sometimes
// with sep at a line's start or end or doubled; runs of equal lines; no
// final newline sometimes; ended by NUL under z.
func (g *gen) hfLines(sep string, z bool) []byte {
	var b bytes.Buffer
	end := byte('\n')
	if z {
		end = 0
	}
	lines := g.n(14)
	if g.chance(0.05) {
		lines = 100 + g.n(400)
	}
	var prev []byte
	for range lines {
		if prev != nil && g.chance(0.2) {
			line := prev
			if g.chance(0.5) {
				line = bytes.ToUpper(prev)
			}
			b.Write(line)
			b.WriteByte(end)
			continue
		}
		var l bytes.Buffer
		if g.chance(0.15) {
			l.WriteString(sep)
		}
		for f := range 1 + g.n(5) {
			if f > 0 {
				switch {
				case sep == "" || g.chance(0.2):
					l.WriteString(g.pick(" ", "  ", "\t", " \t"))
				case g.chance(0.1):
					l.WriteString(sep + sep)
				default:
					l.WriteString(sep)
				}
			}
			l.WriteString(g.hfField())
		}
		if g.chance(0.15) {
			l.WriteString(sep)
		}
		if g.chance(0.05) {
			l.WriteString(g.pick("\n", "\x00", "\r"))
		}
		prev = l.Bytes()
		b.Write(prev)
		b.WriteByte(end)
	}
	if b.Len() > 0 && g.chance(0.2) {
		b.Truncate(b.Len() - 1)
	}
	return b.Bytes()
}

// hfSortKey draws one -k KEYDEF: a start field and character, modifiers,
// and an end.
func (g *gen) hfSortKey() string {
	mods := func() string {
		var s string
		for range g.n(3) {
			s += g.pick("b", "b", "f", "n", "n", "r", "r", "d", "i", "g", "h", "M", "V")
		}
		return s
	}
	s := strconv.Itoa(1 + g.n(4))
	if g.chance(0.3) {
		s += "." + strconv.Itoa(1+g.n(4))
	}
	s += mods()
	if g.chance(0.6) {
		e := strconv.Itoa(1 + g.n(4))
		if g.chance(0.3) {
			e += "." + strconv.Itoa(g.n(5))
		}
		s += "," + e + mods()
	}
	return s
}

func (g *gen) hfSort() diffCase {
	argv := []string{"sort"}
	sep := ""
	if g.chance(0.6) {
		sep = g.hfSep()
		if g.chance(0.05) {
			argv = append(argv, "-t", `\0`)
			sep = "\x00"
		} else {
			argv = append(argv, "-t"+sep)
		}
	}
	for range g.n(4) {
		argv = append(argv, "-k", g.hfSortKey())
	}
	for range g.n(4) {
		argv = append(argv, g.pick("-b", "-f", "-n", "-r", "-s", "-u", "-d", "-i", "-g", "-h", "-M", "-V", "-z", "-c", "-C", "-uf", "-nr", "-su", "-bn", "-fu"))
	}
	z := slicesContains(argv, "-z")
	return diffCase{argv: argv, input: g.hfLines(sep, z)}
}

// hfCount is a -n/-c value of head and tail: signs, suffixes, zero, the
// boundaries of their buffers, huge and overflowing numbers.
func (g *gen) hfCount() string {
	sign := g.pick("", "", "", "-", "+")
	var n string
	switch g.n(5) {
	case 0:
		n = g.pick("0", "1", "2", "3", "5", "10")
	case 1:
		n = strconv.Itoa(g.pick1(4095, 4096, 4097, 8191, 8192, 8193, 65535, 65536, 65537, 1<<20-1, 1<<20, 1<<20+1) + g.n(3) - 1)
	case 2:
		n = strconv.Itoa(g.n(5)) + g.pick("b", "K", "k", "kB", "KB", "KiB", "M", "MB", "MiB", "G", "T", "P", "E", "Z", "Y", "R", "Q", "e", "x", "KK", "B", "iB")
	case 3:
		n = g.pick("99999999999999999999", "18446744073709551615", "18446744073709551616", "9223372036854775807",
			"9223372036854775808", "9223372036854775807b", "9007199254740993", "1E", "8E", "16E", "1Z", "1Y",
			"00000000000000000000000001", "0x10", "010", "1.5", "", " 1", "1 ")
	default:
		n = strconv.Itoa(g.n(40))
	}
	return sign + n
}

// hfSized draws an input whose size or line lengths sit on the 4 KiB,
// 64 KiB and 1 MiB boundaries of readers and buffers.
func (g *gen) hfSized() []byte {
	if g.chance(0.4) {
		return g.hfLines(g.hfSep(), false)
	}
	size := g.pick1(4096, 8192, 65536, 1<<17, 1<<20) + g.n(5) - 2
	if g.chance(0.15) {
		size = 1<<20 + g.n(1<<14)
	}
	var b bytes.Buffer
	lineLen := g.pick1(1, 2, 80, 4095, 4096, 4097, 65535, 65536, 65537, 1<<20, 2<<20)
	for b.Len() < size {
		for range lineLen - 1 {
			if b.Len() >= size {
				break
			}
			b.WriteByte("abc ,\xff"[g.n(6)])
		}
		b.WriteByte(g.pick("\n", "\n", "\n", "\x00")[0])
	}
	out := b.Bytes()[:size]
	if g.chance(0.5) && len(out) > 0 {
		out[len(out)-1] = '\n'
	}
	return out
}

func (g *gen) hfHeadTail(cmd string) diffCase {
	argv := []string{cmd}
	for range 1 + g.n(2) {
		f := g.pick("-n", "-c", "--lines=", "--bytes=", "-n", "-c")
		v := g.hfCount()
		switch {
		case strings.HasSuffix(f, "="):
			argv = append(argv, f+v)
		case g.chance(0.5) && v != "":
			argv = append(argv, f+v)
		default:
			argv = append(argv, f, v)
		}
	}
	for range g.n(2) {
		argv = append(argv, g.pick("-z", "-q", "-v", "-zv", "-"))
	}
	return diffCase{argv: argv, input: g.hfSized()}
}

// hfCutList draws a cut list: overlapping, open, adjacent and reversed
// ranges, zero, a lone '-', blanks and repeated commas.
func (g *gen) hfCutList() string {
	var parts []string
	for range 1 + g.n(4) {
		a, b := 1+g.n(6), 1+g.n(6)
		switch g.n(9) {
		case 0:
			parts = append(parts, strconv.Itoa(a)+"-")
		case 1:
			parts = append(parts, "-"+strconv.Itoa(a))
		case 2, 3:
			parts = append(parts, fmt.Sprintf("%d-%d", min(a, b), max(a, b)))
		case 4:
			parts = append(parts, g.pick("-", "0", "0-", "-0", "3-2", "1-1", "", "1--2", "a", "1-2-3", "18446744073709551616", "4294967296", "2147483648-", "1 2", "1,", ",1"))
		default:
			parts = append(parts, strconv.Itoa(a))
		}
	}
	return strings.Join(parts, g.pick(",", ",", ",", " "))
}

func (g *gen) hfCut() diffCase {
	argv := []string{"cut"}
	sep := g.hfSep()
	mode := g.pick("-f", "-f", "-b", "-c")
	argv = append(argv, mode, g.hfCutList())
	if mode == "-f" && g.chance(0.8) {
		if g.chance(0.05) {
			argv = append(argv, "-d", "")
			sep = "\x00"
		} else {
			argv = append(argv, "-d"+sep)
		}
	} else if mode == "-f" {
		sep = "\t"
	}
	for range g.n(3) {
		switch g.n(5) {
		case 0:
			argv = append(argv, "-s")
		case 1:
			argv = append(argv, "--complement")
		case 2:
			argv = append(argv, "--output-delimiter="+g.pick("", "|", "::", "\t", ",", "\xff"))
		case 3:
			argv = append(argv, "-z")
		case 4:
			argv = append(argv, "-n")
		}
	}
	var in []byte
	if g.chance(0.15) {
		in = g.hfSized()
	} else {
		in = g.hfLines(sep, slicesContains(argv, "-z"))
	}
	return diffCase{argv: argv, input: in}
}

// hfTrSet draws a tr set of classes, equivalence classes, repeats,
// ranges and escapes.
func (g *gen) hfTrSet(second bool) string {
	var b strings.Builder
	for range 1 + g.n(3) {
		switch g.n(9) {
		case 0:
			b.WriteString("[:" + g.pick("alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct", "print", "graph", "cntrl", "xdigit") + ":]")
		case 1:
			b.WriteString("[=" + g.pick("a", "z", "\\", "-", "[", "]", "=", ":", "\xff", "*") + "=]")
		case 2:
			if second {
				b.WriteString("[" + g.pick("x", "-", "\\n", "\\\\", "\\377", "*", "[") + "*" + g.pick("", "", "0", "1", "2", "07", "08", "10", "255", "256") + "]")
			} else {
				b.WriteString(g.pick("a", "b"))
			}
		case 3:
			b.WriteString(g.pick(`\0`, `\00`, `\000`, `\0000`, `\1`, `\12`, `\101`, `\177`, `\200`, `\377`, `\400`, `\777`, `\8`, `\18`, `\n`, `\t`, `\\`, `\-`, `\a\b\f\v\r`, `\`, `\x41`))
		case 4:
			lo, hi := "a0A\\\x01"[g.n(5)], "zZ9~\xff"[g.n(5)]
			b.WriteByte(lo)
			b.WriteByte('-')
			b.WriteByte(hi)
		case 5:
			b.WriteString(g.pick(`\000-\037`, `\200-\377`, `a-\177`, "z-a", "a-a", "-a", "a-", "--", "[a-z]", "[", "]"))
		default:
			b.WriteString(g.pick("a", "b", "c", "ab", "abc", "xyz", " ", ".", "0123", "ABC"))
		}
	}
	return b.String()
}

func (g *gen) hfTr() diffCase {
	argv := []string{"tr"}
	var flags string
	for _, f := range "cdstC" {
		if g.chance(0.25) {
			flags += string(f)
		}
	}
	if flags != "" {
		argv = append(argv, "-"+flags)
	}
	argv = append(argv, g.hfTrSet(false))
	if !strings.Contains(flags, "d") || strings.Contains(flags, "s") || g.chance(0.2) {
		if g.chance(0.95) {
			argv = append(argv, g.hfTrSet(true))
		}
	}
	var in []byte
	if g.chance(0.2) {
		in = g.hfSized()
	} else {
		in = g.text()
	}
	return diffCase{argv: argv, input: in}
}

func (g *gen) hfUniq() diffCase {
	argv := []string{"uniq"}
	for range g.n(5) {
		switch g.n(12) {
		case 0:
			argv = append(argv, "-f", strconv.Itoa(g.n(4)))
		case 1:
			argv = append(argv, "-s"+strconv.Itoa(g.n(5)))
		case 2:
			argv = append(argv, "-w", strconv.Itoa(g.n(5)))
		case 3:
			argv = append(argv, g.pick("-D", "--all-repeated=separate", "--all-repeated=prepend", "--all-repeated=none"))
		case 4:
			argv = append(argv, g.pick("--group", "--group=append", "--group=both", "--group=separate", "--group=prepend"))
		case 5:
			argv = append(argv, g.pick("-f", "-s", "-w")+g.pick("18446744073709551616", "99999999999999999999", "-1", "1K", "0"))
		default:
			argv = append(argv, g.pick("-c", "-d", "-u", "-i", "-z", "-ci", "-di", "-ui", "-cd"))
		}
	}
	in := g.hfLines(g.pick(" ", "\t", " ", ","), slicesContains(argv, "-z"))
	if g.chance(0.2) {
		in = g.shape()
	}
	return diffCase{argv: argv, input: in}
}

func (g *gen) hfWc() diffCase {
	argv := []string{"wc"}
	for range g.n(4) {
		argv = append(argv, g.pick("-c", "-m", "-l", "-w", "-L", "-lw", "-cm", "-Ll", "--bytes", "--chars", "--lines", "--words", "--max-line-length", "--debug"))
	}
	var in []byte
	switch g.n(4) {
	case 0:
		in = g.hfSized()
	case 1:
		// tabs, backspaces, carriage returns, form feeds, high bytes:
		// what -L measures differently
		var b bytes.Buffer
		for range g.n(300) {
			b.WriteString(g.pick("\t", "a", " ", "\b", "\r", "\f", "\v", "\n", "\xff", "\xc3\xa9", "\x00", "\x1b", "abcdefgh"))
		}
		in = b.Bytes()
	default:
		in = g.text()
	}
	return diffCase{argv: argv, input: in}
}

// hfB64Input is base64 text with wrapping, blanks, garbage and padding
// in odd places, or raw bytes to encode.
func (g *gen) hfB64Input(decode bool) []byte {
	if !decode {
		if g.chance(0.3) {
			return g.hfSized()
		}
		return g.text()
	}
	raw := g.text()
	if g.chance(0.2) {
		raw = g.hfSized()
	}
	enc := []byte(encodeStd(raw))
	var b bytes.Buffer
	w := g.pick1(0, 1, 4, 60, 76, 77, 3)
	for i, c := range enc {
		if w > 0 && i > 0 && i%w == 0 {
			b.WriteString(g.pick("\n", "\n", "\r\n", " ", "\n\n"))
		}
		if g.chance(0.005) {
			b.WriteString(g.pick("!", "=", "==", " ", "\t", "\x00", "\xff", "-", "_", "*", "\n"))
		}
		b.WriteByte(c)
	}
	if g.chance(0.3) {
		b.WriteString(g.pick("\n", "=", "==", "===", "A", "AB", "ABC", "A=", "AB=", "=\n", "garbage", " \n", "\n\n", "AAAA="))
	}
	if g.chance(0.1) {
		b.Truncate(g.n(b.Len() + 1))
	}
	return b.Bytes()
}

func encodeStd(b []byte) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var s strings.Builder
	for i := 0; i < len(b); i += 3 {
		var v uint32
		n := min(3, len(b)-i)
		for j := range 3 {
			v <<= 8
			if j < n {
				v |= uint32(b[i+j])
			}
		}
		for j := range 4 {
			if j <= n {
				s.WriteByte(alpha[v>>(18-6*j)&63])
			} else {
				s.WriteByte('=')
			}
		}
	}
	return s.String()
}

func (g *gen) hfBase64() diffCase {
	argv := []string{"base64"}
	decode := g.chance(0.5)
	if decode {
		argv = append(argv, g.pick("-d", "--decode", "-di", "-id", "-d", "--decode"))
		if g.chance(0.3) {
			argv = append(argv, "-i")
		}
	}
	for range g.n(2) {
		w := g.pick("0", "1", "2", "3", "4", "76", "77", "1000", "-1", "", "x", "1K", "18446744073709551616", "99999999999999999999", " 5", "+5", "05")
		argv = append(argv, g.pick("-w", "--wrap=", "-w")+w)
	}
	return diffCase{argv: argv, input: g.hfB64Input(decode)}
}

func (g *gen) hfTac() diffCase {
	argv := []string{"tac"}
	if g.chance(0.5) {
		argv = append(argv, "-s", g.pick("\n", ",", "ab", "aa", "\n\n", " ", "\xff", "a", "x\n", "abc"))
	}
	if g.chance(0.4) {
		argv = append(argv, "-b")
	}
	return diffCase{argv: argv, input: g.hfSized()}
}

// envString is the environment variable name, or "".
func envString(name string) string { return os.Getenv(name) }

// chunkedReader hands out its bytes in reads of random sizes (1 byte to
// a few KiB, sometimes zero bytes), as a network adapter does with the
// client's messages and segments, and has no WriteTo.
type chunkedReader struct {
	b []byte
	r *rand.Rand
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	var n int
	switch c.r.IntN(4) {
	case 0:
		n = 1 + c.r.IntN(3)
	case 1:
		n = 1 + c.r.IntN(70000)
	case 2:
		n = 0
	default:
		n = 1 + c.r.IntN(5000)
	}
	n = min(n, len(p), len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// runChunked runs c's line over its input read in random pieces (seed).
func runChunked(t testing.TB, c diffCase, seed uint64) ([]byte, int, []string, error) {
	t.Helper()
	cfg := engine.Config{}
	if mem := envString("HFUZZ_SPOOL"); mem != "" {
		n, _ := strconv.ParseInt(mem, 10, 64)
		cfg.Spool = compute.SpoolConfig{MemBytes: n, SortMinBytes: -1, Dir: t.TempDir()}
	}
	e := computetest.Engine(cfg)
	p, err := e.Compile(shquote.Join(c.argv))
	if err != nil {
		return nil, 0, nil, err
	}
	if grepReadsFile(c.argv, c.input) {
		p.SetInputFile(int64(len(c.input)))
	}
	ctx, cancel := testenv.Context(t)
	defer cancel()
	var out bytes.Buffer
	st, err := e.Run(ctx, p, &chunkedReader{b: c.input, r: rand.New(rand.NewPCG(seed, 7))}, &out)
	return out.Bytes(), st.ExitStatus, st.Diagnostics, err
}

func (g *gen) hfDigest() diffCase {
	cmd := g.pick("md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum", "cksum", "cksum", "cksum", "sum")
	argv := []string{cmd}
	for range g.n(4) {
		switch {
		case cmd == "cksum" && g.chance(0.4):
			argv = append(argv, "-a", g.pick("crc", "md5", "sha1", "blake2b", "sysv", "bsd", "sha224", "sha256", "sha384", "sha512", "sm3"))
		case cmd == "sum" && g.chance(0.7):
			argv = append(argv, g.pick("-r", "-s", "--sysv", "-rs", "-sr", "--sy", "-", "--"))
		case (cmd == "b2sum" || cmd == "cksum") && g.chance(0.3):
			argv = append(argv, "-l", g.pick("8", "16", "128", "256", "512", "0", "504", "9", "1K"))
		default:
			argv = append(argv, g.pick("--tag", "-b", "-t", "-z", "--zero", "--untagged", "-", "--tag", "--binary", "--text", "--", "-bz", "-tz"))
		}
	}
	var in []byte
	if g.chance(0.5) {
		in = g.hfSized()
	} else {
		in = g.digestInput()
	}
	return diffCase{argv: argv, input: in}
}

func (g *gen) hfGzip() diffCase {
	argv := []string{g.pick("gzip", "gzip", "gunzip", "zcat")}
	for range g.n(4) {
		argv = append(argv, g.pick("-c", "-d", "-f", "-k", "-n", "-N", "-q", "-v", "-1", "-9", "--fast", "--best", "--rsyncable", "-cd", "--no-name", "-", "-6", "--synchronous", "-qv", "-l", "-lv", "--list"))
	}
	c := diffCase{argv: argv}
	// -l lists what it decompresses (times in the local zone: TestMain's
	// computetest.UseTZ, GNU's TZ in gnuFrom).
	dec := argv[0] != "gzip" || slicesContains(argv, "-d") || slicesContains(argv, "-cd") || slicesContains(argv, "-l") || slicesContains(argv, "-lv") || slicesContains(argv, "--list")
	if dec {
		c.input = g.gzipInput()
	} else {
		c.input = g.hfSized()
		c.roundTrip = true
	}
	return c
}

func (g *gen) hfGrep() diffCase {
	argv := []string{"grep"}
	for range g.n(5) {
		switch g.n(10) {
		case 0:
			argv = append(argv, "-m", g.pick("0", "1", "2", "5", "-1", "100"))
		case 1:
			argv = append(argv, g.pick("-A", "-B", "-C")+strconv.Itoa(g.n(4)))
		default:
			argv = append(argv, g.pick("-v", "-c", "-n", "-b", "-o", "-i", "-w", "-x", "-F", "-E", "-a", "-z", "-s", "-q", "-l", "-L", "-H", "-h", "-T", "-Z", "-U", "--no-group-separator", "--group-separator=XX", "--line-buffered", "-I"))
		}
	}
	pat := g.pick("a", "ab", "b", "abc", ",", " ", "\\xff", "c$", "^a", "a.c", "[ab]c", "a*", "", "x", "c ,", "b\\|c", "ab\\?c")
	if slicesContains(argv, "-E") {
		pat = strings.ReplaceAll(strings.ReplaceAll(pat, "\\|", "|"), "\\?", "?")
	}
	if slicesContains(argv, "-F") {
		pat = g.pick("a", "ab", ",", " ", "abc", "c a", "a\nb", "\xff")
	}
	argv = append(argv, "-e", pat)
	if g.chance(0.2) {
		argv = append(argv, "-e", g.pick("b", "c", "x"))
	}
	var in []byte
	if g.chance(0.5) {
		in = g.hfSized()
	} else {
		in = g.text()
	}
	// -v with a negative -m and context is refused (docs/protocol.md)
	ctx := false
	for _, w := range argv {
		ctx = ctx || len(w) > 2 && strings.Contains("ABC", w[1:2]) && w[0] == '-'
	}
	refused := ctx && slicesContains(argv, "-v") && slicesContains(argv, "-1")
	return diffCase{argv: argv, input: in, refused: refused}
}

// hfGrepRE is grep's regexp path with pattern lists: several -e (some
// repeated, some holding a newline or nothing) of ERE or BRE pieces,
// among them an ERE ')' with no '(' open, which closes GNU's -x or -w
// wrapper around the whole list; with -x, -w, -o, -v, -i, -m and -A,
// whose lines past -m -o -v searches too.
func (g *gen) hfGrepRE() diffCase {
	ere := g.chance(0.6)
	argv := []string{"grep", "-G"}
	if ere {
		argv[1] = "-E"
	}
	for range g.n(5) {
		argv = append(argv, g.pick("-x", "-w", "-o", "-v", "-i", "-c", "-n", "-x", "-o", "-v", "-m1", "-m2", "-A1", "-A3", "-C1"))
	}
	piece := func() string {
		if ere {
			return g.pick("a", "b", "ab", ")", "x)", "a$", "^a", "a|b", "(a|)", "a*", "b+", "a?", ".", "[ab]", `\)`, `\-`, "-", `\<a`, `b\>`, "(ab)*", "a{2}", `\n`, "\xe9")
		}
		return g.pick("a", "b", "ab", ")", "a$", "^a", `a\|b`, `\(a\)`, "a*", "*a", ".", "[ab]", `\-`, "-", `\<a`, `b\>`, `\(ab\)*`, `a\{2\}`, "a$)", "(", "\xe9")
	}
	var pats []string
	for range 1 + g.n(4) {
		if len(pats) > 0 && g.chance(0.25) {
			pats = append(pats, pats[g.n(len(pats))]) // a repeat: GNU drops it
			continue
		}
		var p string
		for range g.n(3) {
			p += piece()
		}
		if g.chance(0.1) {
			p += "\n" + piece() // two patterns in one -e
		}
		pats = append(pats, p)
	}
	for _, p := range pats {
		argv = append(argv, "-e", p)
	}
	var in []byte
	for range g.n(8) {
		for range g.n(6) {
			in = append(in, g.pick("a", "b", "ab", " ", "x", ")", "(", "-", `\`, "\xe9", "_")...)
		}
		in = append(in, '\n')
	}
	return diffCase{argv: argv, input: in}
}

// refusalVerdict checks our error where GNU failed: INVALID_ARGUMENT (or
// a limit), naming one of the words GNU's message quotes (but numbers,
// which GNU may print expanded: 8E as 9223372036854775808).
func refusalVerdict(r diffResult) string {
	if r.ourErr == nil {
		return ""
	}
	switch compute.CodeOf(r.ourErr) {
	case compute.CodeInvalid, compute.CodeResourceExhausted:
	default:
		return fmt.Sprintf("GNU fails, our error has code %d: %v", compute.CodeOf(r.ourErr), r.ourErr)
	}
	var missed []string
	for _, m := range gnuQuoted.FindAllStringSubmatch(string(r.gnuErr), -1) {
		q := m[1]
		name, _, _ := strings.Cut(q, "=")
		msg := r.ourErr.Error()
		if q == "" || strings.Trim(q, "0123456789") == "" || strings.HasSuffix(q, " --help") || strings.ContainsAny(q, "\\$") {
			continue
		}
		if strings.Contains(msg, q) || strings.Contains(msg, strings.Trim(strconv.Quote(q), `"`)) ||
			strings.HasPrefix(q, "--") && strings.Contains(msg, name) {
			return ""
		}
		missed = append(missed, q)
	}
	if len(missed) > 0 {
		return fmt.Sprintf("GNU's message names %q, ours none of it: GNU %q, ours %q", missed, r.gnuErr, r.ourErr.Error())
	}
	return ""
}

var gnuQuoted = regexp.MustCompile(`'([^'\n]*)'`)

// TestHuntHfuzzFirstError: a line with two errors, a value GNU's option
// loop judges and a bad flag or value after it: GNU names the first, and
// so must the error (want: the part GNU's message names; and
// refusalVerdict). The generators found sort -c -C -k1dn ('-cC', not the
// key's '-dn') and cksum -l 9 -b (the length, not -b); the rest are the
// same rule in the other commands' option loops.
func TestHuntHfuzzFirstError(t *testing.T) {
	t.Parallel()
	lines := []struct {
		want string
		argv []string
	}{
		{"-cC", []string{"sort", "-c", "-C", "-k1dn"}}, {`"ab"`, []string{"sort", "-t", "ab", "-Q"}},
		{"incompatible tabs", []string{"sort", "-t", "a", "-t", "b", "-Q"}}, {`"x"`, []string{"sort", "--check=x", "-k1dn"}},
		{"-cC", []string{"sort", "-C", "--check", "-k", "1,1gn"}},
		{`"x"`, []string{"head", "-n", "x", "-Q"}}, {`"1Q"`, []string{"head", "-c", "1Q", "--bogus"}},
		{`"x"`, []string{"tail", "-n", "x", "-Q"}}, {`"y"`, []string{"tail", "--bytes=-y", "-Q"}},
		{`"x"`, []string{"base64", "-w", "x", "-Q"}}, {`"x"`, []string{"uniq", "-f", "x", "-Q"}}, {`"-1"`, []string{"uniq", "-w", "-1", "--bogus"}},
		{`"x"`, []string{"uniq", "--group=x", "-Q"}}, {`"x"`, []string{"uniq", "-D", "--all-repeated=x", "-Q"}},
		{"single character", []string{"cut", "-d", "ab", "-Q", "-f1"}}, {"only one list", []string{"cut", "-f1", "-b1", "-Q"}},
		{`"bogus"`, []string{"cksum", "-a", "bogus", "-Q"}}, {`"9"`, []string{"cksum", "-l", "9", "-b"}}, {`"1K"`, []string{"cksum", "-l", "1K", "-t"}},
		{`"9"`, []string{"b2sum", "-l", "9", "-Q"}}, {`"x"`, []string{"b2sum", "-l", "x", "--bogus"}},
		{"max count", []string{"grep", "-m", "x", "-Q", "a"}}, {`"x"`, []string{"grep", "-A", "x", "-Q", "a"}}, {`"-1"`, []string{"grep", "-C", "-1", "-Q", "a"}},
		{`"x"`, []string{"grep", "--binary-files=x", "-Q", "a"}}, {"conflicting matchers", []string{"grep", "-E", "-F", "-Q", "a"}},
		// a -NUM of more digits than GNU reads: GNU stops at the digit
		// past them, no flag after it is read
		{"999999999999999999999...", []string{"grep", "-9999999999999999999999", "-Q", "a"}},
		{"999999999999999999999...", []string{"grep", "-1", "-99999999999999999999999", "-m", "x", "a"}},
		{"999999999999999999999...", []string{"grep", "-9999999999999999999999", "-P", "a"}},
		// what GNU judges after its option loop, before it opens a file
		{`"b"`, []string{"tr", "-d", "a", "b", "c"}}, {`"b"`, []string{"tr", "-d", "a", "b", "-s"}}, {`"c"`, []string{"tr", "a", "b", "c", "d"}},
		{"-gV", []string{"sort", "-gV", "FILE"}}, {`"b"`, []string{"sort", "-c", "a", "b"}}, {`"-"`, []string{"sort", "-c", "-", "-"}},
		{"meaningless", []string{"uniq", "-D", "-c", "FILE"}}, {"mutually exclusive", []string{"uniq", "--group", "-u", "FILE"}},
		{"specify a list", []string{"cut", "FILE"}}, {"only when operating on fields", []string{"cut", "-b1", "-d,", "FILE"}},
		{"--text", []string{"md5sum", "--tag", "-t", "FILE"}}, {"--algorithm=blake2b", []string{"cksum", "-l", "8", "FILE"}},
		// the flag as GNU names it: the first of its table an
		// abbreviation matches; a byte over 0x7f as itself
		{"--fixed-regexp", []string{"grep", "--fixed-=x", "a"}}, {`\x80`, []string{"tr", "-\x80", "a", "b"}}, {`\xff`, []string{"cut", "-f1", "-\xff"}},
		{`"b"`, []string{"base64", "a", "b"}}, {"8E", []string{"head", "-c", "-8E", "FILE"}}, {`"a"`, []string{"tac", "-s", "", "a", "b"}},
	}
	checkFirstErrors(t, lines)
}

// TestHuntHfuzzNaming runs HFUZZ_NAMING_N of gnudiff_test.go's generated
// cases (seed HFUZZ_SEED) and checks every error where GNU fails with
// refusalVerdict: the error names a part GNU's message names (b3sum's
// clap messages aside); and each case again with its input read in
// pieces (chunkedReader). Off unless set: the generated run (make fuzz)
// already compares the outcomes; this is for a hunt.
func TestHuntHfuzzNaming(t *testing.T) {
	n := int(testenv.Uint(t, "HFUZZ_NAMING_N", 0))
	if n == 0 {
		t.Skip("HFUZZ_NAMING_N not set")
	}
	g := newGNURunner(t)
	bad := 0
	for _, c := range generateCases(testenv.Uint(t, "HFUZZ_SEED", 1), n) {
		if c.argv[0] == "b3sum" {
			continue
		}
		r := g.run(t, c)
		if !r.skipped && !c.roundTrip {
			// the same case read in random pieces (chunkedReader)
			cr := r
			cr.ourOut, cr.ourCode, cr.ourDiag, cr.ourErr = runChunked(t, c, uint64(bad))
			if v := c.verdict(cr); v != "" {
				bad++
				t.Errorf("%s (read in pieces)\n  %s", c, v)
			}
		}
		if !gnuFailed(c.argv[0], r.gnuCode) || r.ourErr == nil {
			continue
		}
		if v := refusalVerdict(r); v != "" {
			bad++
			if bad <= 40 {
				t.Errorf("%s\n  %s", c, v)
			}
		}
	}
	t.Logf("%d cases, %d errors naming none of GNU's parts or differences read in pieces", n, bad)
}
