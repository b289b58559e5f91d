package text_test

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/compute/text"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// sort -R's order is random, so GNU's output is no oracle byte for
// byte. What GNU does guarantee is: the lines with equal keys (after -d,
// -i, -f) are together, in the order the rest of the command line gives
// them (the later keys, the last-resort comparison, -s, -r), and -u keeps
// the line GNU keeps of each. GNU sort without the R tells which keys are
// equal and what that order is: it is the oracle here.

// withoutR is argv with every R of an ordering dropped: the same keys
// compared the same way, minus the shuffle. Each case below keeps its
// keys' other letters so that dropping R does not make a key inherit
// the global ones.
func withoutR(argv []string) []string {
	var out []string
	for _, a := range argv {
		switch {
		case a == "-R" || strings.HasPrefix(a, "--sort=r"):
			continue
		case strings.HasPrefix(a, "-k"), strings.HasPrefix(a, "+"), len(a) > 1 && a[0] == '-' && a[1] != '-' && a[1] != 't':
			a = strings.ReplaceAll(a, "R", "")
			if a == "-" {
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// randomCase is a sort with an R, and for the oracle its keys one by one
// (the whole line's for a sort without -k).
type randomCase struct {
	argv  []string
	keys  []oracleKey
	plain []string // argv without its R, when withoutR's is not it (-RV: R overrides -V)
}

// oracleKey is one key of a randomCase: the GNU arguments that select
// and compare it alone (its R dropped; -t kept), and whether it had the R.
type oracleKey struct {
	random bool
	args   []string
}

func rk(args ...string) oracleKey { return oracleKey{true, args} }
func pk(args ...string) oracleKey { return oracleKey{false, args} }

func (c randomCase) eol() byte {
	for _, a := range c.argv {
		if a == "-z" || a == "--zero-terminated" || len(a) > 1 && a[0] == '-' && a[1] != '-' && a[1] != 'k' && a[1] != 't' && strings.Contains(a, "z") {
			return 0
		}
	}
	return '\n'
}

func (c randomCase) withoutR() []string {
	if c.plain != nil {
		return c.plain
	}
	return withoutR(c.argv)
}

// lines splits b into lines ending in eol, without it.
func lines(b []byte, eol byte) [][]byte {
	ls := bytes.SplitAfter(b, []byte{eol})
	if len(ls[len(ls)-1]) == 0 {
		ls = ls[:len(ls)-1]
	}
	for i, l := range ls {
		ls[i] = bytes.TrimSuffix(l, []byte{eol})
	}
	return ls
}

func join(ls [][]byte, eol byte) []byte {
	var b []byte
	for _, l := range ls {
		b = append(append(b, l...), eol)
	}
	return b
}

// gnuKey runs GNU sort with key k's arguments, and -z for eol 0.
func gnuKey(t *testing.T, k oracleKey, eol byte, in []byte, more ...string) ([]byte, int) {
	t.Helper()
	argv := append([]string{"sort"}, k.args...)
	if eol == 0 {
		argv = append(argv, "-z")
	}
	return computetest.GNUStatus(t, in, append(argv, more...)...)
}

// shuffleTwice runs c over in twice, two shuffles, and holds each to
// GNU's rules (checkRandomSort).
func shuffleTwice(t *testing.T, c randomCase, in []byte) {
	t.Helper()
	for range 2 {
		got, err := computetest.RunPipeline(t, shquote.Join(c.argv), in)
		if err != nil {
			t.Fatalf("%q: %v", c.argv, err)
		}
		checkRandomSort(t, c, in, got)
	}
}

// checkRandomSort holds got, our output of c over in, to GNU's rules
// above, key by key: the lines come in the order of the first key, or
// with the first key's equal ones together when it has the R; then each
// run of lines equal in it, by the next key; and so on.
func checkRandomSort(t *testing.T, c randomCase, in, got []byte) {
	t.Helper()
	eol := c.eol()
	checkRandomKey(t, c, eol, lines(got, eol), 0)
	// Inside each group of lines equal in every key, GNU's order (the
	// last-resort comparison, -s, -r; -u's line): sorting ours stably by
	// the keys (which changes no group's order) gives GNU's output
	// without R. Ours also holds the input's lines, no more, no fewer.
	plain := c.withoutR()
	want, _ := computetest.GNU(t, in, plain...)
	regrouped, _ := computetest.GNU(t, got, append(slices.Clone(plain), "-s")...)
	if !bytes.Equal(regrouped, want) {
		t.Errorf("%q: ours, put back in key order, is not GNU's %q\nours %q\nback %q\nGNU  %q", c.argv, plain, got, regrouped, want)
	}
}

// checkRandomKey checks seg, lines of ours equal in the keys before the
// j'th, against the j'th key and those after it.
func checkRandomKey(t *testing.T, c randomCase, eol byte, seg [][]byte, j int) {
	t.Helper()
	if j == len(c.keys) || len(seg) < 2 {
		return
	}
	k := c.keys[j]
	if !k.random {
		if _, code := gnuKey(t, k, eol, join(seg, eol), "-C", "-s"); code != 0 {
			t.Errorf("%q: lines equal in the keys before key %d are not in its order (GNU sort %q -C -s):\n%q", c.argv, j+1, k.args, join(seg, eol))
			return
		}
	}
	// The runs of lines equal in the key: GNU's -u keeps one of a pair.
	var runs [][][]byte
	for i := range seg {
		if i == 0 {
			runs = append(runs, seg[:1])
			continue
		}
		if out, _ := gnuKey(t, k, eol, join(seg[i-1:i+1], eol), "-u"); bytes.Count(out, []byte{eol}) == 1 {
			r := &runs[len(runs)-1]
			*r = seg[i-len(*r) : i+1]
		} else {
			runs = append(runs, seg[i:i+1])
		}
	}
	if k.random {
		distinct, _ := gnuKey(t, k, eol, join(seg, eol), "-u")
		if want := bytes.Count(distinct, []byte{eol}); len(runs) != want {
			t.Errorf("%q: %d runs of lines equal in key %d (GNU sort %q), GNU finds %d distinct keys: a key's lines are not together:\n%q", c.argv, len(runs), j+1, k.args, want, join(seg, eol))
			return
		}
	}
	for _, r := range runs {
		checkRandomKey(t, c, eol, r, j+1)
	}
}

// TestSortRandomGroupsAsGNU: -R, R in a key and --sort=random over
// inputs with repeated, folded and ignored-equal keys.
func TestSortRandomGroupsAsGNU(t *testing.T) {
	in := []byte("b 2\na 1\nb 2\nA 1\nc 3\na 1\nB 2\n\nb x\n a 1\na\t1\n-b 2\nb-2\nc 3\n")
	for _, c := range []randomCase{
		{argv: []string{"sort", "-R"}, keys: []oracleKey{rk()}},
		{argv: []string{"sort", "--sort=random"}, keys: []oracleKey{rk()}},
		{argv: []string{"sort", "--sort=r", "-f"}, keys: []oracleKey{rk("-f")}},
		{argv: []string{"sort", "--sort=ra", "-k1,1", "-k2"}, keys: []oracleKey{rk("-k1,1"), rk("-k2")}},
		{argv: []string{"sort", "-Rr"}, keys: []oracleKey{rk()}},
		{argv: []string{"sort", "-Ru"}, keys: []oracleKey{rk()}},
		{argv: []string{"sort", "-Rs"}, keys: []oracleKey{rk()}},
		{argv: []string{"sort", "-Rf"}, keys: []oracleKey{rk("-f")}},
		{argv: []string{"sort", "-Rfu"}, keys: []oracleKey{rk("-f")}},
		{argv: []string{"sort", "-Rfs"}, keys: []oracleKey{rk("-f")}},
		{argv: []string{"sort", "-Rd"}, keys: []oracleKey{rk("-d")}},
		{argv: []string{"sort", "-Rdf"}, keys: []oracleKey{rk("-df")}},
		{argv: []string{"sort", "-Ri"}, keys: []oracleKey{rk("-i")}},
		{argv: []string{"sort", "-Rb"}, keys: []oracleKey{rk("-b")}},
		{argv: []string{"sort", "-k2R"}, keys: []oracleKey{rk("-k2")}},
		{argv: []string{"sort", "-k2,2R", "-k1,1"}, keys: []oracleKey{rk("-k2,2"), pk("-k1,1")}},
		{argv: []string{"sort", "-k1,1fR", "-s"}, keys: []oracleKey{rk("-k1,1f")}},
		{argv: []string{"sort", "-k1,1fR", "-u"}, keys: []oracleKey{rk("-k1,1f")}},
		{argv: []string{"sort", "-k1.1,1.1bR", "-r"}, keys: []oracleKey{rk("-k1.1,1.1b")}},
		{argv: []string{"sort", "-t", " ", "-k2,2Rr", "-k1,1"}, keys: []oracleKey{rk("-t", " ", "-k2,2"), pk("-t", " ", "-k1,1")}},
		{argv: []string{"sort", "-k2,2R", "-k1,1R"}, keys: []oracleKey{rk("-k2,2"), rk("-k1,1")}},
		{argv: []string{"sort", "+1R"}, keys: []oracleKey{rk("-k2")}},
	} {
		shuffleTwice(t, c, in)
	}
}

// TestSortRandomLaterKeys: the keys after an R key order each group of
// its equal keys, in an order unlike the lines' own (the last resort);
// an R key after others orders each group of theirs.
func TestSortRandomLaterKeys(t *testing.T) {
	long := strings.Repeat("k", 300)
	in := []byte("x 2 b\na 2 c\nb 2 a\nm 1 a\nc 1 b\nz 1 b\nq 3 c\nd 3 a\nx 2 b\nA 2 a\n" +
		"p " + long + "A c\nb " + long + "a a\nc " + long + "a b\na " + long + "b c\n")
	for _, c := range []randomCase{
		{argv: []string{"sort", "-k2,2R", "-k3,3"}, keys: []oracleKey{rk("-k2,2"), pk("-k3,3")}},
		{argv: []string{"sort", "-k2,2R", "-k3,3r"}, keys: []oracleKey{rk("-k2,2"), pk("-k3,3r")}},
		{argv: []string{"sort", "-k2,2fR", "-k3,3", "-k1,1r"}, keys: []oracleKey{rk("-k2,2f"), pk("-k3,3"), pk("-k1,1r")}},
		{argv: []string{"sort", "-k3,3", "-k2,2R", "-k1,1r"}, keys: []oracleKey{pk("-k3,3"), rk("-k2,2"), pk("-k1,1r")}},
		{argv: []string{"sort", "-k2,2R", "-k3,3R", "-k1,1r"}, keys: []oracleKey{rk("-k2,2"), rk("-k3,3"), pk("-k1,1r")}},
		{argv: []string{"sort", "-k2,2R", "-k3,3", "-u"}, keys: []oracleKey{rk("-k2,2"), pk("-k3,3")}},
		{argv: []string{"sort", "-r", "-k2,2fR", "-k3,3"}, keys: []oracleKey{rk("-k2,2f"), pk("-k3,3r")}}, // -k3,3 takes the -r
		{argv: []string{"sort", "-R", "-k3,3r", "-k2,2"}, keys: []oracleKey{pk("-k3,3r"), rk("-k2,2")}},
		{argv: []string{"sort", "+1R", "-2", "+2", "-3"}, keys: []oracleKey{rk("-k2,2"), pk("-k3,3")}},
	} {
		shuffleTwice(t, c, in)
	}
}

// TestSortRandomSpansAsGNU: keys by -t, character offsets, -b at either
// end, -z (a newline is a blank), NUL bytes, -d -i -f together, and -V
// (which R overrides: keys equal only byte for byte).
func TestSortRandomSpansAsGNU(t *testing.T) {
	in := []byte("a:xyz:1\nb:xYz:2\nc: xyz:3\nd:x\x00z:4\ne:wyz:5\nf::6\ng:xyz\n  h:xy:7\n\tb:Xy:8\n:xyz:9\nh:v1.01:1\nh:v1.1:2\nh:v01.1:3\n")
	z := bytes.ReplaceAll(in, []byte("\n"), []byte{0})
	z = bytes.ReplaceAll(z, []byte(":"), []byte("\n"))
	for _, c := range []struct {
		randomCase
		in []byte
	}{
		{randomCase{argv: []string{"sort", "-t:", "-k2,2R", "-k3,3r"}, keys: []oracleKey{rk("-t:", "-k2,2"), pk("-t:", "-k3,3r")}}, in},
		{randomCase{argv: []string{"sort", "-t:", "-k2.2,2.3R", "-k1,1"}, keys: []oracleKey{rk("-t:", "-k2.2,2.3"), pk("-t:", "-k1,1")}}, in},
		{randomCase{argv: []string{"sort", "-t:", "-k2.2b,2.3R", "-k1,1"}, keys: []oracleKey{rk("-t:", "-k2.2b,2.3"), pk("-t:", "-k1,1")}}, in},
		{randomCase{argv: []string{"sort", "-t:", "-k2.2,2.3bR", "-k1,1"}, keys: []oracleKey{rk("-t:", "-k2.2,2.3b"), pk("-t:", "-k1,1")}}, in},
		{randomCase{argv: []string{"sort", "-k1.2,1.3R", "-k1,1"}, keys: []oracleKey{rk("-k1.2,1.3"), pk("-k1,1")}}, in},
		{randomCase{argv: []string{"sort", "-k1.2b,1.3bR", "-k1,1"}, keys: []oracleKey{rk("-k1.2b,1.3b"), pk("-k1,1")}}, in},
		{randomCase{argv: []string{"sort", "-bR"}, keys: []oracleKey{rk("-b")}}, in},
		{randomCase{argv: []string{"sort", "-Rdif"}, keys: []oracleKey{rk("-dif")}}, in},
		{randomCase{argv: []string{"sort", "-t:", "-k2,2iR", "-k1,1"}, keys: []oracleKey{rk("-t:", "-k2,2i"), pk("-t:", "-k1,1")}}, in},
		{randomCase{argv: []string{"sort", "-t:", "-k2,2dfR", "-k3,3"}, keys: []oracleKey{rk("-t:", "-k2,2df"), pk("-t:", "-k3,3")}}, in},
		{randomCase{argv: []string{"sort", "-t:", "-k2,2VR", "-k3,3"}, keys: []oracleKey{rk("-t:", "-k2,2"), pk("-t:", "-k3,3")}, plain: []string{"sort", "-t:", "-k2,2", "-k3,3"}}, in},
		{randomCase{argv: []string{"sort", "-RV"}, keys: []oracleKey{rk()}, plain: []string{"sort"}}, in},
		{randomCase{argv: []string{"sort", "-zR"}, keys: []oracleKey{rk()}}, z},
		{randomCase{argv: []string{"sort", "-z", "-k2,2R", "-k1,1"}, keys: []oracleKey{rk("-k2,2"), pk("-k1,1")}}, z},
		{randomCase{argv: []string{"sort", "-zbfR", "-u"}, keys: []oracleKey{rk("-bf")}}, z},
	} {
		shuffleTwice(t, c.randomCase, c.in)
	}
}

// TestSortRandomShuffles: two jobs order 200 distinct lines differently,
// and neither in byte order (each by chance with odds of 1 in 200!).
func TestSortRandomShuffles(t *testing.T) {
	var in bytes.Buffer
	for i := range 200 {
		fmt.Fprintf(&in, "line %03d\n", i)
	}
	a, err := computetest.RunPipeline(t, "sort -R", in.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	b, err := computetest.RunPipeline(t, "sort -R", in.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) || bytes.Equal(a, in.Bytes()) || bytes.Equal(b, in.Bytes()) {
		t.Errorf("sort -R gave the same order twice, or byte order:\n%.200s\n%.200s", a, b)
	}
}

// TestSortRandomEachRun: a pipeline compiled once (a --tcp-route's is,
// for all its connections) shuffles anew each time it runs, as each GNU
// sort -R does. It shuffled every run of a route the same way.
func TestSortRandomEachRun(t *testing.T) {
	var in bytes.Buffer
	for i := range 200 {
		fmt.Fprintf(&in, "line %03d\n", i)
	}
	e := computetest.Engine(engine.Config{})
	for _, text := range []string{"sort -R", "sort -k1,1 -k2R"} {
		p, err := e.Compile(text)
		if err != nil {
			t.Fatal(err)
		}
		var outs [2][]byte
		for i := range outs {
			ctx, cancel := testenv.Context(t)
			var out bytes.Buffer
			_, err := e.Run(ctx, p, bytes.NewReader(in.Bytes()), &out)
			cancel()
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			outs[i] = out.Bytes()
		}
		// Each the same by chance with odds of 1 in 200!.
		if bytes.Equal(outs[0], outs[1]) {
			t.Errorf("%s, compiled once, run twice: the same order both times\n%.120q", text, outs[0])
		}
	}
}

// TestSortRandomSpills: equal lines stay together across spilled runs
// and merges (every run hashes with the job's one seed), and the disk
// is given back.
func TestSortRandomSpills(t *testing.T) {
	var in bytes.Buffer
	count := map[string]int{}
	for i := range 60000 {
		l := fmt.Sprintf("key %d %s", i*7919%500, strings.Repeat("x", i%13))
		count[l]++
		in.WriteString(l + "\n")
	}
	spool := compute.SpoolConfig{MemBytes: 4 << 10, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}
	for _, argv := range []string{"sort -R", "sort -Ru"} {
		got, err := computetest.RunPipelineEnv(t, engine.Config{Spool: spool}, argv, in.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		var prev string
		n := 0
		for _, l := range lines(got, '\n') {
			s := string(l)
			if s != prev && seen[s] {
				t.Fatalf("%s: %q comes again after other lines: equal lines not together", argv, s)
			}
			seen[s], prev = true, s
			n++
		}
		want := bytes.Count(in.Bytes(), []byte("\n"))
		if argv == "sort -Ru" {
			want = len(count)
		}
		if n != want || len(seen) != len(count) {
			t.Errorf("%s: %d lines, %d distinct; want %d, %d", argv, n, len(seen), want, len(count))
		}
		if spool.Disk.Used() != 0 {
			t.Errorf("%s: disk budget still holds %d bytes", argv, spool.Disk.Used())
		}
		assertEmptyDir(t, spool.Dir)
	}
}

// TestSortRandomRefused: what GNU refuses with R, and the one way to make
// its shuffle repeat, a file, which a request never names.
func TestSortRandomRefused(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"sort -Rn", "options '-nR' are incompatible"},
		{"sort -k1MR", "options '-MR' are incompatible"},
		{"sort -R -g", "options '-gR' are incompatible"},
		{"sort -dfhR", "options '-dfhR' are incompatible"},
		{"sort -R --random-source=/etc/passwd", `"--random-source"`},
	} {
		_, err := computetest.RunPipeline(t, c.text, []byte("a\n"))
		if compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want INVALID_ARGUMENT with %q", c.text, err, c.want)
		}
		argv := strings.Fields(c.text)
		if _, ok := computetest.GNU(t, []byte("a\n"), argv...); ok && !strings.Contains(c.text, "random-source") {
			t.Errorf("%s: GNU takes it", c.text)
		}
	}
}

// TestSortSummariesAsGNUHelp: the one-line summaries of -k and --sort
// name what GNU sort's --help names: the key letters ([bdfgiMhnRrV]) and
// each WORD with its letter. They lacked R and random when -R came.
func TestSortSummariesAsGNUHelp(t *testing.T) {
	help, ok := computetest.GNU(t, nil, "sort", "--help")
	if !ok {
		t.Fatal("GNU sort --help failed")
	}
	r := compute.NewRegistry()
	text.Register(r)
	cmd, _ := r.Lookup("sort")
	summary := map[string]string{}
	for _, s := range cmd.Flags {
		summary[s.Long] = s.Summary
	}
	m := regexp.MustCompile(`ordering options \[([A-Za-z]+)\]`).FindSubmatch(help)
	if m == nil {
		t.Fatalf("no key letters in GNU's help:\n%s", help)
	}
	gnu, ours := []byte(m[1]), []byte(summary["key"][strings.LastIndexByte(summary["key"], ' ')+1:])
	slices.Sort(gnu)
	slices.Sort(ours)
	if !bytes.Equal(gnu, ours) {
		t.Errorf("-k's summary %q: key letters %s, GNU's %s", summary["key"], ours, gnu)
	}
	_, words, _ := bytes.Cut(help, []byte("--sort=WORD"))
	words, _, _ = bytes.Cut(words, []byte("\n  -"))
	pairs := regexp.MustCompile(`([a-z-]+) (-[A-Za-z])\b`).FindAllSubmatch(words, -1)
	if len(pairs) == 0 {
		t.Fatalf("no --sort words in GNU's help:\n%s", help)
	}
	for _, p := range pairs {
		if want := fmt.Sprintf("%s (%s)", p[1], p[2]); !strings.Contains(summary["sort"], want) {
			t.Errorf("--sort's summary %q does not name %s", summary["sort"], want)
		}
	}
}
