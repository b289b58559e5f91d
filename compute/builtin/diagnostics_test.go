package builtin_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestGNUDiagnostics: the lines GNU writes on standard error while it
// succeeds, for stdin, are the job's diagnostics (engine.Stats), in
// order: grep's warnings (-u, patterns) and "binary file matches", tr's
// warnings about its sets, wc's and cksum's --debug lines.
// computetest.DiffGNU compares them with GNU's stderr (and the output
// and exit status).
func TestGNUDiagnostics(t *testing.T) {
	t.Parallel()
	const block = 96 << 10 // GNU grep's read size
	big := strings.Repeat("text line a\n", block/12+10)
	binary := []string{
		"", "a\nb\n", "a\x00b\nab\n", "x\n\x00\n", "ab\x00\n", "\x00",
		big + "a\x00\nb\n", big + "b\n\x00\n", "a\n" + big + "\x00b\n",
		strings.Repeat("b\n", block/2) + "a\x00\n",
	}
	for _, group := range []struct {
		inputs []string
		argvs  [][]string
	}{{
		// a repetition operator where an extended expression starts:
		// once a distinct pattern, in order; never in a BRE or -F
		inputs: []string{"", "a\x00b\nab\n"},
		argvs: [][]string{
			{"grep", "-E", "*a"}, {"grep", "-E", "**a"}, {"grep", "-E", "+a|?b"}, {"grep", "-E", "{1}a{2}"},
			{"grep", "-E", "(*a)|^*b|\\<+c|$?"}, {"grep", "-E", "a(|*b)"}, {"grep", "-E", "{1a"}, {"grep", "-E", "{2,1}a"},
			{"grep", "-E", "{,2}x"}, {"grep", "-E", "a^*"}, {"grep", "-E", "()*a"}, {"grep", "-E", "\\(*a"},
			{"grep", "-E", "[*]*a"}, {"grep", "-E", "[]*]*"}, {"grep", "-E", "\\w*"}, {"grep", "-E", "a\\]*"},
			{"grep", "-E", "-e", "*a", "-e", "+b", "-e", "*a"}, {"grep", "-E", "-e", "+b", "-e", "*a\n+b\n?c"},
			{"grep", "-cE", "*a"}, {"grep", "-qE", "*a"}, {"grep", "-vxE", "*a"}, {"grep", "-wE", "{1}b"},
			{"grep", "-E", "-m0", "*a"}, {"grep", "-E", "-m0", "-L", "*a"}, {"grep", "-E", "-v", "-e", "", "-e", "*"},
			{"grep", "*a"}, {"grep", "\\+a"}, {"grep", "a\\d"}, {"grep", "-F", "*a"}, {"grep", "-E", "a\\d\\ "},
			// -u: obsolete, a warning for each, as GNU reads the flags
			{"grep", "-u", "a"}, {"grep", "-u", "-u", "-E", "*a"}, {"grep", "-ub", "a"}, {"grep", "--unix-byte-offsets", "-m0", "a"},
		},
	}, {
		// binary file matches: a line selected from the block of the
		// first NUL on, unless -c, -l, -L, -q, -a, -I, -z or -m stopped
		// before
		inputs: binary,
		argvs: [][]string{
			{"grep", "a"}, {"grep", "b"}, {"grep", "-v", "zz"}, {"grep", "-o", "a"}, {"grep", "-n", "a"},
			{"grep", "-m1", "a"}, {"grep", "-m2", "b"}, {"grep", "-c", "a"}, {"grep", "-l", "a"}, {"grep", "-L", "a"},
			{"grep", "-q", "a"}, {"grep", "-a", "a"}, {"grep", "-I", "a"}, {"grep", "-z", "a"}, {"grep", "--label=in", "a"},
			{"grep", "-H", "--label=x y", "a"}, {"grep", "-A1", "a"}, {"grep", "-x", "b"}, {"grep", "a", "-", "-"},
			{"grep", "--binary-files=text", "a"}, {"grep", "-E", "*a|b"}, {"grep", "-ov", "a"},
		},
	}, {
		// tr: a backslash at the end of a set, an octal escape over \377
		inputs: []string{"", "abc\\\n\x00 "},
		argvs: [][]string{
			{"tr", "a\\", "x"}, {"tr", "-d", "\\"}, {"tr", "a", "\\"}, {"tr", "\\", "\\"}, {"tr", "-s", "\\400\\"},
			{"tr", "\\777", "xy"}, {"tr", "\\4000", "x"}, {"tr", "\\1234", "x"}, {"tr", "a\\\\", "x"}, {"tr", "a", "[x*\\400]"},
			{"tr", "-ds", "\\400", "\\"}, {"tr", "\\-\\", "x"}, {"tr", "\\3777", "ab"},
		},
	}, {
		// --debug: which counter GNU would use on this CPU (the same as
		// the server's, here)
		inputs: []string{"", "a\nb\n"},
		argvs: [][]string{
			{"wc", "--debug", "-l"}, {"wc", "--debug", "-lc"}, {"wc", "--debug", "-lm"}, {"wc", "--debug"}, {"wc", "--debug", "-lw"},
			{"wc", "--debug", "-c"}, {"wc", "--debug", "-l", "-", "-"}, {"wc", "--debug", "-lL"},
			{"cksum", "--debug"}, {"cksum", "--debug", "-a", "crc", "-", "-"}, {"cksum", "--debug", "-a", "md5"}, {"cksum", "--debug", "-a", "sysv"},
		},
	}} {
		// a group of more than crossAll cases (the binary inputs) runs
		// part of its pairs under make test, as checkCross does, and all
		// of them under make test-long
		step := crossStep(len(group.inputs), len(group.argvs), testenv.Long())
		for i, argv := range group.argvs {
			for j, in := range group.inputs {
				if (i+j)%step != 0 {
					continue
				}
				if argv[0] == "wc" {
					// GNU reads a regular file (computetest.GNUStderr),
					// whose size sets wc's widths: so is ours told.
					diffGNUFile(t, []byte(in), argv...)
					continue
				}
				computetest.DiffGNU(t, []byte(in), argv...)
			}
		}
	}
}

