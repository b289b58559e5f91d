package grep_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/grep"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// everyItems are the pieces TestGrepEveryLine builds patterns of, as a
// BRE and as an ERE: pieces that match the empty string (alone or after
// ^, before $), pieces that match any line, and pieces that do neither,
// so that the patterns fall on both sides of every.go's analysis.
var everyItems = [][2]string{
	{"", ""},
	{"^", "^"},
	{"$", "$"},
	{"x*", "x*"},
	{".*", ".*"},
	{"[^a]*", "[^a]*"},
	{`\(x*\)*`, "(x*)*"},
	{`x\{0,2\}`, "x{0,2}"},
	{`x\?`, "x?"},
	{"x", "x"},
	{".", "."},
	{`x\+`, "x+"},
	{`\<`, `\<`},
	{`\b`, `\b`},
	{"a", "a"},
}

// everyPattern returns a random pattern of everyItems: one to three
// pieces, or two such sequences as alternatives.
func everyPattern(r *rand.Rand, ere bool) string {
	return randomPattern(r, ere, 3, 4, func() [2]string {
		// the empty-matching pieces more often
		return everyItems[r.IntN(len(everyItems)-r.IntN(2)*8)]
	})
}

// randomPattern returns a BRE (ERE if ere) of one to maxPieces pieces
// piece draws, its BRE and ERE spellings, and one time in altOneIn a
// second such sequence as an alternative.
func randomPattern(r *rand.Rand, ere bool, maxPieces, altOneIn int, piece func() [2]string) string {
	k := 0
	if ere {
		k = 1
	}
	seq := func() string {
		var b strings.Builder
		for range 1 + r.IntN(maxPieces) {
			b.WriteString(piece()[k])
		}
		return b.String()
	}
	p := seq()
	if r.IntN(altOneIn) == 0 {
		p += []string{`\|`, "|"}[k] + seq()
	}
	return p
}

// everyInputs are short lines, empty lines, NULs, no final newline, and
// text past the read block and the buffer.
func everyInputs(r *rand.Rand) map[string][]byte {
	line := func(b *bytes.Buffer, maxLen int, abc string) {
		for range r.IntN(maxLen + 1) {
			b.WriteByte(abc[r.IntN(len(abc))])
		}
		b.WriteByte('\n')
	}
	var short, big, nul bytes.Buffer
	for range 200 {
		line(&short, 6, "xxa b_\x80")
	}
	for big.Len() < grep.GrepBufSize+grep.GrepBlock {
		line(&big, 12, "xxxa b")
	}
	for range 200 {
		line(&nul, 4, "x\x00a\n")
	}
	lateNUL := bytes.Clone(big.Bytes())
	lateNUL[grep.GrepBufSize+grep.GrepBlock/2] = 0
	return map[string][]byte{
		"short":       short.Bytes(),
		"short-noeol": short.Bytes()[:short.Len()-1],
		"empty":       bytes.Repeat([]byte{'\n'}, 3000),
		"empty-noeol": append(bytes.Repeat([]byte{'\n'}, 30), 'x'),
		"nul":         nul.Bytes(),
		"nuls":        make([]byte, grep.GrepBlock+100),
		"big":         big.Bytes(),
		"big-noeol":   big.Bytes()[:big.Len()-1],
		"big-latenul": lateNUL,
		"big-z":       bytes.ReplaceAll(big.Bytes(), []byte{'\n'}, []byte{0}),
	}
}

// TestGrepEveryLine: patterns that match in every line (every.go selects
// their lines without the matcher) and patterns beside them (findWindowed
// searches their lines), drawn from a small grammar, with -v -c -n -o -w
// -x -m -z -E and context among their flags, over short and empty lines,
// NULs (binary input; -z's line ends), no final newline, and text past
// GNU's read block and our buffer, against GNU grep: output, exit status
// and diagnostics ("binary file matches").
func TestGrepEveryLine(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 12))
	inputs := everyInputs(r)
	// 30 cases: about 15 s under -race on 2 cores in make test; the long
	// run (make fuzz) draws 400.
	cases := 30
	if testenv.Long() {
		cases = 400
	}
	for i := range cases {
		ere := r.IntN(2) == 0
		var flags []string
		if ere {
			flags = append(flags, "-E")
		}
		for _, f := range []string{"-v", "-c", "-n", "-o", "-w", "-x", "-z"} {
			if r.IntN(4) == 0 {
				flags = append(flags, f)
			}
		}
		if r.IntN(8) == 0 {
			flags = append(flags, []string{"-A1", "-B2", "-C1"}[r.IntN(3)])
		}
		if r.IntN(4) == 0 {
			flags = append(flags, "-m", fmt.Sprint([]int{0, 1, 2, 7, 2500}[r.IntN(5)]))
		}
		pat := everyPattern(r, ere)
		argv := append(append([]string{"grep"}, flags...), "-e", pat)
		if slices.Contains(flags, "-z") && slices.Contains(flags, "-o") {
			if _, err := computetest.RunPipeline(t, shquote.Join(argv), nil); err != nil && strings.Contains(err.Error(), "unsupported with -z -o") {
				// GNU's -o (glibc regex) reads a ^ or $ beside a
				// newline inside a NUL-ended line that its match
				// goes through (nlanchor.go): refused
				continue
			}
		}
		for name, in := range inputs {
			// one input past the buffer one case in three, in turn
			// (they cost the most under -race)
			if big := []string{"big", "big-noeol", "big-latenul", "big-z"}; strings.HasPrefix(name, "big") && (i%3 != 0 || name != big[i/3%len(big)]) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%q", name, argv[1:]), func(t *testing.T) {
				// (under -z, an input without NULs is one line)
				computetest.DiffGNUEnv(t, engine.Config{MaxLineBytes: 4 << 20}, in, argv...)
			})
		}
	}
}

