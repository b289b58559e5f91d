package builtin_test

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
)

// The GNU conformance classes of the text and digest commands found by
// the eighth sweep, each compared with the GNU tool on its own inputs.

// TestGNUText1SortCharOffsetWraps: GNU sort adds a key's character
// number to a pointer into its buffer (MIN (lim, ptr + n)), so a number
// near 2^64 (an overflow saturates at SIZE_MAX) wraps the pointer back:
// -k1.99999999999999999999 starts each key 2 bytes before its line, on
// the line before and its NUL (zeros before the first line), and an end
// such as -k1,2.99999999999999999999 ends one byte before its field
// (keys then empty). We took every such number as past the line's end.
func TestGNUText1SortCharOffsetWraps(t *testing.T) {
	t.Parallel()
	inputs := []string{"ab cd\nab cc\nb a\nab\n", "a\nb\na\nB\nA\n", "a\x00b\na\x00a\na\n", "", "x\n\ny 5\n 3\n1\n", "b 2\na 10\nb 1\n", "zz\nz\nzzz"}
	checkCross(t, inputs, [][]string{
		{"sort", "-k1.99999999999999999999"}, {"sort", "-k1.18446744073709551614"}, {"sort", "-s", "-k1.18446744073709551612"},
		{"sort", "-u", "-k2.99999999999999999999"}, {"sort", "-k1.99999999999999999999n"}, {"sort", "-r", "-k1.99999999999999999999n", "-k1,1"},
		{"sort", "-t", " ", "-k1.99999999999999999999f"}, {"sort", "-bk2.99999999999999999999"}, {"sort", "-k1,2.99999999999999999999"},
		{"sort", "-s", "-k1,2.18446744073709551614"}, {"sort", "-k2,2.99999999999999999999b"}, {"sort", "-k1,2.9223372036854775808"},
		{"sort", "+0.18446744073709551615"}, {"sort", "+0", "-2.18446744073709551615"}, {"sort", "-k1.99999999999999999999,1.99999999999999999999"},
	})
	// The same through runs spilled to disk and merged (SortMinBytes: no
	// floor to sort's budget, so that these small inputs spill).
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 1000, SortMinBytes: -1, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}}
	big := bytes.Repeat([]byte("ab cd\nab cc\nb a\nab\nx\n\ny 5\n 3\n1\n"), spillCopies(300))
	for _, argv := range [][]string{{"sort", "-k1.99999999999999999999"}, {"sort", "-u", "-k1.99999999999999999999n"}} {
		computetest.DiffGNUEnv(t, cfg, big, argv...)
	}
}

// TestGNUText2SortZeroTerminated: sort -z (--zero-terminated) reads and
// writes lines ended by NUL, a newline inside one being a blank between
// fields (GNU's field_sep), also through spilled runs. It was refused.
func TestGNUText2SortZeroTerminated(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"b\x00a\nz\x00a\x00c 1\n\x00", "x\ny\x00x\x00\x00 2\x00\n1\x00-3\x00", "no nul\nat all\n", "",
		"k 2\x00k\n1\x00K 2\x00k 10\x00last", "a\x00a\x00A\x00b\x00a\x00",
	}
	checkCross(t, inputs, [][]string{
		{"sort", "-z"}, {"sort", "--zero-terminated"}, {"sort", "-zr"}, {"sort", "-zu"}, {"sort", "-zn"}, {"sort", "-z", "-k2"},
		{"sort", "-z", "-k2,2n", "-s"}, {"sort", "-zf", "-u"}, {"sort", "-z", "-t", "\n", "-k2"}, {"sort", "-z", "-b", "-k1.2"},
		{"sort", "-z", "-t", " ", "-k2,2nr"}, {"sort", "--zero", "-s", "-k1,1f"},
	})
	// The same through runs spilled to disk and merged.
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 1000, SortMinBytes: -1, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}}
	big := bytes.Repeat([]byte("k 2\x00k\n1\x00K 2\x00b\nx\x00\x00 3 a\x00k 10\x00"), spillCopies(300))
	for _, argv := range [][]string{{"sort", "-z"}, {"sort", "-zu", "-k2,2n"}, {"sort", "-z", "-s", "-k2"}} {
		computetest.DiffGNUEnv(t, cfg, big, argv...)
	}
}

