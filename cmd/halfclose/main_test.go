package main

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/halfclose/halfclose/compute/engine"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The server must see exactly the words the user typed: quoting and the
// server's splitting must be inverses.
func FuzzQuoteWordsRoundTrip(f *testing.F) {
	f.Add("grep", "-F", "a b")
	f.Add("cut", `-d"`, "-f'3'")
	f.Add("tr", `\n`, "$HOME;|&")
	f.Add("x", "", "#c")
	f.Add("grep", "\xff\xc3(", "a\nb\r'\\")
	f.Add("x=1", "a", "b=2")        // an assignment where a command starts, unquoted
	f.Add("time", "if", "!")        // a keyword there
	f.Add("x+=1", "x[0]=1", "time") // bash's other assignments there
	f.Fuzz(func(t *testing.T, a, b, c string) {
		words := []string{a, b, c}
		if a == "" {
			return // a command name is never empty
		}
		if strings.Contains(a+b+c, "\x00") {
			return // an argv word never holds a NUL (the server refuses one)
		}
		q := quoteWords(words)
		if !utf8.ValidString(q) || strings.ContainsAny(q, "\n\r") {
			t.Fatalf("quoteWords(%q) = %q: not one line of UTF-8", words, q)
		}
		got, err := engine.SplitPipeline(q)
		if err != nil {
			t.Fatalf("quoteWords(%q) = %q: %v", words, quoteWords(words), err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], words) {
			t.Fatalf("quoteWords(%q) = %q splits to %q", words, quoteWords(words), got)
		}
	})
}

func TestDigestFiles(t *testing.T) {
	tests := []struct {
		words       []string
		cmd, files  []string
		isFilesMode bool
	}{
		{[]string{"sha256sum", "a", "-", "b"}, []string{"sha256sum"}, []string{"a", "-", "b"}, true},
		{[]string{"b2sum", "-l", "256", "--tag", "f"}, []string{"b2sum", "-l", "256", "--tag"}, []string{"f"}, true},
		{[]string{"cksum", "-a", "sha1", "--", "-x"}, []string{"cksum", "-a", "sha1"}, []string{"-x"}, true},
		// no FILE operand: standard input, GNU's "-"
		{[]string{"sha256sum", "--tag"}, []string{"sha256sum", "--tag"}, nil, true},
		{[]string{"md5sum"}, []string{"md5sum"}, nil, true},
		{[]string{"b2sum", "-l", "8", "--"}, []string{"b2sum", "-l", "8"}, nil, true},
		{[]string{"wc", "-l", "file"}, nil, nil, false},
		// read with the option table, as GNU getopt_long reads them (an
		// abbreviation's or a cluster's value was taken for a file)
		{[]string{"cksum", "--al", "md5", "f"}, []string{"cksum", "--algorithm=md5"}, []string{"f"}, true},
		{[]string{"b2sum", "-bl", "8", "f", "--le", "16"}, []string{"b2sum", "-b", "-l", "8", "--length=16"}, []string{"f"}, true},
		{[]string{"md5sum", "--ta", "f", "--", "--tag"}, []string{"md5sum", "--tag"}, []string{"f", "--tag"}, true},
		{[]string{"cksum", "-za", "sha1", "-"}, []string{"cksum", "-z", "-a", "sha1"}, []string{"-"}, true},
		// b3sum (clap) takes no abbreviation: the line goes to the
		// server as it is, which names it before any file is read
		{[]string{"b3sum", "--len", "8", "f"}, nil, nil, false},
		{[]string{"b3sum", "--length", "8", "f"}, []string{"b3sum", "--length=8"}, []string{"f"}, true},
		{[]string{"md5sum", "--bogus", "f"}, nil, nil, false},
		{[]string{"b2sum", "-bl", "8", "-x"}, nil, nil, false}, // not "b2sum: 8: No such file"
	}
	for _, tc := range tests {
		cmd, files, ok := digestFiles(tc.words)
		if ok != tc.isFilesMode || ok && (!reflect.DeepEqual(cmd, tc.cmd) || !reflect.DeepEqual(files, tc.files)) {
			t.Errorf("digestFiles(%q) = %q, %q, %v", tc.words, cmd, files, ok)
		}
	}
}

// TestOneLineUTF8: pipeline text that gRPC (UTF-8) or the TCP header (one
// line) cannot carry as it is becomes text that splits into the same
// stages and can: halfclose --tcp $'tr -d "\n"' and halfclose "grep $'\xff'"
// written with a raw byte failed before reaching the server.
func TestOneLineUTF8(t *testing.T) {
	for _, text := range []string{
		"grep -c '\xff'", "tr -d '\n' | wc -c", "grep a |\n sort\r", `cut -d"` + "\xe9" + `" -f2`, "grep \xc3\\(\\\xff",
		"sort", "grep $'\\xff'", "grep 'a b' | wc -l",
	} {
		got, err := oneLineUTF8(text)
		if err != nil {
			t.Fatalf("oneLineUTF8(%q): %v", text, err)
		}
		if !utf8.ValidString(got) || strings.ContainsAny(got, "\n\r") {
			t.Errorf("oneLineUTF8(%q) = %q: not one line of UTF-8", text, got)
		}
		want, err := engine.SplitPipeline(text)
		if err != nil {
			t.Fatal(err)
		}
		if split, err := engine.SplitPipeline(got); err != nil || !reflect.DeepEqual(split, want) {
			t.Errorf("oneLineUTF8(%q) = %q splits to %q (%v), want %q", text, got, split, err, want)
		}
	}
	// A newline that ends a command in sh is the server's error, not a
	// blank (docs/protocol.md).
	if _, err := oneLineUTF8("grep a\n| sort"); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "newline") {
		t.Errorf("newline ending a command: %v", err)
	}
	if _, err := oneLineUTF8("grep '\xff"); err == nil || !strings.Contains(err.Error(), "unterminated single quote") {
		t.Errorf("unterminated quote: %v", err)
	}
}
