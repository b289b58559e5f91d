package builtin_test

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
)

// The GNU conformance classes of issue 9, each compared with the GNU tool
// on its own inputs (same bytes, or an error where GNU fails).

// classInputs are the inputs every case of a class runs on.
var classInputs = []string{
	"Apple\n/\n_x\n",
	"a\nb\nc\n",
	"{1}a\na{1}a\n{\n}\naa\n",
	"x\r\ny\n\x00z\nno newline",
	"aXb\nAxB\n[a]\n:a:\n-\n^\n",
	"\xff\xfe\n\xc3\xa9\n",
	"",
	"one two  three\n4 5\n\n  6\n",
}

// classCase is a command line; refused marks one that may be refused.
type classCase struct {
	argv    []string
	refused bool
}

func cc(argv ...string) classCase { return classCase{argv: argv} }

func refused(argv ...string) classCase { return classCase{argv: argv, refused: true} }

// runClass compares every case with GNU on every class input. Where the
// tool's output for several file operands splits back into one
// output per input (computetest.GNUEach: grep's NAME: prefixes, head's and
// tail's headers), GNU runs once for the inputs and a case passes when our
// output is the split one; any other case, and any disagreement, is
// settled by GNU on that input alone (as in checkCases), so the batch saves
// processes and never decides a failure or hides one. grep's inputs with
// a NUL always run alone: its binary-file rules follow its reads.
func runClass(t *testing.T, cases []classCase) {
	t.Helper()
	g := newGNURunner(t)
	for _, c := range cases {
		var batch [][]byte
		var idx []int
		for j, in := range classInputs {
			if c.argv[0] != "grep" || !strings.Contains(in, "\x00") {
				batch = append(batch, []byte(in))
				idx = append(idx, j)
			}
		}
		wants := make([][]byte, len(classInputs))
		have := make([]bool, len(classInputs))
		var stderr []byte // the batch's: its diagnostics for each input
		if !c.refused {
			var outs [][]byte
			if outs, stderr = computetest.GNUEachStderr(t, batch, c.argv...); outs != nil {
				for k, j := range idx {
					wants[j], have[j] = outs[k], true
				}
			}
		}
		for j, in := range classInputs {
			dc := diffCase{argv: c.argv, input: []byte(in), refused: c.refused}
			if have[j] {
				got, code, diag, err := computetest.RunPipelineDiag(t, engine.Config{}, shquote.Join(c.argv), dc.input, false)
				want, told := computetest.EachStatus(c.argv, wants[j])
				if err == nil && told && code == want && bytes.Equal(got, wants[j]) && computetest.DiffDiagnostics(diag, stderr) == "" {
					continue
				}
			}
			if v := dc.verdict(g.run(t, dc)); v != "" {
				t.Errorf("%s\n  %s", dc, v)
			}
		}
	}
}

func TestGNUClass1GrepFoldNegatedBrackets(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("grep", "-i", "[^a-z]"), cc("grep", "-iv", "[^a-z]"), cc("grep", "-io", "[^a-z]"),
		cc("grep", "-i", "[^A-Z]"), cc("grep", "-ic", "[^[:lower:]]"), cc("grep", "-i", "[^[:upper:]x]"),
		cc("grep", "-iE", "^[^b]+$"), cc("grep", "-i", "[^a]x"), cc("grep", "-iw", "[^_a-z]"),
		cc("grep", "-i", "[^x-z_]"), cc("grep", "-ix", "[^Pp].*"), cc("grep", "-i", "[a-z]"),
	})
}

func TestGNUClass2GrepBREBraces(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("grep", `\{1\}a`), cc("grep", `\{`), cc("grep", `a\{1`), cc("grep", `a\{1\}`), cc("grep", `a\{,2\}`),
		cc("grep", `\(\{1\}\)`), cc("grep", `x\|\{1\}a`), cc("grep", `^\{1\}`), cc("grep", `^*`), cc("grep", `\(*a\)`),
		cc("grep", `a\{2,1\}`), cc("grep", `a\{x\}`), cc("grep", `a\{\}`), cc("grep", `a**`), cc("grep", `\+a`),
		cc("grep", "-o", `a\{1,\}`), cc("grep", "-E", "{1}a"), cc("grep", "-E", "a{1"), cc("grep", "-E", "a{2,1}"),
		cc("grep", "-E", "a{,}"), cc("grep", "-E", "^*a"), cc("grep", "-oE", "^*a"), cc("grep", "-E", "a|*b"),
		cc("grep", "-E", "(*a)"), cc("grep", "-oE", "{1}a"), cc("grep", `a$)*`), cc("grep", "-o", `a$)*`),
		refused("grep", "-E", "a{32767}"), cc("grep", "-E", "a{32768}"), refused("grep", "-E", "a{1001}"),
		cc("grep", "-E", "(a|*)"), cc("grep", "-E", "(a|*))"), cc("grep", "-E", "(^*)"), cc("grep", "-E", "x{}"),
		cc("grep", "-E", "x{1,2,}"), cc("grep", "-E", "x{1,,}"), cc("grep", "-E", "x{1,2x}"), cc("grep", "-E", "{}a"),
	})
}

func TestGNUClass3GrepBracketErrors(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("grep", "[:alpha:]"), cc("grep", "[:a]"), cc("grep", "[[:alpha:]]"), cc("grep", "[^:alpha:]"),
		cc("grep", "[::]"), cc("grep", "[[:foo:]]"), cc("grep", "[[:alpha:]"), cc("grep", "[a"),
		cc("grep", "-i", "[Z-a]"), cc("grep", "[Z-a]"), cc("grep", "-i", "[_-a]"), cc("grep", "-i", "[a-_]"),
		cc("grep", "[a-_]"), cc("grep", "[z-a]"), cc("grep", "[a-b-c]"), cc("grep", "[--a]"), cc("grep", "[a--]"),
		cc("grep", "[[=a=]-c]"), cc("grep", "[[.a.]-c]"), cc("grep", "[[.ab.]]"), cc("grep", "[[:alpha:]-z]"),
		cc("grep", "[]a]"), cc("grep", "[]-a]"), cc("grep", "[a-]"), cc("grep", "-i", "[[=a=]]"), cc("grep", "-E", "[[:upper:]]+"),
	})
}

func TestGNUClass4GrepMatchers(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("grep", "-E", "-F", "a"), cc("grep", "-F", "-G", "a"), cc("grep", "-E", "-E", "a|b"),
		cc("grep", "-G", "-E", "a"), cc("grep", "--fixed-r", "-F", "a"), cc("grep", "-e", "a", "-E", "-G"),
		cc("grep", "-P", "a"), cc("grep", "-E", "-P", "a"), cc("grep", "-P", "-X", "perl", "a"),
	})
}

func TestGNUClass5TrOptionsAfterOperands(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("tr", "a", "-d"), cc("tr", "-d", "a", "-s"), cc("tr", "ab", "-x"), cc("tr", "a-c", "--", "x"),
		cc("tr", "--", "-d", "x"), cc("tr", "-s", "a", "-"), cc("tr", "-c", "-d", "a"), cc("tr", "a", "b", "-d"),
	})
}

