package grep_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
)

// kwAlphabet is what generated keywords and lines are made of: letters in
// both cases (-i), word constituents and not (-w), bytes >= 0x80 (one of
// them 0xC9, whose ASCII neighbour 'I' differs by 0x80 only).
const kwAlphabet = "abcAB_9 -.\xe9\xc9"

// kwWords returns n keywords over alphabet: many share prefixes, are
// prefixes, suffixes or middles of others, or differ from another in
// case only; with empty, the empty keyword is one of them. lit: no byte
// that GNU's -G or -E reads as an operator (alphabet has none).
func kwWords(rng *rand.Rand, n int, alphabet string, empty bool) []string {
	word := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	var kws []string
	for len(kws) < n {
		switch r := rng.IntN(10); {
		case len(kws) > 0 && r < 2: // a prefix, or an extension, of another
			o := kws[rng.IntN(len(kws))]
			if rng.IntN(2) == 0 && len(o) > 1 {
				kws = append(kws, o[:1+rng.IntN(len(o)-1)])
			} else {
				kws = append(kws, o+word(1+rng.IntN(3)))
			}
		case len(kws) > 0 && r < 3: // a suffix or middle
			o := kws[rng.IntN(len(kws))]
			if len(o) > 2 {
				i := 1 + rng.IntN(len(o)-2)
				kws = append(kws, o[i:i+1+rng.IntN(len(o)-i)])
			}
		case len(kws) > 0 && r < 4: // another case
			kws = append(kws, strings.ToUpper(kws[rng.IntN(len(kws))]))
		case r < 5: // a duplicate
			if len(kws) > 0 {
				kws = append(kws, kws[rng.IntN(len(kws))])
			}
		default:
			kws = append(kws, word(1+rng.IntN(6)))
		}
	}
	if empty {
		kws[rng.IntN(len(kws))] = ""
	}
	return kws
}

