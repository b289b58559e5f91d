package grep

import (
	"math/rand/v2"
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// compileCases are grep jobs' patterns, as compileGrep sees them: the
// forms TestGrepDifferential compiles most (classes, -w, -x, -i, -o).
var compileCases = []struct {
	name             string
	pats             []string
	mode             grepMode
	fold, word, line bool
}{
	{"literal", []string{"foo"}, grepBasic, false, false, false},
	{"class", []string{"[^a-z]"}, grepBasic, false, false, false},
	{"dot", []string{"a.b"}, grepBasic, false, false, false},
	{"fold", []string{"CAF\xc3\xa9"}, grepBasic, true, false, false},
	{"word", []string{"foo"}, grepBasic, false, true, false},
	{"line", []string{"b"}, grepBasic, false, false, true},
	{"ere", []string{"took [0-9]+5ms|=[A-Z]+"}, grepExtended, false, false, false},
	{"nonspace", []string{`\S\+`}, grepBasic, false, false, false},
	{"nondigit", []string{"[^0-9]x"}, grepBasic, false, false, false},
}

// BenchmarkCompileGrep is the cost of compiling one grep job's patterns.
func BenchmarkCompileGrep(b *testing.B) {
	for _, c := range compileCases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := compileGrep(c.pats, c.mode, c.fold, c.word, c.line, false, compute.NewPatternBudget(compute.MaxPatternInsts)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// progOf is the program regexp.Compile makes of src: what matching runs.
func progOf(t *testing.T, src string) string {
	t.Helper()
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	return prog.String()
}

// TestREStringSameProgram: the text reString writes of a tree compiles to
// the program that syntax's own String does (the oracle), for the trees
// grep compiles: GNU patterns of every kind, translated, with -i, -x and
// -w, and their line forms (lineAnchors, noCaptures); and for patterns
// made of random pieces.
func TestREStringSameProgram(t *testing.T) {
	pats := []string{
		"foo", "", "^", "$", "^$", ".", "...", "[^a-z]", "[[:alpha:]]*", "a.b", "a*b",
		`a\+b`, "a+b", `a\{1\}b`, "a{1}b", `\(a\)`, "(a)", "*b", "a**", `[\]`, "[]x]",
		`\^caret`, `^caret\$`, "a^b", "a{,1}b", `\w\+`, `\w*`, `\S\+`, `\s`, "\xc3\xa9",
		"\xc3.", "CAF\xc3\xa9", "\r", "b", "a", "[-a]", "[a-]", "[]-a]", `[\-]`, "[^-]",
		`x\|y`, "x|y", "(a|b)*c", `\<w\>`, `\bw\B`, "[[:upper:]][[:digit:]]+", "a{2,5}?",
		"[^\n]", "\t\v\f\a", "\x01\x7f\xff", "[\x80-\xff]", "(|a)", "a||b", "()", "x{0}",
		"took [0-9]+5ms", "=[A-Z]+", "connection reset|timed out|refused", "[.*+?]",
		"a{2,7}", "(ab){0,5}", "[ab]{1,9}x", "(a?){0,3}", "(a{1,3}){2,4}", "(a|b){0,2}", "(a*){1,3}", "(){1,3}", "(a?){1,4}", "(a??){0,3}",
	}
	pieces := []string{"a", "B", ".", "*", "+", "?", "^", "$", "[^a]", "[b-d]", "\\", "(", ")",
		"|", "{2}", "{1,}", "\xe9", "\n", "-", "]", "[", "\\w", "\\b", "\\<", " "}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 400 {
		var b strings.Builder
		for range 1 + rnd.IntN(8) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		pats = append(pats, b.String())
	}
	checked := 0
	for _, p := range pats {
		for _, ere := range []bool{false, true} {
			for _, fold := range []bool{false, true} {
				src, err := translateRE(p, ere, fold, false)
				if err != nil {
					continue
				}
				for _, full := range []string{src, "^(?:" + src + ")$", "(?:^|" + nonWordClass + ")(" + src + ")(?:" + nonWordClass + "|$)"} {
					for _, lineForm := range []bool{false, true} {
						// (lineAnchors and noCaptures rewrite the tree in
						// place: a tree of its own.)
						tr, _, err := parseRESized(full, fold, false)
						if err != nil {
							break
						}
						if lineForm {
							tr = noCaptures(lineAnchors(tr))
						}
						std, ours := tr.String(), reString(tr)
						if progOf(t, ours) != progOf(t, std) {
							t.Fatalf("%q (ERE %v, -i %v): reString %q and String %q compile to different programs", p, ere, fold, ours, std)
						}
						checked++
					}
				}
			}
		}
	}
	if checked < 5000 {
		t.Fatalf("only %d trees checked", checked)
	}
}
