package text_test

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/shquote"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/compute/text"
	"github.com/halfclose/halfclose/internal/testenv"
)

var sortInputs = map[string]string{
	"empty":    "",
	"basic":    "b\na\nc\nb\n",
	"nonl":     "b\na\nc",
	"ties":     "x 2 b\ny 1 a\nz 2 a\nw 1 b\nv 2 a\n",
	"nums":     " 10\n-5\n+5\n.5\n1e3\n-0\n0\nabc\n\t3\n-\n007\n3.\n3.0\n-.5\n--1\n2,5\n-0.0\n1e3x\n",
	"case":     "b\nB\na\nA\nb\n_\nz\nZ\n",
	"tabs":     "a:3:x\nb:1\nc\nd::y\ne:2:x\n:\n",
	"empties":  "\n\nb\n\na\n",
	"nul":      "b\x00a\na\x00b\na\n\x00\n",
	"crlf":     "b\r\na\r\na\n",
	"utf8":     "\xc3\xa9\nz\n\xff\n\xc3\xa8\na\n",
	"blanks":   "  b 2\n a  1\n\tc 3\na 1\n",
	"dupnums":  "1 b\n01 a\n1 a\n1.0 c\n",
	"fields":   "a b c d\na  b c\n a b\nz\n\n",
	"ident":    "same\nsame\nSAME\nsame\n",
	"negzeros": "-0\n0\n-0.0\n+0\n0.0\n-\n",
	// numbers the precomputed -n key cuts off (10 digits) or ties on
	"longnums": "12345678901\n12345678902\n1234567890\n1234567890.1\n1234567890.01\n-12345678901\n-12345678902\n" +
		"-1234567890\n123456789012345678901234567890\n123456789012345678901234567891\n0.000000000001\n0.000000000002\n" +
		"-0.000000000001\n-0.000000000002\n00000000000000000000001\n1.10\n1.1\n1.1000000000000001\n-1.1000000000000001\n.\n-.\n",
	"numties":   "5 b\n5 a\n-5 b\n-5 a\n5.0 c\n05 d\n 5 e\n5\n-5\n10 a\n9 z\n",
	"numfields": "a 3 x\nb 10 y\nc -2 z\nd 3 a\ne 3.0 b\nf x c\ng  -2 d\nh 2.5 e\n",
}

var sortArgs = [][]string{
	{"sort"},
	{"sort", "-r"},
	{"sort", "-n"},
	{"sort", "-rn"},
	{"sort", "-u"},
	{"sort", "-f"},
	{"sort", "-fu"},
	{"sort", "-uf", "-r"},
	{"sort", "-s", "-f"},
	{"sort", "-r", "-s", "-k2,2"},
	{"sort", "-k2"},
	{"sort", "-k2,2"},
	{"sort", "-k2,2", "-s"},
	{"sort", "-k2,2n"},
	{"sort", "-k2,2n", "-k1,1r"},
	{"sort", "-k3r"},
	{"sort", "-k2n", "-u"},
	{"sort", "-k1.2"},
	{"sort", "-k1.2,1.3"},
	{"sort", "-k2b,2"},
	{"sort", "-b", "-k2,2"},
	{"sort", "-k2.2b,2.3"},
	{"sort", "-t", ":", "-k2"},
	{"sort", "-t", ":", "-k2,2"},
	{"sort", "-t:", "-k2,2n"},
	{"sort", "-t:", "-k3,3", "-k1,1r"},
	{"sort", "-t", ":", "-k2,2", "-u"},
	{"sort", "-t:", "-k2.1,2.0"},
	{"sort", "-n", "-u"},
	{"sort", "-n", "-s"},
	{"sort", "-nr", "-s"},
	{"sort", "-b"},
	{"sort", "-bu"},
	{"sort", "-k1,1", "-u"},
	{"sort", "-k9"},
	{"sort", "-k1,1f"},
	{"sort", "-f", "-k1,1"},
	{"sort", "--reverse", "--numeric-sort"},
	{"sort", "-"},
	{"sort", "-n", "-r", "-s"},
	{"sort", "-n", "-r", "-u"},
	{"sort", "-t", " ", "-k2,2n"},
	{"sort", "-t", " ", "-k2,2nr", "-k1,1"},
	{"sort", "-t", " ", "-k2,2n", "-s"},
	{"sort", "-k2n,2", "-k3,3r"},
	{"sort", "-r", "-k1,1n"},
}