func TestGNUClass6TrRepeatInSet1(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("tr", "[a*2]b", "xy"), cc("tr", "-d", "[a*3]"), cc("tr", "[a*]", "x"), cc("tr", "[a*0]", "x"),
		cc("tr", "ab", "[b*\\9]"), cc("tr", "a[b*\\9]", "xyz"), cc("tr", "ab", "[x*+1]y"), cc("tr", "ab", "[x* 1]y"),
		cc("tr", "ab", "[x*-1]y"), cc("tr", "a-z", "[x*010]A"), cc("tr", "a-z", "[x*08]"), cc("tr", "ab", "[x*99999999999]"),
		cc("tr", "[a*16777217]", "x"), cc("tr", "ab", "[x*18446744073709551614]"), cc("tr", "ab", "[x*18446744073709551615]"),
		cc("tr", "-s", "[a*16777217]"), cc("tr", "a", "[x*16777217]"), cc("tr", "a-c", "[x*]Z"), cc("tr", "a-c", "[x*][y*]"),
		cc("tr", "[a*2][b*3]", "[x*4]y"), cc("tr", "-t", "[a*5]b", "xy"),
	})
}

func TestGNUClass7TrRefusedCombinations(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("tr", "-c", "[:alpha:]", "x"), cc("tr", "-c", "[:alpha:]", "xy"), cc("tr", "-c", "[:alpha:]", "[x*]"),
		cc("tr", "-ct", "[:alpha:]", "x"), cc("tr", "-c", "a", "[:upper:]"), cc("tr", "-ct", "a", "[:upper:]"),
		cc("tr", "[:lower:]0", "[:upper:]"), cc("tr", "a-z0", "[:upper:]"), cc("tr", "a", "b[:upper:]"),
		cc("tr", "[:lower:]", "[:upper:]"), cc("tr", "[:upper:][:lower:]", "[:lower:][:upper:]"), cc("tr", "[:upper:]", "[:upper:]"),
		cc("tr", "-t", "[:lower:]x", "[:upper:]"), cc("tr", "ab[:lower:]", "xy[:upper:]"), cc("tr", "[:digit:]", "[:upper:]"),
		cc("tr", "-c", "[:digit:][:alpha:]", "\\n"), cc("tr", "-cs", "[:alnum:]", "\\n"), cc("tr", "[:alpha:]", "x[:upper:]"),
	})
}

func TestGNUClass8Abbreviations(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("grep", "--in", "a"), cc("grep", "--inv", "a"), cc("grep", "--fixed", "a"), cc("grep", "--col", "a"),
		cc("grep", "--no-", "a"), cc("grep", "--no-f", "a"), cc("grep", "--reg=a"), cc("grep", "--line-n", "a"),
		refused("grep", "--rec", "a"), refused("grep", "--help"), refused("grep", "--he"), cc("grep", "--colour=never", "a"),
		cc("sort", "--r"), cc("sort", "--re"), cc("sort", "--k=2"), cc("sort", "--ke", "2"), cc("sort", "--st"),
		cc("uniq", "--c"), cc("uniq", "--co"), cc("uniq", "--u"), cc("uniq", "--i"), cc("uniq", "--rep"),
		cc("tail", "--s"), cc("tail", "--si"), cc("tail", "--l=2"), cc("tail", "--b", "3"), cc("head", "--ver"),
		cc("head", "--verb"), refused("head", "--vers"), cc("head", "--q"), cc("head", "--s"), cc("head", "---p"),
		cc("wc", "--l"), cc("wc", "--d"), cc("wc", "--m"), cc("cut", "--c", "1"), cc("cut", "--ch", "1"),
		cc("cut", "--com", "-c1"), cc("tr", "--d", "a"), cc("tr", "--c", "-d", "a"), cc("base64", "--w", "4"),
		cc("base64", "--d"), cc("tac", "--s", ","), cc("sha256sum", "--t"), cc("sha256sum", "--ta"),
		cc("md5sum", "--s"), refused("md5sum", "--st"), cc("cksum", "--a=md5"), cc("cksum", "--u"), cc("b2sum", "--l", "8"),
		cc("grep", "--=x", "a"), cc("sort", "--="), cc("grep", "-e"), cc("grep", "--regexp"), cc("cut", "--fields"),
	})
}

func TestGNUClass9Numbers(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("grep", "-m", " 1", "a"), cc("grep", "-m", "+1", "a"), cc("grep", "-m", "-1", "a"), cc("grep", "-vm", "-1", "a"),
		cc("grep", "-vqm", "-1", "a"), cc("grep", "-vq", "-m", "-2", "b"), cc("grep", "-vcm", "-1", "a"), cc("grep", "-vlm", "-1", "a"),
		cc("grep", "-m", "1k", "a"), cc("grep", "-m", "99999999999999999999", "a"), cc("grep", "-m", "", "a"),
		cc("sort", "-k", "+2"), cc("sort", "-k", "2, 3"), cc("sort", "-k", " 1.2"), cc("sort", "-k", "1.+2"),
		cc("sort", "-k", "-2"), cc("sort", "-k", "99999999999999999999"), cc("sort", "+1"), cc("sort", "+1", "-2"),
		cc("sort", "+0.1", "-1.2"), cc("sort", "+1b"), cc("sort", "-n", "+1", "-2"), cc("sort", "+x"),
		cc("base64", "-w", "99999999999999999999"), cc("base64", "-w", "-99999999999999999999"), cc("base64", "-w", " 4"),
		cc("base64", "-w", "-1"), cc("base64", "-w", "+4"), cc("base64", "-w", "4k"), cc("head", "-n", " 2"),
		cc("head", "-n", "+2"), cc("head", "-c", " -2"), cc("tail", "-n", " +2"), cc("tail", "-c", "+ 2"),
		cc("b2sum", "-l", " 16"), cc("b2sum", "-l", "+16"), cc("cksum", "-a", "blake2b", "-l", "99999999999999999999"),
	})
}

func TestGNUClass10Suffixes(t *testing.T) {
	t.Parallel()
	var cases []classCase
	for _, v := range []string{"1bB", "1b", "1B", "1kB", "1KB", "1KiB", "1K", "1k", "1MB", "1MiB", "1iB", "1KD", "1Ki",
		"1c", "1w", "1e", "1G", "1Y", "1YB", "1Z", "bB", "b", "K", "KiB", "1kiB", "1 K", "1T", "1P", "1E", "1g", "1t", "1m"} {
		cases = append(cases, cc("head", "-c", v), cc("tail", "-n", v), cc("head", "-n", "-"+v), cc("tail", "-c", "+"+v))
	}
	runClass(t, cases)
}

func TestGNUClass11TacEmptySeparator(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("tac", "-s", ""), cc("tac", "-bs", ""), cc("tac", "--separator="), cc("tac", "-s", "", "-b"),
		cc("tac", "-r", "-s", ""), cc("tac", "-rs", ""), cc("tac", "-r", "-s", "a"), cc("tac", "-br", "--separator=a*"),
	})
}

func TestGNUClass12Operands(t *testing.T) {
	t.Parallel()
	runClass(t, []classCase{
		cc("tail", "+5", "--"), cc("tail", "-5", "--", "-"), cc("tail", "-5", "--", "-", "-"), cc("tail", "+2"),
		cc("tail", "-1", "-"), cc("tail", "+2c", "--"), cc("tail", "-c"), cc("tail", "--", "-5"), cc("head", "-1", "--", "-"),
		cc("uniq", "-", "-"), cc("uniq", "-", "-", "-"), cc("uniq", "-c", "-"), refused("uniq", "-", "out"),
		cc("uniq", "+1"), cc("uniq", "--", "+1"), cc("head", "-n1", "-", "-"), cc("head", "-c2", "-", "-", "-"),
		cc("tail", "-n1", "-", "-"), cc("grep", "a", "-", "-"), cc("grep", "-c", "a", "-", "-"), cc("grep", "-L", "x", "-", "-"),
		cc("grep", "-l", "a", "-", "-"), cc("grep", "-H", "a"), cc("grep", "--label=", "a", "-", "-"), cc("grep", "-hn", "a", "-", "-"), cc("grep", "--label=in", "-H", "a"),
		cc("wc", "-", "-"), cc("cut", "-c1", "-", "-"), cc("tac", "-", "-"), cc("sort", "-", "-"), cc("base64", "-", "-"),
		cc("sha256sum", "-", "-"), cc("tr", "a", "b", "-"), cc("tail", "-n0", "file"), cc("tail", "+1x", "-c-0", "-", "-"),
		cc("grep", "-m0", "a", "file"), cc("grep", "-v", "", "file"), refused("grep", "-c", "a", "file"), refused("tail", "-n1", "file"),
	})
}