// TestGNUText3SortIgnoreAndMonth: sort -d (--dictionary-order), -i
// (--ignore-nonprinting) and -M (--month-sort), globally and as the d, i
// and M of a key, as GNU's C-locale tables and getmonth compare (-d keeps
// alphanumerics and blanks, -i printable ASCII; -M reads a month's
// abbreviation after blanks, in any case, other keys before JAN); -i
// never overrides -d; a key with two of -n, -M and -d/-i is an error.
// They were refused.
func TestGNUText3SortIgnoreAndMonth(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"a-b\nab\na_c\n-ab\nA b\na\tb\n\x01ab\nab\x7f\n\xe9a\n\n-\n", "b.2\na.10\n.a.1\na1\nB.1\n_a\n",
		"x jan 3\ny FEB\nz  mar\nw Janx\nv dec\nu ja\nt Foo\ns \tAPR 1\nr may\n q aug\nJAN\nfeb\n-dec\n",
		"feb\nFEB\nFeb\njan\nxxx\n\n JUN\nsep\noct\nnov\njul\n\x00jan\n", "", "dec 1\ndec 2\nDEC 1\njan\x00x\n",
	}
	checkCross(t, inputs, [][]string{
		{"sort", "-d"}, {"sort", "--dictionary-order"}, {"sort", "-dr"}, {"sort", "-du"}, {"sort", "-df"}, {"sort", "-dfu"}, {"sort", "-ds"},
		{"sort", "-i"}, {"sort", "--ignore-nonprinting"}, {"sort", "-iu"}, {"sort", "-if"}, {"sort", "-id"}, {"sort", "-di"},
		{"sort", "-M"}, {"sort", "--month-sort"}, {"sort", "-Mr"}, {"sort", "-Mu"}, {"sort", "-Ms"}, {"sort", "-Mf"}, {"sort", "-Mb"},
		{"sort", "-k2M"}, {"sort", "-k2,2M", "-k3,3n"}, {"sort", "-k2,2Mr", "-s"}, {"sort", "-M", "-k2,2"}, {"sort", "-M", "-k2,2n"},
		{"sort", "-k1,1d"}, {"sort", "-k1d,1", "-u"}, {"sort", "-k1.2i"}, {"sort", "-t", ".", "-k2d"}, {"sort", "-d", "-k2,2", "-k1,1"},
		{"sort", "-dn"}, {"sort", "-Mn"}, {"sort", "-dM"}, {"sort", "-k1Mi"}, {"sort", "-k1,1dn"}, {"sort", "-dn", "-k1,1"},
		{"sort", "-dn", "-k1,1r"}, {"sort", "-i", "-k1,1n"}, {"sort", "-z", "-d"},
	})
	// The same through runs spilled to disk and merged.
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 1000, SortMinBytes: -1, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}}
	big := bytes.Repeat([]byte(inputs[0]+inputs[2]), spillCopies(200))
	for _, argv := range [][]string{{"sort", "-d"}, {"sort", "-iu"}, {"sort", "-M", "-s"}, {"sort", "-k2,2Mu"}, {"sort", "-df", "-s"}} {
		computetest.DiffGNUEnv(t, cfg, big, argv...)
	}
}

// TestGNUText4SortWord: --sort=WORD is the letter of WORD (gnulib's
// argmatch: the word in full, or a prefix of one word only): month is
// -M, numeric -n, general-numeric -g (random is -R, whose order is its
// own: compute/text's TestSortRandomGroupsAsGNU), and a word that is no
// prefix, or of several, is an error. It was refused.
func TestGNUText4SortWord(t *testing.T) {
	t.Parallel()
	inputs := []string{"b\na\n10\n9\n-1\nFEB\njan\n", "x 2\ny 1\nx 10\n", ""}
	var cases []diffCase
	for _, argv := range [][]string{
		{"sort", "--sort=numeric"}, {"sort", "--sort=n"}, {"sort", "--sort=nu"}, {"sort", "--sort", "numeric", "-r"},
		{"sort", "--so=month"}, {"sort", "--sort=m", "-u"}, {"sort", "--sort=numeric", "-k2,2"}, {"sort", "--sort=month", "--sort=numeric"},
		{"sort", "--sort="}, {"sort", "--sort=x"}, {"sort", "--sort=N"}, {"sort", "--sort=numericx"},
		{"sort", "--sort=general-numeric"}, {"sort", "--sort=g"}, {"sort", "--sort=gen", "-r"},
	} {
		for _, in := range inputs {
			cases = append(cases, diffCase{argv: argv, input: []byte(in)})
		}
	}
	checkCases(t, cases)
}

