// Package clitest checks what internal/cli generates, for the binaries' tests.
package clitest

import (
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/cli"
)

// CheckNamesEveryFlag fails t when text, generated as kind, does not name
// every visible flag of s (and its one-letter alias) in that kind's syntax.
// The binaries' tests call it with their real specs.
func CheckNamesEveryFlag(t testing.TB, s *cli.Spec, kind, text string) {
	t.Helper()
	for _, f := range s.AllFlags() {
		var want []string
		switch kind {
		case "man":
			want = []string{`\fB\-\-` + strings.ReplaceAll(f.Name, "-", `\-`) + `\fR`}
			if f.Short != "" {
				want = append(want, `\fB\-`+f.Short+`\fR`)
			}
		case "complete-bash", "complete-zsh":
			want = []string{"--" + f.Name}
			if f.Short != "" {
				want = append(want, "-"+f.Short)
			}
		case "complete-fish":
			want = []string{" -l " + f.Name + " "}
			if f.Short != "" {
				want = append(want, " -s "+f.Short+" ")
			}
		}
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s does not name --%s (%q)", kind, f.Name, w)
			}
		}
	}
}
