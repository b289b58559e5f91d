package builtin_test

import (
	"strings"
	"testing"
)

// Cases from a mutation hunt over the text filters, the digests, the
// spool and the engine: each command's code was changed by hand, one
// small semantic change at a time (an off-by-one, a special case dropped,
// a flag's effect flipped), and the package tests run. These cases kill
// the changes that no test noticed although GNU's output differs; each is
// compared with the installed GNU tool (checkCases), never with written
// output.

// mutCases makes one case for each argv on each input.
func mutCases(argvs [][]string, inputs ...string) []diffCase {
	var cases []diffCase
	for _, argv := range argvs {
		for _, in := range inputs {
			cases = append(cases, diffCase{argv: argv, input: []byte(in)})
		}
	}
	return cases
}

// TestMutationTailZeroHeaders: GNU tail -n 0 (or -c 0) stops before it
// prints anything, -v's header and the headers of several "-" operands
// included; -n +0 is not such a count (it prints from the start, header
// first).
func TestMutationTailZeroHeaders(t *testing.T) {
	t.Parallel()
	checkCases(t, mutCases([][]string{
		{"tail", "-n", "0", "-v"}, {"tail", "-c", "0", "-v"}, {"tail", "-n0", "-", "-"}, {"tail", "-c0", "-", "-", "-"},
		{"tail", "-v", "-n", "0", "-"}, {"tail", "-n", "+0", "-v"}, {"tail", "-c", "+0", "-", "-"}, {"tail", "-0", "-"},
	}, "", "a\nb\n", "x"))
}

// TestMutationTailFromStartSticky: in GNU tail a "+" count sets "from
// the start" for good: a later -n or -c count with a "-" sign (or none)
// changes the number, not the direction.
func TestMutationTailFromStartSticky(t *testing.T) {
	t.Parallel()
	checkCases(t, mutCases([][]string{
		{"tail", "-n", "+2", "-n", "-1"}, {"tail", "-c", "+2", "-c", "-1"}, {"tail", "-n", "+3", "-c", "-2"},
		{"tail", "-c", "+2", "-n", "1"}, {"tail", "--lines=+2", "--bytes=-3"},
	}, "a\nb\nc\nd\n", "abcdef", ""))
}

// TestMutationSysvSumFolds: cksum -a sysv folds the 32-bit byte sum to
// 16 bits twice, as GNU's sum -s: the first fold of a sum of 0x1ffff
// (514 bytes 0xff and a 0x01) carries into bit 16 again.
func TestMutationSysvSumFolds(t *testing.T) {
	t.Parallel()
	carry := strings.Repeat("\xff", 514) + "\x01"
	checkCases(t, mutCases([][]string{{"cksum", "-a", "sysv"}, {"cksum", "-a", "sysv", "-"}},
		carry, strings.Repeat("\xff", 257), strings.Repeat("\xff", 70000)))
}

// TestMutationTrOneByteRanges: a range whose ends are the same byte is
// that byte (GNU refuses only a reversed one), in SET1, SET2, -d and -s.
func TestMutationTrOneByteRanges(t *testing.T) {
	t.Parallel()
	checkCases(t, mutCases([][]string{
		{"tr", "a-a", "x"}, {"tr", "ab", "x-x"}, {"tr", "-d", "b-b"}, {"tr", "-s", "a-ab-b"}, {"tr", "a-ac-c", "x-xz"},
		{"tr", "-d", "\\000-\\000"}, {"tr", "b-a", "x"},
	}, "aabbcc\x00\n"))
}

// TestMutationTrSet2Extended: a SET2 shorter than SET1 is extended with
// its last byte: a range's upper end, a repeat's byte, an escape's.
func TestMutationTrSet2Extended(t *testing.T) {
	t.Parallel()
	checkCases(t, mutCases([][]string{
		{"tr", "a-f", "x-y"}, {"tr", "abcdef", "A-C"}, {"tr", "a-f", "[x*2]y-z"}, {"tr", "a-f", "p[q*2]"}, {"tr", "a-f", "\\101-\\103"},
		{"tr", "-s", "a-f", "x-y"}, {"tr", "-c", "a", "x-z"},
	}, "abcdefg\n"))
}

// TestMutationTrDeleteSqueezeComplement: with -d -s -c the complement is
// SET1's (what is deleted); SET2, the bytes squeezed, is taken as given.
func TestMutationTrDeleteSqueezeComplement(t *testing.T) {
	t.Parallel()
	checkCases(t, mutCases([][]string{
		{"tr", "-dcs", "a", "b"}, {"tr", "-dcs", "a-c", "b"}, {"tr", "-d", "-s", "-c", "[:lower:]", "[:lower:]"}, {"tr", "-cds", "\\n", "x"},
	}, "aabbbccdd  xx\n\n", "bbaa\x00\x00b"))
}

