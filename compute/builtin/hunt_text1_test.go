package builtin_test

import (
	"bytes"
	"strings"
	"testing"
)

// Hand-written acceptance cases for sort, uniq, wc, head, tail and tac,
// from a hunt for differences from GNU that the generators
// (gnudiff_test.go, pipediff_test.go) do not draw: inputs built for one
// ordering (month names, version strings, unit suffixes, numbers of a
// thousand digits), separators placed on GNU tac's 8 KiB block
// boundaries, field separators that are digits or signs, and the option
// spellings a user types (long names and their prefixes, --, obsolete
// forms, flags after operands). Each is compared with the installed GNU
// tool (checkCross, checkCases). The hunt found no difference; these keep
// it so.

// TestHuntText1SortOrderings: -V, -h, -n, -g and -M over inputs made of
// the cases their comparisons treat apart.
func TestHuntText1SortOrderings(t *testing.T) {
	t.Parallel()
	versions := strings.Join([]string{"", ".", "..", ".a", "a", "~", "~~", "a~", "a~b", "1", "01", "001", "1.0", "1.00",
		"1.0.0", "1..0", "1.0.", ".1", "1~", "1~rc", "1-rc", "1a", "1A", "1.a", "a1", "0", "00",
		"18446744073709551616", "99999999999999999999999999", "099999999999999999999999999", "x.tar.gz", "x.tar",
		"x.tar.gz~", "x.1.tar.gz", "x.10.tar.gz", "x-1.2.tar.xz.sig", ".tar.gz", "a.~1", "a.1~", "foo.", "foo..",
		"\xff", "a\xff1", "-1", "+1", " 1", "\t1", "1 ", "v1.10", "1.2.3.4.5.6.7.8.9.10", "1.2.3.4.5.6.7.8.9.9",
		"#1", "~1", "Z~", "a..tar"}, "\n") + "\n"
	human := strings.Join([]string{"1", "1K", "1k", "1KB", "1Ki", "1000", "1024", "0.5K", ".5K", "1.5K", "1,5K",
		"-1K", "-1", "-1M", "-0", "-0K", "0K", "K", "k", "-K", "1e3", "1E", "1Z", "1Y", "1R", "1P", "1m", "1g",
		"1.9999M", "1 K", " 1K", "+1K", "01K", "1.K", "999999999999999999999K", "1\x80000K", "1\x80K", "", "1Kx",
		"-", "1b"}, "\n") + "\n"
	numbers := strings.Join([]string{"1" + strings.Repeat("0", 1000), "1" + strings.Repeat("0", 999) + "1",
		strings.Repeat("9", 999), "-" + strings.Repeat("9", 999), "0." + strings.Repeat("0", 500) + "1",
		"0." + strings.Repeat("0", 500), "-0." + strings.Repeat("0", 500) + "1", "0", "-0", "-0.0", "-.0",
		"-.", "-", "0.", ".", "00000000000000000000000001", "1.0000000000000000000000001", "+0", "+1", "--1",
		" -1", "- 1", "\t\t-2", "\v3", "\f4", "\r5", "1\x802", "1\x80\x802", "\x801", "1.\x802", "1e5", "0x10",
		"1,000", "1..5", "abc", "", "1 2", "-12a", "\xe2\x88\x921"}, "\n") + "\n"
	months := strings.Join([]string{"JAN", "jan", "JANUARY", "JANx", "JA", " JAN", "\tFEB", "\vMAR", "\rAPR",
		"MAY", "SEPT", "DEC", "DE", "", "foo", "1", "jAn", "\xffJAN", "feb ", "MAR\x00", "ja n"}, "\n") + "\n"
	checkCross(t, []string{versions}, [][]string{{"sort", "-V"}, {"sort", "-Vr"}, {"sort", "-Vu"}, {"sort", "-Vf"}, {"sort", "-Vb"}, {"sort", "-Vd"}})
	checkCross(t, []string{human}, [][]string{{"sort", "-h"}, {"sort", "-hu"}, {"sort", "-hf"}, {"sort", "-k1h"}, {"sort", "-h", "-k1,1.2"}})
	checkCross(t, []string{numbers}, [][]string{{"sort", "-n"}, {"sort", "-nu"}, {"sort", "-nr"}, {"sort", "-k1.2n"}, {"sort", "-gu"}, {"sort", "-hu"}})
	checkCross(t, []string{months}, [][]string{{"sort", "-M"}, {"sort", "-Mu"}, {"sort", "-Mr"}, {"sort", "-Mb"}, {"sort", "-k1.2M"}, {"sort", "-Mz"}})
}

// TestHuntText1SortSeparators: -t a digit, sign, point or exponent
// letter, which cuts the number a key reads (a key without an end runs
// to the line's end, over the separator).
func TestHuntText1SortSeparators(t *testing.T) {
	t.Parallel()
	in := "1.5\n1.10\n-2.3\n10.1\n1-2\n-1-3\n2-1\n1,5\n1,05\n 3.3\n3 .3\n0.0.1\n1K.5\n2M-1\n1e3.1\n\n.\n-\n"
	checkCross(t, []string{in}, [][]string{
		{"sort", "-t.", "-k1n"}, {"sort", "-t.", "-k1,1n"}, {"sort", "-t.", "-k2,2n", "-k1,1n"}, {"sort", "-t-", "-n"},
		{"sort", "-t-", "-k2n"}, {"sort", "-t-", "-k2g"}, {"sort", "-t.", "-k1,1g"}, {"sort", "-t0", "-k2n"}, {"sort", "-t1", "-n"},
		{"sort", "-tK", "-k1h"}, {"sort", "-t.", "-k2V"}, {"sort", "-te", "-k1,1g"}, {"sort", "-t.", "-k2.2,2.3n"},
		{"sort", "-t.", "-k1,1g", "-u"}, {"sort", "-t-", "-k1,1n", "-u", "-r"},
	})
}

