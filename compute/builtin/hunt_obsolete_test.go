package builtin_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// The obsolete and undocumented GNU spellings of the commands' flags
// (hunt-obsolete), each against GNU on its own inputs.

// checkFirstErrors runs each argv against GNU, which must fail, and
// wants our error to contain want (the word GNU's message names) and to
// pass refusalVerdict.
func checkFirstErrors(t *testing.T, lines []struct {
	want string
	argv []string
}) {
	t.Helper()
	g := newGNURunner(t)
	for _, l := range lines {
		c := diffCase{argv: l.argv, input: []byte("a\n")}
		r := g.run(t, c)
		switch {
		case !gnuFailed(l.argv[0], r.gnuCode):
			t.Errorf("%s: GNU succeeds (exit %d)", c, r.gnuCode)
		case r.ourErr == nil || !strings.Contains(r.ourErr.Error(), l.want):
			t.Errorf("%s: error %v, want one naming %s, as GNU's %q", c, r.ourErr, l.want, r.gnuErr)
		default:
			if v := refusalVerdict(r); v != "" {
				t.Errorf("%s\n  %s", c, v)
			}
		}
	}
}

// TestHuntObsoleteHeadTailDigits: a digit GNU's head and tail read with
// getopt, not as the obsolete first word (-5 that is not the only
// option of tail, or not the first word of head), fails with GNU's
// message for it before any flag after it: "option used in invalid
// context -- 5" (tail), "invalid trailing option -- 5" (head). We said
// unknown flag "-5", as if GNU did not know it.
func TestHuntObsoleteHeadTailDigits(t *testing.T) {
	t.Parallel()
	checkFirstErrors(t, []struct {
		want string
		argv []string
	}{
		{"option used in invalid context -- 5", []string{"tail", "-5", "-Q"}},
		{"option used in invalid context -- 5", []string{"tail", "-5", "-n", "2"}},
		{"option used in invalid context -- 5", []string{"tail", "-n", "2", "-5"}},
		{"option used in invalid context -- 5", []string{"tail", "-5", "-", "-"}},
		{"option used in invalid context -- 5", []string{"tail", "-q", "-5"}},
		{"option used in invalid context -- 5", []string{"tail", "-5r"}},
		{"option used in invalid context -- 5", []string{"tail", "-5z"}},
		{"option used in invalid context -- 0", []string{"tail", "-v0"}},
		{"option used in invalid context -- 5", []string{"tail", "-5", "-5"}},
		{"option used in invalid context -- 5", []string{"tail", "-5", "--bogus"}},
		{"invalid trailing option -- 5", []string{"head", "-n", "2", "-5"}},
		{"invalid trailing option -- 5", []string{"head", "-q5"}},
		{"invalid trailing option -- 5", []string{"head", "-5", "-5"}},
		{"invalid trailing option -- 1", []string{"head", "-c", "3", "-1", "-Q"}},
	})
	// the forms GNU takes: the obsolete first word, the digits as a
	// value
	checkCross(t, []string{"a1\nb2\nc3\nd4\ne5\nf6\ng7\n", "x"}, [][]string{
		{"tail", "-5"}, {"tail", "+5"}, {"tail", "-5c"}, {"tail", "-5l"}, {"tail", "-5b"}, {"tail", "+5c"}, {"tail", "-c5"},
		{"tail", "-5", "-"}, {"tail", "-5", "--"}, {"tail", "-5", "--", "-"}, {"tail", "-n", "-5"}, {"tail", "-n5"},
		{"head", "-5"}, {"head", "-5c"}, {"head", "-5", "-n", "2"}, {"head", "-5", "-"}, {"head", "-5z"}, {"head", "-n", "-5"},
	})
}

// TestHuntObsoleteGrepMatcher: GNU grep's undocumented -X MATCHER:
// grep, egrep and fgrep are -G, -E and -F (a second, different matcher
// conflicts, the same one does not); perl is -P; the awk ones are
// refused (after the conflict check, as GNU judges it first); a name GNU
// does not know is an invalid matcher. We refused -X whatever its name.
func TestHuntObsoleteGrepMatcher(t *testing.T) {
	t.Parallel()
	checkCross(t, []string{"a|b\nab\nb\nA\n", "x"}, [][]string{
		{"grep", "-X", "grep", "a|b"}, {"grep", "-X", "egrep", "a|b"}, {"grep", "-X", "fgrep", "a|b"}, {"grep", "-Xegrep", "a|b"},
		{"grep", "-E", "-X", "egrep", "a|b"}, {"grep", "-X", "fgrep", "-F", "a|b"}, {"grep", "-G", "-X", "grep", "a|b"},
		{"grep", "-X", "grep", "-X", "grep", "-i", "a"}, {"grep", "-cX", "egrep", "-e", "a|b"},
		{"grep", "-X", "perl", "a|b"}, {"grep", "-P", "-X", "perl", "-o", "a|ab"},
	})
	checkFirstErrors(t, []struct {
		want string
		argv []string
	}{
		{`"foo"`, []string{"grep", "-X", "foo", "a"}}, {`"foo"`, []string{"grep", "-X", "foo", "-Q", "a"}},
		{`"Grep"`, []string{"grep", "-X", "Grep", "a"}}, {`"eg"`, []string{"grep", "-E", "-X", "eg", "a"}},
		{"conflicting matchers", []string{"grep", "-X", "grep", "-E", "a"}},
		{"conflicting matchers", []string{"grep", "-E", "-X", "grep", "a"}},
		{"conflicting matchers", []string{"grep", "-X", "fgrep", "-X", "egrep", "a"}},
		{"conflicting matchers", []string{"grep", "-E", "-X", "perl", "a"}},
		{"conflicting matchers", []string{"grep", "-X", "perl", "-G", "a"}},
		{"conflicting matchers", []string{"grep", "-F", "-X", "awk", "-Q", "a"}},
		{`"-X"`, []string{"grep", "-X"}},
	})
	// refused: the names GNU takes that we do not
	checkCases(t, []diffCase{
		{argv: []string{"grep", "-X", "awk", "a"}, input: []byte("a\n"), refused: true},
		{argv: []string{"grep", "-X", "gawk", "a"}, input: []byte("a\n"), refused: true},
		{argv: []string{"grep", "-X", "posixawk", "a"}, input: []byte("a\n"), refused: true},
	})
}

