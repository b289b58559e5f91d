package builtin_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
)

// The differences a GNU-oracle sweep of the text filters and digests
// found (hunt-text3), each against GNU coreutils 9.1 on its own inputs.

// TestHuntText3CksumLastAlgorithm: GNU's last -a wins, so an -a sm3 that
// a later -a replaces is GNU's success with the later algorithm (sm3 was
// refused as soon as it was read when halfclose had no SM3), and an sm3
// that stays is GNU's SM3, or the error of the checks GNU makes (-l
// without blake2b).
func TestHuntText3CksumLastAlgorithm(t *testing.T) {
	t.Parallel()
	checkCross(t, []string{"abc", ""}, [][]string{
		{"cksum", "-a", "sm3", "-a", "md5"},
		{"cksum", "--algorithm=sm3", "-a", "blake2b", "-l", "16"},
		{"cksum", "-a", "sm3", "--untagged", "-a", "crc"},
		{"cksum", "-a", "sm3", "-a", "sysv", "-"},
		{"cksum", "-a", "sm3", "-a", "bogus"},
		{"cksum", "-a", "md5", "-a", "sm3"},
		{"cksum", "-a", "blake2b", "--algorithm=sm3", "--untagged", "-"},
	})
	for _, c := range []struct{ line, want string }{
		{"cksum -a sm3 -l 8", "only supported with --algorithm=blake2b"},
	} {
		_, err := computetest.RunPipeline(t, c.line, []byte("abc"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", c.line, err, c.want)
		}
	}
}

// The sweep's tables: what the generated run (gnudiff_test.go) draws
// rarely or never, each checked against GNU. They found nothing but the
// case above; they stay as the coverage the sweep established.

// TestHuntText3TrSets: tr's sets as GNU reads them: repeats in SET2
// ([c*], [c*n] with octal and zero counts, after a class), [=c=] of
// special bytes, escapes (\ooo over \377, a lone trailing \), ranges
// of one byte and of escapes, classes in SET2 ([:upper:] and
// [:lower:] only, aligned), -t with classes, -c/-C with repeats that
// fill the complement, -s with SET2.
func TestHuntText3TrSets(t *testing.T) {
	t.Parallel()
	inputs := []string{"hello World-a\\b[]=*: 123\n\taabbcc\n", "\x00\x80\xff\x7fA-z\x00\x00\n"}
	checkCross(t, inputs, [][]string{
		{"tr", "lo", "[x*]"}, {"tr", "lo", "[x*1]"}, {"tr", "lo", "[x*0]"}, {"tr", "lo", "[x*010]a"}, {"tr", "lo", "[x*]y"},
		{"tr", "a-z", "[x*5][y*]z"}, {"tr", "[l*2]", "ab"}, {"tr", "[=l=]o", "xy"}, {"tr", `\1541`, "xy"}, {"tr", `\400`, "xy"},
		{"tr", `l\`, "xy"}, {"tr", `\q`, "x"}, {"tr", `\n\t\r\a\b\f\v\\`, "abcdefgh"}, {"tr", "a-a", "x"}, {"tr", "a-", "xy"},
		{"tr", "--", "-a", "xy"}, {"tr", "-t", "abcdefghijklmnop", "xy"}, {"tr", "-t", "a", "xyz"}, {"tr", "-c", "lo", "xy"},
		{"tr", "-c", "lo", "[x*]"}, {"tr", "-cs", "lo", `\n`}, {"tr", "-Cd", "lo"}, {"tr", "-ds", "l", "o"},
		{"tr", "[:upper:][:lower:]", "[:lower:][:upper:]"}, {"tr", "-t", "[:lower:]", "xy"}, {"tr", "-t", "a-z", "[:upper:]"},
		{"tr", "[:lower:]a", "[:upper:]x"}, {"tr", "A[:lower:]", "x[:upper:]"}, {"tr", "[:lower:]", "[:upper:]-"},
		{"tr", "-s", "[:upper:]", "[:lower:]"}, {"tr", "-c", "a", "[x*254]yz"}, {"tr", "-c", "a", "[x*255]yz"},
		{"tr", "-c", "ab", "[x*256]yz"}, {"tr", "-c", `\000-\377`, "x"}, {"tr", `\000-\377`, "a-z"}, {"tr", "-d", `\200-\377`},
		{"tr", `\200-\377`, "[x*]"}, {"tr", "-s", "a-c", "xxz"}, {"tr", "-ts", "a-c", "xx"}, {"tr", "aba", "xyz"},
		{"tr", "[=*=]", "x"}, {"tr", "[=[=]", "x"}, {"tr", "[=]=]", "x"}, {"tr", "[=:=]", "x"}, {"tr", "[:", "yz"},
		{"tr", "[=a=", "yzwv"}, {"tr", `\0000`, "xy"}, {"tr", `\08`, "xy"}, {"tr", "a-\\142", "xy"}, {"tr", "[]*2]", "xy"},
		{"tr", "abc", "[\\*2]z"}, {"tr", "abc", "[-*2]z"}, {"tr", "abc", "[y*018]"}, {"tr", "abc", "[y*07]"},
		{"tr", "-s", `\n\000`, "x"}, {"tr", "-Cs", "[:alnum:]", `[\n*]`}, {"tr", "--comp", "l", "x"}, {"tr", "--trunc", "lo", "x"},
	})
}

// TestHuntText3CutUniq: cut's overlapping and adjacent ranges with an
// output delimiter, --complement past the last field, a NUL delimiter
// (an empty -d), newline as the delimiter under -z; uniq's -f/-s/-w together,
// obsolete -N/+N, the group methods, counts of lines without a final
// newline.
func TestHuntText3CutUniq(t *testing.T) {
	t.Parallel()
	checkCross(t, []string{"a,b,c,d,e\nabcdef\nnodelim\n,\n\na\x00b\x00c,x\n", "a:b\nb", ""}, [][]string{
		{"cut", "-d,", "-f-3,5-"}, {"cut", "-d,", "-f2,2,1-3"}, {"cut", "-d,", "-f", "1-2,4", "--comp"},
		{"cut", "-d,", "-f2-", "--output-delimiter=::"}, {"cut", "-d,", "-f2-", "--out="}, {"cut", "-c1-2,2-4", "--output-delimiter=:"},
		{"cut", "-c1-2,3-4", "--output-delimiter=|"}, {"cut", "-b4-5,2-3", "--output-delimiter=|"}, {"cut", "-b-2,5-", "--complement", "--output-delimiter=:"},
		{"cut", "-d,", "-f9", "--complement"}, {"cut", "-d,", "-f1-9", "--complement", "-s"}, {"cut", "-d", "", "-f2"},
		{"cut", "-d", "", "-f1,3", "--output-delimiter=:"}, {"cut", "-zd", "\n", "-f2"}, {"cut", "-zd", "\n", "-f2", "-s"},
		{"cut", "-sd,", "-f2"}, {"cut", "--delim", ",", "--fie", "2"}, {"cut", "-d:", "-f1", "-d,"}, {"cut", "-nb1"},
		{"uniq", "-f1", "-s1", "-w1"}, {"uniq", "-2"}, {"uniq", "-1c"}, {"uniq", "+1", "-"}, {"uniq", "--ch=1"},
		{"uniq", "--group=both"}, {"uniq", "--group=prepend", "-z"}, {"uniq", "--all-repeated=separate"}, {"uniq", "-zc"},
		{"uniq", "-w0", "-c"}, {"uniq", "-s", "99999999999999999999999"},
	})
}

// TestHuntText3Numbers: numbers as GNU's xstrtol family reads them for
// each tool: signs, blanks, suffixes (b, kB, KiB, the ones past 2^64),
// overflow, and the tools that take none (uniq, base64 -w, cut).
func TestHuntText3Numbers(t *testing.T) {
	t.Parallel()
	var argvs [][]string
	for _, n := range []string{"1kB", "1KB", "1kb", "1KiB", "1Kib", "1B", "1w", "0b", "1e", "8EiB", "7EiB", "1ZB", "1R", "1Q", " 3", "3 ", "0x3", "03", "+-1", "-+1", "--1"} {
		argvs = append(argvs, []string{"head", "-c", n}, []string{"tail", "-n", n})
	}
	for _, n := range []string{"+1", "-0", " 1", "01", "0x1", "1b", "18446744073709551616", "9223372036854775808"} {
		argvs = append(argvs, []string{"uniq", "-w", n}, []string{"base64", "-w", n})
	}
	argvs = append(argvs, []string{"cut", "-b", "1-1K"}, []string{"cut", "-b", "-0"}, []string{"cut", "-f", "18446744073709551614-"},
		[]string{"tr", "a", "[b*18446744073709551614]"}, []string{"tr", "a", "[b*0777777777777777777777]"},
		[]string{"sort", "-k18446744073709551616"}, []string{"sort", "-k1,18446744073709551616"})
	checkCross(t, []string{"1\n2\n3\n4\n5", "abc\nab\nac\n"}, argvs)
}

// TestHuntText3Obsolete: head's and tail's obsolete first words GNU's
// parse_obsolete_option takes (a unit with no count: -b is 5120 bytes,
// + is +10 lines; a suffix counted by xstrtoumax: -5b is 2560 bytes)
// and the ones it leaves to getopt.
func TestHuntText3Obsolete(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 700 {
		fmt.Fprintf(&b, "line%d %s\n", i, strings.Repeat("x", i%31))
	}
	argvs := [][]string{
		{"tail", "-b"}, {"tail", "-l"}, {"tail", "+b"}, {"tail", "+c"}, {"tail", "+l"}, {"tail", "+"}, {"tail", "-cc"},
		{"tail", "-5", "--", "-"}, {"tail", "+5", "-"}, {"tail", "-5b"}, {"tail", "-0b"}, {"tail", "+0"}, {"tail", "+01l"},
		{"tail", "-99999999999999999999b"}, {"tail", "-36028797018963968b"}, {"tail", "-1k"}, {"tail", "-3z"}, {"tail", "-5", "+3"},
		{"head", "-5vq"}, {"head", "-5qv"}, {"head", "-5bk"}, {"head", "-5kb"}, {"head", "-5mq"}, {"head", "-5lc"},
		{"head", "-5cl"}, {"head", "-5", "-n", "2"}, {"head", "-n", "2", "-1"},
	}
	checkCross(t, []string{b.String(), "a\nb"}, argvs)
}

// TestHuntText3Blocks: runs of one byte, fields and lines that cross the
// filters' 64 KiB read blocks (a squeeze, a line, a field, a separator
// or a word split between two reads), and base64 decoding of padded
// quanta, whitespace and garbage spread over them.
func TestHuntText3Blocks(t *testing.T) {
	t.Parallel()
	runs := strings.Repeat("a", 200000) + strings.Repeat("b", 70000) + strings.Repeat("\n", 70000) + "c"
	fields := strings.Repeat("x", 65535) + " " + strings.Repeat("y", 65537) + strings.Repeat("\t", 70000) + "z\n" +
		strings.Repeat("a,", 100000) + "\n" + strings.Repeat("b", 131072) + ",c\n"
	var cases []diffCase
	add := func(in string, argvs ...[]string) {
		for _, argv := range argvs {
			cases = append(cases, diffCase{argv: argv, input: []byte(in)})
		}
	}
	add(runs, []string{"tr", "-s", "a"}, []string{"tr", "-cs", "b", "x"}, []string{"tr", "-ds", "b", "a"}, []string{"uniq", "-c"},
		[]string{"wc", "-L"}, []string{"cut", "-c", "199999-200002"}, []string{"tac", "-s", "aa"}, []string{"tac", "-bs", "aaa"},
		[]string{"tail", "-n", "69999"}, []string{"head", "-n", "-69999"})
	add(fields, []string{"wc"}, []string{"cut", "-f", "2"}, []string{"cut", "-d", " ", "-f", "2-"}, []string{"cut", "-d,", "-f", "99999-"},
		[]string{"cut", "-d,", "-f", "100000-", "--output-delimiter=XY"}, []string{"tr", "-s", "[:blank:]", " "}, []string{"uniq", "-f1"})
	// base64: padded quanta back to back, newlines, garbage (-i)
	var b64 strings.Builder
	quanta := []string{"YQ==", "YWI=", "YWJj", "\n"}
	for i := range 30000 {
		b64.WriteString(quanta[(i*7+i/5)%len(quanta)])
	}
	add(b64.String(), []string{"base64", "-d"}, []string{"base64", "-di"})
	var noisy strings.Builder
	for i := range 30000 {
		noisy.WriteString(quanta[(i*7+i/5)%len(quanta)])
		if i%97 == 0 {
			noisy.WriteString("*=\x00")
		}
	}
	add(noisy.String(), []string{"base64", "-di"}, []string{"base64", "-d"})
	checkCases(t, cases)
}

// TestHuntText3SumBlocks: cksum's legacy sums print their size in 512-
// (sysv) and 1024-byte (bsd) blocks, rounded up: sizes on each side of
// those boundaries, with every output option.
func TestHuntText3SumBlocks(t *testing.T) {
	t.Parallel()
	var inputs []string
	for _, n := range []int{0, 1, 511, 512, 513, 1023, 1024, 1025} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + 3)
		}
		inputs = append(inputs, string(b))
	}
	checkCross(t, inputs, [][]string{
		{"cksum", "-a", "sysv"}, {"cksum", "-a", "bsd"}, {"cksum", "-a", "sysv", "--tag"}, {"cksum", "-a", "bsd", "--untagged"},
		{"cksum", "-a", "bsd", "-z"}, {"cksum", "-a", "sysv", "-", "-"}, {"cksum", "-a", "crc", "--tag"},
		{"cksum", "-a", "blake2b", "-l", "8", "--tag"}, {"cksum", "-a", "sha384", "-z", "--untagged"},
	})
}

// TestHuntText3TailFollowWord: GNU takes a first word ending in f as the
// obsolete form (follow: refused here from a regular file, which GNU
// follows for ever; from a pipe plain tail, TestGNUTailFollowPipe) only
// when nothing follows the f; -fn3 and -cfq are getopt's (-f then -n 3;
// -c with the value "fq", an invalid count), so the error names -f, or
// the count, as GNU's does, not the whole word as a following flag.
func TestHuntText3TailFollowWord(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		argv []string
		want string // in our error
	}{
		{[]string{"tail", "-fn3"}, `unsupported flag "-f"`},
		{[]string{"tail", "-vf"}, `unsupported flag "-f"`},
		{[]string{"tail", "-cfq"}, `invalid number of bytes "fq"`},
		{[]string{"tail", "-nfz"}, `invalid number of lines "fz"`},
		{[]string{"tail", "-3f"}, `unsupported flag "-3f"`},
		{[]string{"tail", "+f"}, `unsupported flag "+f"`},
	} {
		_, _, _, err := computetest.RunPipelineDiag(t, engine.Config{}, shquote.Join(c.argv), []byte("a\n"), true)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %s", c.argv, err, c.want)
		}
		if !strings.Contains(c.want, "invalid") {
			continue // GNU follows (its stdin here is a regular file): not run
		}
		if _, gnuErr, gnuCode := computetest.GNUStatusStderr(t, []byte("a\n"), c.argv...); gnuCode == 0 || !strings.Contains(string(gnuErr), "invalid number of") {
			t.Errorf("%q: GNU exit %d, %q: not the invalid count this test names", c.argv, gnuCode, gnuErr)
		}
	}
}
