package builtin_test

import (
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// TestGNUDiagnostics: the lines GNU writes on standard error while it
// succeeds, for stdin, are the job's diagnostics (engine.Stats), in
// order: grep's pattern warnings and "binary file matches", tr's
// warnings about its sets. computetest.DiffGNU compares them with GNU's
// stderr (and the output and exit status).
func TestGNUDiagnostics(t *testing.T) {
	t.Parallel()
	const block = 96 << 10 // GNU grep's read size
	big := strings.Repeat("text line a\n", block/12+10)
	inputs := []string{
		"", "a\nb\n", "a\x00b\nab\n", "x\n\x00\n", "ab\x00\n", "\x00",
		big + "a\x00\nb\n", big + "b\n\x00\n", "a\n" + big + "\x00b\n",
		strings.Repeat("b\n", block/2) + "a\x00\n",
	}
	for _, argv := range [][]string{
		// a repetition operator where an extended expression starts:
		// once a distinct pattern, in order; never in a BRE, never with
		// -m 0
		{"grep", "-E", "*a"}, {"grep", "-E", "**a"}, {"grep", "-E", "+a|?b"}, {"grep", "-E", "{1}a{2}"},
		{"grep", "-E", "(*a)|^*b|\\<+c|$?"}, {"grep", "-E", "a(|*b)"}, {"grep", "-E", "{1a"}, {"grep", "-E", "{2,1}a"},
		{"grep", "-E", "{,2}x"}, {"grep", "-E", "a^*"}, {"grep", "-E", "()*a"}, {"grep", "-E", "\\(*a"},
		{"grep", "-E", "[*]*a"}, {"grep", "-E", "[]*]*"}, {"grep", "-E", "\\w*"}, {"grep", "-E", "a\\]*"},
		{"grep", "-E", "-e", "*a", "-e", "+b", "-e", "*a"}, {"grep", "-E", "-e", "+b", "-e", "*a\n+b\n?c"},
		{"grep", "-cE", "*a"}, {"grep", "-qE", "*a"}, {"grep", "-vxE", "*a"}, {"grep", "-wE", "{1}b"},
		{"grep", "-E", "-m0", "*a"}, {"grep", "-E", "-m0", "-L", "*a"}, {"grep", "-E", "-v", "-e", "", "-e", "*"},
		{"grep", "*a"}, {"grep", "\\+a"}, {"grep", "a\\d"}, {"grep", "-F", "*a"}, {"grep", "-E", "a\\d\\ "},
		// binary file matches: a line selected from the block of the
		// first NUL on, unless -c, -l, -L, -q, -a, -I, -z or -m stopped
		// before
		{"grep", "a"}, {"grep", "b"}, {"grep", "-v", "zz"}, {"grep", "-o", "a"}, {"grep", "-n", "a"},
		{"grep", "-m1", "a"}, {"grep", "-m2", "b"}, {"grep", "-c", "a"}, {"grep", "-l", "a"}, {"grep", "-L", "a"},
		{"grep", "-q", "a"}, {"grep", "-a", "a"}, {"grep", "-I", "a"}, {"grep", "-z", "a"}, {"grep", "--label=in", "a"},
		{"grep", "-H", "--label=x y", "a"}, {"grep", "-A1", "a"}, {"grep", "-x", "b"}, {"grep", "a", "-", "-"},
		{"grep", "--binary-files=text", "a"}, {"grep", "-E", "*a|b"}, {"grep", "-ov", "a"},
		// tr: a backslash at the end of a set, an octal escape over \377
		{"tr", "a\\", "x"}, {"tr", "-d", "\\"}, {"tr", "a", "\\"}, {"tr", "\\", "\\"}, {"tr", "-s", "\\400\\"},
		{"tr", "\\777", "xy"}, {"tr", "\\4000", "x"}, {"tr", "\\1234", "x"}, {"tr", "a\\\\", "x"}, {"tr", "a", "[x*\\400]"},
		{"tr", "-ds", "\\400", "\\"}, {"tr", "\\-\\", "x"}, {"tr", "\\3777", "ab"},
	} {
		for _, in := range inputs {
			if argv[0] == "tr" && len(in) > 100 {
				continue
			}
			computetest.DiffGNU(t, []byte(in), argv...)
		}
	}
}