// TestMutationTrEscapes: each of tr's backslash escapes names its byte.
func TestMutationTrEscapes(t *testing.T) {
	t.Parallel()
	checkCases(t, mutCases([][]string{
		{"tr", "\\a\\b\\f\\n\\r\\t\\v", "abfnrtv"}, {"tr", "-d", "\\v"}, {"tr", "abfnrtv", "\\a\\b\\f\\n\\r\\t\\v"}, {"tr", "-d", "\\q\\\\"},
	}, "\a\b\f\n\r\t\v abfnrtvq\\"))
}

// TestMutationSortEndSkipsBlanks: a key's end character is counted after
// the blanks that start its field when b applies to the end (the end's
// own b, or a global -b with no letters on the key).
func TestMutationSortEndSkipsBlanks(t *testing.T) {
	t.Parallel()
	checkCases(t, mutCases([][]string{
		{"sort", "-k2,2.1b"}, {"sort", "-b", "-k2,2.1"}, {"sort", "-k2b,2.2b"}, {"sort", "-t,", "-k2,2.2b"}, {"sort", "-k2,2.1"},
	}, "a  zb\nb  ya\nc \txc\nd ,  wd\ne\n", "a,  b\nb, a\nc,\t c\n"))
}

// TestMutationCutComplementAdjacent: --complement of ranges that touch
// (1-2,3-4: GNU merges overlapping ranges only) leaves no empty range
// between them: no field of it printed, no output delimiter for it.
func TestMutationCutComplementAdjacent(t *testing.T) {
	t.Parallel()
	checkCases(t, mutCases([][]string{
		{"cut", "-b", "1-2,3-4", "--complement"}, {"cut", "-b", "1-2,3-4", "--complement", "--output-delimiter=:"},
		{"cut", "-f", "1-2,3-4", "--complement"}, {"cut", "-f", "2,3,5", "--complement", "-d", ","},
		{"cut", "-b", "2,3", "--complement", "--output-delimiter=::"}, {"cut", "-c", "3-4,1-2,6", "--complement"},
	}, "abcdefgh\nab\n", "a\tb\tc\td\te\tf\n", "a,b,c,d,e,f\n"))
}

// TestMutationUniqZeroFieldsNewline: under -z a newline inside a record
// is a blank that separates the fields -f skips, as GNU's field_sep.
func TestMutationUniqZeroFieldsNewline(t *testing.T) {
	t.Parallel()
	checkCases(t, mutCases([][]string{
		{"uniq", "-z", "-f", "1"}, {"uniq", "-z", "-f1", "-c"}, {"uniq", "-z", "-f", "2", "-d"}, {"uniq", "-z", "-f1", "-s1"},
	}, "x\na\x00y\nb\x00z\nb\x00w\n\nb\x00", "1\n2\n3\x004\n2\n3\x00"))
}

// TestMutationSortFoldPunctuation: -f folds lower case to upper case
// only, so '_' (between 'Z' and 'a') sorts before '`', '{', '|', '}',
// '~', DEL and the bytes over 0x7f, and after every letter: in the first
// 8 bytes (which sort orders by a precomputed prefix), past them, and in
// a second key.
func TestMutationSortFoldPunctuation(t *testing.T) {
	t.Parallel()
	var short, long, keyed strings.Builder
	for _, c := range []string{"_", "~", "`", "{", "|", "}", "\x7f", "\x80", "a", "Z", "^", "[", "_a", "_{"} {
		short.WriteString(c + "\n")
		long.WriteString("prefix-Of-8:" + c + "\n")
		keyed.WriteString("k " + c + "\n")
	}
	checkCases(t, mutCases([][]string{
		{"sort", "-f"}, {"sort", "-fu"}, {"sort", "-k1f"}, {"sort", "-fr"}, {"sort", "-f", "-s"}, {"sort", "-k1,1", "-k2f"},
	}, short.String(), long.String(), keyed.String()))
}

// TestMutationBase64LastWrap: of several -w the last one counts, and
// every one must be a valid size.
func TestMutationBase64LastWrap(t *testing.T) {
	t.Parallel()
	checkCases(t, mutCases([][]string{
		{"base64", "-w", "4", "-w", "10"}, {"base64", "-w", "0", "-w", "5"}, {"base64", "-w5", "--wrap=0"}, {"base64", "-w", "3", "-w", "x"},
		{"base64", "-w", "-1", "-w", "8"},
	}, "0123456789abcdefghijklmnopqrstuvwxyz"))
}
