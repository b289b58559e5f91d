package grep

import (
	"regexp/syntax"
	"testing"
)

func TestCompileLitSeqShapes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pat  string
		sets int // 0: not a literal sequence
	}{
		{"ERROR(?s:.)*(timeout|user)", 0}, // (?s:.) matches newlines: not grep's "."
		{"ERROR.*(timeout|user)", 2},
		{"a.*b.*c", 3},
		{"(ab|a)b.*c", 2},
		{"foo", 1},
		{"^foo.*bar", 0},
		{"foo[0-9]+", 0},
		{"foo.+bar", 0},
		{"(?i)foo.*bar", 0},
		{"a{2}.*b", 1 + 1},
	} {
		tree, err := syntax.Parse(tc.pat, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		q := compileLitSeq(tree.Simplify())
		switch {
		case tc.sets == 0 && q != nil:
			t.Errorf("%s: a literal sequence of %d sets, want none", tc.pat, len(q.sets))
		case tc.sets > 0 && (q == nil || len(q.sets) != tc.sets):
			t.Errorf("%s: %v, want %d sets", tc.pat, q, tc.sets)
		}
	}
}