func TestGNUClass13CutNewlineDelimiter(t *testing.T) {
	t.Parallel()
	var cases []classCase
	for _, f := range []string{"1", "2", "1,3", "2-", "1-", "3"} {
		cases = append(cases, cc("cut", "-d", "\n", "-f", f), cc("cut", "-d", "\n", "-s", "-f", f),
			cc("cut", "-d", "\n", "-f", f, "--output-delimiter=:"), cc("cut", "-d", "\n", "-f", f, "--complement", "-s"))
	}
	runClass(t, cases)
}

func TestGNUClass14HeadElideBytesOverOffset(t *testing.T) {
	t.Parallel()
	// GNU head refuses -c -N past the largest file offset (2^63-1) once
	// all flags are read: only when the last count is bytes and elides.
	runClass(t, []classCase{
		cc("head", "-c", "-9223372036854775808"), cc("head", "-c", "-9223372036854775807"), cc("head", "-c", "-8E"),
		cc("head", "-c", "-7E"), cc("head", "-c", "-8EB"), cc("head", "--bytes=-12E"), cc("head", "-c", "9223372036854775808"),
		cc("head", "-c", "-9223372036854775808", "-n", "1"), cc("head", "-c", "-9223372036854775808", "-c", "1"),
		cc("head", "-c", "1", "-c", "-9223372036854775808"), cc("head", "-n", "-9223372036854775808", "-c", "-1"),
		cc("head", "-n", "-8E"), cc("head", "-n", "-9223372036854775808"),
	})
}

// TestGNUClass15WcRegularFileWidths: GNU wc pads its columns to the
// digits of the size of a regular file on stdin (wc < FILE), and to at
// least 7 for a pipe; a pipeline told its input is a regular file
// (Pipeline.SetInputFile, the client's input_file_size or @file=N) prints
// the same bytes as GNU reading that file.
func TestGNUClass15WcRegularFileWidths(t *testing.T) {
	t.Parallel()
	inputs := append([]string{"x\n", "123456789", "1234567890", strings.Repeat("ab cd\n", 20000), strings.Repeat("a\n", 2048), strings.Repeat("b", 8192)}, classInputs...)
	argvs := [][]string{
		{"wc"}, {"wc", "-l"}, {"wc", "-lw"}, {"wc", "-c", "-m"}, {"wc", "-L", "-l"}, {"wc", "-"}, {"wc", "-l", "-"},
		{"wc", "-", "-"}, {"wc", "-c", "-", "-"}, {"wc", "-lwcmL"}, {"wc", "-w", "-", "-", "-"},
		// -m counts bytes in the C locale, so GNU counts them from the
		// size as for -c alone
		{"wc", "-m", "-", "-"}, {"wc", "-cm", "-", "-", "-"}, {"wc", "-m", "-l", "-", "-"},
	}
	diffFileInput(t, argvs, inputs)
}

// TestGNUClass16GrepWordOnly: grep -w -o searches as GNU's does (its
// matches of the patterns, shortened or moved on until no word character
// touches them), not with the -w wrapper that selects lines: the
// wrapper's longest match could take a line's first character as the
// non-word one before the pattern (grep -wo . on "!@#" printed "@" and
// "#" only; a line starting with a 3- or 4-byte UTF-8 sequence lost its
// first byte), and a repetition took non-word characters GNU leaves.
func TestGNUClass16GrepWordOnly(t *testing.T) {
	t.Parallel()
	inputs := []string{"!@#\n", "-a- b\n@\n", "\xe2\x82\xac\n\xf0\x9f\x98\x80 x\n", "\xc3\xa9t\xc3\xa9\n", ".!\n-@-1\n 1-! a\n", "a!-@@_a \n",
		"@!1  -.1\n -b1!! a\n  @.aaa\n --.b\n-ab_a@a@\n---._ b\nba.@1!!\n", "\xff\xfe!x \xc3\xa9-a\n"}
	checkCross(t, inputs, [][]string{
		{"grep", "-wo", "."}, {"grep", "-wo", "[^a]"}, {"grep", "-won", "!"}, {"grep", "-wio", "-"}, {"grep", "-wo", "b*!"},
		{"grep", "-wo", `a\|!`}, {"grep", "-wo", `\W`}, {"grep", "-Ewo", "!|a"}, {"grep", "-Ewo", "[!@-]{2}"},
		{"grep", "-Fwo", "!"}, {"grep", "-Fwo", " "}, {"grep", "-wo", "[[:punct:]]"}, {"grep", "-Ewo", ".?"}, {"grep", "-wc", "."},
		{"grep", "-wo", `\W*`}, {"grep", "-wio", "[[:punct:]]*"}, {"grep", "-won", `\(!\|a\)\+`}, {"grep", "-Ewo", ".|.."},
		{"grep", "-Ewo", "!+|a+"}, {"grep", "-Ewo", "|!"}, {"grep", "-wo", "x*"}, {"grep", "-wo", "a$"}, {"grep", "-Ewo", `\b[!@]+|\b`},
		{"grep", "-wo", `[!@].$`}, {"grep", "-wo", "-e", "!", "-e", "a"},
		{"grep", "-Ewo", "-e", "@", "-e", ")"}, {"grep", "-Ew", "-e", "@", "-e", ")"}, {"grep", "-Ex", "-e", ")", "-e", "a"},
		{"grep", "-Fwio", "-e", "B", "-e", "!"}, {"grep", "-wo", "-e", "a", "-e", "a!", "-e", `\)`}, {"grep", "-Fwo", "-e", "a", "-e", "-a-"},
	})
}

// TestGNUClass17GrepFoldAlternatives: -i folds patterns that RE2's parser
// merges into a class: alternated single characters ((?:B)|(?:x) is
// [Bx]) and alternatives with a common prefix (cat|car is ca[tr]), which
// matched in one case only (grep -i -e cat -e car missed "CAR").
func TestGNUClass17GrepFoldAlternatives(t *testing.T) {
	t.Parallel()
	inputs := []string{"b\nB\nx\nX\nxb\nAZ\naz\nnothing\n", "AC\nERRNO\nGET\nPUT\nCAR\nCAT\ncar\nfoo Bar\n"}
	checkCross(t, inputs, [][]string{
		{"grep", "-i", "-e", "B", "-e", "x"}, {"grep", "-i", "-e", "b", "-e", "X"}, {"grep", "-iF", "-e", "B", "-e", "x"},
		{"grep", "-iE", "B|x|Z"}, {"grep", "-i", `B\|x`}, {"grep", "-ic", "-e", "b", "-e", "Z"}, {"grep", "-io", "-e", "B", "-e", "x"},
		{"grep", "-iv", "-e", "B", "-e", "x"}, {"grep", "-iw", "-e", "B", "-e", "x"}, {"grep", "-ix", "-e", "B", "-e", "[x]"},
		{"grep", "-iE", "ab|ac"}, {"grep", "-i", "-e", "cat", "-e", "car"}, {"grep", "-iF", "-e", "cat", "-e", "car"},
		{"grep", "-iw", "-e", "cat", "-e", "car"}, {"grep", "-iE", "get|put"}, {"grep", "-io", `ca\(t\|r\)`},
	})
}

