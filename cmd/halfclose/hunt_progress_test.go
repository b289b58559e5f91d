package main

import (
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestHuntProgressLabelQuoted: the progress line names a FILE operand as
// the error lines do, quoted as GNU's quotef quotes it: a name with a
// newline broke the line in two ("halfclose: new" and "line: 0 B / 1 B"),
// and one with an escape sequence wrote it to the terminal as it was.
func TestHuntProgressLabelQuoted(t *testing.T) {
	t.Setenv("LC_ALL", "C")
	g, tcp := huntServer(t)
	t.Chdir(t.TempDir())
	names := map[string]string{ // name: how GNU's sha256sum names it
		"new\nline":     `'new'$'\n''line'`,
		"esc\x1b[2Jcls": `'esc'$'\033''[2Jcls'`,
		"with space":    `'with space'`,
	}
	var args []string
	for name := range names {
		if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, name)
	}
	for _, transport := range [][]string{{"--addr", g}, {"--tcp", "--tcp-addr", tcp}} {
		code, _, errs := runCLIIn(t, strings.NewReader(""), append(append(append([]string{}, transport...), "-P", "sha256sum"), args...)...)
		if code != 0 {
			t.Fatalf("%q: exit %d, stderr %q", transport, code, errs)
		}
		for _, line := range strings.SplitAfter(strings.TrimSuffix(errs, "\n"), "\n") {
			if !strings.HasPrefix(line, "halfclose: ") || strings.ContainsAny(strings.TrimSuffix(line, "\n"), "\n\x1b") || !strings.Contains(line, " B / 1 B ") {
				t.Errorf("%q: progress line %q: want one line, the name quoted", transport, line)
			}
		}
		for name, q := range names {
			if !strings.Contains(errs, q+": 1 B / 1 B  100%") {
				t.Errorf("%q: stderr %q lacks %q's line, quoted as %s", transport, errs, name, q)
			}
		}
	}
}

// TestHuntProgressCutWhole: on a terminal the line is cut to its width
// at a character's start: a name in UTF-8 cut inside a character left a
// broken byte on the screen.
func TestHuntProgressCutWhole(t *testing.T) {
	for width := 2; width < 40; width++ {
		var b strings.Builder
		p := &progress{mode: progressMode{tty: true, width: width}, w: &b, label: "日本語のファイル", total: 100, start: time.Now()}
		p.drawLocked(false)
		line := strings.TrimSuffix(strings.TrimPrefix(b.String(), "\r"), "\x1b[K")
		if !utf8.ValidString(line) || len(line) >= width {
			t.Errorf("width %d: line %q: want whole characters, at most %d bytes", width, line, width-1)
		}
	}
}