// shapeItems are the pieces TestGrepEveryLineShapes builds BREs of: the
// every-line pieces and, beside them, pieces with no literal (findWindowed
// searches their lines), classes that hold a newline (\s: a match must
// still end at a line's end) and -z's record ends.
var shapeItems = []string{
	"", "^", "$", ".*", "x*", `\(^\)*`, `a\{0\}`, `[^a]*`,
	"[ab]", "[^ x]", ".", `\w`, `\W`, `\s`, "[[:space:]]", `\<`, `\b`, `[ab]\{2\}`,
}

// TestGrepEveryLineShapes covers what TestGrepEveryLine does not draw:
// several patterns (-e twice, a newline within one -e: an empty one
// selects every line), -F -i -a -I -b -H -l -L -q, literal-less patterns
// over lines longer than findWindowed's window with rare matches, and -c
// over runs of NULs between newlines (zapped to newlines in one pass),
// against GNU grep.
func TestGrepEveryLineShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 1204))
	lines := func(abc string, minLen, maxLen, n int) []byte {
		var b bytes.Buffer
		for range n {
			for range minLen + r.IntN(maxLen-minLen+1) {
				b.WriteByte(abc[r.IntN(len(abc))])
			}
			b.WriteByte('\n')
		}
		return b.Bytes()
	}
	sparse := lines(strings.Repeat("x", 120)+"a b", 0, 700, 400)
	nuls := lines("ab x\x00\x00\x00\x00\n", 0, 30, 600)
	inputs := map[string][]byte{
		"short":        lines("xab _\x80", 0, 8, 300),
		"sparse-noeol": sparse[:len(sparse)-1],
		"nuls":         nuls,
		"nuls-noeol":   nuls[:len(nuls)-1],
	}
	cases := 60
	if testenv.Long() {
		cases = 300
	}
	pattern := func() string {
		var b strings.Builder
		for range 1 + r.IntN(3) {
			b.WriteString(shapeItems[r.IntN(len(shapeItems))])
		}
		if r.IntN(4) == 0 {
			b.WriteString(`\|` + shapeItems[r.IntN(len(shapeItems))])
		}
		return b.String()
	}
	for range cases {
		argv := []string{"grep"}
		for _, f := range []string{"-v", "-c", "-n", "-o", "-x", "-z", "-i", "-a", "-I", "-b", "-H"} {
			if r.IntN(5) == 0 {
				argv = append(argv, f)
			}
		}
		if r.IntN(4) == 0 {
			argv = append(argv, []string{"-l", "-L", "-q"}[r.IntN(3)])
		}
		if r.IntN(5) == 0 {
			argv = append(argv, "-m", fmt.Sprint([]int{1, 3, 100}[r.IntN(3)]))
		}
		switch r.IntN(6) {
		case 0: // an every-line pattern among others
			argv = append(argv, "-e", pattern(), "-e", pattern())
		case 1: // a newline within -e: two patterns, one maybe empty
			argv = append(argv, "-e", pattern()+"\n"+pattern())
		case 2:
			argv = append(argv, "-F", "-e", []string{"", "a", "x\n", "\na b"}[r.IntN(4)])
		default:
			argv = append(argv, "-e", pattern())
		}
		for name, in := range inputs {
			t.Run(fmt.Sprintf("%s/%q", name, argv[1:]), func(t *testing.T) {
				computetest.DiffGNUEnv(t, engine.Config{MaxLineBytes: 4 << 20}, in, argv...)
			})
		}
	}
}
