package text_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// sortDebugInputs are lines whose keys GNU sort --debug underlines in
// every way: numbers GNU reads only in part, or not at all, blanks and
// tabs before them, months, units, strtold's forms, bytes GNU counts as
// no column (control characters) or one (0x80 and up), NULs, empty lines.
var sortDebugInputs = map[string]string{
	"nums": " 10\n-5\n+5\n.5\n1e3\n-0\n0\nabc\n\t3\n-\n007\n3.\n3.0\n-.5\n--1\n2,5\n-0.0\n1e3x\n5.x\n-.\n.\n",
	"fields": "a 3 x\nb 10 y\nc -2 z\nd 3 a\ne 3.0 b\nf x c\ng  -2 d\nh 2.5 e\n\n  \n\t\t\n" +
		"a\t 4\tb\n x:1:2\n",
	"colons":   "a:3:x\nb:1\nc\nd::y\ne:2:x\n:\n: 7 :-1\n:\t-2.5:\n",
	"months":   " jan 2\nFEB\nfebruary\nxyz\n\tmar\nDe\ndec\n",
	"human":    "1K\n2k\n3m\n -4M\n5.5G x\n.5T\n6\nK\n7Q\n8 K\n9Y\n",
	"general":  "inf\n-Infinity\nnan\nnan(12)\nnan(\nNaNx\n0x1p3\n0x\n0x.8p-1z\n1e5x\n1e\n1e+\n  -.5e-3\n+\n\v7\n\f8\r\n",
	"versions": "a1.2\na1.10\nb-1.0~rc1\n1.0.0\n\n",
	"bytes":    "\x80b\x01c\tx\n\xff\x7fa\n\x00z\n\x1b[1m\n",
	"nul":      "b\x00a\na\x00b\na\n\x00\n",
	"dup":      "1 a\n01 a\n1 a\n1 b\n2\n2\n",
}

// sortDebugArgs are command lines of sort --debug: every ordering
// letter, globally and in keys, -b, -t, character offsets, keys of zero
// width, obsolete keys, -s, -u, -z, -m, and each of GNU's warnings.
var sortDebugArgs = [][]string{
	{},
	{"-r"},
	{"-n"},
	{"-rn"},
	{"-g"},
	{"-h"},
	{"-M"},
	{"-V"},
	{"-f"},
	{"-d"},
	{"-i"},
	{"-b"},
	{"-bn"},
	{"-s"},
	{"-u"},
	{"-su"},
	{"-un"},
	{"-z"},
	{"-zn"},
	{"-k2"},
	{"-k2,2"},
	{"-k2b"},
	{"-k2,2b"},
	{"-k2bn"},
	{"-k2,2n"},
	{"-k2,2g"},
	{"-k2,2h"},
	{"-k2,2M"},
	{"-k1,1M"},
	{"-k2,2V"},
	{"-k2,2f"},
	{"-k2,2d"},
	{"-k2,2i"},
	{"-k2,2n", "-k1,1"},
	{"-k2,2n", "-k1,1r"},
	{"-k2,2nr", "-s"},
	{"-k2,2n", "-u"},
	{"-k1.2"},
	{"-k1.2,1.3"},
	{"-k1.2b,1.3"},
	{"-k1.2,1.3b"},
	{"-k2.2,2.3"},
	{"-k2.2b,2.3b"},
	{"-k2,1"},
	{"-k3,2n"},
	{"-k2.3,2.1"},
	{"-k1,1", "-n"},
	{"-k1,1", "-k2", "-n", "-r"},
	{"-k1,1n", "-r", "-b", "-f"},
	{"-k1,1n", "-r", "-s"},
	{"-k1,1n", "-r", "-u"},
	{"-k1,1n", "-g"},
	{"-k2n"},
	{"-k2,3n"},
	{"-k2g"},
	{"-k2h"},
	{"-t:", "-k2,2n"},
	{"-t:", "-k2n"},
	{"-t:", "-k2,2"},
	{"-t:", "-k2"},
	{"-t:", "-k2,2g"},
	{"-t:", "-k2.2,2.3n"},
	{"-t:", "-k3,3", "-k1,1r"},
	{"-t", " ", "-k2,2n"},
	{"-t", "\t", "-k2n"},
	{"-t.", "-k1,1n"},
	{"-t.", "-k1n"},
	{"-t.", "-k1g"},
	{"-t-", "-k1n"},
	{"-t-", "-k1,1n"},
	{"-t+", "-k1g"},
	{"-t+", "-k1n"},
	{"-t", `\0`, "-k2"},
	{"+1"},
	{"+1", "-2"},
	{"+0.3", "-1.2"},
	{"+0"},
	{"+0b", "-0.1"},
	{"+0", "-0"},
	{"+1n", "-2"},
	{"+2.1", "-1"},
	{"-u", "-k1,1", "-r"},
	{"-m"},
	{"-m", "-u", "-k2,2n"},
	{"-m", "-k1.2,1.3", "-z"},
	{"-k1,1d", "-f", "-i"},
	{"-k1,1", "-bdfi"},
	{"-k1,1V", "-n"},
	{"-k3,3b", "-k1.1,1.1b", "-k2"},
	{"-k1.3n"},
	{"-k1.3,1.5n", "-b"},
	{"-k1b,1.1"},
	{"--sort=numeric", "-k2,2"},
	{"-c"},
	{"-C"},
	{"--check=quiet", "-n"},
	{"-c", "-nM"},
}

