package compute

import "testing"

func TestOSADistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "", 3}, {"sort", "sort", 0},
		{"srot", "sort", 1}, {"sha256summ", "sha256sum", 1}, {"kitten", "sitting", 3},
		{"ca", "abc", 3}, // OSA, not full Damerau (which gives 2)
		{"héllo", "hello", 1},
	} {
		if got := osaDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("osaDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	names := []string{"sha1sum", "sha256sum", "sort", "tac", "tr", "uniq", "wc"}
	for _, tc := range []struct{ word, want string }{
		{"sha256summ", ` (did you mean "sha256sum"?)`},
		{"SHA1SUM", ` (did you mean "sha1sum"?)`},
		{"srot", ` (did you mean "sort"?)`},
		{"tc", ` (did you mean "tac", "tr" or "wc"?)`},
		{"frob", ""},
		{"sort", ""},
	} {
		if got := DidYouMean(tc.word, names); got != tc.want {
			t.Errorf("DidYouMean(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
	r := NewRegistry()
	for _, n := range names {
		r.Register(&Command{Name: n})
	}
	if got := r.Suggest("uniqq"); got != ` (did you mean "uniq"?)` {
		t.Errorf("Suggest(uniqq) = %q", got)
	}
}