// TestGNUText5SortHumanNumeric: sort -h (--human-numeric-sort, h in a
// key, --sort=human-numeric) orders by the unit right after the number
// (none < K or k < M < G < T < P < E < Z < Y; negated for a negative
// number; none for a number of only zeros), then as -n (GNU's
// human_numcompare); -h with -n, -M or -d/-i in a key is an error. It was
// refused.
func TestGNUText5SortHumanNumeric(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"1K\n2k\n1M\n900\n1.5G\n1G\n-1K\n-2M\n0K\n0.0M\n.5K\n1.K\n1.T\n5Y\n3Z\n2E\n7P\n1KiB\n1 K\n10\n\n-\n1x\n1m\n",
		"4.0K\tdir/a\n12K\tb\n1.1M\tc\n512\td\n0\te\n4.0K\tdir/b\n1.1M\ta\n", " 2K\n\t1K\n-0K\n00K\n1,5K\n1e3K\n",
		"", "a 3M\nb 3M\nc 2G\nd -3M\ne 3\n",
	}
	checkCross(t, inputs, [][]string{
		{"sort", "-h"}, {"sort", "--human-numeric-sort"}, {"sort", "-hr"}, {"sort", "-hu"}, {"sort", "-hs"}, {"sort", "-hru"},
		{"sort", "-k2,2h"}, {"sort", "-k2h", "-k1,1"}, {"sort", "-k1,1hr", "-s"}, {"sort", "-h", "-k2,2"}, {"sort", "-h", "-k2,2f"},
		{"sort", "--sort=human-numeric"}, {"sort", "--sort=h", "-u"}, {"sort", "-hb"}, {"sort", "-hf"}, {"sort", "-z", "-h"},
		{"sort", "-t", "\t", "-k1,1h", "-k2"}, {"sort", "-hn"}, {"sort", "-hM"}, {"sort", "-hd"}, {"sort", "-k1hi"}, {"sort", "-h", "-k1,1n"},
	})
	// The same through runs spilled to disk and merged.
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 1000, SortMinBytes: -1, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}}
	big := bytes.Repeat([]byte(inputs[0]+inputs[1]), spillCopies(150))
	for _, argv := range [][]string{{"sort", "-h"}, {"sort", "-hu"}, {"sort", "-h", "-s", "-k1,1"}, {"sort", "-rh"}} {
		computetest.DiffGNUEnv(t, cfg, big, argv...)
	}
}

// TestGNUText6SortVersion: sort -V (--version-sort, V in a key,
// --sort=version) compares as gnulib's filenvercmp of coreutils 9.1:
// empty first, then ".", "..", dot names; Debian version order of the
// names without their file suffixes, then of the whole names; -V with d,
// i or f compares the key's kept, folded bytes; -V with -n, -h or -M is
// an error. It was refused.
func TestGNUText6SortVersion(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"a-1.10\na-1.2\na-1.2~rc1\na-1.2a\na-1.02\na-1.2.0\nfoo.tar.gz\nfoo.tar\nfoo\nfoo1.tar.gz\n.\n..\n.a\n..b\n\n~\n1~\n1\n1.0\n1.0~\n",
		"x 1.2\ny 1.10\nz 1.9\nw 1.9b\nv 1.9B\nu 01.9\nt 1.9.\ns 1.9-\n", "lib2.so.10\nlib2.so.9\nlib10.so\nlib2.a\nLib2.so\n#1\n_2\na~b\naB\nab\n",
		"", "v1.0\x00x\nv1.0\nv1.0\x00a\nv1\x00\n", "1.2.3.4.5.6.7.8.9.10\n1.2.3.4.5.6.7.8.9.9\n000000000000000000000001\n99999999999999999999999\n",
	}
	checkCross(t, inputs, [][]string{
		{"sort", "-V"}, {"sort", "--version-sort"}, {"sort", "-Vr"}, {"sort", "-Vu"}, {"sort", "-Vs"}, {"sort", "-Vf"}, {"sort", "-Vfu"},
		{"sort", "-Vd"}, {"sort", "-Vi"}, {"sort", "-Vdf"}, {"sort", "-Vb"}, {"sort", "-k2V"}, {"sort", "-k2,2V", "-k1,1r"}, {"sort", "-V", "-k2,2"},
		{"sort", "--sort=version"}, {"sort", "--sort=v", "-r"}, {"sort", "-z", "-V"}, {"sort", "-t", ".", "-k2V"},
		{"sort", "-Vn"}, {"sort", "-Vh"}, {"sort", "-VM"}, {"sort", "-k1Vn"}, {"sort", "-V", "-k1,1n"},
	})
	// The same through runs spilled to disk and merged.
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 1000, SortMinBytes: -1, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}}
	big := bytes.Repeat([]byte(inputs[0]+inputs[2]), spillCopies(150))
	for _, argv := range [][]string{{"sort", "-V"}, {"sort", "-Vu"}, {"sort", "-V", "-s", "-k1,1f"}} {
		computetest.DiffGNUEnv(t, cfg, big, argv...)
	}
}

