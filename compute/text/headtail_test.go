package text_test

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/shquote"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/compute/text"
	"github.com/halfclose/halfclose/internal/testenv"
)

// filterInputs are the edge cases every filter is checked on. The long
// line is 640 KiB, over twice the 256 KiB line buffer and five 128 KiB
// read buffers or queue chunks; 1.25 MiB in the long run (testenv.Long).
func filterInputs() map[string][]byte {
	long := bytes.Repeat([]byte("0123456789abcdef"), 40<<10)
	if testenv.Long() {
		long = bytes.Repeat([]byte("0123456789abcdef"), 80<<10)
	}
	var many bytes.Buffer
	for i := 0; i < 5000; i++ {
		many.WriteString(strings.Repeat("x", i%97))
		many.WriteString(" field:")
		many.WriteString(strings.Repeat("y", i%13))
		many.WriteByte('\n')
	}
	return map[string][]byte{
		"empty":        nil,
		"newline":      []byte("\n"),
		"one":          []byte("hello\n"),
		"nonl":         []byte("a\nb\nc"),
		"nonl1":        []byte("abc"),
		"blank":        []byte("\n\n\n"),
		"crlf":         []byte("a:b\r\nc:d\r\n\r\n"),
		"nul":          []byte("a\x00b\nc\x00\x00d\n\x00"),
		"invalid-utf8": []byte("\xff\xfe:\xc3\x28\n\x80:x\n"),
		"long":         append(long, "\nend\n"...),
		"long-nonl":    long,
		"many":         many.Bytes(),
		"binary":       computetest.RandomBytes(1, 300<<10),
		"boundary":     bytes.Repeat([]byte("z\n"), 64<<10),
		"boundary+1":   append(bytes.Repeat([]byte("abc:"), 32<<10+1), '\n'),
	}
}

// joinSmall returns inputs with the small ones that end in a newline
// (under 64 KiB, not empty) joined, in name order, into one input named
// "joined": for a tool that reads lines one at a time, every one of their
// lines still meets every option, in one run of the oracle instead of one
// per input. Empty inputs, inputs without a final newline and large ones,
// whose point is their edges, stay apart. The long run (testenv.Long)
// keeps every input apart.
func joinSmall(inputs map[string][]byte) map[string][]byte {
	if testenv.Long() {
		return inputs
	}
	names, ins := computetest.SortedInputs(inputs)
	out := map[string][]byte{}
	var joined []byte
	for i, name := range names {
		in := ins[i]
		if len(in) == 0 || len(in) >= 64<<10 || in[len(in)-1] != '\n' {
			out[name] = in
			continue
		}
		joined = append(joined, in...)
	}
	out["joined"] = joined
	return out
}

// meets reports whether input i (in name order, of size n) meets option k
// of a differential test. Inputs under 64 KiB meet every option. The
// large ones, whose point is where their bytes fall against the buffers,
// meet every other option in turn, so every large input still meets half
// the options (of each mode: the options of a mode are listed together)
// and every option half the large inputs, at half the cost under -race.
// The long run (testenv.Long) runs every pair.
func meets(n, i, k int) bool {
	return testenv.Long() || n < 64<<10 || (i+k)%2 == 0
}

// diffGNUCfg runs argv through the engine and through the GNU tool and
// compares.
func diffGNUCfg(t *testing.T, cfg engine.Config, input []byte, argv ...string) {
	t.Helper()
	want, ok := computetest.GNU(t, input, argv...)
	got, err := computetest.RunPipelineEnv(t, cfg, shquote.Join(argv), input)
	if !ok {
		if err == nil {
			t.Errorf("%v: GNU fails, we succeed", argv)
		}
		return
	}
	if err != nil {
		t.Errorf("%v: %v", argv, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%v on %d bytes: got %d bytes %q, want %d bytes %q", argv, len(input), len(got), computetest.Trunc(got), len(want), computetest.Trunc(want))
	}
}

// diffGNUEach is diffGNUCfg of argv on each input, in a subtest per
// input; the GNU tool runs once for all of them when computetest.GNUEach
// can, and alone (through diffGNUCfg) for an input whose output differs
// from ours. cfg is made anew for each input by newCfg (nil: the default
// engine), and check, if not nil, runs after each.
func diffGNUEach(t *testing.T, newCfg func(*testing.T) engine.Config, check func(*testing.T, engine.Config), inputs map[string][]byte, argv ...string) {
	t.Helper()
	names, ins := computetest.SortedInputs(inputs)
	wants := computetest.GNUEach(t, ins, argv...)
	for i, name := range names {
		t.Run(fmt.Sprintf("%s/%q", name, argv[1:]), func(t *testing.T) {
			var cfg engine.Config
			if newCfg != nil {
				cfg = newCfg(t)
			}
			if check != nil {
				defer check(t, cfg)
			}
			if wants != nil {
				got, err := computetest.RunPipelineEnv(t, cfg, shquote.Join(argv), ins[i])
				if err == nil && bytes.Equal(got, wants[i]) {
					return
				}
			}
			diffGNUCfg(t, cfg, ins[i], argv...)
		})
	}
}

// spillCfg forces spilling: tiny memory, a private dir.
func spillCfg(t *testing.T) engine.Config {
	return engine.Config{Spool: compute.SpoolConfig{MemBytes: 1000, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 30)}}
}