// TestGNUClass18CutHugeListStarts: GNU cut sorts its list by each range's
// start converted to a C int, then merges each range into the one before
// it when it starts at or before that one's end, so a start of 2^31 or more
// can come first and swallow the small ones (cut -b 4294967296,1 prints an
// empty line for "abc"; we printed "a").
func TestGNUClass18CutHugeListStarts(t *testing.T) {
	t.Parallel()
	inputs := []string{"abcd\n", "a:b:c:d\n:x\nnodelim\n", "", "ab\x00c:d\nno newline:x"}
	checkCross(t, inputs, [][]string{
		{"cut", "-b", "4294967296,1"}, {"cut", "-b", "1,4294967297"}, {"cut", "-b", "4294967297,1"}, {"cut", "-b", "4294967298,1,3"},
		{"cut", "-b", "4294967299,1-2"}, {"cut", "-b", "2147483648,3"}, {"cut", "-b", "2147483647,3"}, {"cut", "-b", "3,4294967297-"},
		{"cut", "--complement", "-b", "4294967296,1"}, {"cut", "-b", "4294967300-,2-3", "--output-delimiter=:"},
		{"cut", "-b", "3,2,4294967297", "--output-delimiter=:"}, {"cut", "-b", "18446744073709551614,1"},
		{"cut", "-c", "9223372036854775807,1"}, {"cut", "-d:", "-f", "4294967297,1"}, {"cut", "-d:", "-f", "4294967298,1,3"},
		{"cut", "-d:", "-s", "-f", "2,4294967296-"}, {"cut", "-d:", "--complement", "-f", "4294967296,2"},
		{"cut", "-b", "4294967296-4294967297,1-2"}, {"cut", "-z", "-d:", "-f", "4294967296,1"},
	})
}

// TestGNUClass19GunzipRefusedHeaders: GNU gunzip refuses a member whose
// flags say encrypted (0x20) or set a reserved bit (0x40, 0x80), which Go's
// reader ignores (we printed the data); and under -f it decompresses, not
// passes through, the other formats it knows (zip, pack, compress, LZH,
// the old gzip magic), which halfclose does not read: an error, never the
// input passed through as if it were plain.
func TestGNUClass19GunzipRefusedHeaders(t *testing.T) {
	t.Parallel()
	member := gzipMember(t, []byte("hello\n"))
	withFlags := func(f byte) []byte {
		m := bytes.Clone(member)
		m[3] |= f
		return m
	}
	inputs := [][]byte{
		withFlags(0x20), withFlags(0x40), withFlags(0x80), append(bytes.Clone(member), withFlags(0x40)...),
		[]byte("PK\x03\x04abc"), []byte("\x1f\x1exx"), []byte("\x1f\x9d\x90abc"), []byte("\x1f\xa0abc"), []byte("\x1f\x9eabc"),
		append(bytes.Clone(member), "\x1f\x9d\x90abc"...), append(bytes.Clone(member), "\x1f\x1exx"...),
		append(bytes.Clone(member), "PK\x03\x04abc"...), append(bytes.Clone(member), "plain"...), []byte("plain\n"),
	}
	var cases []diffCase
	for _, argv := range [][]string{{"gunzip", "-c"}, {"gunzip", "-cf"}, {"zcat", "-f"}, {"gzip", "-dc"}} {
		for _, in := range inputs {
			cases = append(cases, diffCase{argv: argv, input: in})
		}
	}
	checkCases(t, cases)
}

// TestGNUClass20UniqSkipAndCheck: uniq -f, -s and -w (and the obsolete
// -N and +N), once refused, compare what GNU's find_field and different
// compare: past N blank-separated fields (a newline separates fields too,
// with -z), then N bytes, at most N bytes; -D, --all-repeated, --group
// and -z, also once refused, print as GNU's check_file does.
func TestGNUClass20UniqSkipAndCheck(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"a 1 x\nb 1 x\nb  1 X\n c\t1 x\nc 2 y\nc 2 yy\nd\ne\ne f\n\n\nx  \nx \n",
		"abcdef\nabcxyz\nABCxyz\nzbc\nzbd\nzb\n", "k1 A\nk2 a\nk3 a\nk4 b\n\tk5 b", "",
		"a\x00a\x00b\nx\x00b\ny\x00 c\x00c", "x\nx\ny\nx\nx\nx\n",
	}
	checkCross(t, inputs, [][]string{
		{"uniq", "-f", "1"}, {"uniq", "-f1", "-c"}, {"uniq", "-f", "3"}, {"uniq", "-f", "99999999999999999999"}, {"uniq", "-f", "-1"},
		{"uniq", "-f", "1x"}, {"uniq", "-f", " +1"}, {"uniq", "-s", "1"}, {"uniq", "-s", "3", "-i"}, {"uniq", "-s", "100", "-c"},
		{"uniq", "-w", "1"}, {"uniq", "-w", "0", "-c"}, {"uniq", "-w", "3", "-i", "-c"}, {"uniq", "-w", "2", "-s", "1"},
		{"uniq", "-f", "1", "-s", "1", "-w", "1"}, {"uniq", "-f", "1", "-d"}, {"uniq", "-f", "1", "-u"}, {"uniq", "-s", "1", "-dc"},
		{"uniq", "--skip-f=1"}, {"uniq", "--check", "2"}, {"uniq", "-f1s1"}, {"uniq", "-1"}, {"uniq", "-1", "-2"}, {"uniq", "-1c"},
		{"uniq", "-f", "3", "-1"}, {"uniq", "-1", "-f", "0", "-2"}, {"uniq", "+1"}, {"uniq", "-s", "3", "+1"}, {"uniq", "+1", "-s", "3"},
		{"uniq", "+1x"}, {"uniq", "+99999999999999999999"}, {"uniq", "--", "+1"}, {"uniq", "+1", "-", "-"},
		// -D, --all-repeated, --group and -z, once refused, as GNU's
		// check_file prints and delimits groups
		{"uniq", "-D"}, {"uniq", "-D", "-i"}, {"uniq", "-D", "-f", "1"}, {"uniq", "-D", "-u"}, {"uniq", "-D", "-d"}, {"uniq", "-Dc"},
		{"uniq", "--all-repeated=prepend"}, {"uniq", "--all-repeated=s", "-w", "1"}, {"uniq", "--all-repeated=n"},
		{"uniq", "--all-repeated="}, {"uniq", "--all-repeated=x"}, {"uniq", "--all-rep=sep", "-u"}, {"uniq", "--all-repeated", "prepend"},
		{"uniq", "--group"}, {"uniq", "--group=prepend", "-i"}, {"uniq", "--group=append", "-s", "1"}, {"uniq", "--group=both", "-f", "1"},
		{"uniq", "--group=b"}, {"uniq", "--group="}, {"uniq", "--group", "-c"}, {"uniq", "--group", "-D"}, {"uniq", "--group", "-u"},
		{"uniq", "-z"}, {"uniq", "-zc", "-i"}, {"uniq", "-z", "-f", "1"}, {"uniq", "-z", "-D"}, {"uniq", "-z", "--group=both"},
	})
}