func TestSortDifferential(t *testing.T) {
	t.Parallel()
	inputs := map[string][]byte{}
	for name, in := range sortInputs {
		inputs[name] = []byte(in)
	}
	for name, in := range joinSmall(inputs) {
		for _, argv := range sortArgs {
			t.Run(fmt.Sprintf("%s/%q", name, argv[1:]), func(t *testing.T) {
				computetest.DiffGNU(t, []byte(in), argv...)
			})
		}
	}
}

// randomLines returns about n bytes of reproducible random lines.
func randomLines(seed uint64, n int, fields bool) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for b.Len() < n {
		if fields {
			fmt.Fprintf(&b, "%d %s %x\n", r.IntN(2000)-1000, []string{"a", "B", "c", "b"}[r.IntN(4)], r.Uint32())
			continue
		}
		l := r.IntN(60)
		for i := 0; i < l; i++ {
			b.WriteByte(byte(' ' + r.IntN(95)))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestSortSpill sorts inputs several times the memory budget: the output
// is GNU's and the runs are merged. The budgets are under
// compute.MinSortMem, which they are rounded up to: by default the input
// (a quarter of the long run's, testenv.Long) makes 3 runs, the long
// run's about 12. TestSortMergeLevels merges many runs through several
// levels.
func TestSortSpill(t *testing.T) {
	t.Parallel()
	in := randomLines(1, 3<<20/4, true)
	small, smaller := int64(64<<10), int64(4<<10)
	if testenv.Long() {
		in = randomLines(1, 3<<20, true)
	}
	for _, c := range []struct {
		mem  int64
		args []string
	}{
		{small, []string{"sort"}},
		{small, []string{"sort", "-n"}},
		{small, []string{"sort", "-k2,2", "-s"}},
		{small, []string{"sort", "-k2,2f", "-u"}},
		{smaller, []string{"sort", "-rn", "-k1,1"}},
		{smaller, []string{"sort", "-u", "-k2,2"}},
	} {
		t.Run(fmt.Sprintf("%d/%q", c.mem, c.args), func(t *testing.T) {
			want, _ := computetest.GNU(t, in, c.args...)
			dir := t.TempDir()
			disk := compute.NewDiskBudget(1 << 30)
			cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: c.mem, Dir: dir, Disk: disk}}
			// The reply spool shares the budget: make it large enough.
			got, err := computetest.RunPipelineEnv(t, cfg, shquote.Join(c.args), in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("output differs from GNU (%d vs %d bytes)", len(got), len(want))
			}
			if disk.Used() != 0 {
				t.Errorf("disk budget still holds %d bytes", disk.Used())
			}
			assertEmptyDir(t, dir)
		})
	}
}

// sortSpillStats runs args over in with a memory budget of mem and
// checks the output against GNU's and that no spill is left behind. It
// counts the spills, the most runs open at once after one, the merges
// into a spill run and the most runs one of them read, and the highest
// level a run reached (how many times its lines were rewritten). Serial:
// the hooks are the package's.
type sortSpillStats struct {
	spills, most, merges, mostRead, fewestRead, level int
}