// TestHuntObsoleteSortKeyWord: an R in either word of an obsolete sort
// key is -R's random order of that key (it was refused, named in its
// word): the lines come out, each once, with equal keys together.
func TestHuntObsoleteSortKeyWord(t *testing.T) {
	t.Parallel()
	in := "b 2\na 1\nc 2\nd 1\ne 3\n"
	for _, line := range []string{"sort +1 -2R", "sort +1R -2", "sort +1R"} {
		got, err := computetest.RunPipeline(t, line, []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		ls := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
		keys := ""
		for _, l := range ls {
			if k := l[len(l)-1:]; !strings.HasSuffix(keys, k) {
				keys += k
			}
		}
		sorted := slices.Clone(ls)
		slices.Sort(sorted)
		if strings.Join(sorted, "\n")+"\n" != "a 1\nb 2\nc 2\nd 1\ne 3\n" || len(keys) != 3 {
			t.Errorf("%s: %q: not the input's lines with equal keys together", line, got)
		}
	}
}

// TestHuntObsoleteForms: the obsolete and undocumented spellings the
// sweep checked that needed no change, kept as its coverage: sort's
// +POS1 -POS2 keys (with letters, overflowing counts, a stray -POS2),
// uniq's -N +N, cut with no list, base64's empty --wrap=, the
// undocumented ---presume-input-pipe and ---disable-inotify, "--".
func TestHuntObsoleteForms(t *testing.T) {
	t.Parallel()
	checkCross(t, []string{"b 2 x\na 10 y\nc 1 z\nb 2 x\n", "x"}, [][]string{
		{"sort", "+1", "-2"}, {"sort", "+0.1", "-1.2"}, {"sort", "+1n"}, {"sort", "-r", "+1"}, {"sort", "+1", "-2", "-r"},
		{"sort", "--", "+1"}, {"sort", "+1", "-x"}, {"sort", "+1."}, {"sort", "+1", "-2", "+0"}, {"sort", "+1", "--", "-2"},
		{"sort", "+18446744073709551616"}, {"sort", "+1", "-18446744073709551616"}, {"sort", "+0.18446744073709551616"},
		{"sort", "+1", "-2", "-2"}, {"sort", "+1", "-2,3"}, {"sort", "+1", "-2."}, {"sort", "+1", "-2.x"}, {"sort", "+1n", "-2M"},
		{"sort", "+0", "-1", "-k1n,1g"}, {"sort", "+1", "-1c"}, {"sort", "+1", "-1.0b"}, {"sort", "+0.1", "-0.0"}, {"sort", "-c", "+1"},
		{"uniq", "-1"}, {"uniq", "+1"}, {"uniq", "-1", "+1"}, {"uniq", "-f1", "-2"}, {"uniq", "--", "+1"}, {"uniq", "-1x"},
		{"uniq", "-1", "-2"}, {"uniq", "+"}, {"uniq", "+1x"}, {"uniq", "-99999999999999999999"}, {"uniq", "-", "+1"},
		{"cut"}, {"cut", "-d,"}, {"cut", "-s"}, {"cut", "--"}, {"base64", "--wrap="}, {"base64", "--wrap=-1"}, {"base64", "-w"},
		{"head", "---presume-input-pipe"}, {"head", "---pre", "-n", "2"}, {"tail", "---dis"}, {"tail", "---"}, {"head", "---"},
		{"head", "--bytes=-0"}, {"tail", "-c", "+0"}, {"tail", "+5", "-n", "2"}, {"tail", "-5", "--", "x"}, {"tail", "-5cc"},
		{"tail", "-5bc"}, {"tail", "+"}, {"tail", "+5b"}, {"head", "-5x"}, {"head", "-5kk"}, {"head", "-05"}, {"head", "-5", "-v"},
		{"wc", "--"}, {"wc", "--", "-"}, {"wc", "--total=only"}, {"tac", "--", "-"}, {"cut", "-f1", "--"}, {"grep", "--", "-a"},
		{"grep", "-y", "A"}, {"grep", "-Y", "a"}, {"grep", "--mmap", "a"}, {"cksum", "--base64"}, {"cksum", "-a", "crc32b"},
	})
}
