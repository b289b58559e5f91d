package builtin_test

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// grep -P (docs/protocol.md, grep): the part of PCRE2's syntax RE2 keeps
// exactly, compared with GNU grep 3.8 built with PCRE2, in the C locale.

// perlInput has what -P's escapes and classes tell apart: bytes >= 0x80,
// tabs, CR, VT, NEL, NUL (under -a), empty lines, words and digits.
var perlInput = []byte("abcd\nab abcd\nid=42 id=7x\n\tTab\x0bvt\r\n\n" +
	"caf\xe9 CAF\xc9 \xff\xa0nb\x85nel\nfoo_bar foo-bar FOO\n" +
	"x1y22z333\na.b a*b a{,2}b\nA\x1bB\x07 \\ [x]\naaa aab abb\n12 345 6789\n")

// TestGrepPerlGNU runs grep -P command lines and compares each with GNU
// grep -P over the same input: output, exit status, and for the
// errors GNU reports, its message.
func TestGrepPerlGNU(t *testing.T) {
	t.Parallel()
	pats := []string{
		`\d+`, `\d{2,3}`, `\D+`, `\w+`, `\W+`, `\s`, `\S+`, `x\sy|\x0b`, `\h`, `\H+`, `\v`, `\V+`, `\N+`, `\S*[\v]`, `[\S]*\h[\S]`, `\s*\v`, `\h+\H`,
		`ab|abcd`, `a|ab|abc`, `(ab|a)(c|bcd)`, `a*?b`, `a+?`, `a??b`, `a{1,2}?`, `a{2}`, `a{,2}`, `a{,2}b`, `x{1,}`,
		`id=\w+`, `(?:id)=(\d)`, `(?<n>a)b`, `(?'n'a)b`, `(?P<n>a)b`, `(?i)caf`, `(?i:a)B`, `a(?i)b|C`, `(?i)[^a]`,
		`(?s).`, `.`, `[^a]`, `\xff`, `\x{e9}`, `\xE9|\xc9`, `\x`, `\x41`, `\101`, `\0`, `\o{101}`, `\cA|\e`, `\a`, `\t`, `\r$`,
		`\Qa.b\E`, `\Qa*\E+`, `a\Q\E{2}`, `\E`, `[\d_]+`, `[[:alpha:]]+`, `[[:^alpha:][:digit:]]`, `[[:space:]]`, `[[:punct:]]+`,
		`[]a]`, `[^]a]+`, `[a-c-e]`, `[\w-]+`, `[%--]`, `[\x80-\xff]`, `[\0-\x1f]`, `[\b]`, `[\Qa]\E]`, `[.]`,
		`^a`, `^$`, `$`, `d$`, `\Aab`, `b\z`, `b\Z`, `\bab\b`, `\Bb`, `\b`, `^`, ``, `a(?#note)b`, `a(?#note)+`, `a\E+`, `\18`, `\11`, `(a)\18`,
		`(a|)`, `(a?)?b`, `(ab){2}`, `(?:a|b)+`, `((a)b)*`, `x*`, `\\`, `\[x]`, `\.`, `\$`, `\ `, `\#`,
		`foo\b`, `\bbar`, `[[:upper:]]+`, `caf.`, `\W\w`, `(?i)foo|(?-i)BAR`, `(?s:a.)|(?-s:.)`,
		`[[:alpha:]`, `[a-[:digit:]]`, `[[:digit:]-z]`, `a{1,2,3}`, `a{ 1}`, `a{1`, `x{2}{3}`, `(?i-i)a`, `(?-)a`,
		`(?i:)`, `()`, `(|)`, `a|*`, `\x85*\v`, `\xa0*\S`, `\c{`, `\ca`, `\08`, `\x414`, `[\x41-\x5a]+`, `\Q`, `\Qab`,
		`[\Q]\E]`, `[a\E]`, `[\E]a]`, `[^\Q\E]]`, `a(?i)`, `(a)(?i)b|c`, `(?:a(?i)b)c`, `[\s\S]`, `[\W\d]`,
	}
	flagSets := [][]string{{}, {"-o"}, {"-c"}, {"-v"}, {"-n"}, {"-w"}, {"-x"}, {"-i"}, {"-ow"}, {"-ox"}, {"-oi"}, {"-m1", "-n"}, {"-z"}, {"-oz"}, {"-wc"}, {"-b", "-o"}}
	rg := rand.New(rand.NewPCG(7, 8))
	n := 0
	for i, p := range pats {
		// every pattern with no flag and -o; two flag sets more each
		for _, fs := range [][]string{flagSets[0], flagSets[1], flagSets[2+i%(len(flagSets)-2)], flagSets[2+rg.IntN(len(flagSets)-2)]} {
			argv := append(append([]string{"grep", "-P"}, fs...), "--", p)
			diffPerl(t, perlInput, argv)
			n++
		}
	}
	// single command lines: -e, -X perl, NULs, -a, CR, -z records with
	// newlines, several patterns, the empty pattern
	for _, c := range []struct {
		in   string
		argv []string
	}{
		{"abcd\n", []string{"grep", "-oP", "ab|abcd"}},
		{"abcd\n", []string{"grep", "-oX", "perl", "ab|abcd"}},
		{"a\nb\n", []string{"grep", "-P", "-e", "a", "-e", "a"}},
		{"a\nb\n", []string{"grep", "-P", "-e", "a", "-e", "b"}},
		{"a\nb\n", []string{"grep", "-P", "a\nb"}},
		{"a\nb\n", []string{"grep", "-P", ""}},
		{"a\n\nb\n", []string{"grep", "-vP", ""}},
		{"a\x00b\nc\n", []string{"grep", "-P", "a"}},
		{"a\x00b\nc\n", []string{"grep", "-aoP", `a.b`}},
		{"a\x00b\nc\n", []string{"grep", "-aoP", `\0`}},
		{"a\nb\x00c\nd\x00", []string{"grep", "-zP", `^c`}},
		{"a\nb\x00c\nd\x00", []string{"grep", "-zP", `b$`}},
		{"a\nb\x00c\nd\x00", []string{"grep", "-zoP", `.\n.`}},
		{"a\nb\x00c\nd\x00", []string{"grep", "-zoP", `(?s).\n`}},
		{"a\nb\x00c\nd\x00", []string{"grep", "-zcP", `\s`}},
		{"a\nb\x00c\nd\x00", []string{"grep", "-zxP", `a\nb`}},
		{"a a\naa a_\n", []string{"grep", "-owP", "a"}},
		{"ab a\n", []string{"grep", "-owP", "ab|a"}},
		{"abc ab\n", []string{"grep", "-owP", "a\\w*?"}},
		{"xab ab\n", []string{"grep", "-wP", "ab"}},
		{"a-b\n", []string{"grep", "-owP", "-e", "-|b"}},
		{"a\nb\n", []string{"grep", "-P", "(?m)^a$"}},
		{"a\nb\n", []string{"grep", "-oP", "(?m)$"}},
		{"a\n", []string{"grep", "-xwP", "a|"}},
		// -x is PCRE2's EXTRA_MATCH_LINE, -w GNU's wrapper as text
		{"ab\n", []string{"grep", "-xP", `\Qab`}},
		{"ab\n", []string{"grep", "-xP", `a)|(b`}},
		{"ab\n", []string{"grep", "-wP", `\Qab`}},
		{"ab\n", []string{"grep", "-wP", `ab\`}},
		{"ab\n", []string{"grep", "-wP", `(?#x`}},
		{"ab\n", []string{"grep", "-wP", `[]`}},
		{"ab\n", []string{"grep", "-wP", `a\Q\E`}},
		{"aaa\n", []string{"grep", "-oP", "a{0,2}"}},
		// a repeat count RE2 keeps (<= 1000) with a bound far from the
		// minimum: RE2's simplified form must not be written out nested
		{"ab\nabx\ncdx\n", []string{"grep", "-P", "(?:ab|cd){0,1000}x"}},
		{"ab\nabx\ncdx\n", []string{"grep", "-cwP", `\ba{0,500}b?x`}},
		{"one two\n", []string{"grep", "-oP", `\b`}},
		{"x\r\n", []string{"grep", "-cP", `x\r$`}},
		{"ab\n", []string{"grep", "-P", "-E", "a"}},
		{"ab\n", []string{"grep", "-E", "-P", "a"}},
		{"ab\n", []string{"grep", "-P", "-X", "perl", "a"}},
		{"ab\nAB\n", []string{"grep", "-iP", "-m1", "-c", "b"}},
		{"1\n2\n3\n4\n", []string{"grep", "-P", "-A1", "^[13]$"}},
		{"ab\n", []string{"grep", "--perl-regexp", "b"}},
		{"ab\n", []string{"grep", "--perl", "-o", "b"}},
		// PCRE2 reads [:upper:] and [:lower:] as [:alpha:] caseless,
		// negated too
		{"aB1x\n", []string{"grep", "-oiP", "[[:^upper:]x]"}},
		{"aB1\n", []string{"grep", "-oP", "(?i)[[:^lower:]]|(?-i)[[:^lower:]]"}},
		{"aB1\n", []string{"grep", "-oiP", "[^[:^upper:]]"}},
		// in a class a quoted '-' is itself; \E and \Q\E are nothing
		// on either side of an unquoted one
		{"a:b] x.y=\n", []string{"grep", "-oP", `[:a]|[:a:b]|[:a[:]`}},
		{"agk\n", []string{"grep", "-oP", `[a\gk]+|(?<abcdefghijklmnopqrstuvwxyzabcdef>_)`}},
		{"a:b] x.y=\n", []string{"grep", "-oP", `[^:alpha:]|[[:a]:]]`}},
		{"a-z b-y % m\n", []string{"grep", "-oP", `[\Qa-z\E]+`}},
		{"a-z b-y % m\n", []string{"grep", "-oP", `[a\Q-\Ez]+`}},
		{"a-z b-y % m\n", []string{"grep", "-oP", `[\Qa\E-z]+`}},
		{"a-z b-y % m\n", []string{"grep", "-oP", `[a-\Q\Ez]+`}},
		{"a-z b-y % m\n", []string{"grep", "-oP", `[a-\Qz\E]+`}},
		{"a-z b-y % m\n", []string{"grep", "-oP", `[%-\Q\E]+`}},
		{"a-z b-y % m\n", []string{"grep", "-oP", `[a-\Q]\E]+`}},
	} {
		diffPerl(t, []byte(c.in), c.argv)
		n++
	}
	t.Logf("%d command lines", n)
}

// TestGrepPerlErrors: patterns PCRE2 refuses fail with GNU's message.
func TestGrepPerlErrors(t *testing.T) {
	t.Parallel()
	for _, p := range []string{
		`(`, `)`, `a)`, `[a`, `*`, `a**`, `\`, `a{2,1}`, `[z-a]`, `\x{100}`, `\o{400}`, `\c`, `[[:foo:]]`, `a{70000}`,
		`\u`, `\i`, `(?`, `\b*`, `^*`, `$+`, `\o`, `[\777]`, `[\d-z]`, `[a-\d]`, `[[.a.]]`, `[\N]`, `[\R]`, `\x{`,
		`(?i`, `(?y)`, `(?#x`, `\c€`, `a{1,3}{2}`, `\A*`, `(?i)*`, `\N{x}`, `\N{U+41}`, `\81`, `\Q\E+`, `\E+`, `[\Q\E]`, `[]`, `[^]`,
		// group names (a name used twice is no refusal of ours but
		// PCRE2's error), \k and \g with no name, a repeated \G or \K
		`(?<n>a)(?<n>b)`, `(?<n>a)|(?P<n>b)`, `(?<1n>a)`, `(?<n-m>a)`, `(?<>a)`, `(?'n>a)`, `(?<abcdefghijklmnopqrstuvwxyzabcdefg>a)`, `(?Px)`, `(?P`,
		`\k`, `\kx`, `\g`, `\gx`, `a\G?`, `a\K+`,
		// POSIX class syntax as PCRE2 reads it: outside a class, a name
		// with a '[' or an escaped ']' in it
		`[:alpha:]`, `[.a.]`, `[=a=]`, `[[:a[b:]]`, `[[:a\d:]]`, `[[:a\]:]]`,
		// \x{} and \o{}: which of PCRE2's three errors
		`\x{41`, `\x{ 41}`, `\x{4g}`, `\x{g}`, `\x{}`, `\x{100g`, `\o{1`, `\o{18}`, `\o{ 101}`, `\o{}`, `\o{4009}`, `[\x{41]`, `[\o{18}]`,
	} {
		argv := []string{"grep", "-P", "--", p}
		_, stderr, code := computetest.GNUStatusStderr(t, []byte("a\n"), argv...)
		if code != 2 {
			t.Errorf("%q: GNU exits %d, not an error case", argv, code)
			continue
		}
		_, err := computetest.RunPipeline(t, shquote.Join(argv), []byte("a\n"))
		want := strings.TrimSpace(string(stderr))
		if err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%q: got %v, want GNU's %q", argv, err, want)
		}
	}
}

// TestGrepPerlRefused: PCRE2 constructs RE2 cannot keep exactly are an
// error naming the construct; each is a pattern GNU takes (the refusal
// is ours only).
func TestGrepPerlRefused(t *testing.T) {
	t.Parallel()
	in := []byte("ab a1\n\r\n")
	for _, c := range []struct {
		argv      []string
		construct string
	}{
		{[]string{"grep", "-P", "a(?=b)"}, "(?="},
		{[]string{"grep", "-P", "a(?!b)"}, "(?!"},
		{[]string{"grep", "-P", "(?<=a)b"}, "(?<="},
		{[]string{"grep", "-P", "(?<!a)b"}, "(?<!"},
		{[]string{"grep", "-oP", `a\Kb`}, `\K`},
		{[]string{"grep", "-P", `(a)\1`}, `\1`},
		{[]string{"grep", "-P", `(a)\g1`}, `\g`},
		{[]string{"grep", "-P", `(?<x>a)\k<x>`}, `\k`},
		{[]string{"grep", "-P", `(?P<x>a)(?P=x)`}, `(?P=`},
		{[]string{"grep", "-P", "a++"}, "a++"},
		{[]string{"grep", "-P", "(?>a)"}, "(?>"},
		{[]string{"grep", "-P", "(a|b(?1))"}, "(?1"},
		{[]string{"grep", "-P", "(a(?R)?b)"}, "(?R"},
		{[]string{"grep", "-P", "(a)?(?(1)b|c)"}, "(?("},
		{[]string{"grep", "-P", `\Ga`}, `\G`},
		{[]string{"grep", "-P", "(?C1)a"}, "(?C"},
		{[]string{"grep", "-P", "(*FAIL)|a"}, "(*FAIL)"},
		{[]string{"grep", "-P", `\X`}, `\X`},
		{[]string{"grep", "-P", `\p{L}`}, `\p`},
		{[]string{"grep", "-P", `[\p{L}]`}, `\p`},
		{[]string{"grep", "-P", `\C`}, `\C`},
		{[]string{"grep", "-P", "(?|(a)|(b))"}, "(?|"},
		{[]string{"grep", "-P", "(?x)a b"}, "(?x"},
		{[]string{"grep", "-P", "(?U)a+"}, "(?U"},
		{[]string{"grep", "-P", "(a|)+"}, "(a|)+"},
		{[]string{"grep", "-P", "(a*)*b"}, "(a*)*"},
		{[]string{"grep", "-P", "a{1001}"}, "a{1001}"},
		{[]string{"grep", "-P", "(a{100}){100}"}, "(a{100}){100}"},
		{[]string{"grep", "-zP", "(?m)^a"}, "(?m"},
		{[]string{"grep", "-zP", `a\Z`}, `\Z`},
		{[]string{"grep", "-P", `[[:<:]]a`}, `[[:<:]]`},
		{[]string{"grep", "-P", `a[[:>:]]`}, `[[:>:]]`},
		{[]string{"grep", "-P", `\R`}, `\R`},
		{[]string{"grep", "-P", `a\R*\sb`}, `\R`},
		// found by TestGrepPerlGenerated: \S* before \v, in GNU, does
		// not give back the 0x85 \v needs
		{[]string{"grep", "-oP", `(?i:\S*\v)\r\S|`}, `\v`},
		{[]string{"grep", "-P", `\h\S`}, `\h`},
		{[]string{"grep", "-wP", `a)|(b`}, `a)|(b`},
	} {
		if _, code := computetest.GNUStatus(t, in, c.argv...); code >= 2 {
			t.Errorf("%q: GNU refuses it (exit %d)", c.argv, code)
			continue
		}
		_, err := computetest.RunPipeline(t, shquote.Join(c.argv), in)
		if err == nil || !strings.Contains(err.Error(), "grep: -P construct "+strconv.Quote(c.construct)) || !strings.Contains(err.Error(), "patterns run on RE2") {
			t.Errorf("%q: got %v, want a refusal naming %q", c.argv, err, c.construct)
		}
	}
}

// diffPerl compares one grep -P command line with GNU's: a GNU error
// must be ours too, with its message.
func diffPerl(t *testing.T, in []byte, argv []string) {
	t.Helper()
	want, stderr, code := computetest.GNUStatusStderr(t, in, argv...)
	got, status, err := computetest.RunPipelineStatus(t, shquote.Join(argv), in, true)
	if code >= 2 {
		msg, _, _ := strings.Cut(string(stderr), "\n")
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: GNU fails with %q, we: %v", shquote.Join(argv), msg, err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %v (GNU: %q, status %d)", shquote.Join(argv), err, computetest.Trunc(want), code)
		return
	}
	if !bytes.Equal(got, want) || status != code {
		t.Errorf("%s on %q:\n got %q (status %d)\nwant %q (status %d)", shquote.Join(argv), computetest.Trunc(in), computetest.Trunc(got), status, computetest.Trunc(want), code)
	}
}

// TestGrepPerlGenerated draws patterns from the supported part of PCRE2
// syntax and flags, and compares grep -P with GNU's over random lines:
// 150 cases in make test, PGREP_N in make fuzz (PGREP_SEED).
func TestGrepPerlGenerated(t *testing.T) {
	t.Parallel()
	n := int(testenv.Uint(t, "PGREP_N", 150))
	seed := testenv.Uint(t, "PGREP_SEED", 20261207)
	rg := rand.New(rand.NewPCG(seed, 0x9e3779b9))
	skipped := 0
	for i := 0; i < n; i++ {
		p := genPerl(rg, 3)
		in := genPerlInput(rg)
		flags := []string{"-o", "-c", "-v", "-n", "-w", "-x", "-i", "-z", "-b", "-a"}
		argv := []string{"grep", "-P"}
		for _, f := range flags {
			if rg.IntN(4) == 0 {
				argv = append(argv, f)
			}
		}
		if rg.IntN(8) == 0 {
			argv = append(argv, "-m", strconv.Itoa(rg.IntN(3)))
		}
		argv = append(argv, "--", p)
		_, err := computetest.RunPipeline(t, shquote.Join(argv), in)
		if err != nil && strings.Contains(err.Error(), "patterns run on RE2") {
			skipped++ // refused: TestGrepPerlRefused checks such
			continue
		}
		diffPerl(t, in, argv)
	}
	t.Logf("seed %d: %d cases, %d refused", seed, n, skipped)
	if skipped > n/3 {
		// the atoms are of the supported part: most must run (a
		// translator that refused everything would pass the rest)
		t.Errorf("seed %d: %d of %d cases refused", seed, skipped, n)
	}
}

var perlAtoms = []string{
	"a", "b", "ab", "x", "A", `\d`, `\w`, `\W`, `\s`, `\S`, `\h`, `\v`, `.`, `\N`, `[ab]`, `[^a]`, `[a-c]`, `[^\w]`,
	`[[:alpha:]]`, `[[:digit:]]`, `\xe9`, `\xff`, `\x{e9}`, `\t`, `\r`, `\x0b`, `\0`, `\b`, `\B`, `^`, `$`, `\A`, `\z`,
	`\Z`, `-`, `_`, " ", `\.`, `\Qa.\E`, `(?i)a`, `(?s).`, `\n`, `\xa0`, `\x85`, `[\v]`, `[\h\d]`, `\H`, `\V`, `\D`,
	`[^\s]`, `[[:space:]]`, `[[:^word:]]`, `\cK`, `\e`, `\011`,
	`[[:^upper:]]`, `[[:lower:]]`, `[\Qa-\E]`, `[a\E-c]`, `[\Q-\E_]`, `\x{41}`, `\o{141}`, `[\xc0-\xe9]`, `\xc9`, `[:a]`,
}

// genPerl draws a pattern of the supported subset, depth levels deep.
func genPerl(rg *rand.Rand, depth int) string {
	var b strings.Builder
	for k := 1 + rg.IntN(3); k > 0; k-- {
		var atom string
		if depth > 0 && rg.IntN(4) == 0 {
			open := []string{"(", "(?:", "(?i:", "(?-i:", "(?<g>"}[rg.IntN(5)]
			inner := genPerl(rg, depth-1)
			if rg.IntN(3) == 0 {
				inner += "|" + genPerl(rg, depth-1)
			}
			atom = open + inner + ")"
			if open == "(?<g>" {
				atom = "(" + inner + ")"
			}
		} else {
			atom = perlAtoms[rg.IntN(len(perlAtoms))]
		}
		b.WriteString(atom)
		if rg.IntN(3) == 0 && !strings.HasPrefix(atom, `\Q`) && !strings.HasPrefix(atom, "(?i)") && !strings.HasPrefix(atom, "(?s)") {
			q := []string{"*", "+", "?", "{2}", "{1,3}", "{0,2}", "{2,}", "{0,40}"}[rg.IntN(8)]
			if rg.IntN(3) == 0 {
				q += "?"
			}
			b.WriteString(q)
		}
		if rg.IntN(6) == 0 {
			b.WriteString("|")
		}
	}
	return b.String()
}

// genPerlInput draws lines over a small alphabet with the bytes -P's
// sets tell apart.
func genPerlInput(rg *rand.Rand) []byte {
	alpha := []byte("aabbxA_- 1\t\r\x0b\xe9\xc9\xff\xa0\x85.\x00\n\n\n")
	var b []byte
	for k := rg.IntN(40); k > 0; k-- {
		b = append(b, alpha[rg.IntN(len(alpha))])
	}
	if rg.IntN(2) == 0 {
		b = append(b, '\n')
	}
	return b
}