func TestSortDebugAsGNU(t *testing.T) {
	t.Parallel()
	// The inputs in four groups: a run of GNU each, not ten.
	groups := map[string]string{}
	for _, g := range [][]string{{"nums", "fields", "colons"}, {"months", "human", "general"}, {"versions", "bytes", "nul"}, {"dup"}} {
		for _, name := range g {
			groups[strings.Join(g, "+")] += sortDebugInputs[name]
		}
	}
	for name, in := range groups {
		for _, args := range sortDebugArgs {
			argv := append([]string{"sort", "--debug"}, args...)
			t.Run(fmt.Sprintf("%s/%q", name, args), func(t *testing.T) {
				computetest.DiffGNU(t, []byte(in), argv...)
			})
		}
	}
}

// TestSortDebugErrorsAsGNU: what GNU refuses with --debug is refused with
// GNU's message: -c and -C write no line to annotate, and an ordering's
// conflict is named first.
func TestSortDebugErrorsAsGNU(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-c", "--debug"},
		{"--debug", "-C"},
		{"--check=silent", "--debug"},
		{"--debug", "-c", "-nM"},
	} {
		argv := append([]string{"sort"}, args...)
		_, stderr, code := computetest.GNUStatusStderr(t, []byte("a\n"), argv...)
		if code != 2 {
			t.Fatalf("%q: GNU exited %d", argv, code)
		}
		_, err := computetest.RunPipeline(t, shquote.Join(argv), []byte("a\n"))
		if err == nil || err.Error()+"\n" != string(stderr) {
			t.Errorf("%q: got %v, GNU's %q", argv, err, stderr)
		}
	}
}

// TestSortDebugRandom: -R's order is random, so a --debug run is
// compared with GNU's as the multiset of its lines (the annotations of
// a line follow it, GNU's and ours: TestSortDebugAsGNU) and its warnings.
func TestSortDebugRandom(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-R"}, {"-k2,2R"}, {"-R", "-u"}, {"-R", "-s", "-k1,1"}, {"-k2,2R", "-n"}} {
		argv := append([]string{"sort", "--debug"}, args...)
		in := []byte(sortDebugInputs["fields"] + sortDebugInputs["dup"])
		want, stderr, code := computetest.GNUStatusStderr(t, in, argv...)
		got, status, diag, err := computetest.RunPipelineDiag(t, engine.Config{}, shquote.Join(argv), in, false)
		if err != nil || status != code {
			t.Fatalf("%q: %v, status %d, GNU's %d", argv, err, status, code)
		}
		if !slices.Equal(sortedLines(got), sortedLines(want)) {
			t.Errorf("%q: lines differ:\n got %q\nwant %q", argv, got, want)
		}
		if d := computetest.DiffDiagnostics(diag, stderr); d != "" {
			t.Errorf("%q: %s", argv, d)
		}
	}
}

func sortedLines(b []byte) []string {
	l := strings.SplitAfter(string(b), "\n")
	slices.Sort(l)
	return l
}

// TestSortDebugSpill: the annotation is written as the merged runs are,
// the same as GNU's, for an input over the memory budget (rounded up to
// compute.MinSortMem: about 4 runs, TestSortSpill's count).
func TestSortDebugSpill(t *testing.T) {
	t.Parallel()
	in := randomLines(3, 1<<20, true)
	if testenv.Long() {
		in = randomLines(3, 8<<20, true)
	}
	for _, args := range [][]string{
		{"sort", "--debug", "-u", "-k2,2"},
		{"sort", "--debug", "-s", "-b", "-k1,1n"},
	} {
		want, stderr, _ := computetest.GNUStatusStderr(t, in, args...)
		dir := t.TempDir()
		disk := compute.NewDiskBudget(1 << 30)
		cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: dir, Disk: disk}}
		got, _, diag, err := computetest.RunPipelineDiag(t, cfg, shquote.Join(args), in, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: output differs from GNU (%d vs %d bytes)", args, len(got), len(want))
		}
		if d := computetest.DiffDiagnostics(diag, stderr); d != "" {
			t.Errorf("%q: %s", args, d)
		}
		if disk.Used() != 0 {
			t.Errorf("disk budget still holds %d bytes", disk.Used())
		}
	}
}