func checkSpillClean(t *testing.T, cfg engine.Config) {
	t.Helper()
	ents, err := os.ReadDir(cfg.Spool.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("spool dir not empty: %d entries", len(ents))
	}
	if u := cfg.Spool.Disk.Used(); u != 0 {
		t.Errorf("disk budget still holds %d bytes", u)
	}
}

var headTailArgs = [][]string{
	{"head"}, {"head", "-n", "0"}, {"head", "-n", "3"}, {"head", "-n", "-3"}, {"head", "-n", "-0"},
	{"head", "-c", "0"}, {"head", "-c", "7"}, {"head", "-c", "-7"}, {"head", "-c", "100000"},
	{"head", "-n", "-1000"}, {"head", "-c", "-200000"}, {"head", "-5"}, {"head", "-5c"}, {"head", "-2k"},
	{"head", "--lines=2"}, {"head", "--bytes=1K"}, {"head", "-n", "1kB"}, {"head", "-c", "1KiB"},
	{"head", "-c", "2b"}, {"head", "-n", "+4"}, {"head", "-v", "-n", "1"}, {"head", "-z", "-n", "2"},
	{"head", "-n", "99999999999999999"}, {"head", "-"}, {"head", "-n", "k"}, {"head", "-c", " 5"},
	{"tail"}, {"tail", "-n", "0"}, {"tail", "-c", "0"}, {"tail", "-n", "3"}, {"tail", "-n", "+3"},
	{"tail", "-n", "+0"}, {"tail", "-c", "+3"}, {"tail", "-c", "7"}, {"tail", "-c", "10000000"},
	{"tail", "-n", "4000"}, {"tail", "-c", "200000"}, {"tail", "-5"}, {"tail", "+5"}, {"tail", "-5c"},
	{"tail", "+5c"}, {"tail", "-3l"}, {"tail", "-l"}, {"tail", "-b"}, {"tail", "-2b"}, {"tail", "+"},
	{"tail", "-5", "-"}, {"tail", "--lines=2"}, {"tail", "-n", "-2"}, {"tail", "-n", "+3", "-n", "2"},
	{"tail", "-z", "-n", "1"}, {"tail", "-v", "-c", "3"}, {"tail", "-n2", "-c3"}, {"tail", "-c3", "-n2"},
	{"tail", "-n", "1M"}, {"tail", "-c", "+100000"},
}

func TestHeadTailGNU(t *testing.T) {
	t.Parallel()
	names, all := computetest.SortedInputs(filterInputs())
	for k, a := range headTailArgs {
		ins := map[string][]byte{}
		for i, name := range names {
			if meets(len(all[i]), i, k) {
				ins[name] = all[i]
			}
		}
		diffGNUEach(t, nil, nil, ins, a...)
	}
}

func TestHeadTailSpill(t *testing.T) {
	t.Parallel()
	all := filterInputs()
	in := map[string][]byte{}
	for _, name := range []string{"many", "long", "binary", "nonl", "boundary"} {
		in[name] = all[name]
	}
	for _, a := range [][]string{
		{"tail", "-n", "10"}, {"tail", "-n", "3000"}, {"tail", "-c", "100000"}, {"tail", "-c", "999"},
		{"tail", "-c", "1001"}, {"head", "-n", "-3000"}, {"head", "-n", "-5"}, {"head", "-c", "-100000"},
		{"head", "-c", "-1000"}, {"tac"}, {"tac", "-s", "ab"}, {"tac", "-b"},
	} {
		diffGNUEach(t, spillCfg, checkSpillClean, in, a...)
	}
}

func TestHeadTailDiskBudget(t *testing.T) {
	t.Parallel()
	cfg := spillCfg(t)
	cfg.Spool.Disk = compute.NewDiskBudget(10000)
	_, err := computetest.RunPipelineEnv(t, cfg, "tail -c 100000", computetest.RandomBytes(3, 200000))
	if compute.CodeOf(err) != compute.CodeResourceExhausted {
		t.Fatalf("err = %v, want RESOURCE_EXHAUSTED", err)
	}
	checkSpillClean(t, cfg)
}

