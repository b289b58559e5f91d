package text_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
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
		case a == "-R" || a == "--sort=random":
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

// keysEqual asks GNU whether two lines have equal keys under argv (R
// dropped): its -u keeps one of them.
func keysEqual(t *testing.T, argv []string, a, b []byte) bool {
	t.Helper()
	in := slices.Concat(a, []byte("\n"), b, []byte("\n"))
	out, ok := computetest.GNU(t, in, append(withoutR(argv), "-u")...)
	if !ok {
		t.Fatalf("GNU %q failed", withoutR(argv))
	}
	return bytes.Count(out, []byte("\n")) == 1
}

func lines(b []byte) [][]byte {
	ls := bytes.SplitAfter(b, []byte("\n"))
	if len(ls[len(ls)-1]) == 0 {
		ls = ls[:len(ls)-1]
	}
	for i, l := range ls {
		ls[i] = bytes.TrimSuffix(l, []byte("\n"))
	}
	return ls
}

// checkRandomSort holds got, our output of argv (with an R) over in, to
// GNU's rules above.
func checkRandomSort(t *testing.T, argv []string, in, got []byte) {
	t.Helper()
	plain := withoutR(argv)
	// The groups of equal keys: as many as GNU's -u writes lines, each
	// contiguous in ours.
	distinct, _ := computetest.GNU(t, in, append(slices.Clone(plain), "-u")...)
	gl := lines(got)
	groups := 0
	for i := range gl {
		if i == 0 || !keysEqual(t, argv, gl[i-1], gl[i]) {
			groups++
		}
	}
	if want := bytes.Count(distinct, []byte("\n")); groups != want {
		t.Errorf("%q: %d runs of equal keys in our output, GNU finds %d distinct keys: a key's lines are not together\n%s", argv, groups, want, got)
	}
	// Inside each group, GNU's order: sorting ours stably by the keys
	// (which only brings the groups into key order) gives GNU's output
	// without R.
	want, _ := computetest.GNU(t, in, plain...)
	regrouped, _ := computetest.GNU(t, got, append(slices.Clone(plain), "-s")...)
	if !bytes.Equal(regrouped, want) {
		t.Errorf("%q: ours, put back in key order, is not GNU's %q\nours %q\nback %q\nGNU  %q", argv, plain, got, regrouped, want)
	}
}

// TestSortRandomGroupsAsGNU: -R, R in a key and --sort=random over
// inputs with repeated, folded and ignored-equal keys.
func TestSortRandomGroupsAsGNU(t *testing.T) {
	in := []byte("b 2\na 1\nb 2\nA 1\nc 3\na 1\nB 2\n\nb x\n a 1\na\t1\n-b 2\nb-2\nc 3\n")
	for _, argv := range [][]string{
		{"sort", "-R"}, {"sort", "--sort=random"}, {"sort", "-Rr"}, {"sort", "-Ru"}, {"sort", "-Rs"},
		{"sort", "-Rf"}, {"sort", "-Rfu"}, {"sort", "-Rfs"}, {"sort", "-Rd"}, {"sort", "-Rdf"}, {"sort", "-Ri"},
		{"sort", "-Rb"},
		{"sort", "-k2R"}, {"sort", "-k2,2R", "-k1,1"}, {"sort", "-k1,1fR", "-s"}, {"sort", "-k1,1fR", "-u"},
		{"sort", "-k1.1,1.1bR", "-r"}, {"sort", "-t", " ", "-k2,2Rr", "-k1,1"}, {"sort", "-k2,2R", "-k1,1R"},
		{"sort", "+1R"},
	} {
		for range 2 { // two shuffles
			got, err := computetest.RunPipeline(t, shquote.Join(argv), in)
			if err != nil {
				t.Fatalf("%q: %v", argv, err)
			}
			checkRandomSort(t, argv, in, got)
		}
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
		for _, l := range lines(got) {
			s := string(l)
			if s != prev && seen[s] {
				t.Fatalf("%s: %q comes again after other lines: equal lines not together", argv, s)
			}
			seen[s], prev = true, s
			n++
		}
		want := in.Len()
		if argv == "sort -Ru" {
			want = len(count)
		} else {
			want = bytes.Count(in.Bytes(), []byte("\n"))
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