// TestGNUText7SortMerge: sort -m (--merge) merges its one input, stdin,
// taken as sorted: the lines as read (nothing checks their order), a last
// one without its newline given one; under -u only the first of each run
// of lines comparing equal to it, by the keys and options (GNU's mergefps).
// It was refused.
func TestGNUText7SortMerge(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"b\na\na\nA\nb\nb\nB\nc", "1 x\n01 y\n1.0 z\n2 a\n-1 b\n-1 b\n", "", "\n\n\n", "a\x00b\na\x00c\nA\x00b\n",
		"k 2\nk 10\nK 2\nj 2\nj 2\n",
	}
	checkCross(t, inputs, [][]string{
		{"sort", "-m"}, {"sort", "--merge"}, {"sort", "-mu"}, {"sort", "-m", "-u", "-f"}, {"sort", "-mun"}, {"sort", "-mur"},
		{"sort", "-m", "-u", "-k2,2"}, {"sort", "-m", "-u", "-k1,1", "-s"}, {"sort", "-m", "-", "-"}, {"sort", "-mz"}, {"sort", "-mzu"},
		{"sort", "-m", "-u", "-t", `\0`, "-k1,1"}, {"sort", "-m", "-r"}, {"sort", "-m", "-u", "-k2n"}, {"sort", "-mu", "-V"},
	})
}

// TestGNUText8SortY: GNU sort accepts and ignores -y (Solaris): a value
// attached (-y0) or a next word of digits only (-y 100, an empty -y "") is taken
// with it; any other next word is read again (-y -r is -r, -y file a
// file operand). It was refused.
func TestGNUText8SortY(t *testing.T) {
	t.Parallel()
	inputs := []string{"b\na\n10\n9\n", ""}
	checkCross(t, inputs, [][]string{
		{"sort", "-y0"}, {"sort", "-yx"}, {"sort", "-y", "100"}, {"sort", "-y", ""}, {"sort", "-y", "-r"}, {"sort", "-y", "-n", "-r"},
		{"sort", "-ry", "5"}, {"sort", "-y", "-"}, {"sort", "-y", "file"}, {"sort", "-y", "1x"}, {"sort", "-y"}, {"sort", "-y", "--", "-r"},
		{"sort", "-n", "-y", "-k2"}, {"sort", "-y", "+1"},
	})
}

// diffFileInput compares each argv on each input with GNU reading the
// input as a regular file on its stdin (wc < FILE), the pipeline told so
// (Pipeline.SetInputFile: the client's input_file_size or @file=N).
func diffFileInput(t *testing.T, argvs [][]string, inputs []string) {
	t.Helper()
	e := computetest.Engine(engine.Config{})
	for _, argv := range argvs {
		for _, in := range inputs {
			want, code := computetest.GNUStatus(t, []byte(in), argv...)
			if code != 0 {
				t.Fatalf("GNU %v failed: %d", argv, code)
			}
			p, err := e.Compile(shquote.Join(argv))
			if err != nil {
				t.Fatal(err)
			}
			p.SetInputFile(int64(len(in)))
			var out bytes.Buffer
			if _, err := e.Run(t.Context(), p, strings.NewReader(in), &out); err != nil {
				t.Fatalf("%v: %v", argv, err)
			}
			if out.String() != string(want) {
				t.Errorf("%s < file %q:\n  ours %q\n  GNU  %q", shquote.Join(argv), computetest.Trunc([]byte(in)), computetest.Trunc(out.Bytes()), computetest.Trunc(want))
			}
		}
	}
}

// fileInputs are the inputs of the regular-file classes: short ones, and
// lines across GNU's 8 KiB reads and our 128 KiB blocks.
var fileInputs = []string{
	"", "\n", "a", "1\n2\n3\n4\n5\n6\n7", "x\x00y\x00z\n\x00", "a\r\nb\r\n\n",
	strings.Repeat(strings.Repeat("ab", 5000)+"\n", 3), strings.Repeat("aa\n", 3000),
	strings.Repeat("x", 200<<10) + "\ny\nz\n",
}

