package grep

import (
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// TestEveryLineAnalysis: which patterns the fast path of every.go takes
// (so that TestGrepEveryLine exercises it, and not only the matcher) and
// which it must leave to the matcher.
func TestEveryLineAnalysis(t *testing.T) {
	for _, c := range []struct {
		pat              string
		mode             grepMode
		word, line, nul  bool
		fold             bool
		every, onlyEmpty bool
	}{
		{pat: "", every: true, onlyEmpty: true},
		{pat: "^", every: true, onlyEmpty: true},
		{pat: "$", every: true, onlyEmpty: true},
		{pat: "x*", every: true},
		{pat: ".*", every: true},
		{pat: "^.*$", every: true},
		{pat: "^x*", every: true},
		{pat: `\(^\)*$`, every: true, onlyEmpty: true},
		{pat: "x*$", every: true},
		{pat: "a|^", mode: grepExtended, every: true},
		{pat: "x{0,3}", mode: grepExtended, every: true},
		{pat: "(x*)+", mode: grepExtended, every: true},
		{pat: "", nul: true, every: true, onlyEmpty: true},
		{pat: ".*", line: true, every: true},
		{pat: ".*", line: true, nul: true, every: true},
		{pat: "[^a]*", line: false, every: true},
		{pat: `\(\)`, every: true, onlyEmpty: true},
		{pat: `a\{0\}`, every: true, onlyEmpty: true},
		{pat: `x\{0,\}`, every: true},
		{pat: `$\|a`, every: true},
		{pat: "a*$", every: true},
		{pat: "(|a)", mode: grepExtended, every: true},
		{pat: "()*", mode: grepExtended, every: true, onlyEmpty: true},
		{pat: ".*", line: true, fold: true, every: true},
		{pat: "a\n", every: true},                                     // two patterns, the second empty
		{pat: "^*", mode: grepExtended, every: true, onlyEmpty: true}, // ^ repeated (GNU: every line)
		{pat: "\\`", every: true, onlyEmpty: true},                    // GNU's dfa: a line's start
		// not every line
		{pat: "^$", onlyEmpty: true},
		{pat: "x*", line: true},
		{pat: "[^a]*", line: true},
		{pat: "", line: true, onlyEmpty: true},
		{pat: "", word: true},
		{pat: "x*", word: true},
		{pat: "x", mode: grepFixed},
		{pat: "x\\+"},
		{pat: "x{1,3}", mode: grepExtended},
		{pat: `\<`, onlyEmpty: true},
		{pat: `\b`, onlyEmpty: true},
		{pat: `\B`, onlyEmpty: true},
		{pat: "$^"},
		{pat: "x*y"},
		{pat: "^x*$"},
		{pat: "^*"}, // a BRE's '*' after '^' is a literal
		{pat: "a*", mode: grepFixed},
		{pat: "[^a]*", line: true, nul: true},
	} {
		m, err := compileGrep(strings.Split(c.pat, "\n"), c.mode, c.fold, c.word, c.line, c.nul, compute.NewPatternBudget(compute.MaxPatternInsts))
		if err != nil {
			t.Fatalf("%q: %v", c.pat, err)
		}
		if m.every != c.every || m.oEmpty != c.onlyEmpty {
			t.Errorf("%q (mode %d, -w %v, -x %v, -z %v): every %v, oEmpty %v; want %v, %v", c.pat, c.mode, c.word, c.line, c.nul, m.every, m.oEmpty, c.every, c.onlyEmpty)
		}
	}
}
