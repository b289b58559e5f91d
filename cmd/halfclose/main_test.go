package main

import (
	"reflect"
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
)

// The server must see exactly the words the user typed: quoting and the
// server's splitting must be inverses.
func FuzzQuoteWordsRoundTrip(f *testing.F) {
	f.Add("grep", "-F", "a b")
	f.Add("cut", `-d"`, "-f'3'")
	f.Add("tr", `\n`, "$HOME;|&")
	f.Add("x", "", "#c")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		words := []string{a, b, c}
		if a == "" {
			return // a command name is never empty
		}
		got, err := engine.SplitPipeline(quoteWords(words))
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
		{[]string{"sha256sum", "--tag"}, nil, nil, false},
		{[]string{"wc", "-l", "file"}, nil, nil, false},
	}
	for _, tc := range tests {
		cmd, files, ok := digestFiles(tc.words)
		if ok != tc.isFilesMode || ok && (!reflect.DeepEqual(cmd, tc.cmd) || !reflect.DeepEqual(files, tc.files)) {
			t.Errorf("digestFiles(%q) = %q, %q, %v", tc.words, cmd, files, ok)
		}
	}
}