// TestGNUText9HeadLinesFileSeeksBack: GNU head -n N seeks a regular file
// back to just after its N-th line, so with several "-" operands each
// prints the next N lines of a file redirected to stdin (from a pipe the
// rest of its 8 KiB read is gone). We printed nothing after the first.
func TestGNUText9HeadLinesFileSeeksBack(t *testing.T) {
	t.Parallel()
	diffFileInput(t, [][]string{
		{"head", "-n2", "-", "-"}, {"head", "-n1", "-", "-", "-"}, {"head", "-1", "-", "-"}, {"head", "-", "-"},
		{"head", "-z", "-n1", "-", "-", "-"}, {"head", "-q", "-n3", "-", "-"}, {"head", "-v", "-n1", "-"},
		{"head", "-n", "2000", "-", "-"}, {"head", "-n0", "-", "-"}, {"head", "-n", "-1", "-", "-"},
		{"head", "-c", "3", "-", "-"}, {"head", "-c", "-2", "-", "-"}, {"head", "-n1", "-c2", "-", "-"},
	}, fileInputs)
	// A long line ends the first "-"'s lines: it reads past them in a
	// buffer grown past the 4 KiB a later "-" starts with, which then takes
	// its lines from part of those bytes; the rest of them was lost, and
	// the third "-" printed lines from further on.
	var numbered strings.Builder
	for i := range 6000 {
		fmt.Fprintf(&numbered, "%09d\n", i)
		if i == 998 {
			numbered.WriteString(strings.Repeat("x", 200000) + "\n")
		}
	}
	diffFileInput(t, [][]string{
		{"head", "-n1000", "-", "-", "-"}, {"head", "-z", "-n", "1000", "-", "-", "-", "-"},
	}, []string{numbered.String(), strings.ReplaceAll(numbered.String(), "\n", "\x00")})
}

// TestGNUText10TacFileEveryOperand: GNU tac seeks a regular file to its
// end and reads it back to its start for each "-" operand, so every "-"
// prints the whole file reversed (from a pipe the first takes it all). We
// printed it once.
func TestGNUText10TacFileEveryOperand(t *testing.T) {
	t.Parallel()
	diffFileInput(t, [][]string{
		{"tac", "-", "-"}, {"tac", "-", "-", "-"}, {"tac", "-b", "-", "-"}, {"tac", "-s", "a", "-", "-"},
		{"tac", "-s", "aa", "-", "-"}, {"tac", "-bs", "aa", "-", "-", "-"}, {"tac", "-s", "", "-", "-"},
		{"tac", "-bs", "\n", "-", "-"}, {"tac", "-"}, {"tac"},
	}, fileInputs)
}

// TestGNUText11SortCheck: sort -c, -C and --check[=WORD] write nothing and
// exit 1 where GNU does (the first line out of order; under -u also one
// equal to the line before it, by the keys), with GNU's keys, -r, -f, -n,
// -z and the last-resort comparison; "-" twice is an error (GNU checks one
// file). They were refused, then failed the job at a disorder.
func TestGNUText11SortCheck(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"", "a\n", "a\nb\nc\n", "a\nc\nb\n", "a\na\n", "b\na", "B\na\n", "a\nA\n",
		"1\n10\n9\n", "1\n9\n10\n", "x 2\ny 1\n", "y 1\nx 2\n", "x 1\ny 1\n",
		"a\x00c\x00b\x00", "2\x001\x00", "\n\n", "a b\na  b\n", "-1\n-2\n",
		strings.Repeat("k\n", 5000) + "j\n",
	}
	checkCross(t, inputs, [][]string{
		{"sort", "-c"}, {"sort", "-C"}, {"sort", "-cu"}, {"sort", "-Cu"}, {"sort", "-cr"}, {"sort", "-cf"}, {"sort", "-cfu"},
		{"sort", "-cn"}, {"sort", "-cnu"}, {"sort", "-cnr"}, {"sort", "-cs", "-k2"}, {"sort", "-c", "-k2"}, {"sort", "-cu", "-k2,2"},
		{"sort", "-c", "-k2n"}, {"sort", "-cz"}, {"sort", "-Cz"}, {"sort", "-czr"}, {"sort", "-cb"}, {"sort", "-c", "-t", " ", "-k2"},
		{"sort", "--check"}, {"sort", "--check=quiet"}, {"sort", "--check=silent"}, {"sort", "--check=diagnose-first"},
		{"sort", "--check=q"}, {"sort", "--check=d"}, {"sort", "--check=x"}, {"sort", "--check="}, {"sort", "--che"},
		{"sort", "-c", "-c"}, {"sort", "-cC"}, {"sort", "-Cc"}, {"sort", "-c", "--check=quiet"}, {"sort", "-C", "--check"},
		{"sort", "-c", "-m"}, {"sort", "-cm", "-u"}, {"sort", "-cV"}, {"sort", "-ch"}, {"sort", "-cM"}, {"sort", "-cd"},
		{"sort", "-c", "-"}, {"sort", "-c", "-k0"}, {"sort", "-C", "-", "-"}, {"sort", "--check", "-", "-"},
	})
}