func sortSpillRun(t *testing.T, spool compute.SpoolConfig, in []byte, args ...string) sortSpillStats {
	t.Helper()
	var st sortSpillStats
	st.fewestRead = 1 << 30
	text.SetSortRunsHook(func(open int) { st.most = max(st.most, open); st.spills++ })
	defer text.SetSortRunsHook(nil)
	text.SetSortMergeHook(func(runs, level int) {
		st.merges++
		st.mostRead, st.fewestRead = max(st.mostRead, runs), min(st.fewestRead, runs)
		st.level = max(st.level, level)
	})
	defer text.SetSortMergeHook(nil)
	want, _ := computetest.GNU(t, in, args...)
	spool.Dir, spool.Disk = t.TempDir(), compute.NewDiskBudget(1<<30)
	got, err := computetest.RunPipelineEnv(t, engine.Config{Spool: spool}, shquote.Join(args), in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs from GNU (%d vs %d bytes)", len(got), len(want))
	}
	if spool.Disk.Used() != 0 {
		t.Errorf("disk budget still holds %d bytes", spool.Disk.Used())
	}
	assertEmptyDir(t, spool.Dir)
	t.Logf("%+v", st)
	return st
}

// log16 is the number of base-16 digits of n: the merge levels n runs
// need at a fan-in of 16.
func log16(n int) int { return (bits.Len(uint(n)) + 3) / 4 }

// TestSortSmallBudget: a --spool-mem far under compute.MinSortMem is rounded
// up to it, so a run holds a good part of it, not a line (at 4 KiB, it
// once was a spill file and a merge level per doubling of the line count
// for every line: 93 CPU-s for 50 MB). Counted, not timed. Serial.
func TestSortSmallBudget(t *testing.T) {
	in := randomLines(4, 1<<20, true) // about 60,000 lines
	levels := 0                       // a single merge, of the few runs
	if testenv.Long() {
		in = randomLines(4, 12<<20, true)
		levels = 1 // about 100 runs: every 16 merged into one as they come
	}
	lines := bytes.Count(in, []byte("\n"))
	for _, args := range [][]string{{"sort", "-k2,2", "-s"}, {"sort", "-u", "-k1,1n"}} {
		t.Run(fmt.Sprintf("%q", args), func(t *testing.T) {
			st := sortSpillRun(t, compute.SpoolConfig{MemBytes: 4 << 10}, in, args...)
			// A run holds at least an eighth of the budget's worth of
			// input (the index of a line costs 24 bytes besides it,
			// and it grows by a quarter, old and new both counted).
			if most := len(in)/(compute.MinSortMem/8) + 1; st.spills > most || st.spills < 2 {
				t.Errorf("%d spills of %d lines (%d bytes); want 2 to %d", st.spills, lines, len(in), most)
			}
			if st.level > levels || st.merges > 0 && st.mostRead < 16 {
				t.Errorf("runs rewritten up to %d times (%d merges reading up to %d runs); want %d, 16 at a time", st.level, st.merges, st.mostRead, levels)
			}
		})
	}
}

// TestSortMergeLevels: with no floor to the budget (SortMinBytes), so
// small that every line is a run (4 KiB: a block and the index pass it), a few thousand
// runs are merged sixteen at a time as they are made, so each line is
// rewritten once a level, log16(runs) levels (plus one, merging the
// newest runs that the final merge cannot also read), and the spill files
// open at once stay under 16 a level (once, 20,000 lines failed with "too
// many open files", and the fan-in of 2 at 4 KiB rewrote each line once a
// doubling). The output is still GNU's, ties in input order (-s) across
// the merges. Serial: the hooks are the package's.
func TestSortMergeLevels(t *testing.T) {
	in := randomLines(3, 48<<10, true) // about 3,000 lines
	lines := bytes.Count(in, []byte("\n"))
	for _, args := range [][]string{{"sort", "-k2,2", "-s"}, {"sort", "-u", "-k2,2"}, {"sort", "-rn"}, {"sort"}} {
		t.Run(fmt.Sprintf("%q", args), func(t *testing.T) {
			st := sortSpillRun(t, compute.SpoolConfig{MemBytes: 4 << 10, SortMinBytes: -1}, in, args...)
			levels := log16(st.spills)
			if st.spills < lines/2 {
				t.Errorf("%d spills of %d lines; want a spill a line or so", st.spills, lines)
			}
			if st.mostRead != 16 || st.level > levels || st.most > 15*levels+1 {
				t.Errorf("%d spills, merges read up to %d runs, rewrote lines up to %d times, left up to %d runs open; want 16 at a time, at most %d times, %d open",
					st.spills, st.mostRead, st.level, st.most, levels, 15*levels+1)
			}
			// The newest runs were merged down to what the last merge
			// reads: fewer than 16.
			if st.fewestRead >= 16 {
				t.Errorf("no merge of fewer than 16 runs: the last merges were not exercised (%d spills)", st.spills)
			}
		})
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("spool dir holds %d files", len(ents))
	}
}