// TestHuntText1TacBlocks: tac with separators of two bytes or more, or
// -b, placed on and beside GNU's 8 KiB block boundaries (counted from
// the end, the first block the size modulo 8 KiB), where a separator
// that overlaps itself can match across them.
func TestHuntText1TacBlocks(t *testing.T) {
	t.Parallel()
	build := func(size int, sep string) string {
		b := bytes.Repeat([]byte("xyz"), size/3+1)[:size]
		put := func(p int) {
			if p >= 0 && p+len(sep) <= size {
				copy(b[p:], sep)
			}
		}
		for k := 0; k <= size/8192+1; k++ {
			for d := -3; d <= 2; d++ {
				put(k*8192 + d)
				put(size%8192 + k*8192 + d)
			}
		}
		put(0)
		put(size - len(sep))
		return string(b)
	}
	var cases []diffCase
	add := func(in string, argvs ...[]string) {
		for _, argv := range argvs {
			cases = append(cases, diffCase{argv: argv, input: []byte(in)})
		}
	}
	add(build(8192*3+100, "ab"), []string{"tac", "-s", "ab"}, []string{"tac", "-s", "ab", "-b"}, []string{"tac", "-bs", "b"})
	add(build(8192*2, "ab"), []string{"tac", "-s", "ab"}, []string{"tac", "-s", "ab", "-b"})
	add(build(8192*5+7, "\n\n"), []string{"tac", "-s", "\n\n"}, []string{"tac", "-s", "\n\n", "-b"}, []string{"tac", "-b"})
	add(build(8192*2+1, "aa"), []string{"tac", "-s", "aa"}, []string{"tac", "-s", "aa", "-b"}, []string{"tac", "-s", "aaa", "-b"})
	add(strings.Repeat("a", 20000)+"b"+strings.Repeat("a", 8191)+"\n",
		[]string{"tac", "-s", "aa"}, []string{"tac", "-s", "aaaa", "-b"}, []string{"tac", "-s", "ba", "-b"})
	add(strings.Repeat("\n\n\nx", 5000), []string{"tac", "-s", "\n\n\n"}, []string{"tac", "-s", "\n\n", "-b"}, []string{"tac", "-s", "\nx", "-b"})
	checkCases(t, cases)
}

// TestHuntText1Spellings: option spellings and placements as users type
// them, each on inputs with and without a final newline.
func TestHuntText1Spellings(t *testing.T) {
	t.Parallel()
	inputs := []string{"b 2 x\na 10 y\nc 1 z\na 2 w\n b 3 v\nA 2 w\na 2 w\n", "x:3:c\ny:1:a\nz:2:b\nw::d\nv:10:e"}
	checkCross(t, inputs, [][]string{
		{"sort", "--key=2,2n", "--reverse"}, {"sort", "--ke=2", "--rev"}, {"sort", "--field-separator=:", "-k2n"},
		{"sort", "--field-separator", ":", "--key", "3"}, {"sort", "-nrk2"}, {"sort", "-nt:", "-k2"}, {"sort", "-ut:", "-k2,2"},
		{"sort", "-t:", "+1n", "-2"}, {"sort", "+1", "-2", "-t:"}, {"sort", "-t:", "+1.1", "-2"}, {"sort", "+0b", "-1b"},
		{"sort", "-", "-r"}, {"sort", "-r", "--"}, {"sort", "--sort=num"}, {"sort", "-k2.3b,2.5nr"}, {"sort", "-k1,1.0"},
		{"sort", "-k2,1"}, {"sort", "-k1b,1b", "-b"}, {"sort", "-k99"}, {"sort", "-y5"}, {"sort", "--check=d"},
		{"uniq", "--count", "--ignore"}, {"uniq", "--skip-f=1", "--rep"}, {"uniq", "--skip-c=2", "-c"}, {"uniq", "--check=1", "-D"},
		{"uniq", "-1c1"}, {"uniq", "-c11"}, {"uniq", "+1", "-"}, {"uniq", "-f1", "+2"}, {"uniq", "--group=b", "-w1"},
		{"uniq", "--all-repeated=p", "-f1"}, {"uniq", "-", "-", "-c"},
		{"head", "--line=2"}, {"head", "--by", "1K"}, {"head", "-5cv"}, {"head", "-vq", "-n", "2"}, {"head", "-5", "-n", "2"},
		{"head", "-n", " -0"}, {"head", "--lines=+1"}, {"head", "-00000000000000000000000000000000005"},
		{"tail", "-5", "-"}, {"tail", "-5", "--"}, {"tail", "+5", "--"}, {"tail", "-5c", "--", "-"}, {"tail", "-5", "-n", "2"},
		{"tail", "+0c"}, {"tail", "-n", "0kB"}, {"tail", "--lines=+2"}, {"tail", "+00000000000000000000000000000000005"},
		{"wc", "--max"}, {"wc", "--ch"}, {"wc", "-L", "-"}, {"wc", "--", "-"},
		{"tac", "--sep=:"}, {"tac", "-bs", ":"}, {"tac", "--before", "--separator", "\n"},
	})
}