// TestGNUText12SortThousandsSep: in the C locale GNU sort 9.1 takes the
// byte 0x80 for a thousands separator in -n numbers and in -h's number
// (not its unit): its "no separator" value, CHAR_MAX+1, meets gnulib
// strnumcmp's unsigned chars. 0x80 among the leading zeros or after an
// integer digit is skipped, so "3\x805" is 35 and "1\x80000" a thousand;
// after the '.' it ends the number. We ended the number at it.
func TestGNUText12SortThousandsSep(t *testing.T) {
	t.Parallel()
	nums := []string{
		"1\x80000", "999", "\x801", "0\x805", "-\x805", "-0\x80\x803", "3\x80.5", "3.\x805", "\x80.5", "5\x80",
		"\x80", "12\x8034K", "1\x80K", "2K", "1\x802M", "-1\x80\x802", "  \x807", "\x80-3", "7\x80\x80\x808",
		"-\x80", "3.5", "35", "-12", "0", "-0\x80", "1\x80\x80", "4\xff5", "9\x80\x80", "x\x805", "6\x80 7",
	}
	var inputs []string
	for i := range 6 {
		var b strings.Builder
		for j := range nums {
			b.WriteString(nums[(j*(i+3)+i)%len(nums)])
			b.WriteString([]string{"\n", " a\x80\n", "\t2\x801\n"}[(i+j)%3])
		}
		inputs = append(inputs, b.String())
	}
	inputs = append(inputs, "3\x805\n4\n321\n", "92777\x80+a\n63221\n5\n", "1\x80\n1\n", "-1\x80\n-1\n")
	checkCross(t, inputs, [][]string{
		{"sort", "-n"}, {"sort", "-nr"}, {"sort", "-nu"}, {"sort", "-ns"}, {"sort", "-h"}, {"sort", "-hu"}, {"sort", "-hr"},
		{"sort", "-k2n"}, {"sort", "-k2,2n", "-k1"}, {"sort", "-t", "\x80", "-k2n"}, {"sort", "-k1.2n"}, {"sort", "-cn"}, {"sort", "-Cnu"},
		{"uniq", "-c"},
	})
}

// sortGNumLines are number-like keys for sort -g: what strtold reads
// (blanks it skips, signs, hex floats, exponents, inf, NaNs with payloads
// and signs), what it does not (garbage, a lone sign or point), and
// long-double edges: numbers equal as float64s but not as long doubles
// (2^53+1, 1+2^-63), equal as long doubles but not as text, the largest
// long double and past it, the least denormals, hex denormals whose 65th
// bit glibc drops when it rounds. No two are the same NaN: GNU 9.1 orders
// those by uninitialized stack bytes (docs/protocol.md).
var sortGNumLines = []string{
	"1", "-1", "+1", "01", "1.0", "1.", ".5", "-.5", "0", "-0", "+0", "0.0", "-0.0", "0e9", "00", "0x0", "-0x0p3",
	"1e3", "1E3", "1e+3", "1000", "1e-3", "0.001", "5.e2", "1e", "1e+", "1e-x", "2e3x", "1,5", "1.5.5",
	" 7", "\t8", "\v9", "\f10", "\r11", "  -12", "- 1", "+-1", "--1", "x", "", "-", "+", ".", "-.", "e5", "abc", " ", "\t",
	"0x10", "0X1F", "0x1p3", "0x1P-2", "0x.8", "0x1.8p1", "0xAbC.dEp-4", "0x", "0x.", "0xg", "0xp1", "0x1p", "0x1p+", "-0x1p-1",
	"inf", "INF", "-inf", "+Infinity", "infinit", "in", "-Inf", "infx",
	"nan", "-nan", "nan(1)", "nan(0x100)", "nan(0777)", "-nan(2)", "nan(0xffffffffffffffffff)", "nan(0x3ffffffffffffffe)",
	"9007199254740992", "9007199254740993", "9007199254740992.5", "1.0000000000000000001", "1.00000000000000000001",
	"1.0000000000000000000542101086242752217003726400434970855712890625", "1.0000000000000000000542101086242752217003726400434970855712890626",
	"18446744073709551615", "18446744073709551616", "18446744073709551617", "36893488147419103231", "36893488147419103233",
	"1e308", "1e309", "1.7976931348623157e308", "-1e400", "1e-400", "4.9e-324", "2e-324",
	"1.18973149535723176502e+4932", "1.18973149535723176508e+4932", "1e4933", "-1e4933", "1e99999999999999999999",
	"3.3621031431120935063e-4932", "3.6451995318824746025e-4951", "1.8e-4951", "1.9e-4951", "5.5e-4951", "1e-4960",
	"1e-99999999999999999999", "0x1p-16445", "-0x1p-16445", "0x1p-16446", "0x1.8p-16446", "0x1p-16447", "0x1p16383", "0x1p16384",
	"0x1p-16383", "0x1.0000000000000002p-16383", "0x1.0000000000000003p-16383", "0x1.0000000000000004p-16383",
	"0x1.0000000000000005p-16383", "0x1.0000000000000006p-16383", "0x1.000000000000000ap-16384", "0x1.000000000000000cp-16384",
	"0xffffffffffffffff8", "0xffffffffffffffff7", "0x1fffffffffffffffe8p0", "0x10000000000000008.0", "0x1000000000000000180",
}