// TestSortMemoryBounded checks that sorting 8x the budget does not hold
// the input: the peak heap stays under three times the budget (plus the
// test's own input and output buffers, which are measured before), far
// under the 8 budgets of input. Quiet runs peak at 1.6-1.8 budgets; one
// (4.2 MiB at 2 MiB) came from a run beside a CPU-bound benchmark, so
// the bound leaves a margin for a late collection. The
// long run (testenv.Long) uses a 4 MiB budget, the default one 2 MiB.
// It is serial (as TestSortSpillFilesBounded): it measures the process's
// heap, and Go runs the parallel tests only after it.
func TestSortMemoryBounded(t *testing.T) {
	budget := int64(2 << 20)
	if testenv.Long() {
		budget = 4 << 20
	}
	size := 8 * budget
	in := &lineGen{r: rand.New(rand.NewPCG(2, 1)), left: int(size)} // not held: the heap is sort's
	s, err := text.BuildSort(&compute.Env{Spool: compute.SpoolConfig{MemBytes: budget, Dir: t.TempDir()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Collect garbage often, and watch the heap the collector found live
	// at its last cycle: what sort holds, not garbage a busy machine's
	// collector has yet to reach (HeapAlloc, sampled, overshot the bound
	// under load with no more held).
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	base := liveHeap()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if v := liveHeap(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	var n countWriter
	err = s.Run(t.Context(), in, &n)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n != countWriter(in.made) {
		t.Fatalf("wrote %d bytes, want %d", n, in.made)
	}
	used := int64(peak.Load()) - int64(base)
	t.Logf("input %d MiB, budget %d MiB, peak live heap over base %.1f MiB", in.made>>20, budget>>20, float64(used)/(1<<20))
	if used > 3*budget {
		t.Fatalf("peak heap %d bytes over base, budget %d: sort holds too much", used, budget)
	}
}

// liveHeap is the heap the last garbage collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// lineGen generates random lines without holding them.
type lineGen struct {
	r    *rand.Rand
	left int
	made int
	buf  []byte
}

func (g *lineGen) Read(p []byte) (int, error) {
	if len(g.buf) == 0 {
		if g.left <= 0 {
			return 0, io.EOF
		}
		g.buf = g.buf[:0]
		for len(g.buf) < 4096 {
			for l := g.r.IntN(60); l > 0; l-- {
				g.buf = append(g.buf, byte(' '+g.r.IntN(95)))
			}
			g.buf = append(g.buf, '\n')
		}
		g.left -= len(g.buf)
		g.made += len(g.buf)
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// TestSortDiskBudget: a spill over the disk budget fails with
// RESOURCE_EXHAUSTED, leaves no file and gives the budget back.
func TestSortDiskBudget(t *testing.T) {
	t.Parallel()
	in := randomLines(3, 2<<20, false)
	dir := t.TempDir()
	disk := compute.NewDiskBudget(512 << 10)
	s, err := text.BuildSort(&compute.Env{Spool: compute.SpoolConfig{MemBytes: 128 << 10, Dir: dir, Disk: disk}}, []string{"-r"})
	if err != nil {
		t.Fatal(err)
	}
	var n countWriter
	err = s.Run(t.Context(), bytes.NewReader(in), &n)
	if compute.CodeOf(err) != compute.CodeResourceExhausted {
		t.Fatalf("err = %v, want RESOURCE_EXHAUSTED", err)
	}
	if n != 0 {
		t.Errorf("wrote %d bytes despite failing", n)
	}
	if disk.Used() != 0 {
		t.Errorf("disk budget still holds %d bytes", disk.Used())
	}
	assertEmptyDir(t, dir)
}

// TestSortAbort: a read error mid-input aborts with that error and frees
// the spill files.
func TestSortAbort(t *testing.T) {
	t.Parallel()
	in := randomLines(4, 1<<20, false)
	dir := t.TempDir()
	disk := compute.NewDiskBudget(1 << 30)
	s, err := text.BuildSort(&compute.Env{Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: dir, Disk: disk}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	boom := fmt.Errorf("connection reset")
	var n countWriter
	err = s.Run(t.Context(), &sortFailingReader{r: bytes.NewReader(in), after: 700 << 10, err: boom}, &n)
	if err != boom {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if n != 0 || disk.Used() != 0 {
		t.Errorf("wrote %d bytes, disk holds %d", n, disk.Used())
	}
	assertEmptyDir(t, dir)
}

type sortFailingReader struct {
	r     *bytes.Reader
	n     int
	after int
	err   error
}

func (f *sortFailingReader) Read(p []byte) (int, error) {
	if f.n >= f.after {
		return 0, f.err
	}
	p = p[:min(len(p), f.after-f.n)]
	n, err := f.r.Read(p)
	f.n += n
	return n, err
}

func TestSortBigLines(t *testing.T) {
	t.Parallel()
	in := append(bytes.Repeat([]byte("b"), 2<<20), '\n')
	in = append(in, bytes.Repeat([]byte("a"), 3<<20)...)
	in = append(in, "\nc\n"...)
	for _, args := range [][]string{{"sort"}, {"sort", "-r"}} {
		want, _ := computetest.GNU(t, in, args...)
		got, err := computetest.RunPipelineEnv(t, engine.Config{MaxLineBytes: 4 << 20, Spool: compute.SpoolConfig{MemBytes: 1 << 20, Dir: t.TempDir()}}, shquote.Join(args), in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%v: output differs from GNU", args)
		}
	}
}

func TestSortErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args string
		want []string
	}{
		{"sort -Q", []string{"sort", `"-Q"`}},
		{"sort file", []string{"sort", `"file"`}},
		{"sort -k0", []string{"sort", `"0"`, "zero"}},
		{"sort -k1.0", []string{"sort", `"1.0"`, "zero"}},
		{"sort -kx", []string{"sort", `"x"`}},
		{"sort -k1,x", []string{"sort", `"1,x"`}},
		{"sort -k1gn", []string{"sort", "-gn", "incompatible"}},
		{"sort -g -h", []string{"sort", "-gh", "incompatible"}},
		{"sort -k1Vh", []string{"sort", "-hV", "incompatible"}},
		{"sort -k1Mn", []string{"sort", "-Mn", "incompatible"}},
		{"sort -t ab", []string{"sort", "multi-character", `"ab"`}},
		{"sort -t a -t b", []string{"sort", "incompatible"}},
		{"sort -k", []string{"sort", "-k", "needs a value"}},
	}
	for _, c := range cases {
		_, err := computetest.RunPipeline(t, c.args, []byte("a\n"))
		if compute.CodeOf(err) != compute.CodeInvalid {
			t.Fatalf("%s: err %v, want CodeInvalid", c.args, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.args, err, w)
			}
		}
	}
}

// benchSort benchmarks argv with a memory budget of mem (0: the default,
// 8 MiB: spills and merges) and reports its speed relative to GNU sort
// (which uses its own memory and both cores).
func benchSort(b *testing.B, in []byte, mem int64, argv ...string) {
	computetest.BenchEngineVsGNU(b, engine.Config{Spool: compute.SpoolConfig{MemBytes: mem, Dir: b.TempDir()}}, in, argv...)
}

var (
	sortInOnce         sync.Once
	sortText, sortNums []byte
)

func sortBenchInputs() (text, nums []byte) {
	sortInOnce.Do(func() {
		sortText, sortNums = randomLines(5, 32<<20, false), randomLines(5, 32<<20, true)
	})
	return sortText, sortNums
}

func BenchmarkSort(b *testing.B) {
	text, _ := sortBenchInputs()
	benchSort(b, text, 64<<20, "sort")
}
func BenchmarkSortN(b *testing.B) {
	_, nums := sortBenchInputs()
	benchSort(b, nums, 64<<20, "sort", "-n")
}
func BenchmarkSortK2N(b *testing.B) {
	_, nums := sortBenchInputs()
	benchSort(b, nums, 64<<20, "sort", "-t", " ", "-k3,3", "-k1,1n")
}

// The default 8 MiB budget: spills and merge.
func BenchmarkSortSpill(b *testing.B) {
	text, _ := sortBenchInputs()
	benchSort(b, text, 0, "sort")
}
func BenchmarkSortNSpill(b *testing.B) {
	_, nums := sortBenchInputs()
	benchSort(b, nums, 0, "sort", "-n")
}
func BenchmarkSortGSpill(b *testing.B) {
	_, nums := sortBenchInputs()
	benchSort(b, nums, 0, "sort", "-g")
}

// Small budgets: 4 KiB is rounded up to compute.MinSortMem (512 KiB, 16
// runs a merge), 1 MiB merges 16 runs at once through 32 KiB buffers.
func BenchmarkSortSpill4K(b *testing.B) {
	text, _ := sortBenchInputs()
	benchSort(b, text, 4<<10, "sort")
}
func BenchmarkSortSpill1M(b *testing.B) {
	text, _ := sortBenchInputs()
	benchSort(b, text, 1<<20, "sort")
}

// TestSortNumericKeys: random numbers of every shape (long, signed,
// fractions, leading zeros, many equal), in memory and spilled, against GNU.
func TestSortNumericKeys(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 9))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		return string(b)
	}
	var in bytes.Buffer
	for range 20000 {
		var num string
		switch r.IntN(6) {
		case 0:
			num = strconv.Itoa(r.IntN(20) - 10)
		case 1:
			num = "1234567890" + digits(r.IntN(4))
		case 2:
			num = digits(r.IntN(25)) + "." + digits(r.IntN(14))
		case 3:
			num = "0.0000000000" + digits(r.IntN(3))
		case 4:
			num = strings.Repeat("0", r.IntN(3)) + digits(r.IntN(12))
		default:
			num = []string{"", "x", "-", ".", "-0", "1e5", " 7", "\t-3"}[r.IntN(8)]
		}
		if r.IntN(3) == 0 {
			num = "-" + num
		}
		fmt.Fprintf(&in, "%s %s %d\n", num, []string{"a", "b", "A"}[r.IntN(3)], r.IntN(5))
	}
	for _, argv := range [][]string{
		{"sort", "-n"},
		{"sort", "-rn"},
		{"sort", "-n", "-s"},
		{"sort", "-n", "-u"},
		{"sort", "-k1,1n", "-k3,3r"},
		{"sort", "-t", " ", "-k3,3n", "-k1,1nr"},
	} {
		want, _ := computetest.GNU(t, in.Bytes(), argv...) // one oracle run for both budgets
		for _, mem := range []int64{0, 64 << 10} {
			t.Run(fmt.Sprintf("%d/%q", mem, argv[1:]), func(t *testing.T) {
				cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: mem, SortMinBytes: -1, Dir: t.TempDir()}}
				got, err := computetest.RunPipelineEnv(t, cfg, shquote.Join(argv), in.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("output differs from GNU (%d vs %d bytes)", len(got), len(want))
				}
			})
		}
	}
}

