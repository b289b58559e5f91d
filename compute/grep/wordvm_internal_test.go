package grep

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestWordVMMatchesRE2: on patterns without \< and \>, wordVM finds what
// RE2 finds, leftmost-longest, through every method grep calls (slices,
// readers, all matches, the (?s:.)(re) form past a position): the
// semantics grep's callers rely on are RE2's.
func TestWordVMMatchesRE2(t *testing.T) {
	t.Parallel()
	n := 400
	if testenv.Long() {
		n = 8000
	}
	r := rand.New(rand.NewPCG(1, 2))
	texts := []string{"", "a", "ab a_b\n-ab\n\nba b", "\xe9a\xc3\xa9b \xff-a\n_", "aab  abba\nb-a\n", "\n\n", "a\nb"}
	for range n {
		src := randRE2(r, 0)
		if r.IntN(4) == 0 {
			src = "(?m)" + src
		}
		re, err := regexp.Compile(src)
		if err != nil {
			continue
		}
		re.Longest()
		ctxRe := regexp.MustCompile(`(?s:.)(` + src + `)`)
		ctxRe.Longest()
		tr, err := syntax.Parse(src, syntax.Perl)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		tr = tr.Simplify()
		vm := newWordVM(tr, false)
		cvm := newWordVM(&syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{{Op: syntax.OpAnyChar}, tr}}, true)
		for _, text := range append(texts, string(randText(r, "ab _-\n\xe9", 1+r.IntN(12)))) {
			b := []byte(text)
			check := func(what string, got, want any) {
				t.Helper()
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s %q on %q: got %v, RE2 %v", what, src, text, got, want)
				}
			}
			check("Match", vm.Match(b), re.Match(b))
			check("MatchReader", vm.MatchReader(bytes.NewReader(b)), re.MatchReader(bytes.NewReader(b)))
			check("FindIndex", vm.FindIndex(b), re.FindIndex(b))
			check("FindReaderIndex", vm.FindReaderIndex(bytes.NewReader(b)), re.FindReaderIndex(bytes.NewReader(b)))
			check("FindAllIndex", vm.FindAllIndex(b, -1), re.FindAllIndex(b, -1))
			check("FindSubmatchIndex", vm.FindSubmatchIndex(b), firstN(re.FindSubmatchIndex(b), 2))
			check("ctx FindSubmatchIndex", cvm.FindSubmatchIndex(b), firstN(ctxRe.FindSubmatchIndex(b), 4))
			check("ctx FindReaderSubmatchIndex", cvm.FindReaderSubmatchIndex(bytes.NewReader(b)), firstN(ctxRe.FindReaderSubmatchIndex(bytes.NewReader(b)), 4))
		}
	}
}

// firstN is loc's first n bounds (nil: no match).
func firstN(loc []int, n int) []int {
	if loc == nil {
		return nil
	}
	return loc[:n]
}

// randRE2 draws an RE2 pattern of literals, classes, anchors, \b, \B,
// groups, alternatives and repetitions.
func randRE2(r *rand.Rand, depth int) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	var b strings.Builder
	for i := range 1 + r.IntN(2) {
		if i > 0 {
			b.WriteByte('|')
		}
		for range 1 + r.IntN(4) {
			switch r.IntN(8) {
			case 0, 1:
				b.WriteString(pick("a", "b", "ab", " ", "-", "_", `\n`, "\u00e9"))
			case 2:
				b.WriteString(pick(".", "(?s:.)", "[a-]", "[^a]", `\w`, `\W`, "[^\n]"))
			case 3:
				b.WriteString(pick("^", "$", `\A`, `\z`, `\b`, `\B`))
			case 4:
				if depth < 2 {
					b.WriteString("(" + randRE2(r, depth+1) + ")")
				} else {
					b.WriteString("a")
				}
			default:
				b.WriteString(pick("a", "b", "(?:a|)", "b*"))
			}
			if r.IntN(3) == 0 {
				b.WriteString(pick("*", "+", "?", "{2}", "{0,2}", "{1,}", "{3,5}"))
			}
		}
	}
	return b.String()
}

// TestWordVMOnlyWhereInexact: patterns the RE2 rewrite of \< and \> takes
// exactly keep RE2 (and its speed); the others run on wordVM.
func TestWordVMOnlyWhereInexact(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p  string
		vm bool
	}{
		{`\<foo\>`, false},
		{`\<[a-z]*\>`, false},
		{`(x|\>)+b`, false},
		{`(\<.)+`, false},
		{`\<\>\<\>\<\>\<\>\<\>ab`, true},      // more than maxWordMarks
		{`(y|\<){9}b`, true},                  // rewritten within its iteration
		{`((\>a{,2}){2}){7}[a-z]`, true},      // likewise, nested
		{`(a?\<b?|c?){12}`, true},             // a rewrite too big
		{strings.Repeat(`(a\<|b)?`, 9), true}, // more than maxWordMarks
	} {
		m, err := compileGrep([]string{c.p}, grepExtended, false, false, false, false, nil)
		if err != nil {
			t.Fatalf("%q: %v", c.p, err)
		}
		if _, vm := m.re.(*wordVM); vm != c.vm {
			t.Errorf("%q: on wordVM %v, want %v", c.p, vm, c.vm)
		}
	}
}