// sortGNumNaNs are spellings of NaNs: each of the first is glibc's NAN,
// each of the rest -NAN; sortGNumNaNOthers are NaNs of other bits.
var (
	sortGNumNaNs      = []string{"NAN", "+nan", "nan()", "nan(abc)", "nan(08)", "nan(", "nan(_)", "nan(1", "nan(0x4000000000000000)", "nanx", "nan(0x)", "-NaN", "-nan(x)"}
	sortGNumNaNOthers = "-nan(1)\nnan(0x100)\nNaN(0X1)\n-nan(2)\nnan(0777)\nnan(0xffffffffffffffffff)\nnan(0x3ffffffffffffffe)\ninf\n-inf\nx\n1\n"
)

// sortGNumDenormal is (4x+f) * 2^-16447 written out in decimal (16447
// digits after the point): x quarters of the least denormal and f more.
func sortGNumDenormal(x uint64, f int64) string {
	n := new(big.Int).SetUint64(x)
	n.Lsh(n, 2).Add(n, big.NewInt(f))
	n.Mul(n, new(big.Int).Exp(big.NewInt(5), big.NewInt(16447), nil))
	d := fmt.Sprintf("%016448s", n.String())
	return strings.TrimRight(d[:len(d)-16447]+"."+d[len(d)-16447:], "0")
}

// TestGNUText13SortGeneralNumeric: sort -g (--general-numeric-sort, g in
// a key, --sort=general-numeric) compares as GNU's general_numcompare:
// each key read by glibc's strtold into an x87 long double (64-bit
// significand, exponents to 16383, denormals to 2^-16445): keys that are
// no number first, then NaNs by their bytes, then numbers (-0 equal to
// 0), equal ones by the last-resort comparison; glibc's rounding of
// denormals (its 65th bit dropped); -g with -n, -h, -M, -V or -d/-i in a
// key is an error. It was refused.
func TestGNUText13SortGeneralNumeric(t *testing.T) {
	t.Parallel()
	var fields strings.Builder
	for i, k := range sortGNumLines {
		fmt.Fprintf(&fields, "%c %s:%d\n", 'a'+i%7, k, i%5)
	}
	var denormals []string
	for _, x := range []uint64{6907735185386448804, 6907735185386448805, 1 << 62, 12345} {
		for f := range int64(4) {
			denormals = append(denormals, sortGNumDenormal(x, f))
		}
	}
	inputs := []string{
		strings.Join(sortGNumLines, "\n") + "\n", fields.String(),
		"nan 2\n-nan 1\nnan(3) 0\nx 1\n 1\n1 1\n1.0 0\n-0 1\n0 0\n0x1p0 2\ninf 1\nINF 0\n",
		strings.Join(denormals, "\n") + "\n0x1p-16383\n" + sortGNumDenormal(6907735185386448804, 2) + "0001\n",
		"", "1\x00-1\n\x000x10\x00nan\x00\n2\x00 3\x00",
	}
	checkCross(t, inputs, [][]string{
		{"sort", "-g"}, {"sort", "--general-numeric-sort"}, {"sort", "--gen"}, {"sort", "--sort=general-numeric"}, {"sort", "--sort=g"},
		{"sort", "-gr"}, {"sort", "-gu"}, {"sort", "-gs"}, {"sort", "-gru"}, {"sort", "-grs"}, {"sort", "-gf"}, {"sort", "-gb"},
		{"sort", "-g", "-k2"}, {"sort", "-k2,2g"}, {"sort", "-k2g"}, {"sort", "-k2,2gr", "-k1,1"}, {"sort", "-k2,2g", "-s"},
		{"sort", "-k2,2gb"}, {"sort", "-b", "-k2,2g"}, {"sort", "-t", ":", "-k2,2g", "-k1,1r"}, {"sort", "-t", ":", "-k1,1g"},
		{"sort", "-g", "-k2,2n"}, {"sort", "-k1,1", "-k2g"}, {"sort", "-g", "-k1.2"}, {"sort", "+1g"}, {"sort", "-k2.2,2.4g"},
		{"sort", "-zg"}, {"sort", "-zgu"}, {"sort", "-gm"}, {"sort", "-gmu"}, {"sort", "-gc"}, {"sort", "-gC"}, {"sort", "-gcu"},
		{"sort", "-cg", "-k2,2"}, {"sort", "-gcr"},
		{"sort", "-gn"}, {"sort", "-gh"}, {"sort", "-gM"}, {"sort", "-gV"}, {"sort", "-gd"}, {"sort", "-gi"}, {"sort", "-k1gn"},
		{"sort", "-k1,1gh"}, {"sort", "-n", "-k1,1g"}, {"sort", "-g", "-k1,1M"}, {"sort", "-k2Vg"},
	})
	// Long keys near a rounding boundary (the tie 1+2^-64, a tail of
	// digits after it) are rounded from longer and longer prefixes of
	// their digits: above the tie from the first digit that is not 0,
	// below it from the first that is not 9. -s keeps each value's lines
	// in input order: a key rounded the other way moves.
	const tie = "1.0000000000000000000542101086242752217003726400434970855712890625"
	var near strings.Builder
	for i, n := range []int{1, 60, 200, 1000, 4000, 11000, 20000} {
		fmt.Fprintf(&near, "%s%s1 %d\n%s4%s %d\n1 %d\n1.0000000000000000001 %d\n", tie, strings.Repeat("0", n), i, tie[:len(tie)-1], strings.Repeat("9", n), i, i, i)
		fmt.Fprintf(&near, "0.0001%s%s1e4 %d\n", strings.TrimPrefix(tie, "1."), strings.Repeat("0", n), i)
	}
	checkCross(t, []string{near.String()}, [][]string{{"sort", "-s", "-k1,1g"}, {"sort", "-k2,2", "-k1,1g"}, {"sort", "-k1,1gr"}})
	// Each spelling of a NaN among NaNs of other bits and numbers.
	var nans []string
	for _, s := range sortGNumNaNs {
		nans = append(nans, s+"\n"+sortGNumNaNOthers)
	}
	checkCross(t, nans, [][]string{{"sort", "-g"}, {"sort", "-gr"}, {"sort", "-gu"}, {"sort", "-gf"}})
	// The same through runs spilled to disk and merged.
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 1000, SortMinBytes: -1, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}}
	var nonan []string
	for _, l := range sortGNumLines {
		if !strings.Contains(l, "nan") {
			nonan = append(nonan, l)
		}
	}
	big := bytes.Repeat([]byte(strings.Join(nonan, "\n")+"\n"), spillCopies(40))
	for _, argv := range [][]string{{"sort", "-g"}, {"sort", "-gu"}, {"sort", "-gr"}, {"sort", "-g", "-s", "-k1,1"}, {"sort", "-k1,1g", "-k1,1r"}} {
		computetest.DiffGNUEnv(t, cfg, big, argv...)
	}
}

