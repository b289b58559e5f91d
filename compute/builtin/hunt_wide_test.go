package builtin_test

import (
	"testing"
)

// Differences the widened generator (gnudiff_test.go: edge shapes of
// input, values and flag combinations) found, each compared with the GNU
// tools on its own inputs.

// TestHuntWideGrepWordColl: grep -w over a pattern with a collating
// symbol or an equivalence class, which GNU's dfa cannot read: glibc
// regex then selects the lines by GNU's word search (its leftmost-longest
// match, shortened or moved on until no word character touches it), not
// by the -w wrapper. An empty match reached by shortening is not taken:
// between two blanks the bracket's match of one blank, shortened to
// nothing, does not select "ab  cd" (docs/protocol.md).
func TestHuntWideGrepWordColl(t *testing.T) {
	inputs := []string{"aaa Foo a  abab\n", "ab  cd\n", "x - y\n", "a-b\n", "\n"}
	var argvs [][]string
	for _, p := range []string{`[^a[.-.]A]\|b\|\|*\?`, `[[.-.]]\|`, `[^[.-.]]\|`, `[[=a=] ]\|`} {
		for _, f := range [][]string{{"-w"}, {"-wv"}, {"-wo"}, {"-wn", "-e", "zz"}} {
			argvs = append(argvs, append(append([]string{"grep"}, f...), "-e", p))
		}
	}
	argvs = append(argvs, []string{"grep", "-wE", "[[.-.]]|"}, []string{"grep", "-wE", "[^[.-.]]|b"})
	checkCross(t, inputs, argvs)
}
