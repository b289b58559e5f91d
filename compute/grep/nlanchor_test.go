package grep_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// nlAnchorItems are the pieces TestGrepZAnchors builds patterns of (BRE,
// ERE): anchors, what matches a newline under -z and what does not.
var nlAnchorItems = [][2]string{
	{"^", "^"},
	{"$", "$"},
	{"^", "^"},
	{"$", "$"},
	{".", "."},
	{"[^a]*", "[^a]*"},
	{"x*", "x*"},
	{"x", "x"},
	{"a", "a"},
	{"b", "b"},
	{`\s`, `\s`},
	{`\(.\)`, "(.)"},
	{`\(x\|a\)`, "(x|a)"},
	{`.\?`, ".?"},
	{`\(^x\)`, "(^x)"},
	{`\(b$\)`, "(b$)"},
}

// nlAnchorPattern returns a random pattern of one to four
// nlAnchorItems, or two such sequences as alternatives.
func nlAnchorPattern(r *rand.Rand, ere bool) string {
	return randomPattern(r, ere, 4, 3, func() [2]string {
		return nlAnchorItems[r.IntN(len(nlAnchorItems))]
	})
}

// TestGrepZAnchors: under -z a line (NUL-ended) holds newlines, where GNU's
// dfa reads ^ and $ only at the line's ends and glibc regex (-o) also
// beside a newline its match goes through (nlanchor.go). Random patterns
// with anchors, over lines with newlines in them, with -o -c -x -w -v -n
// -E, against GNU grep; -o is refused (unsupported) where glibc's reading
// differs, and must otherwise print what GNU prints.
func TestGrepZAnchors(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 1204))
	var in bytes.Buffer
	for range 60 {
		for range r.IntN(7) {
			in.WriteByte("xab\n\n"[r.IntN(5)])
		}
		in.WriteByte(0)
	}
	input := in.Bytes()
	cases := 150
	if testenv.Long() {
		cases = 1500
	}
	compared, refused := 0, 0
	for range cases {
		ere := r.IntN(2) == 0
		flags := []string{"-z"}
		if ere {
			flags = append(flags, "-E")
		}
		if r.IntN(3) > 0 {
			flags = append(flags, "-o")
		}
		for _, f := range []string{"-c", "-x", "-w", "-v", "-n"} {
			if r.IntN(5) == 0 {
				flags = append(flags, f)
			}
		}
		argv := append(append([]string{"grep"}, flags...), "-e", nlAnchorPattern(r, ere))
		if _, err := computetest.RunPipeline(t, shquote.Join(argv), input); err != nil && strings.Contains(err.Error(), "unsupported with -z -o") {
			if !slices.Contains(flags, "-o") || slices.Contains(flags, "-c") {
				t.Fatalf("%s: refused without -o: %v", shquote.Join(argv), err)
			}
			refused++
			continue
		}
		if slices.Contains(flags, "-o") {
			compared++
		}
		t.Run(fmt.Sprintf("%q", argv[1:]), func(t *testing.T) {
			computetest.DiffGNU(t, input, argv...)
		})
	}
	// the refusal is narrow: most -o patterns still run (and were
	// compared above)
	if compared < 2*refused {
		t.Errorf("-z -o: %d patterns compared, %d refused", compared, refused)
	}
}

// TestGrepZAnchorsRefused: the patterns docs/protocol.md names as refused
// with -z -o, and those it names as taken (GNU's output, then).
func TestGrepZAnchorsRefused(t *testing.T) {
	input := []byte("b\nxax\x00x\na\nb\x00a\nb\x00")
	for _, tc := range []struct {
		argv    []string
		refused bool
	}{
		{[]string{"grep", "-zoE", ".^x"}, true},
		{[]string{"grep", "-zoE", "[^a]*^x*"}, true},
		{[]string{"grep", "-zo", `[^a]*^x*`}, false}, // (a BRE ^ there is a literal)
		{[]string{"grep", "-zoE", "a$.b"}, true},
		{[]string{"grep", "-zoE", "x|(a)$.b"}, true},
		{[]string{"grep", "-zoE", "(.$)*"}, true},
		{[]string{"grep", "-zowE", `\s^x`}, true},
		{[]string{"grep", "-zoxE", `(.|^x)*`}, true},
		{[]string{"grep", "-zoE", "^x"}, false},
		{[]string{"grep", "-zoE", "a$"}, false},
		{[]string{"grep", "-zoE", "x|^b"}, false},
		{[]string{"grep", "-zoE", "a.b"}, false},
		{[]string{"grep", "-zoE", "(^x*)*."}, false},
		{[]string{"grep", "-zcE", "[^a]*^x*"}, false},
		{[]string{"grep", "-zE", "a$.b|x"}, false},
		{[]string{"grep", "-oE", "a$.b|x"}, false},
	} {
		_, err := computetest.RunPipeline(t, shquote.Join(tc.argv), input)
		if got := err != nil && strings.Contains(err.Error(), "unsupported with -z -o"); got != tc.refused {
			t.Errorf("%s: refused %v, want %v (%v)", shquote.Join(tc.argv), got, tc.refused, err)
			continue
		}
		if !tc.refused {
			computetest.DiffGNU(t, input, tc.argv...)
		}
	}
}
