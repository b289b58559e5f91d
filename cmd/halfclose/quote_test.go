package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// quoteCorpus is names that exercise every rule: each byte in three
// places, single quotes with each printable character, escapes next to
// quotes, '#', '~', '{' and '}' alone, UTF-8, and random names.
func quoteCorpus() []string {
	var names []string
	for c := 1; c < 256; c++ {
		if c == '/' {
			continue
		}
		ch := string(rune(c))
		if c >= 0x80 {
			ch = string([]byte{byte(c)})
		}
		names = append(names, "a"+ch+"b", "x"+ch, ch+"b")
		if c >= 0x20 && c < 0x7f {
			names = append(names, "a'b"+ch, ch+"a'b")
		}
	}
	names = append(names, "*.go", "'", "''", "a'b c", "a\n'b", "\n'", "'\n", "a\n\nb", "a\x01'b",
		"{", "}", "{}", "]", "#", "~", "#a'", "~a'", "a#", "plain.txt", "with space", "a:b",
		"caf\xc3\xa9", "caf\xc3\xa9 x", "caf\xc3\xa9'x", "\xe2\x80\x8b", "\xc2\x85", "a\xffb", "\xe6\x97\xa5\xe6\x9c\xac")
	// glibc's printable characters that Go's unicode.IsPrint is not:
	// the spaces (Zs) and private use (Co); and next to them the line and
	// paragraph separators and noncharacters, which neither prints
	for _, r := range []rune{0xa0, 0x1680, 0x2000, 0x200a, 0x202f, 0x205f, 0x3000, 0xe000, 0xf8ff, 0xf0000, 0x10fffd, 0x2028, 0x2029, 0xfdd0, 0xfffe} {
		ch := string(r)
		names = append(names, "a"+ch+"b", ch, ch+" x", "a'"+ch, ch+"\n")
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := "ab '\"$\\\n\t\x01#~{}:=%é\xff"
	for range 300 {
		var b strings.Builder
		for range 1 + r.IntN(6) {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		if n := b.String(); !strings.HasPrefix(n, "-") && n != "" {
			names = append(names, n)
		}
	}
	return names
}

// quotef quotes names as GNU md5sum does in its "No such file" errors, in
// the C locale and in C.UTF-8.
func TestQuoteNameAsGNU(t *testing.T) {
	md5sum, err := exec.LookPath("md5sum")
	if err != nil {
		t.Fatalf("md5sum (GNU coreutils, the oracle): %v", err)
	}
	names := quoteCorpus()
	dir := t.TempDir()
	for _, loc := range []struct {
		env  string
		utf8 bool
	}{{"C", false}, {"C.UTF-8", true}} {
		cmd := exec.Command(md5sum, append([]string{"--"}, names...)...)
		cmd.Dir = dir
		cmd.Args[0] = "md5sum" // GNU names itself by argv[0]
		cmd.Env = []string{"LC_ALL=" + loc.env, "PATH=" + os.Getenv("PATH")}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Run() // exit 1: every name is missing
		lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
		if len(lines) != len(names) {
			t.Fatalf("%s: md5sum printed %d lines for %d names:\n%s", loc.env, len(lines), len(names), stderr.String())
		}
		if loc.utf8 && strings.Contains(lines[0], "setlocale") {
			t.Fatalf("no C.UTF-8 locale: %s", lines[0])
		}
		for i, name := range names {
			want := strings.TrimSuffix(strings.TrimPrefix(lines[i], "md5sum: "), ": No such file or directory")
			if got := quoteName(name, loc.utf8); got != want {
				t.Errorf("%s: quoteName(%q) = %s, GNU: %s", loc.env, name, got, want)
			}
		}
	}
}

func TestUTF8Locale(t *testing.T) {
	for _, tc := range []struct {
		all, ctype, lang string
		want             bool
	}{
		{"", "", "en_US.UTF-8", true}, {"C", "", "en_US.UTF-8", false}, {"", "C.utf8", "C", true}, {"", "", "", false},
	} {
		t.Setenv("LC_ALL", tc.all)
		t.Setenv("LC_CTYPE", tc.ctype)
		t.Setenv("LANG", tc.lang)
		if got := utf8Locale(); got != tc.want {
			t.Errorf("LC_ALL=%q LC_CTYPE=%q LANG=%q: %v", tc.all, tc.ctype, tc.lang, got)
		}
	}
}