// TestHeadLinesFileManyOperandsAlloc: head -n N with several "-" over a
// regular file gives each "-" the bytes the one before read past its N-th
// line. After a long first line the first "-" read 124 KiB past it; each
// later "-" read 4 KiB of those, took its line, and put the rest of them
// back with a copy of all that was still pending: 2,000 "-" operands
// allocated 250 MB (20,000: 2.4 GB and a second of CPU, where GNU takes
// 40 ms), where moving back over what was read allocates the 4 KiB read
// buffer of each. Compared with GNU's output too. Not parallel: the
// allocation count is the process's (the parallel tests wait for it).
func TestHeadLinesFileManyOperandsAlloc(t *testing.T) {
	const operands = 2000
	in := []byte(strings.Repeat("x", 126980) + "\n" + strings.Repeat("a\n", 1<<16))
	argv := append([]string{"head", "-q", "-n1"}, slices.Repeat([]string{"-"}, operands)...)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	got, _, _, err := computetest.RunPipelineReads(t, engine.Config{}, shquote.Join(argv), in, true, 0)
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 16<<10*operands+8*uint64(len(in)) {
		t.Errorf("head -q -n1 with %d \"-\" over %d bytes from a file: %d bytes allocated, want under 16 KiB an operand and 8 times the input", operands, len(in), alloc)
	}
	want, code := computetest.GNUStatus(t, in, argv...)
	if code != 0 || !bytes.Equal(got, want) {
		t.Errorf("head -q -n1 with %d \"-\" over %d bytes from a file: got %d bytes %q, want %d bytes %q (GNU exit %d)", operands, len(in), len(got), computetest.Trunc(got), len(want), computetest.Trunc(want), code)
	}
}

func TestHeadTailErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ text, want string }{
		{"head -n 1x", `"1x"`},
		{"head -n ''", `invalid number of lines`},
		{"head -c 1Y", "value too large"},
		{"head -n 99999999999999999999999", "value too large"},
		{"tail -n 18446744073709551616", "value too large"},
		{"head -5x", "-- x"},
		{"head -Q", `"-Q"`},
		{"head -n", `"-n" needs a value`},
		{"head file.txt", `"file.txt"`},
		{"tail -F", `cannot follow "-" by name (-F)`},
		{"tail -n1 --follow=n", `cannot follow "-" by name (--follow)`},
		{"tail -s x", `invalid number of seconds "x" for -s`},
		{"tail --pid=1x", `invalid PID "1x" for --pid`},
		{"tail -n 3 -5", `"-5"`},
		{"tail -c 1kb", `"1kb"`},
		{"tail -r", `"-r"`},
		{"tail -n ' -3'", `" -3"`},
		{"tac a", `"a"`},
	} {
		_, err := computetest.RunPipeline(t, c.text, []byte("x\n"))
		if compute.CodeOf(err) != compute.CodeInvalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want CodeInvalid with %q", c.text, err, c.want)
		}
	}
}

// TestTacGNU: the small inputs joined and the large ones meeting every
// other option in turn (joinSmall, meets; the long run every pair).
func TestTacGNU(t *testing.T) {
	t.Parallel()
	names, ins := computetest.SortedInputs(joinSmall(filterInputs()))
	for i, name := range names {
		in := ins[i]
		t.Run(name, func(t *testing.T) {
			for k, a := range [][]string{{"tac"}, {"tac", "-b"}, {"tac", "-s", ":"}, {"tac", "-s", "ab"},
				{"tac", "-s", "aa"}, {"tac", "-b", "-s", "zz"}, {"tac", "-"}} {
				if meets(len(in), i, k) {
					diffGNUCfg(t, engine.Config{}, in, a...)
				}
			}
		})
	}
	for _, in := range []string{"aaa", "aaaa", "xaax", "aaaaa\n"} {
		diffGNUCfg(t, engine.Config{}, []byte(in), "tac", "-s", "aa")
		diffGNUCfg(t, engine.Config{}, []byte(in), "tac", "-b", "-s", "aa")
	}
}

