package shquote

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestJoinRoundTrip gives Join's output to /bin/sh and checks that the
// shell splits it back into the same words.
func TestJoinRoundTrip(t *testing.T) {
	words := []string{"grep", "-F", "", "a b", "it's", `"q"`, "$HOME", "a*b", "x;y", "tab\there", "new\nline", "\\", "k=v", "-e,x:y+1%@", "é", "'", "''"}
	line := Join(words)
	// printf prints each word on a line of its own, NUL-terminated.
	out, err := exec.Command("/bin/sh", "-c", `printf '%s\0' `+line).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", line, err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, words) {
		t.Fatalf("sh split %q into\n%q\nwant\n%q", line, got, words)
	}
}

func TestQuoteLeavesPlainWords(t *testing.T) {
	for _, w := range []string{"sha256sum", "-c", "--max-count=3", "a/b.c", "x_y"} {
		if q := Quote(w); q != w {
			t.Errorf("Quote(%q) = %q, want it unchanged", w, q)
		}
	}
}