// Key definitions GNU sort rejects are rejected, with a message naming the
// key; the others are accepted: GNU is the oracle for which is which.
func TestSortKeyDefsLikeGNU(t *testing.T) {
	t.Parallel()
	for _, def := range []string{
		"0", "1.0", "1,0", "1,1.0", "1.1,2.0", "x", "1,x", "1.x", "1b,2n",
		"2.3,4.5", "1z", "1.,", "1,2.", "3", "2,2", "1.2b,1.5nr",
	} {
		_, ok := computetest.GNU(t, []byte("a b\n"), "sort", "-k", def)
		_, err := text.ParseSortKey(def)
		if ok != (err == nil) {
			t.Errorf("-k %q: GNU accepts: %v, we: %v", def, ok, err)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Quote(def)) {
			t.Errorf("-k %q: the error %q does not name the key", def, err)
		}
	}
}

// prefixedLines returns about n bytes of lines that share a prefix of
// plen bytes (some lines are the prefix alone or end inside the next
// 12 bytes, the key sort compares after it; NUL and 0xff bytes; many
// duplicates).
func prefixedLines(seed uint64, n, plen int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	prefix := bytes.Repeat([]byte("2026-11-"), plen/8+1)[:plen]
	alpha := []byte{'a', 'b', 0, 0xff, ' ', '1'}
	var b bytes.Buffer
	for b.Len() < n {
		b.Write(prefix)
		for range r.IntN(20) {
			b.WriteByte(alpha[r.IntN(len(alpha))])
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestSortSharedPrefix compares with GNU sort inputs whose lines share a
// prefix (which whole-line comparison skips), in memory (two halves
// sorted apart and merged) and spilled (runs of different prefixes, then
// the merge's), with every option that keeps a whole-line comparison and
// some that do not.
//
// By default each input and option meet one of the two budgets, in turn:
// every option still meets both budgets (over the inputs) and every input
// both, at half the cost under -race; the oracle runs once a pair. The long
// run (testenv.Long) sorts every pair under both.
func TestSortSharedPrefix(t *testing.T) {
	t.Parallel()
	inputs := map[string][]byte{
		"p8":   prefixedLines(1, 200<<10, 8),
		"p300": prefixedLines(2, 200<<10, 300), // past the prefix tracked
		// the shared prefix shrinks along the input: each run's differs
		"mixed": append(append(prefixedLines(3, 100<<10, 16), prefixedLines(4, 50<<10, 5)...), prefixedLines(5, 50<<10, 12)...),
		"logs":  randomLogLines(6, 300<<10),
	}
	args := [][]string{{"sort"}, {"sort", "-r"}, {"sort", "-u"}, {"sort", "-s"}, {"sort", "-ru"}, {"sort", "-k1"},
		{"sort", "-k1r"}, {"sort", "-r", "-k1"}, {"sort", "-k1,1"}, {"sort", "-f"}, {"sort", "-k1.1"}}
	names, ins := computetest.SortedInputs(inputs)
	for i, name := range names {
		in := ins[i]
		for k, a := range args {
			want, _ := computetest.GNU(t, in, a...)
			for m, mem := range []int64{64 << 10, 64 << 20} {
				if !testenv.Long() && (i+k+m)%2 == 1 {
					continue
				}
				t.Run(fmt.Sprintf("%s/%q/%d", name, a[1:], mem), func(t *testing.T) {
					disk := compute.NewDiskBudget(1 << 30)
					cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: mem, SortMinBytes: -1, Dir: t.TempDir(), Disk: disk}}
					got, err := computetest.RunPipelineEnv(t, cfg, shquote.Join(a), in)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("output differs from GNU (%d vs %d bytes)", len(got), len(want))
					}
				})
			}
		}
	}
}

// randomLogLines is about n bytes of lines like the bench's log: a date
// prefix shared by all, then time, level and words.
func randomLogLines(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 9))
	levels := []string{"INFO", "DEBUG", "WARN", "ERROR"}
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "2026-11-%d %d:%d %s", 10+r.IntN(3), 10+r.IntN(3), 10+r.IntN(5), levels[r.IntN(4)])
		for range r.IntN(3) {
			b.WriteString([]string{" a", " b", " id=4"}[r.IntN(3)])
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}
