package builtin_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/shquote"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// nullDataInputs are grep -z inputs: NUL-ended lines holding newlines
// (as bytes like others), no final NUL, empty lines, bytes >= 0x80 (no
// input is binary under -z), and lines across GNU's 96 KiB blocks (one
// block boundary under make test, 112 KB; two under make test-long,
// 280 KB).
func nullDataInputs() []string {
	reps := 8000
	if testenv.Long() {
		reps = 20000
	}
	return []string{
		"",
		"\x00",
		"a",
		"a\nb\x00c\x00",
		"a\nb\x00ab\x00x",
		"ab\nb\x00b\nab\x00\x00x\n",
		"\x00\x00a\x00",
		"A\nb\x00ab\x00x\n\x00a b\x00",
		"a\x00b\x00c\x00d\x00e\x00f\x00a\x00",
		"a\x80b\x00c\xff\x00a\n\x00",
		"x\ny\nz\n",
		"a\tb\x00 a\x00a \x00b-a\x00\na\n\x00",
		strings.Repeat("line a\nmore b\x00", reps) + "tail a",
	}
}

// TestGNUGrepNullData: -z reads and prints NUL-ended lines, as GNU grep
// 3.8: a newline is a byte of a line ('.', [^x], \s, \W match it; ^ and
// $ do not match beside it), a missing final NUL is added, counts, names
// and group separators still end in a newline, and nothing is binary.
// It was refused.
func TestGNUGrepNullData(t *testing.T) {
	t.Parallel()
	argvs := [][]string{
		{"grep", "-z", "a"}, {"grep", "--null-data", "b"}, {"grep", "-z", "^b"}, {"grep", "-z", "a$"}, {"grep", "-z", "b$"},
		{"grep", "-z", "a.b"}, {"grep", "-z", "a[^x]b"}, {"grep", "-z", `a\sb`}, {"grep", "-zE", "a[[:space:]]b"},
		{"grep", "-zE", `a\Wb`}, {"grep", "-zE", `a\Sb`}, {"grep", "-zE", "^ab$"}, {"grep", "-zx", "ab"}, {"grep", "-zx", "x"},
		{"grep", "-zxE", `x\s`}, {"grep", "-zo", "a.b"}, {"grep", "-zo", "^b"}, {"grep", "-zo", "[ab]"}, {"grep", "-zob", "b"},
		{"grep", "-zc", "a"}, {"grep", "-zcv", "a"}, {"grep", "-zv", "a"}, {"grep", "-zvn", "b"}, {"grep", "-zn", ""},
		{"grep", "-zb", "a"}, {"grep", "-zm1", "b"}, {"grep", "-zm2", "-A1", "a"}, {"grep", "-zw", "b"}, {"grep", "-zwo", "b"},
		{"grep", "-zi", "a.B"}, {"grep", "-ziF", "B"}, {"grep", "-zF", "b"}, {"grep", "-zF", "-e", "a", "-e", "c"},
		{"grep", "-zF", "-x", "a"}, {"grep", "-z", "-oxw", "a"}, {"grep", "-z", "-A1", "a"}, {"grep", "-z", "-B1", "c"},
		{"grep", "-z", "-C1", "-n", "a"}, {"grep", "-z", "-A0", "[ae]"}, {"grep", "-z", "-A0", "--group-separator=XX", "[ae]"},
		{"grep", "-zZH", "-C1", "c"}, {"grep", "-zZl", "c"}, {"grep", "-zL", "q"}, {"grep", "-zl", "a"}, {"grep", "-zq", "a"},
		{"grep", "-zH", "a"}, {"grep", "-zZ", "-c", "-H", "a"}, {"grep", "-za", "a"}, {"grep", "-zI", "a"},
		{"grep", "-z", "--binary-files=without-match", "c"}, {"grep", "-z", "[[:cntrl:]]"}, {"grep", "-zo", "[[:cntrl:]]"},
		{"grep", "-zE", "a|^$"}, {"grep", "-zv", "."}, {"grep", "-zE", `\bb`}, {"grep", "-zo", `\<a`}, {"grep", "-zn", "-v", "-e", "a", "-e", "b"},
		{"grep", "-zEo", "[^a]+"}, {"grep", "-zEo", "a.*"}, {"grep", "-zc", "^"}, {"grep", "-zhn", "$", "-", "-"},
		{"grep", "-zo", "a."}, {"grep", "-zon", "-i", "[^b]"}, {"grep", "-zB3", "-bn", "c"}, {"grep", "-zxv", "-e", "a", "-e", ""},
	}
	checkCross(t, nullDataInputs(), argvs)
}