// TestGNUDiagnosticsPipeline: every stage of a pipeline reports its
// lines, as GNU's stages write theirs on one stderr (in an order their
// timing decides: compared sorted).
func TestGNUDiagnosticsPipeline(t *testing.T) {
	t.Parallel()
	in := []byte("ab\n\x00ab\n")
	stages := [][]string{{"tr", "-d", "\\"}, {"grep", "-u", "-E", "+a|b"}, {"tr", "\\400", "x"}, {"wc", "-l"}}
	var text []string
	var gnuErr []byte
	data := in
	for _, argv := range stages {
		out, stderr, code := computetest.GNUStatusStderr(t, data, argv...)
		if code != 0 {
			t.Fatalf("GNU %v fails (%d)", argv, code)
		}
		data = out
		gnuErr = append(gnuErr, stderr...)
		text = append(text, shquote.Join(argv))
	}
	got, _, diag, err := computetest.RunPipelineDiag(t, engine.Config{}, strings.Join(text, " | "), in, false)
	if err != nil || string(got) != string(data) {
		t.Fatalf("%s: %q, %v; GNU %q", strings.Join(text, " | "), got, err, data)
	}
	want := slices.Sorted(slices.Values(computetest.StderrLines(gnuErr)))
	if d := slices.Sorted(slices.Values(diag)); !slices.Equal(d, want) || len(want) != 6 {
		t.Fatalf("diagnostics %q, GNU's %q (6 lines)", d, want)
	}
}

// diffGNUFile is computetest.DiffGNU of a command GNU runs successfully,
// the pipeline told its input is a regular file, as GNU's is.
func diffGNUFile(t *testing.T, input []byte, argv ...string) {
	t.Helper()
	want, stderr, code := computetest.GNUStatusStderr(t, input, argv...)
	got, status, diag, err := computetest.RunPipelineDiag(t, engine.Config{}, shquote.Join(argv), input, true)
	switch {
	case code != 0:
		t.Fatalf("%s: GNU fails (%d)", shquote.Join(argv), code)
	case err != nil:
		t.Fatalf("%s: %v", shquote.Join(argv), err)
	case string(got) != string(want) || status != 0:
		t.Fatalf("%s < file %q: got %q (status %d), want %q", shquote.Join(argv), input, got, status, want)
	}
	if d := computetest.DiffDiagnostics(diag, stderr); d != "" {
		t.Fatalf("%s < file %q: %s", shquote.Join(argv), input, d)
	}
}

// TestGNUDiagnosticsNewlines: a line GNU writes with newlines in it (sort
// -cz's disorder line, a record holding newlines; grep's --label) is the
// lines a terminal shows, each a diagnostic. (Only the first was kept,
// which dropped "binary file matches" after a label's newline.)
func TestGNUDiagnosticsNewlines(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		input string
		argv  []string
	}{
		{"b\x00a\nx\x00", []string{"sort", "-cz"}},
		{"b\x00a\n\x00", []string{"sort", "-cz"}},
		{"b\x00\na\n\nx\x00", []string{"sort", "-cz"}},
		{"xa\x00b\n", []string{"grep", "--label=L\nM", "a"}},
		{"xa\x00b\n", []string{"grep", "--label=\n", "a"}},
	} {
		computetest.DiffGNU(t, []byte(c.input), c.argv...)
	}
}
