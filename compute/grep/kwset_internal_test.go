package grep

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// TestKwSetNulKeyword: under -z a keyword holding a NUL matches nowhere
// (a NUL ends a line), as fixTree makes it in a regexp: the text's NULs
// there are its newlines, which the keyword's NUL must not match.
func TestKwSetNulKeyword(t *testing.T) {
	pats := []string{"a\x00b"}
	for i := range kwSetMin {
		pats = append(pats, fmt.Sprintf("kw%d", i))
	}
	for _, nul := range []bool{false, true} {
		m, err := compileGrep(pats, grepFixed, false, false, false, nul, compute.NewPatternBudget(compute.MaxPatternInsts))
		if err != nil {
			t.Fatal(err)
		}
		if m.kw == nil {
			t.Fatal("no keyword set")
		}
		if got := m.lineMatch([]byte("xa\x00b"), nil); got != !nul {
			t.Errorf("nul %v: a line holding the keyword selected: %v, want %v", nul, got, !nul)
		}
	}
}

// TestKwSetStops: a search through an interrupt whose stop flag is set
// stops at its next look (find, and -o's leftmost-longest search), and
// says so (hit).
func TestKwSetStops(t *testing.T) {
	pats := []string{"a", "aaaaaaaaaaaaaaaaaaaaaaaaab"}
	for i := range kwSetMin {
		pats = append(pats, fmt.Sprintf("kw%d", i))
	}
	m, err := compileGrep(pats, grepFixed, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := make([]byte, 4*kwCheckWork)
	for i := range text {
		text[i] = 'x'
	}
	text[len(text)-1] = 'a'
	for name, search := range map[string]func(in *interrupt) bool{
		"find": func(in *interrupt) bool { return m.kw.find(text, 0, in) >= 0 },
		"-o": func(in *interrupt) bool {
			found := false
			m.kw.eachMatch(text, func(s, e int) { found = true }, in)
			return found
		},
	} {
		var stop atomic.Bool
		in := &interrupt{stop: &stop}
		if !search(in) || in.hit {
			t.Fatalf("%s: not stopped: found nothing, or hit", name)
		}
		stop.Store(true)
		in = &interrupt{stop: &stop}
		if search(in) || !in.hit {
			t.Errorf("%s: stop flag set: a match found or no hit", name)
		}
	}
}

// TestKwSetCountsWalks: -o's walk of the trie for the longest keyword at
// a match counts toward the stop-flag looks: each 'a' here matches, and
// the walk reads on along a 5,000-byte keyword, so a search with its
// flag set stops at the first match's walk, not after a thousand
// matches.
func TestKwSetCountsWalks(t *testing.T) {
	pats := []string{"a", strings.Repeat("a", 5000) + "b"}
	for i := range kwSetMin {
		pats = append(pats, fmt.Sprintf("kw%d", i))
	}
	m, err := compileGrep(pats, grepFixed, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	stop.Store(true)
	in := &interrupt{stop: &stop, kwLeft: 1000}
	n := 0
	m.kw.eachMatch([]byte(strings.Repeat("a", 10000)), func(s, e int) { n++ }, in)
	if n > 1 || !in.hit {
		t.Errorf("%d matches before the stop (hit %v), want at most 1", n, in.hit)
	}
}

// TestKwSetAlternation: one pattern of literals joined by alternation
// ('|' in an ERE, '\|' in a BRE) is a keyword set, its escaped bars
// literal; not with -w (GNU's regexp matcher shortens a -w match as its
// -F matcher does not), nor where a piece is no literal.
func TestKwSetAlternation(t *testing.T) {
	var lits []string
	for i := range kwSetMin {
		lits = append(lits, fmt.Sprintf("kw%d", i))
	}
	for _, c := range []struct {
		pat        string
		mode       grepMode
		word, line bool
		want       []string // the keywords added to lits; nil: no keyword set
	}{
		{strings.Join(lits, "|") + `|a\|b`, grepExtended, false, false, []string{"a|b"}},
		{strings.Join(lits, `\|`) + `\|a|b`, grepBasic, false, false, []string{"a|b"}},
		{strings.Join(lits, "|") + "||x", grepExtended, false, true, []string{"", "x"}},
		{strings.Join(lits, "|"), grepExtended, true, false, nil},
		{strings.Join(lits, "|") + "|a*", grepExtended, false, false, nil},
		{strings.Join(lits, "|") + "|(a)", grepExtended, false, false, nil},
	} {
		m, err := compileGrep([]string{c.pat}, c.mode, false, c.word, c.line, false, nil)
		if err != nil {
			t.Fatalf("%q: %v", c.pat, err)
		}
		if c.want == nil {
			if m.kw != nil {
				t.Errorf("%q (-w %v): a keyword set", c.pat, c.word)
			}
			continue
		}
		if m.kw == nil {
			t.Errorf("%q: no keyword set", c.pat)
			continue
		}
		var got []string
		for _, kw := range m.kw.kws {
			got = append(got, string(kw))
		}
		want := append(append([]string{}, lits...), c.want...)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: keywords %q, want %q", c.pat, got, want)
		}
	}
}

// TestKwSetTableRows: the keyword sets of one pipeline share its table
// rows (compute.MaxTableRows, 1 MiB): a set takes a row for each state
// up to what is left, a later one what the earlier left (none: it
// searches through the edges alone, to the same result); -x takes none.
func TestKwSetTableRows(t *testing.T) {
	var pats []string
	for i := range 500 {
		pats = append(pats, fmt.Sprintf("kw%03d", i))
	}
	budget := compute.NewPatternBudget(compute.MaxPatternInsts)
	const states = 1 + 1 + 1 + 5 + 50 + 500 // "", k, kw, kw0…kw4, kw00…, kw000…
	line := []byte("xx kw499 yy")
	var rows []int
	for i := range 4 {
		m, err := compileGrep(pats, grepFixed, false, false, i == 0, false, budget)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, len(m.kw.rows)/256)
		if !m.lineMatch(line, nil) == (i != 0) {
			t.Errorf("set %d: %q selected: %v", i, line, i != 0)
		}
	}
	if want := []int{0, states, compute.MaxTableRows - states, 0}; !slices.Equal(rows, want) {
		t.Errorf("table rows %v, want %v", rows, want)
	}
}

// TestKwSetScanLooks: -o's scan for the next keyword looks at the stop
// flag every kwCheckWork bytes it reads, not once at the match: a line of
// up to --max-line-bytes may lie before it.
func TestKwSetScanLooks(t *testing.T) {
	var pats []string
	for i := range kwSetMin {
		pats = append(pats, fmt.Sprintf("kw%d", i))
	}
	m, err := compileGrep(pats, grepFixed, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	const pieces = 10
	line := []byte(strings.Repeat("x", pieces*kwCheckWork) + "kw3")
	var stop atomic.Bool
	in := &interrupt{stop: &stop, kwLeft: kwCheckWork}
	s, n := m.kw.leftmostLongest(line, 0, in)
	if s != pieces*kwCheckWork || n != 3 {
		t.Errorf("match at %d, %d bytes; want %d, 3", s, n, pieces*kwCheckWork)
	}
	if in.kwLooks < pieces {
		t.Errorf("%d looks at the stop flag over %d bytes, want at least %d", in.kwLooks, len(line), pieces)
	}
}