// gzipMember returns data compressed as one gzip member by Go's writer.
func gzipMember(t *testing.T, data []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// TestGNUClass21GunzipStdinTwice: GNU gunzip reads stdin again for each
// "-" operand after the first; it has ended, and empty input is not gzip
// data without -f (gunzip -c - - fails with "unexpected end of file"
// after printing the first; we printed it and succeeded).
func TestGNUClass21GunzipStdinTwice(t *testing.T) {
	t.Parallel()
	member := gzipMember(t, []byte("hello\n"))
	inputs := [][]byte{member, append(bytes.Clone(member), member...), append(bytes.Clone(member), 0, 0), nil, []byte("plain\n")}
	var cases []diffCase
	for _, argv := range [][]string{
		{"gunzip", "-c", "-", "-"}, {"gunzip", "-cf", "-", "-"}, {"zcat", "-", "-", "-"}, {"gzip", "-dc", "-", "--", "-"},
		{"zcat", "-f", "-", "-"}, {"gunzip", "-c", "-"}, {"zcat", "-q", "-", "-"},
	} {
		for _, in := range inputs {
			cases = append(cases, diffCase{argv: argv, input: in})
		}
	}
	checkCases(t, cases)
}

// TestGNURefusedFlagsNameThemselves checks the message of a refused flag:
// it names the flag in full and says it is unsupported.
func TestGNURefusedFlagsNameThemselves(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, want string }{
		{"grep --rec x", `grep: unsupported flag "--recursive"`},
		{"grep -r x", `grep: unsupported flag "-r"`},
		{"grep -X awk x", `grep: unsupported flag "-X awk"`},
		{"sort --he", `sort: unsupported flag "--help"`},
		{"uniq --vers", `uniq: unsupported flag "--version"`},
		{"sha256sum --check", `sha256sum: unsupported flag "--check"`},
	} {
		_, err := computetest.RunPipeline(t, c.text, []byte("x\n"))
		if compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want compute.CodeInvalid with %q", c.text, err, c.want)
		}
	}
}

// TestGNUClass22B3sumClapArguments: b3sum reads its arguments with clap 2,
// not getopt: no flag may be given twice (b3sum --raw --raw fails), an
// attached value loses its leading '='s (-l=5 is -l 5), a flag that takes
// no value ignores "=VALUE" (--no-names=x), a value in the next word may
// not look like a flag (-l -5, --derive-key --raw fail), and a
// --derive-key context that is not UTF-8 makes b3sum panic (exit 101).
// We took -l=5 as an invalid length and the rest as GNU-style flags.
func TestGNUClass22B3sumClapArguments(t *testing.T) {
	t.Parallel()
	inputs := []string{"", "abc", "a\nb\n"}
	checkCross(t, inputs, [][]string{
		{"b3sum", "--no-names", "--no-names"}, {"b3sum", "--raw", "--raw"}, {"b3sum", "--no-mmap", "--no-mmap"}, {"b3sum", "-l", "5", "-l", "6"},
		{"b3sum", "-l5", "--length=5"}, {"b3sum", "--num-threads", "1", "--num-threads=2"}, {"b3sum", "--derive-key", "a", "--derive-key=b"},
		{"b3sum", "-l=5"}, {"b3sum", "-l==5"}, {"b3sum", "--length==5"}, {"b3sum", "-l="}, {"b3sum", "--length="}, {"b3sum", "-l=+5"},
		{"b3sum", "--derive-key==a"}, {"b3sum", "--derive-key=a=b"}, {"b3sum", "--derive-key", "=a"}, {"b3sum", "--derive-key="},
		{"b3sum", "--no-names=x"}, {"b3sum", "--raw="}, {"b3sum", "--no-mmap=1", "-"}, {"b3sum", "-l", "-5"}, {"b3sum", "-l", "-"},
		{"b3sum", "--derive-key", "-x"}, {"b3sum", "--derive-key", "-"}, {"b3sum", "--derive-key", "--raw"}, {"b3sum", "--derive-key=-x"},
		{"b3sum", "--num-threads", "-1"}, {"b3sum", "--derive-key", "\xff"}, {"b3sum", "--derive-key=\xc3"}, {"b3sum", "--derive-key", "\xc3\xa9"},
	})
}

// TestGNUClass23GzipVerboseAndTTY: GNU gunzip -v warns about zero bytes
// after the last member and exits 2 (without -v it exits 0; -q after -v
// silences it), and ---presume-input-tty makes gzip refuse to compress
// or decompress without -f. We printed the data and succeeded.
func TestGNUClass23GzipVerboseAndTTY(t *testing.T) {
	t.Parallel()
	member := gzipMember(t, []byte("hello\n"))
	inputs := [][]byte{
		member, append(bytes.Clone(member), 0), append(bytes.Clone(member), make([]byte, 600)...),
		append(append(bytes.Clone(member), 0, 0), member...), append(bytes.Clone(member), 0, 'x'), []byte("plain\n"),
	}
	var cases []diffCase
	for _, argv := range [][]string{
		{"gunzip", "-v"}, {"gunzip", "-c", "--verbose"}, {"zcat", "-vq"}, {"zcat", "-qv"}, {"gzip", "-dvv"}, {"gunzip", "-fv"},
		{"gunzip", "-v", "-", "-"}, {"gunzip", "---presume-input-tty"}, {"zcat", "---pres", "-q"}, {"gunzip", "-f", "---presume-input-tty"},
		{"gzip", "-d", "---presume-input-tty", "-f"}, {"gzip", "---presume-input-tty"}, {"gzip", "-c", "---presume-input-tty", "-q"},
	} {
		for _, in := range inputs {
			cases = append(cases, diffCase{argv: argv, input: in})
		}
	}
	// gzip's own output need not be GNU's bytes: compare what it decompresses to.
	for _, in := range inputs {
		cases = append(cases, diffCase{argv: []string{"gzip", "-f", "---presume-input-tty"}, input: in, roundTrip: true})
	}
	checkCases(t, cases)
}