// TestGNUText14SortUniqueNaNTwins: sort -u writes every line whose -g
// key is a NaN, also after a line with the same NaN (nan and NAN, nan(1)
// and NaN(0x1), or the same line twice). GNU 9.1's write_unique compares
// the two long doubles by 16 bytes of which strtold filled 10, and the
// other 6 never matched there; -m -u and -c -u compare them equal, as
// before. Found running coreutils' tests/sort/sort-NaN-infloop.sh's
// input through every sort command line of tests/sort/sort.pl. We
// dropped the second line.
func TestGNUText14SortUniqueNaNTwins(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"nan\nnan\n", "NAN\nnan\n-nan\n-NaN\nnan(1)\nNaN(0x1)\nnan(x)\n",
		"1 nan\n1 NAN\n2 nan\nx\nx\n1 nan\n", "nan a\nnan b\nNAN a\ninf\ninf\n",
		"nan\x00nan\x00NAN\x00", "",
	}
	checkCross(t, inputs, [][]string{
		{"sort", "-gu"}, {"sort", "-gsu"}, {"sort", "-u", "-k1,1g"}, {"sort", "-u", "-k2,2g"}, {"sort", "-u", "-k1,1", "-k2,2g"},
		{"sort", "-u", "-k1,1g", "-k2,2"}, {"sort", "-zgu"}, {"sort", "-gfu"}, {"sort", "-u", "-k1,1n", "-k2g"},
		{"sort", "-gum"}, {"sort", "-gcu"}, {"sort", "-gCu"}, {"sort", "-g"}, {"sort", "-gs"},
	})
	// The same through runs spilled to disk and merged: every NaN line
	// is written, as GNU writes them from one buffer.
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 1000, SortMinBytes: -1, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}}
	big := bytes.Repeat([]byte("nan\n1\nNAN\nx\nnan\n"), spillCopies(4000))
	computetest.DiffGNUEnv(t, cfg, big, "sort", "-gu")
}
