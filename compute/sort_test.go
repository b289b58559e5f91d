package compute

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
}

func TestSortDifferential(t *testing.T) {
	for name, in := range sortInputs {
		for _, argv := range sortArgs {
			t.Run(fmt.Sprintf("%s/%q", name, argv[1:]), func(t *testing.T) {
				diffGNU(t, []byte(in), argv...)
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
// is GNU's and the runs are merged (also through a second merge level).
func TestSortSpill(t *testing.T) {
	in := randomLines(1, 3<<20, true)
	for _, c := range []struct {
		mem  int64
		args []string
	}{
		{256 << 10, []string{"sort"}},
		{256 << 10, []string{"sort", "-n"}},
		{256 << 10, []string{"sort", "-k2,2", "-s"}},
		{256 << 10, []string{"sort", "-k2,2f", "-u"}},
		{64 << 10, []string{"sort", "-rn", "-k1,1"}}, // fan-in 2: many merge levels
		{64 << 10, []string{"sort", "-u", "-k2,2"}},
	} {
		t.Run(fmt.Sprintf("%d/%q", c.mem, c.args), func(t *testing.T) {
			want, _ := gnu(t, in, c.args...)
			dir := t.TempDir()
			disk := NewDiskBudget(1 << 30)
			cfg := Config{Spool: SpoolConfig{MemBytes: c.mem, Dir: dir, Disk: disk}}
			// The reply spool shares the budget: make it large enough.
			got, err := runPipelineEnv(t, cfg, shJoin(c.args), in)
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
// the input: the peak heap stays well under twice the budget (plus the
// test's own input and output buffers, which are measured before).
func TestSortMemoryBounded(t *testing.T) {
	const budget = 4 << 20
	const size = 8 * budget
	in := &lineGen{r: rand.New(rand.NewPCG(2, 1)), left: size} // not held: the heap is sort's
	s, err := buildSort(&Env{Spool: SpoolConfig{MemBytes: budget, Dir: t.TempDir()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Collect garbage eagerly so that HeapAlloc tracks what sort holds
	// rather than the collector's pacing.
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
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
	t.Logf("input %d MiB, budget %d MiB, peak heap over base %.1f MiB", in.made>>20, budget>>20, float64(used)/(1<<20))
	if used > 2*budget {
		t.Fatalf("peak heap %d bytes over base, budget %d: sort holds too much", used, budget)
	}
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
	in := randomLines(3, 2<<20, false)
	dir := t.TempDir()
	disk := NewDiskBudget(512 << 10)
	s, err := buildSort(&Env{Spool: SpoolConfig{MemBytes: 128 << 10, Dir: dir, Disk: disk}}, []string{"-r"})
	if err != nil {
		t.Fatal(err)
	}
	var n countWriter
	err = s.Run(t.Context(), bytes.NewReader(in), &n)
	if CodeOf(err) != CodeResourceExhausted {
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
	in := randomLines(4, 1<<20, false)
	dir := t.TempDir()
	disk := NewDiskBudget(1 << 30)
	s, err := buildSort(&Env{Spool: SpoolConfig{MemBytes: 64 << 10, Dir: dir, Disk: disk}}, nil)
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
	in := append(bytes.Repeat([]byte("b"), 2<<20), '\n')
	in = append(in, bytes.Repeat([]byte("a"), 3<<20)...)
	in = append(in, "\nc\n"...)
	for _, args := range [][]string{{"sort"}, {"sort", "-r"}} {
		want, _ := gnu(t, in, args...)
		got, err := runPipelineEnv(t, Config{Spool: SpoolConfig{MemBytes: 1 << 20, Dir: t.TempDir()}}, shJoin(args), in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%v: output differs from GNU", args)
		}
	}
}

func TestSortErrors(t *testing.T) {
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
		{"sort -k1M", []string{"sort", `"1M"`, `"M"`}},
		{"sort -t ab", []string{"sort", "multi-character", `"ab"`}},
		{"sort -t a -t b", []string{"sort", "incompatible"}},
		{"sort -k", []string{"sort", "-k", "needs a value"}},
	}
	for _, c := range cases {
		_, err := runPipeline(t, c.args, []byte("a\n"))
		if CodeOf(err) != CodeInvalid {
			t.Fatalf("%s: err %v, want CodeInvalid", c.args, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.args, err, w)
			}
		}
	}
}

func benchSort(b *testing.B, args string, in []byte, mem int64) {
	e := NewEngine(Config{Spool: SpoolConfig{MemBytes: mem, Dir: b.TempDir()}})
	p, err := e.Compile(args)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Run(b.Context(), p, bytes.NewReader(in), discard{}); err != nil {
			b.Fatal(err)
		}
	}
}

// Compare with LC_ALL=C sort on the same data (TestWriteSortBench).
func BenchmarkSort(b *testing.B)  { benchSort(b, "sort", randomLines(5, 32<<20, false), 64<<20) }
func BenchmarkSortN(b *testing.B) { benchSort(b, "sort -n", randomLines(5, 32<<20, true), 64<<20) }

// BenchmarkSortSpill sorts with the default 8 MiB budget: spills and merge.
func BenchmarkSortSpill(b *testing.B) { benchSort(b, "sort", randomLines(5, 32<<20, false), 0) }

func TestWriteSortBench(t *testing.T) {
	out := os.Getenv("HALFCLOSE_SORT_BENCH_OUT")
	if out == "" {
		t.Skip("HALFCLOSE_SORT_BENCH_OUT not set")
	}
	if err := os.WriteFile(out, randomLines(5, 32<<20, false), 0o600); err != nil {
		t.Fatal(err)
	}
}