// TestGNUClass24GrepLastBackslashLiteral: with two distinct patterns or
// more, all literals, GNU grep 3.8 runs its -F matcher, which takes a
// backslash ending the last pattern as a literal backslash; alone, or
// ending an earlier pattern, it is an error ("Trailing backslash"). We
// failed every such pattern.
func TestGNUClass24GrepLastBackslashLiteral(t *testing.T) {
	t.Parallel()
	inputs := []string{"a\nb\n\\\nx\\y\nb\\\n", "", "ab\\\n\\\\\n"}
	checkCross(t, inputs, [][]string{
		{"grep", "-e", "b", "-e", `\`}, {"grep", "b\n\\"}, {"grep", "-c", "-v", "-x", "-e", "b\n\\"}, {"grep", "-o", "-e", "q\n\\"},
		{"grep", "-E", "b\n\\"}, {"grep", "-e", "b", "-e", `\`, "-e", "b"}, {"grep", "-e", "", "-e", `\`}, {"grep", "-i", "-e", "B", "-e", `\`},
		{"grep", "-w", "b\n\\"}, {"grep", "-e", "b", "-e", `a\`}, {"grep", "-e", "b", "-e", `a\\\`}, {"grep", "-o", "-e", "b", "-e", `\\`},
		{"grep", "-e", `\`}, {"grep", "-e", `\`, "-e", "b"}, {"grep", "-e", `\`, "-e", `\`}, {"grep", "-e", `\`, "-e", "b", "-e", `\`},
		{"grep", "-e", `\`, "-e", ""}, {"grep", "-e", "a.", "-e", `\`}, {"grep", "-e", `a\`, "-e", `x\`}, {"grep", "b\n[\\"},
	})
}

// TestGNUClass25GrepLineWordOnly: grep -o with both -x and -w takes the
// line's newline into the match when GNU uses its regexp matcher, so a
// selected line prints whole followed by two newlines (also an empty
// line, and a last line with no newline); with two distinct literal
// patterns or more, GNU's -F matcher prints the match as usual. We
// printed one newline.
func TestGNUClass25GrepLineWordOnly(t *testing.T) {
	t.Parallel()
	inputs := []string{"a b\n", "\na\nb", "a\r\nab\na\n", "[a]\nA\n"}
	checkCross(t, inputs, [][]string{
		{"grep", "-xwo", "a"}, {"grep", "-x", "-o", "-w", "-n", "-e", "^a", "-e", "a b"}, {"grep", "-xwo", "a b"}, {"grep", "-xwoF", "a"},
		{"grep", "-xwoE", "a|b"}, {"grep", "-xwo", "-e", "a", "-e", "b"}, {"grep", "-xwoF", "-e", "a", "-e", "a"}, {"grep", "-xwoi", "A"},
		{"grep", "-xwo", ""}, {"grep", "-xwo", "a*"}, {"grep", "-xwoH", "-m1", "a."}, {"grep", "-xwov", "c"}, {"grep", "-xwoc", "a"},
		{"grep", "-xwoF", "-e", "a", "-e", "a b"}, {"grep", "-xwo", "[a]"}, {"grep", "-xwoE", "-e", "a", "-e", "b"},
	})
}

// TestGNUClass26B2LengthLastMax: b2sum and cksum check each -l for its
// syntax and a multiple of 8 as they read it, but BLAKE2b's maximum only
// on the last one: b2sum -l 520 -l 8 is -l 8. We refused 520 at once.
func TestGNUClass26B2LengthLastMax(t *testing.T) {
	t.Parallel()
	var cases []diffCase
	for _, argv := range [][]string{
		{"b2sum", "-l", "520", "-l", "8"}, {"b2sum", "-l", "8", "-l", "520"}, {"b2sum", "-l", "7", "-l", "8"}, {"b2sum", "--length=520", "--tag", "-l0"},
		{"b2sum", "-l", "99999999999999999999", "-l", "8"}, {"cksum", "-a", "blake2b", "-l", "520", "-l", "8"}, {"cksum", "-l", "1024", "-l", "16", "-a", "blake2b"},
		{"cksum", "-a", "blake2b", "-l", "8", "-l", "520"}, {"cksum", "-l", "520", "-a", "crc"}, {"cksum", "-l", "520", "-l", "0", "-a", "sha1"},
	} {
		for _, in := range []string{"", "abc\n"} {
			cases = append(cases, diffCase{argv: argv, input: []byte(in)})
		}
	}
	checkCases(t, cases)
}

// TestGNUClass27TacBlockBoundaries: GNU tac reads its input backwards in
// blocks of 8 KiB (the first one the size modulo 8 KiB) and restarts its
// separator search at each block's end. A separator that overlaps itself
// then matches across the boundary over a match already made, and with -b
// a record that starts at a boundary makes GNU compare a separator with
// bytes its buffer kept from an earlier block (it printed "a" + "ab..."
// records where the input had none). We searched the input as one text.
// Inputs: records placed so that separators straddle, start and end at
// the boundaries, a record longer than a block (GNU doubles its block),
// with and without spilling the queue to disk.
func TestGNUClass27TacBlockBoundaries(t *testing.T) {
	t.Parallel()
	var inputs [][]byte
	for _, n := range []int{8191, 8192, 8193, 16385} {
		for _, fill := range []string{"ab\n", "aab", "b\naa", "\n\n\n", "xyzxyz", "aba"} {
			in := bytes.Repeat([]byte(fill), n/len(fill)+2)[:n]
			inputs = append(inputs, in, append(bytes.Repeat([]byte("x"), 9000), in...))
		}
	}
	// A record starting at a block boundary (8192) after an "a": with -b
	// GNU compares "ab" with that "a" and the byte its buffer kept from
	// the block after (the "b" at 16384), and prints a record "a".
	for _, tail := range []int{100, 8192} {
		blk := bytes.Repeat([]byte("x\n"), (3*8192+tail)/2)
		copy(blk[8191:], "aab")
		blk[16384] = 'b'
		copy(blk[16390:], "ab") // the pending record then is "bx\nx\nx"
		inputs = append(inputs, blk)
	}
	var cases []diffCase
	for _, sep := range []string{"ab", "aa", "\n\n", "xyzx"} {
		for _, in := range inputs {
			cases = append(cases, diffCase{argv: []string{"tac", "-s", sep}, input: in}, diffCase{argv: []string{"tac", "-b", "-s", sep}, input: in})
		}
	}
	checkCases(t, cases)
	// The same over a queue spilled to disk.
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 1000, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}}
	for _, c := range cases[:40] {
		computetest.DiffGNUEnv(t, cfg, c.input, c.argv...)
	}
}

// TestGNUClass28GrepFoldEscapedLowercase: under -i glibc regex compares
// the upper-cased text with an escaped ordinary character as written, so
// a backslash before a lowercase letter that is no operator (\d, \a, \z)
// matches nothing where glibc regex decides: -o prints nothing for the
// lines GNU's dfa selects (which folds it), and so does a pattern glibc
// selects the lines for ([[.a.]]). \D, \b, \w and \s are unaffected. With
// two distinct patterns, all literals, GNU's -F matcher runs and \d is a
// folded d. We printed the folded d.
func TestGNUClass28GrepFoldEscapedLowercase(t *testing.T) {
	t.Parallel()
	inputs := []string{"a]b\n\\d\nd\nD\nab\nxd\nX\n", "dd D\nz Z\n"}
	checkCross(t, inputs, [][]string{
		{"grep", "-io", `\d`}, {"grep", "-io", `x\d`}, {"grep", "-iEo", `\d+`}, {"grep", "-ion", `\d\|x`}, {"grep", "-iEo", `(\d|a)`},
		{"grep", "-iox", `\d`}, {"grep", "-iow", `\d`}, {"grep", "-io", "-e", `\d`, "-e", `\d`}, {"grep", "-io", "-e", `\d`, "-e", "x"},
		{"grep", "-io", `\D`}, {"grep", "-io", `\z`}, {"grep", "-io", `\w`}, {"grep", "-io", `\b.`}, {"grep", "-o", `\d`},
		{"grep", "-i", `\d`}, {"grep", "-ic", `\d`}, {"grep", "-iw", `\d`}, {"grep", "-ix", `\d`}, {"grep", "-i", `[[.a.]]\d`},
		{"grep", "-i", `[[.d.]]\|\d`}, {"grep", "-yo", `\d`}, {"grep", "-io", "--no-ignore-case", `\d`}, {"grep", "-iFo", `\d`},
	})
}

// TestGNUClass29GrepEREBraceAfterAnchor: where glibc regex starts an
// expression (after an anchor, or after repetition operators it dropped
// there) it drops an ERE '{' and reads what follows as literals, so it
// reports no bad interval: GNU's dfa then takes "{1,2,3}" and "{2,1}" as
// literals (x^{2,1} is valid). A well-formed interval after an anchor
// repeats the anchor (^{,} may match nothing). We refused the first and
// made ^{,} a mandatory ^.
func TestGNUClass29GrepEREBraceAfterAnchor(t *testing.T) {
	t.Parallel()
	inputs := []string{"zz xyz\n{1,2,3}B\nB\nx{1,2,3}\n{2,1}\nx\n^{2,1}\n", "a{2,1}\n{\n"}
	var cases []diffCase
	for _, p := range []string{
		"x^{1,2,3}", "^,?^{1,2,3}B*", "x${2,1}", `x\b{2,1}`, "x^*{2,1}", "x^+{1,2,3}", "x^{*{2,1}", "x^{1}{2,1}",
		"(x^{2,1})", "x(^{2,1}|y)", "^{,}", "^*{,}", "^{0,1}", "x^{}", "a{2,1}", "a{1,2,3}", "x*^{1,2,3}", `x\B{0}y`,
	} {
		for _, f := range []string{"-E", "-Eo", "-Ec", "-Ew", "-Ex"} {
			for _, in := range inputs {
				cases = append(cases, diffCase{argv: []string{"grep", f, p}, input: []byte(in)})
			}
		}
	}
	checkCases(t, cases)
}

// TestGNUClass30GrepFoldRangeRegex: under -i glibc regex upper-cases the
// pattern, range ends included, and matches the upper-cased text, so a
// range is taken between its upper-cased ends ([A-a] is [A-A], [`-~]
// holds no letter) where GNU's dfa folds every byte of the range as
// written. The two differ in what -o prints (glibc regex finds the
// positions in the lines the dfa selects) and in the lines of a pattern
// glibc selects for ([[.x.]]). We folded the range as the dfa does for
// -o too (found by GNUDIFF seed 29347: grep -i -o 'a *[^A-a]\{,\}').
func TestGNUClass30GrepFoldRangeRegex(t *testing.T) {
	t.Parallel()
	inputs := []string{"*\n\x80x\n_x\n35e3\nbar\n\\ } a-z\n", "aZ`z_{~\n[\\]^ Ab\nQq09@\n"}
	var cases []diffCase
	for _, p := range []string{
		`a *[^A-a]\{,\}`, `[^A-a]`, `[A-a]`, "[Z-z]", "[^Z-z]", "[0-z]", "[`-~]", "[^`-~]", "[@-z]x*", "[a-z]",
		"[^a-z]", "[A-Z]", "[[-`]", "[^[-`]", "[B-b]", "[[.a.]-z]", "[[.A.]-z]", "[a-[.z.]]", "[^[.`.]-~]",
	} {
		for _, f := range []string{"-io", "-i", "-ic", "-iow", "-iox", "-iowx", "-o"} {
			for _, in := range inputs {
				cases = append(cases, diffCase{argv: []string{"grep", f, p}, input: []byte(in)})
			}
		}
	}
	// -x -o where glibc regex and the dfa read a BRE otherwise ('$'
	// before a plain ')' or '|').
	for _, p := range []string{`a$)`, `a$)\|b`, `a$|b`, `_*a$)*`, `a$)b`, `a$|`, `\(a$)\)`, `x*a$)`, `a$)\|a$|`} {
		for _, f := range []string{"-ox", "-o", "-x", "-owx", "-c", "-n"} {
			cases = append(cases, diffCase{argv: []string{"grep", f, p}, input: []byte("a$)\na\nba$)\n_a$)\na$|b\nb\n")})
		}
	}
	for _, argv := range [][]string{
		{"grep", "-e", "a$)", "-e", "zzz"}, {"grep", "-e", "zzz", "-e", "a$)"}, {"grep", "-e", "a$)", "-e", "a$)"},
		{"grep", "-n", "-e", "a$)", "-e", "zzz", "-e", "a$)"}, {"grep", "-c", "-e", "a$|", "-e", "zzz"}, {"grep", "-o", "-e", "zzz", "-e", "a$|"},
	} {
		cases = append(cases, diffCase{argv: argv, input: []byte("a$)\na$|\nzzz\na\n")})
	}
	checkCases(t, cases)
}

// TestGNUClass31GrepCollatingSuperset: a bracket with a collating symbol
// or an equivalence class ([[.a.]], [[=a=]]) is a construct GNU's dfa
// cannot read: it leaves the line to glibc regex, but only among the
// lines its superset selects, in which that bracket matches any text
// (and which reads the rest as the dfa does: an ERE '{' that glibc drops
// is a literal there). We let glibc regex select alone (found by sweep
// 10: grep -E '{[[.a.]]' selected "a"). Repeated {0} times the bracket is
// dropped and the dfa decides alone; with no character to match outside
// such brackets there is no superset.
func TestGNUClass31GrepCollatingSuperset(t *testing.T) {
	t.Parallel()
	inputs := []string{"{a\na\n{\nab\na{\n{b a\nx\n", "ax\nx\nb{a}\n{A\n[a]\n.a\n_a\n{a_\n { a\n"}
	var cases []diffCase
	add := func(argv ...string) {
		for _, in := range inputs {
			cases = append(cases, diffCase{argv: argv, input: []byte(in)})
		}
	}
	for _, p := range []string{
		"{[[.a.]]", "x|{[[.a.]]", "{[[=a=]]b", "^*x[[.a.]]{0}", "^*x[[.a.]]?", "^[[.a.]]$", `\<[[.a.]]`, "{[[.a.]]*",
		"([[.a.]]|{)b", "[^[.a.]]{", "{[a-[.c.]]", "b|^*[[=a=]]", "{)[[.a.]]", "{[[.a.]]$",
	} {
		for _, f := range []string{"-E", "-Eo", "-Ec", "-Ev", "-Ex", "-Ew", "-Ei"} {
			add("grep", f, p)
		}
	}
	for _, p := range []string{`\{[[.a.]]`, "*[[.a.]]", `x\|{[[.a.]]`, `[[.a.]]\{0\}{`, `\({[[.a.]]\)`} {
		for _, f := range []string{"-o", "-c", "-x", "-w"} {
			add("grep", f, p)
		}
	}
	add("grep", "-E", "-e", "x", "-e", "{[[.a.]]")
	add("grep", "-Ew", "-e", "{[[.a.]]", "-e", "b")
	// A byte >= 0x80 that the superset matches: the text is widened for
	// it, also where the pattern is a fixed-length sequence of classes.
	for _, argv := range [][]string{{"grep", "\\w[^[.a.]]\xe9"}, {"grep", "-v", "\\w[^[.a.]]\xe9"}, {"grep", "-c", "[[=b=]]\xe9"}} {
		cases = append(cases, diffCase{argv: argv, input: []byte("A\xe9b c\xe9\nA_ \xe9\nb\xe9\n")})
	}
	checkCases(t, cases)
}

// TestGNUClass32GrepWordStartEnd: \< matches where a word starts, \> where
// one ends; we took both for \b, which also matches at the other end
// (grep -o '\<.' printed the blank after each word, grep ' \>' selected
// "a b"). Each is \b now, with its condition on the byte after or before
// moved into what the pattern matches beside it, through groups,
// alternatives and repetitions; anchors that exclude it (\<$, ^\>, \<\>)
// match nowhere.
func TestGNUClass32GrepWordStartEnd(t *testing.T) {
	t.Parallel()
	inputs := []string{"a b-c\nfoo bar\n-x-\n\n  \nab_cd ef\n(a) [b]\n12 x3\n", "word\n w\nw \n.-.\nx,y\nxx-a a-\n_ _\n"}
	var cases []diffCase
	for _, p := range []string{
		`\<.`, `.\>`, `\<`, `\>`, `\< `, ` \>`, `-\<`, `\>x`, `\<[a-z]*`, `[a-z]*\>`, `\<\w*\>`, `.\<.`,
		`.\>.`, `\<\(a\|-\)`, `[^ ]\>`, `-*\<`, `^\>`, `\<$`, `\<\>`, `\>\<`, `a\(\>\|_\)`, `[a-z]\<\+`,
		`\<.\b\(\<\|\w^*[ -]\)`, `\(x\|\(\>\)\).`, `\(\> \)*x`, `\<\{2\}a`, `\(\(\>a\{,2\}\)\{2\}[a-z]\)`,
		`\(\>\|-\<\)\{1,2\}a`,
	} {
		for _, f := range []string{"", "-o", "-c", "-w", "-x", "-E", "-Eo"} {
			argv := []string{"grep"}
			if f != "" {
				argv = append(argv, f)
			}
			q := p
			if strings.Contains(f, "E") {
				q = strings.NewReplacer(`\(`, "(", `\)`, ")", `\|`, "|", `\{`, "{", `\}`, "}", `\+`, "+").Replace(p)
			}
			// -o over a \> with more after it in a repetition glibc
			// copies may be refused (TestGNUClass34).
			refused := strings.Contains(f, "o") && strings.Contains(p, `\{2\}[a-z]`)
			for _, in := range inputs {
				cases = append(cases, diffCase{argv: append(argv, "-e", q), input: []byte(in), refused: refused})
			}
		}
	}
	checkCases(t, cases)
}

// TestGNUClass33GrepBinaryFiles: -a (--binary-files=text) reads a NUL as
// any other byte ('.' and [^x] match it), and -I (without-match) makes an
// input with a NUL select no line, once GNU reads the 96 KiB block that
// holds it: what was printed before stays, -c says 0, -L names it, and
// -m, -l or -q that stopped before it stand. We refused the three.
func TestGNUClass33GrepBinaryFiles(t *testing.T) {
	t.Parallel()
	const block = 96 << 10
	var cases []diffCase
	add := func(in string, argv ...string) {
		cases = append(cases, diffCase{argv: append([]string{"grep"}, argv...), input: []byte(in)})
	}
	for _, nul := range []int{5, block + 8} {
		for _, size := range []int{nul + 10, 2*block + 50} {
			in := []byte(strings.Repeat("abc def\n", size/8+1)[:size])
			in[nul] = 0
			for _, bf := range []string{"-a", "-I", "--binary-files=without-match", "--binary-files=binary"} {
				for _, f := range [][]string{{"a"}, {"-c", "a"}, {"-v", "a"}, {"-o", "a"}, {"-m", "3", "a"}, {"-l", "a"}, {"-L", "a"}, {"-x", "abc def"}, {"-vc", "zzz"}} {
					add(string(in), append([]string{bf}, f...)...)
				}
			}
		}
	}
	for _, in := range []string{"a\x00b\nab\n", "x\x00\n\x00\nz", "\x00", "a\x00"} {
		for _, p := range []string{"a.b", "a[^x]b", "^.$", `a\Wb`, "."} {
			add(in, "-a", p)
			add(in, "-ao", p)
			add(in, "-I", "-c", p)
		}
		add(in, "--binary-files=bogus", "a")
		add(in, "-I", "-a", "a")
		add(in, "-a", "--binary-files=without-match", "a")
	}
	checkCases(t, cases)
}

// TestGNUClass34GrepOnlyCopiedAssertions: what GNU's -o prints comes from
// glibc regex, which gets an anchor or word boundary wrong when more of
// the pattern follows it inside a repetition its parser builds from
// copies (x+, x{m,n}; not x*, x? or x{1}): in GNU grep 3.8 over glibc
// 2.36, (\<.)+ prints nothing for "ab" and (\b.)+ all of "a..". We
// refuse those with -o; the same patterns without -o (GNU's dfa selects
// the lines), and -o where glibc copies nothing or the assertion ends the
// repeated part, match GNU.
func TestGNUClass34GrepOnlyCopiedAssertions(t *testing.T) {
	t.Parallel()
	inputs := []string{"ab\na..\naa\nb-\n.b\nx y-z\n-\naa-\n-ab-\n", "a b\n--\nab-ba\n\n_a_ b\n"}
	// GNU's -o output for these is no leftmost-longest match on one of
	// the inputs at least: each must be refused.
	copied := []string{`(\<.)+`, `(\b.)+`, `(^a)+`, `(\Bb){,2}`, `(^a){,2}-`, `(x|\<.)+`, `(\<a?)+`, `(\>.){1,3}`, `(.\<.)+`}
	var cases []diffCase
	for _, p := range copied {
		bre := strings.NewReplacer("(", `\(`, ")", `\)`, "|", `\|`, "{", `\{`, "}", `\}`, "+", `\+`, "?", `\?`).Replace(p)
		for _, argv := range [][]string{{"grep", "-Eo", p}, {"grep", "-o", bre}, {"grep", "-Eow", p}, {"grep", "-Eonb", p}, {"grep", "-Eoz", p}} {
			_, err := computetest.RunPipeline(t, shquote.Join(argv), []byte(inputs[0]))
			if err == nil || !strings.Contains(err.Error(), "unsupported") {
				t.Errorf("%s: err %v, want unsupported", shquote.Join(argv), err)
			}
			for _, in := range inputs {
				cases = append(cases, diffCase{argv: argv, input: []byte(in), refused: true})
			}
		}
		for _, f := range []string{"-E", "-Ec", "-Ev", "-Ew", "-Ex", "-Eoc", "-Eoq"} {
			for _, in := range inputs {
				cases = append(cases, diffCase{argv: []string{"grep", f, p}, input: []byte(in)})
			}
		}
	}
	// GNU's -o agrees with RE2's matches here: not refused.
	for _, p := range []string{`(\<.)*`, `(\<.)?`, `(\<.){1}`, `(\<.){0,1}`, `(a\>)+`, `(-\<|\>){1,2}a`, `\<.(\<.)*`, `(\<.)?.`, `(.\>)+`, `(a$)+`} {
		for _, in := range inputs {
			cases = append(cases, diffCase{argv: []string{"grep", "-Eo", p}, input: []byte(in)})
		}
	}
	checkCases(t, cases)
}

// TestGNUClass35GrepWordMarkInRepetition: a \< or \> that an iteration
// of an unbounded (or longer than 4) repetition can match alone sees
// what is beside the repetition. It was a \b that saw nothing: `(x|\>)+b`
// selected `*b` (GNU: \> needs a word character before the b), and
// `\(x\|\<\)\+-` selected `a-`.
func TestGNUClass35GrepWordMarkInRepetition(t *testing.T) {
	t.Parallel()
	inputs := []string{"*b\na-\nxb\nxx-\nab\n-a\n- a\nb\n\n", "a b-c\n_x_ -\nx-b x\n1 -1\n--\nxa xb\nax*b\n"}
	var cases []diffCase
	for _, p := range []string{
		`(x|\>)+b`, `(x|\<)+-`, `(x|\>)*b`, `(x|\<)*-`, `-(\<|x)+a`, `(a|\>){2,}b`, `(a|\>){2,}-`,
		`(\>\>)+a`, `(\<\>|a)+`, `\W(()+\<){5}x`, `x(()+\<){5}`, `(\<a?)+`, `(x*\<)*`, `(-|\<){1,}b`,
		`( |\<|\>)+[a-]`, `(x?\>)+-`, `b(\<x?|-)+`, `(\<|_)*\>`, `(a|\>){0,6}b`, `(\b|\>)+b`,
		`b((x-)*\<){2,}`, `(-|\<){3,}x`, `(x|\>){2,7}-`, `-(\<|x){6,}`,
		`1*\>(-|.+|\b\B){2,}`, `(-|\b\B){3,}\<1*`,
	} {
		for _, f := range []string{"", "-c", "-v", "-w", "-x", "-o", "-G"} {
			argv := []string{"grep", "-E"}
			q := p
			if f == "-G" {
				argv = []string{"grep"}
				q = strings.NewReplacer("(", `\(`, ")", `\)`, "|", `\|`, "{", `\{`, "}", `\}`, "+", `\+`, "?", `\?`).Replace(p)
			} else if f != "" {
				argv = append(argv, f)
			}
			// -o over a marker with more after it in a repetition
			// glibc copies is refused (TestGNUClass34).
			refused := f == "-o"
			for _, in := range inputs {
				cases = append(cases, diffCase{argv: append(argv, "-e", q), input: []byte(in), refused: refused})
			}
		}
	}
	checkCases(t, cases)
}