// kwText returns lines over alphabet with keywords planted in them, some
// lines equal to a keyword (-x).
func kwText(rng *rand.Rand, kws []string, lines int, alphabet string) []byte {
	var b bytes.Buffer
	for range lines {
		switch rng.IntN(6) {
		case 0:
			b.WriteString(kws[rng.IntN(len(kws))])
		case 1:
			b.WriteString(strings.ToLower(kws[rng.IntN(len(kws))]))
		default:
			for k := rng.IntN(30); k > 0; k-- {
				if rng.IntN(4) == 0 {
					b.WriteString(kws[rng.IntN(len(kws))])
				} else {
					b.WriteByte(alphabet[rng.IntN(len(alphabet))])
				}
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// kwArgv is grep argv with flags, each keyword given with -e.
func kwArgv(flags []string, kws []string) []string {
	argv := append([]string{"grep"}, flags...)
	for _, kw := range kws {
		argv = append(argv, "-e", kw)
	}
	return argv
}

// diffKeywords runs argv over each input, here and with GNU grep (once
// for the inputs without a NUL, as file operands), and compares the
// output and exit status; a failure names the case, not the keywords.
func diffKeywords(t *testing.T, cfg engine.Config, name string, inputs [][]byte, argv []string) {
	t.Helper()
	var text [][]byte
	var textIdx []int
	for i, in := range inputs {
		if bytes.IndexByte(in, 0) < 0 {
			text, textIdx = append(text, in), append(textIdx, i)
		}
	}
	wants := make([][]byte, len(inputs))
	have := make([]bool, len(inputs))
	if outs := computetest.GNUEach(t, text, argv...); outs != nil {
		for k, i := range textIdx {
			wants[i], have[i] = outs[k], true
		}
	}
	pipeline := shquote.Join(argv)
	for i, in := range inputs {
		got, status, err := computetest.RunPipelineEnvStatus(t, cfg, pipeline, in)
		if err != nil {
			t.Fatalf("%s, input %d: %v", name, i, err)
		}
		if have[i] && bytes.Equal(got, wants[i]) {
			continue
		}
		want, code := computetest.GNUStatus(t, in, argv...)
		if !bytes.Equal(got, want) || status != code {
			gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
			k := 0
			for k < len(gl) && k < len(wl) && bytes.Equal(gl[k], wl[k]) {
				k++
			}
			at := func(l [][]byte) []byte {
				if k < len(l) {
					return l[k]
				}
				return []byte("(none)")
			}
			t.Fatalf("%s, input %d (%d bytes): status %d, GNU's %d; output line %d: got %q, GNU %q (got %d bytes, GNU %d)",
				name, i, len(in), status, code, k+1, at(gl), at(wl), len(got), len(want))
		}
	}
}

// kwFlags are the flag sets the keyword tests run: every output mode,
// and -i, -w, -x, -o among themselves.
var kwFlags = [][]string{
	{}, {"-i"}, {"-w"}, {"-x"}, {"-o"}, {"-io"}, {"-wo"}, {"-iwo"}, {"-xo"}, {"-ixo"}, {"-wx"}, {"-owx"},
	{"-iw"}, {"-ix"}, {"-v"}, {"-vw"}, {"-c"}, {"-cw"}, {"-cx"}, {"-n"}, {"-b", "-o"}, {"-nb"}, {"-m", "3"},
	{"-m", "2", "-o"}, {"-l"}, {"-L"}, {"-q"}, {"-C", "1"}, {"-A", "1", "-B", "2", "-n"}, {"-z"}, {"-zo"}, {"-zw"},
	{"-ov"}, {"-C", "1", "-o", "-w"}, {"-a"}, {"-c", "-a"}, {"-I"},
}

// TestGrepKeywordSet: grep over a set of literals (kwSet: two hundred,
// overlapping, with duplicates, bytes >= 0x80, an empty one or not; as
// -F, -G and -E patterns, and as one pattern of alternatives), every
// flag of kwFlags, against GNU grep, on
// generated text, text with a NUL (binary), text without a final newline
// and a line over the reader search's size.
func TestGrepKeywordSet(t *testing.T) {
	seed := uint64(1)
	if s := os.Getenv("HFUZZ_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	cases, hunt := 2, false
	if n, err := strconv.Atoi(os.Getenv("HFUZZ_N")); err == nil && n > 0 {
		cases, hunt = n, true
	}
	cfg := engine.Config{MaxLineBytes: 4 << 20}
	for c := range cases {
		rng := rand.New(rand.NewPCG(seed, uint64(c)))
		n := 30 + rng.IntN(200)
		alphabet := kwAlphabet
		if c%2 == 1 {
			alphabet = "abAB_ \xe9" // more overlap
		}
		kws := kwWords(rng, n, alphabet, c%3 == 1)
		text := kwText(rng, kws, 300, alphabet)
		long := bytes.Repeat([]byte("zyx "), 40<<10) // 160 KiB: one line, no keyword but the one planted
		copy(long[len(long)/2:], kws[0]+" ")
		inputs := [][]byte{
			text,
			text[:len(text)-1], // no final newline
			append(append(bytes.Clone(text[:len(text)/2]), 0), text[len(text)/2:]...),
			append(append(bytes.Clone(text[:200]), long...), text[200:]...),
		}
		for fi, flags := range kwFlags {
			if !hunt && c == 1 && fi%3 != 0 {
				continue // the empty keyword: a third of the flags
			}
			ins := inputs
			if !hunt && fi%2 == 1 {
				ins = inputs[:2] // the binary and long inputs: half the flags
			}
			for _, mode := range []string{"-F", "-G", "-E", "-G|", "-E|"} {
				ks := kws
				if mode != "-F" {
					if rng.IntN(10) != 0 && !hunt || hunt && rng.IntN(4) != 0 {
						continue
					}
					// '.' is an operator there
					ks = strings.Split(strings.ReplaceAll(strings.Join(kws, "\n"), ".", ","), "\n")
				}
				if strings.HasSuffix(mode, "|") && slices.ContainsFunc(flags, func(f string) bool { return strings.Contains(f, "w") && !strings.Contains(f, "x") }) {
					continue // -w: no keyword set (alternationKeywords)
				}
				switch mode {
				case "-G|": // one pattern of alternatives: -e 'a\|b\|c'
					ks, mode = []string{strings.Join(ks, `\|`)}, "-G"
				case "-E|":
					ks, mode = []string{strings.Join(ks, "|")}, "-E"
				}
				f := append([]string{mode}, flags...)
				diffKeywords(t, cfg, fmt.Sprintf("case %d (seed %d) %q", c, seed, f), ins, kwArgv(f, ks))
			}
		}
	}
}

// TestGrepKeywordSetEdges: a keyword set's edges against GNU grep: -x
// with keywords of 1,023 bytes and more (the length filter's last
// bucket), a keyword that ends inside another with a non-word byte
// before it (-w), bytes >= 0x80 under -i (not folded), keywords that
// start or end with a non-word byte, the empty keyword under -w, a
// keyword found through the failure links of a deep state (past the
// tables of the shallowest).
func TestGrepKeywordSetEdges(t *testing.T) {
	long1 := strings.Repeat("abcdefghij", 150)
	long2 := strings.Repeat("z", 1022) // long1 alone is in the last bucket
	kws := []string{long1, long2, "zq", "ab c", "c", "x-", "-y", "\xe9t\xe9", "\xc9T\xc9", "b_", "q q"}
	for i := range 24 {
		kws = append(kws, fmt.Sprintf("kw%d", i))
	}
	lines := []string{long1, long2[:1021] + "q", strings.ToUpper(long1), long2, long2[:1021], long2 + "z", long1 + "x", "ab c", "xab c", "ab cd",
		"ab c!", "\xe9T\xe9", "\xc9t\xc9", "\xe9t\xe9", "x- -y", "a-y", "x-y", "", "b_ b__", "kw1", "KW23", "kw240", "q q q", "(q q)"}
	in := []byte(strings.Join(lines, "\n") + "\n")
	inputs := [][]byte{in, in[:len(in)-1]}
	for _, flags := range [][]string{{"-x"}, {"-ix"}, {"-w"}, {"-wo"}, {"-iwo"}, {"-o"}, {"-io"}, {"-cx"}, {"-xo"}, {"-wc"}, {"-n", "-w"}} {
		f := append([]string{"-F"}, flags...)
		diffKeywords(t, engine.Config{}, fmt.Sprintf("%q", f), inputs, kwArgv(f, kws))
	}
	// The empty keyword under -w: it matches between two non-word bytes
	// that start no keyword, where the search would skip.
	kws = append(kws[10:], "")
	in = []byte("a  b\na\n\nx\n \na. b\n(kw1)\nkw1 kw2\n")
	for _, flags := range [][]string{{"-w"}, {"-wc"}, {"-wo"}, {"-wn"}} {
		f := append([]string{"-F"}, flags...)
		diffKeywords(t, engine.Config{}, fmt.Sprintf("empty %q", f), [][]byte{in}, kwArgv(f, kws))
	}
	// Keywords that all start with one byte: the search jumps between
	// its occurrences.
	kws = kws[:len(kws)-1]
	in = []byte("k\nkw\nkw1\nxkw2 kw\nk kw23x\nkkw7\nKW8\nkw2\n" + strings.Repeat("ab ", 300) + "kw19\nnone\nk")
	for _, flags := range [][]string{{}, {"-w"}, {"-c"}, {"-o"}, {"-wo"}, {"-i"}} {
		f := append([]string{"-F"}, flags...)
		diffKeywords(t, engine.Config{}, fmt.Sprintf("one first byte %q", f), [][]byte{in}, kwArgv(f, kws))
	}
}

// TestGrepKeywordSetStrayParen: literals joined by alternation, one of
// them an ERE ')' (a literal), under -x: the ')' closes GNU's -x wrapper,
// '^(a|)|b…)$', so GNU's regexp matcher selects every line; not a
// keyword set.
func TestGrepKeywordSetStrayParen(t *testing.T) {
	kws := []string{")"}
	for i := range 30 {
		kws = append(kws, fmt.Sprintf("kw%d", i))
	}
	in := []byte("kw1\n)\nnone\nkw1 kw2\n\n")
	for _, flags := range [][]string{{"-x"}, {"-xc"}, {"-xo"}, {"-xv"}, {"-ix"}, {"-wx"}} {
		for _, alt := range [][]string{kws, slices.Concat(kws[1:], kws[:1])} {
			f := append([]string{"-E"}, flags...)
			diffKeywords(t, engine.Config{}, fmt.Sprintf("%q", f), [][]byte{in}, kwArgv(f, []string{strings.Join(alt, "|")}))
		}
	}
}

// TestGrepKeywordSetStages: the grep stages of one pipeline share its
// table rows (compute.MaxTableRows): the first two sets here take them
// all, the later ones search through their edges alone, to GNU's output.
func TestGrepKeywordSetStages(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const alphabet = "abcAB_ -\xe9"
	kws := kwWords(rng, 400, alphabet, false)
	text := kwText(rng, kws, 2000, alphabet)
	stage := func(flags ...string) string {
		return shquote.Join(kwArgv(append([]string{"-F"}, flags...), kws))
	}
	pipeline := stage() + " | " + stage("-iw") + " | " + stage("-o") + " | " + stage("-xn")
	got, err := computetest.RunPipelineEnv(t, engine.Config{}, pipeline, text)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := computetest.Sh(t, text, pipeline)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, GNU %d", len(got), len(want))
	}
	if len(want) == 0 {
		t.Fatal("no output: the stages select nothing")
	}
}
