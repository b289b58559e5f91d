package grep

import (
	"fmt"
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