// TestSortObsoleteHugeField: an obsolete +N past 2^64 fields is GNU's
// SIZE_MAX, which GNU reads as a key with no field to find: it starts
// at the line's start, whatever its character number. It was an empty
// key (and with a character number near 2^64, refused as one that
// wraps before its line).
func TestSortObsoleteHugeField(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"sort", "-s", "+99999999999999999999n"},
		{"sort", "-s", "+99999999999999999999.18446744073709551615n"},
		{"sort", "-s", "+99999999999999999999.2", "-3"},
		// a -POS2 of 2^64-1 fields and a character is GNU's eword
		// SIZE_MAX: the key has no end (it was one that ends a byte
		// before the line's end)
		{"sort", "+1", "-18446744073709551615.18446744073709551615"},
		{"sort", "+1", "-99999999999999999999.1"},
	} {
		computetest.DiffGNU(t, []byte("10\n9\n a b\n-1 x\nx b\ny a\n"), args...)
	}
}

// TestSortDebugHugeFields: --debug's warnings compare GNU's field
// numbers as GNU holds them, past the ones a line can have (which the
// sort itself clamps): a key whose end comes before its start has zero
// width, a numeric one whose end comes after its start spans fields,
// and an obsolete -POS2 of 2^64-1 fields and a character has no end.
func TestSortDebugHugeFields(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-k2000000000000,1999999999999n"},
		{"-k1099511627778,1099511627777"},
		{"-k1099511627777,1099511627778n"},
		{"-k18446744073709551614,18446744073709551615n"},
		{"+1099511627777", "-1099511627778"},
		{"+18446744073709551614", "-18446744073709551615"},
		{"+1", "-18446744073709551615.1"},
		{"+1b", "-18446744073709551615.1"},
		{"+1n", "-99999999999999999999.18446744073709551615"},
	} {
		argv := append([]string{"sort", "--debug"}, args...)
		t.Run(fmt.Sprintf("%q", args), func(t *testing.T) {
			computetest.DiffGNU(t, []byte("a b\n  \n\t\n\n x\t y\n1 -2\n"), argv...)
		})
	}
}

// TestSortDebugEachRun: a stage compiled once runs for every connection
// of a --tcp-route at once: each run writes its own annotation and all
// of GNU's warnings (the race detector watches the shared stage).
func TestSortDebugEachRun(t *testing.T) {
	t.Parallel()
	for _, argv := range [][]string{{"sort", "--debug", "-t:", "-k2,2n", "-r"}, {"sort", "--debug", "-t:", "-k2,2n", "-r", "-m"}} {
		e := computetest.Engine(engine.Config{})
		p, err := e.Compile(shquote.Join(argv))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 6 {
			in := []byte(fmt.Sprintf("a:%d\nb:-%d\t\nc:x%d\n\n", i, i*7, i))
			want, stderr, _ := computetest.GNUStatusStderr(t, in, argv...)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := testenv.Context(t)
				defer cancel()
				var out bytes.Buffer
				st, err := e.Run(ctx, p, bytes.NewReader(in), &out)
				if err != nil || !bytes.Equal(out.Bytes(), want) {
					t.Errorf("%q run %d: %v\n got %q\nwant %q", argv, i, err, out.Bytes(), want)
				}
				if d := computetest.DiffDiagnostics(st.Diagnostics, stderr); err == nil && d != "" {
					t.Errorf("%q run %d: %s", argv, i, d)
				}
			}()
		}
		wg.Wait()
	}
}

// maxWriter keeps what is written and the size of its largest Write.
type maxWriter struct {
	bytes.Buffer
	max int
}

func (w *maxWriter) Write(p []byte) (int, error) {
	w.max = max(w.max, len(p))
	return w.Buffer.Write(p)
}

// TestSortDebugManyKeysBounded: a line's annotation has a line for each
// key, as long as the line: a long line under many keys is written a
// line at a time, never held whole (it was built whole and written in
// one piece, keys times the line's size).
func TestSortDebugManyKeysBounded(t *testing.T) {
	t.Parallel()
	in := []byte(strings.Repeat("ab ", 100<<10) + "\nx\n")
	argv := []string{"sort", "--debug"}
	for range 64 {
		argv = append(argv, "-k1")
	}
	want, _, _ := computetest.GNUStatusStderr(t, in, argv...)
	e := computetest.Engine(engine.Config{})
	p, err := e.Compile(shquote.Join(argv))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := testenv.Context(t)
	defer cancel()
	var out maxWriter
	if _, err := e.Run(ctx, p, bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("output differs from GNU's (%d vs %d bytes)", out.Len(), len(want))
	}
	if out.max > 4*len(in) {
		t.Errorf("a write of %d bytes: the annotation of a %d-byte line was held whole", out.max, len(in))
	}
}
