package grep_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// wordMarkWords are lines of words, punctuation, blanks, empty lines and
// bytes >= 0x80; wordMarkLong has a line long enough to be searched
// through a reader (interrupt.go).
var (
	wordMarkWords = []byte("ab\nyyyyyyyyyb\n yb\nb\n\na b-c\nfoo bar\n-x-\n  \nab_cd ef\n(a) [b]\n12 x3\n" +
		"x-b x\nxa xb\n_x_ -\nax*b\n\xe9a b\xe9\na\xffb ba\nyy b\n- ab -\nab ab ab\naa-bb\n")
	wordMarkLong = []byte("a b\n" + strings.Repeat("ab x-\xe9y_b ", 3500) + "\n-\n")
)

// TestGrepWordMarksGNU: \< and \> are GNU's in every pattern. Patterns
// the RE2 rewrite took approximately (more than 8 markers, a marker that
// a repetition's iteration can match alone, a rewrite too big) had \b
// for some markers: `grep -E '\<\>\<\>\<\>\<\>\<\>ab'` selected "ab"
// (GNU: nothing, \<\> matches nowhere), `grep -E '(y|\>){9}b'` " yb"
// and "b" (GNU: \> needs a word character before it and none after).
// They run on wordVM now. The patterns are these and ones drawn at
// random, many markers in repetitions and alternatives beside anchors,
// with -o, -w, -x, -i, -c, -v, -n, -b and -z, each on half the flags
// (HALFCLOSE_TEST_LONG: all of them, and 150 patterns drawn, not 6).
func TestGrepWordMarksGNU(t *testing.T) {
	t.Parallel()
	pats := []string{
		`\<\>\<\>\<\>\<\>\<\>ab`,
		`(y|\<){9}b`,
		`(y|\>){9}b`,
		`(-|\<|\>){9}[ab]`,
		`\<a?\<b?\<x?\<-?\<y?\<\>\<\>\<\>a`,
		`((a|\<){5}b\>){2}`,
		`\<(a?\<b?|x?\>){6}(b|-)`,
		`(\<|_|x){7,9}\>`,
	}
	n, flags := 6, []string{"", "-o", "-c", "-w", "-x", "-i", "-ow", "-vn", "-ob", "-z"}
	if testenv.Long() {
		n = 150
	}
	r := rand.New(rand.NewPCG(3, 5))
	for range n {
		pats = append(pats, wordMarkPattern(r))
	}
	for i, p := range pats {
		for j, f := range flags {
			// every pattern meets half the flags (all in the long run)
			if !testenv.Long() && (i+j)%2 == 1 {
				continue
			}
			argv := []string{"grep", "-E"}
			q := p
			if i%3 == 2 {
				argv = []string{"grep"}
				q = strings.NewReplacer("(", `\(`, ")", `\)`, "|", `\|`, "{", `\{`, "}", `\}`, "+", `\+`, "?", `\?`).Replace(p)
			}
			if f != "" {
				argv = append(argv, f)
			}
			argv = append(argv, "-e", q)
			if strings.Contains(f, "o") {
				if _, err := computetest.RunPipeline(t, shquote.Join(argv), nil); err != nil && strings.Contains(err.Error(), "unsupported with -o") {
					continue // glibc's copied assertions (docs/protocol.md)
				}
			}
			inputs := map[string][]byte{"words": wordMarkWords}
			if i < 8 && (f == "-c" || f == "-o") || testenv.Long() {
				inputs["long"] = wordMarkLong
			}
			computetest.DiffGNUEach(t, inputs, argv...)
		}
	}
}

// wordMarkPattern draws an ERE heavy in \< and \>: in sequences, groups,
// alternatives and repetitions, beside anchors, \b and characters.
func wordMarkPattern(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	if r.IntN(3) == 0 {
		// many markers in a row
		var b strings.Builder
		for range 5 + r.IntN(8) {
			b.WriteString(pick(`\<`, `\>`, `\<a`, `b\>`, `\<\>`, `x?\<`, `( |\>)`, `\<-?`))
		}
		b.WriteString(pick("ab", "a", "", "-", "x*"))
		return b.String()
	}
	var re func(depth int) string
	re = func(depth int) string {
		var b strings.Builder
		for i := range 1 + r.IntN(2) {
			if i > 0 {
				b.WriteString("|")
			}
			for range 1 + r.IntN(4) {
				switch r.IntN(12) {
				case 0, 1, 2, 3, 4:
					b.WriteString(pick(`\<`, `\>`, `\<\>`, `\>\<`))
				case 5, 6:
					b.WriteString(pick("a", "b", "x", "ab", "-", " ", "_", "y"))
				case 7:
					b.WriteString(pick(".", "[a-]", "[^a]", `\w`, `\W`, "[ab]"))
				case 8:
					b.WriteString(pick("^", "$", `\b`, `\B`))
				default:
					if depth < 2 {
						b.WriteString("(" + re(depth+1) + ")")
					} else {
						b.WriteString("a")
					}
				}
				if r.IntN(3) == 0 {
					b.WriteString(pick("*", "+", "?", "{2}", "{0,3}", "{1,}", "{9}", "{2,6}", "{5,}"))
				}
			}
		}
		return b.String()
	}
	return re(0)
}