// TestTacLongSeparator: a long separator (a gRPC pipeline may be 64 KiB)
// is checked at a block boundary one candidate at a time, up to len(sep)
// of them; each was copied whole. With 16,384 bytes (GNU's blocks are
// then 64 KiB) that allocated 690 to 3964 times each input below (260 MB
// for the first, of 64 KiB; with 60,000 bytes, 2.5 GB over 1.2 MB), where
// a candidate compared as it is read, and dropped at its first byte
// unlike the separator's, allocates 7 to 14 times the input. Each input,
// the separator overlapping itself across a block boundary, is also
// compared with GNU's output, one run each. Not parallel: the allocation
// count is the process's (the parallel tests wait for it).
func TestTacLongSeparator(t *testing.T) {
	sep := strings.Repeat("x", 16384)
	xs := []byte(strings.Repeat("x", 200000))
	part := []byte(strings.Repeat(sep[:len(sep)*2/3]+"y", 7))
	for _, c := range []struct {
		in     []byte
		before bool
	}{
		{[]byte(strings.Repeat(sep+"y\n", 4)), false},
		{xs, false}, {xs, true}, {part, false}, {part, true},
	} {
		flags, argv := "-s", []string{"tac", "-s", sep}
		if c.before {
			flags, argv = "-b -s", []string{"tac", "-b", "-s", sep}
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		got, err := computetest.RunPipeline(t, shquote.Join(argv), c.in)
		runtime.ReadMemStats(&m1)
		if err != nil {
			t.Fatal(err)
		}
		if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 32*uint64(len(c.in)) {
			t.Errorf("tac %s of %d bytes: %d bytes allocated over %d bytes of input, want under 32 times the input", flags, len(sep), alloc, len(c.in))
		}
		if want, ok := computetest.GNU(t, c.in, argv...); !ok || !bytes.Equal(got, want) {
			t.Errorf("tac %s of %d bytes on %d bytes: got %d bytes %q, want %d bytes %q (GNU ok %v)", flags, len(sep), len(c.in), len(got), computetest.Trunc(got), len(want), computetest.Trunc(want), ok)
		}
	}
}

// tacPastRecordInput is a shape where candidate separators at block
// boundaries read far past the pending record (with -b, a record that
// starts near the boundary), where GNU's buffer still holds older bytes.
func tacPastRecordInput() (sep string, in []byte) {
	sep = strings.Repeat("a", 59999) + "b"
	return sep, []byte(strings.Repeat(sep+"junk\n"+strings.Repeat("a", 60000)+"b"+sep+"xx\n"+sep+strings.Repeat("a", 26983), 2))
}

// TestTacSeparatorPastRecord: tacPastRecordInput against GNU, and the
// queue read at most once a byte. Those candidates compared what GNU's
// buffer holds there a byte at a time (304 million compares over these
// 534 KB with -b, 1.2 s of CPU against GNU's 0.1 s); they now compare a
// range at a time (BenchmarkTacSeparatorPastRecord). Not parallel: the
// hook counts the process's reads.
func TestTacSeparatorPastRecord(t *testing.T) {
	sep, in := tacPastRecordInput()
	for _, argv := range [][]string{{"tac", "-b", "-s", sep}, {"tac", "-s", sep}} {
		reads := 0
		text.SetQueueRangeHook(func() { reads++ })
		got, err := computetest.RunPipeline(t, shquote.Join(argv), in)
		text.SetQueueRangeHook(nil)
		if err != nil {
			t.Fatal(err)
		}
		if reads > len(in) {
			t.Errorf("%s of %d bytes: %d reads of the queue over %d bytes of input, want at most one a byte", argv[1], len(sep), reads, len(in))
		}
		if want, ok := computetest.GNU(t, in, argv...); !ok || !bytes.Equal(got, want) {
			t.Errorf("%s of %d bytes: got %d bytes %q, want %d bytes %q (GNU ok %v)", argv[1], len(sep), len(got), computetest.Trunc(got), len(want), computetest.Trunc(want), ok)
		}
	}
}

// BenchmarkTacSeparatorPastRecord: tac -b -s over tacPastRecordInput,
// the CPU a candidate's compares past the pending record cost.
func BenchmarkTacSeparatorPastRecord(b *testing.B) {
	sep, in := tacPastRecordInput()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := computetest.RunPipeline(b, shquote.Join([]string{"tac", "-b", "-s", sep}), in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHeadTailPipeline(t *testing.T) {
	t.Parallel()
	in := filterInputs()["many"]
	for _, script := range []string{"tac | head -n 5", "head -n 100 | tail -n 3", "tail -n +10 | head -c 100 | tac"} {
		want, _ := computetest.Sh(t, in, script)
		got, err := computetest.RunPipeline(t, script, in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: got %q, %v; want %q", script, computetest.Trunc(got), err, computetest.Trunc(want))
		}
	}
}

func benchFilter(b *testing.B, text string, in []byte) {
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := computetest.RunPipeline(b, text, in); err != nil {
			b.Fatal(err)
		}
	}
}

func benchText() []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < 32<<20; i++ {
		buf.WriteString("2024-01-01 12:00:00 INFO some:log:line with fields ")
		buf.WriteString(strings.Repeat("x", i%40))
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func BenchmarkTailLines(b *testing.B) { benchFilter(b, "tail -n 1000", benchText()) }
func BenchmarkHeadElide(b *testing.B) { benchFilter(b, "head -n -1000", benchText()) }
func BenchmarkTac(b *testing.B)       { computetest.BenchVsGNU(b, benchText(), "tac") }