// TestGNUGrepInitialTab: -T puts a tab between the prefixes and the
// line's text (none on an empty line, none without a prefix) and pads
// the numbers of -n and -b to GNU's width: the digits of a regular
// file's size (plus one with -n), 19 for a pipe (several "-" operands:
// gnuRunner.gnu). It was refused.
func TestGNUGrepInitialTab(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"", "a\n", "a\nb\n\nab\n", "a", "\na\n",
		"x\na\nb\nc\na\nd\ne\nf\ng\nh\na\n",
		strings.Repeat("b\na\n", 3000),
	}
	argvs := [][]string{
		{"grep", "-T", "a"}, {"grep", "--initial-tab", "a"}, {"grep", "-Tn", "a"}, {"grep", "-Tb", "a"}, {"grep", "-Tnb", "a"},
		{"grep", "-TH", "a"}, {"grep", "-THn", "a"}, {"grep", "-THZ", "a"}, {"grep", "-THZn", ""}, {"grep", "-Tn", ""},
		{"grep", "-TH", ""}, {"grep", "-Tn", "-A1", "a"}, {"grep", "-TnH", "-C1", "b"}, {"grep", "-Tb", "-B2", "c"},
		{"grep", "-To", "a"}, {"grep", "-Ton", "a"}, {"grep", "-Tob", "[ab]"}, {"grep", "-Tc", "a"}, {"grep", "-TcH", "a"},
		{"grep", "-Tl", "a"}, {"grep", "-Tnv", "a"}, {"grep", "-Tn", "--label=x", "-H", "a"}, {"grep", "-Tn", "a", "-", "-"},
		{"grep", "-TnH", "-c", "a", "-", "-"}, {"grep", "-TnH", "-oxw", "a"}, {"grep", "-Tzn", "a"}, {"grep", "-TznH", "-C1", "a"},
		{"grep", "-T", "-h", "-n", "a", "-", "-"}, {"grep", "-Tbn", "-C2", "--group-separator=:", "a"},
		{"grep", "-THoxw", ""}, {"grep", "-THnoxw", "-e", "", "-e", "a"}, {"grep", "-Tnb", "-B1", "-v", "a"},
	}
	checkCross(t, inputs, argvs)
}

// TestGrepNullDataLineLimit: under -z a line ends at a NUL only, so an
// input of short newline-ended lines and no NUL is one line: it is held
// up to --max-line-bytes as any line (GNU's output), and one byte more
// fails the job with RESOURCE_EXHAUSTED as a long line does without -z.
func TestGrepNullDataLineLimit(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{100, 300 << 10} {
		cfg := engine.Config{MaxLineBytes: limit, Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: t.TempDir()}}
		lines := func(n int) []byte { // n bytes of "a\n" lines, no NUL
			return bytes.Repeat([]byte("a\n"), n/2+1)[:n]
		}
		atLimit := bytes.Join([][]byte{[]byte("b\x00"), lines(limit), []byte("\x00c\x00")}, nil)
		for _, in := range [][]byte{atLimit, lines(limit)} {
			for _, argv := range [][]string{{"grep", "-z", "a"}, {"grep", "-zc", "a"}, {"grep", "-zv", "b"}, {"grep", "-zo", "b"}} {
				computetest.DiffGNUEnv(t, cfg, in, argv...)
			}
		}
		for _, in := range [][]byte{lines(limit + 1), append(lines(limit+1), 0), append([]byte("b\x00"), lines(limit+2)...)} {
			for _, argv := range [][]string{{"grep", "-z", "a"}, {"grep", "-zc", "a"}, {"grep", "-zv", "x"}} {
				_, err := computetest.RunPipelineEnv(t, cfg, shquote.Join(argv), in)
				if compute.CodeOf(err) != compute.CodeResourceExhausted || !strings.Contains(err.Error(), "grep: line longer than ") {
					t.Errorf("limit %d, %v, %d bytes: err %v; want RESOURCE_EXHAUSTED grep: line longer than…", limit, argv, len(in), err)
				}
			}
			// without -z the same bytes are short lines
			if _, err := computetest.RunPipelineEnv(t, cfg, "grep -c a", in); err != nil {
				t.Errorf("limit %d, grep -c a, %d bytes: %v", limit, len(in), err)
			}
		}
	}
}

// TestGNUGrepNullDataContextBig: -z with the before-context spilled to the
// spool (a small --spool-mem) and read back: its lines are NUL-ended in
// the input and hold newlines.
func TestGNUGrepNullDataContextBig(t *testing.T) {
	t.Parallel()
	in := contextLog("ERROR line\n%d\x00", "info line %d\nof some text\x00")
	g := newGNURunner(t)
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 4 << 10, Dir: t.TempDir()}}
	for _, argv := range [][]string{
		{"grep", "-zn", "-B", "3000", "ERROR"}, {"grep", "-z", "-C", "5", "ERROR"}, {"grep", "-zb", "-B", "100000", "ERROR"},
		{"grep", "-zv", "-B2", "info"}, {"grep", "-zbo", "-A", "3", "-m", "2", "ERROR"},
	} {
		want, _, code, _ := g.gnu(t, "/usr/bin/grep", argv, in)
		if code >= 2 {
			t.Fatalf("%v: GNU fails", argv)
		}
		got, err := computetest.RunPipelineEnv(t, cfg, shquote.Join(argv), in)
		if err != nil || string(got) != string(want) {
			t.Errorf("%v: %d bytes, %v; GNU %d bytes", argv, len(got), err, len(want))
		}
	}
}
