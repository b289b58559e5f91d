package compute

import (
	"fmt"
	"strings"
)

// DidYouMean is the hint an "unknown" error ends with: ` (did you mean
// "x"?)` naming the candidates closest to word, or "" when none is close.
// Closeness is the optimal-string-alignment distance (insertions,
// deletions, substitutions and swaps of neighbours each count 1), ignoring
// case; a candidate is close when that distance is at most a third of
// word's length (at least 1, at most 2), so "sha256summ" gets
// "sha256sum" and "srot" gets "sort", but "frob" gets nothing. Ties are
// all named, at most three.
func DidYouMean(word string, candidates []string) string {
	limit := min(2, max(1, len([]rune(word))/3))
	best := limit + 1
	var names []string
	lw := strings.ToLower(word)
	for _, c := range candidates {
		d := osaDistance(lw, strings.ToLower(c))
		switch {
		case d == 0 && c == word:
			return "" // not unknown
		case d > limit:
		case d < best:
			best, names = d, []string{c}
		case d == best:
			names = append(names, c)
		}
	}
	if len(names) == 0 {
		return ""
	}
	if len(names) > 3 {
		names = names[:3]
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	list := q[0]
	if len(q) > 1 {
		list = strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
	}
	return " (did you mean " + list + "?)"
}

// osaDistance is the optimal string alignment distance between a and b,
// in runes: Levenshtein plus transposition of adjacent runes.
func osaDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	// Three rows: i-2, i-1, i.
	prev2 := make([]int, len(t)+1)
	prev := make([]int, len(t)+1)
	cur := make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}

// Suggest is the hint for an unknown command name: DidYouMean over the
// registry's names.
func (r *Registry) Suggest(name string) string {
	cmds := r.Commands()
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.Name
	}
	return DidYouMean(name, names)
}

// flagNames returns the long flags of specs with their dashes.
func flagNames(specs []FlagSpec) []string {
	var names []string
	for _, s := range specs {
		if s.Long != "" {
			names = append(names, "--"+s.Long)
		}
	}
	return names
}
