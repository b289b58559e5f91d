// Package shquote quotes words for a POSIX shell command line, the syntax
// halfclose's pipelines and the GNU tools' command lines in tests and
// benchmarks share.
package shquote

import "strings"

// Quote returns s as one shell word: unchanged when it is made only of
// characters no shell treats specially, else in single quotes (a quote in
// s as '\”).
func Quote(s string) string {
	if s != "" && !strings.ContainsFunc(s, special) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each of argv and joins them with spaces.
func Join(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Quote(a))
	}
	return b.String()
}

func special(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=,:+%@", r))
}
