package grep_test

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/grep"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/compute/spool"
	"github.com/halfclose/halfclose/internal/syncbuf"
	"github.com/halfclose/halfclose/internal/testenv"
)

var grepInputs = map[string]string{
	"empty":      "",
	"log":        "INFO start\nDEBUG x=1\nERROR failed: timeout\nWARN slow 250ms\nERROR disk full\nINFO done\n",
	"nonl":       "foo\nbar\nfoo bar",
	"crlf":       "foo\r\nbar\r\nfoo-bar\r\n",
	"empties":    "\n\na\n\n",
	"utf8":       "caf\xc3\xa9\nna\xefve\n\xff\xfe\nplain\n\xc3\xa9t\xc3\xa9\n",
	"words":      "foo foo\nfoobar\nbar_foo\n(foo)\nfoo-\nFOO Foo fOo\n",
	"nul":        "a\x00b\nab\nx\n",
	"nul-late":   "ab\nab\x00\nab\n",
	"nul-only":   "\x00",
	"nums":       "a1b22c333\n1234\nab\n",
	"specials":   "a.b\na*b\na+b\na?b\na{1}b\n(a)\n[x]\n\\back\n^caret$\n",
	"noeol-only": "x",
}

var grepArgs = [][]string{
	{"grep", "foo"},
	{"grep", "-F", "foo"},
	{"grep", "-c", "foo"},
	{"grep", "-v", "foo"},
	{"grep", "-vc", "foo"},
	{"grep", "-n", "foo"},
	{"grep", "-vn", "foo"},
	{"grep", "-o", "foo"},
	{"grep", "-on", "o"},
	{"grep", "-i", "foo"},
	{"grep", "-iF", "FOO"},
	{"grep", "-w", "foo"},
	{"grep", "-wo", "foo"},
	{"grep", "-wn", "-F", "foo"},
	{"grep", "-x", "foo"},
	{"grep", "-xF", "foo bar"},
	{"grep", "-m", "1", "o"},
	{"grep", "-m", "2", "-c", "o"},
	{"grep", "-m", "0", "o"},
	{"grep", "-m", "0", "-c", "o"},
	{"grep", "-m", "1", "-v", "o"},
	{"grep", "-v", "-o", "o"},
	{"grep", "-E", "ERROR|WARN"},
	{"grep", "-E", "[0-9]+ms"},
	{"grep", "-oE", "[0-9]+"},
	{"grep", "-E", "^(foo|bar)$"},
	{"grep", "-e", "foo", "-e", "bar"},
	{"grep", "-F", "-e", "foo", "-e", "ab"},
	{"grep", "foo\nbar"},
	{"grep", ""},
	{"grep", "-c", ""},
	{"grep", "-v", ""},
	{"grep", "-x", ""},
	{"grep", "-o", ""},
	{"grep", "^"},
	{"grep", "$"},
	{"grep", "-c", "^$"},
	{"grep", "-o", "."},
	{"grep", "-c", "."},
	{"grep", "-o", "..."},
	{"grep", "-c", "[^a-z]"},
	{"grep", "-o", "[[:alpha:]]*"},
	{"grep", "a.b"},
	{"grep", "a*b"},
	{"grep", "a\\+b"},
	{"grep", "a+b"},
	{"grep", "-E", "a+b"},
	{"grep", "a\\{1\\}b"},
	{"grep", "-E", "a{1}b"},
	{"grep", "\\(a\\)"},
	{"grep", "(a)"},
	{"grep", "*b"},
	{"grep", "-E", "*b"},
	{"grep", "-E", "a**"},
	{"grep", "[\\]"},
	{"grep", "[]x]"},
	{"grep", "\\^caret"},
	{"grep", "^caret\\$"},
	{"grep", "a^b"},
	{"grep", "-E", "a{,1}b"},
	{"grep", "\\w\\+"},
	{"grep", "-o", "\\w*"},
	{"grep", "-o", "\\S\\+"},
	{"grep", "-c", "\\s"},
	{"grep", "\xc3\xa9"},
	{"grep", "-F", "\xc3\xa9"},
	{"grep", "-o", "\xc3."},
	{"grep", "-i", "CAF\xc3\xa9"},
	{"grep", "-F", "\r"},
	{"grep", "-c", "b"},
	{"grep", "-cv", "b"},
	{"grep", "b"},
	{"grep", "-n", "a"},
	{"grep", "-c", "-x", "b"},
	{"grep", "\\(a"},
	{"grep", "-E", "(a"},
	{"grep", "a\\)"},
	{"grep", "-E", "a)"},
	{"grep", "[a"},
	{"grep", "[[:foo:]]"},
	{"grep", "[z-a]"},
	{"grep", "-", "foo"},
}

func TestGrepDifferential(t *testing.T) {
	t.Parallel()
	inputs := map[string][]byte{}
	for name, in := range grepInputs {
		inputs[name] = []byte(in)
	}
	for _, argv := range grepArgs {
		if argv[1] == "-" {
			argv = []string{"grep", "foo", "-"}
		}
		computetest.DiffGNUEach(t, inputs, argv...)
	}
}

// TestGrepBig covers buffer boundaries, long lines and the binary block
// rule on inputs larger than the buffer.
//
// The log is three buffers (the last one partial) and the long line spans
// three; the long run (testenv.Long) has three full buffers and a 3 MiB line.
func TestGrepBig(t *testing.T) {
	t.Parallel()
	size, longLine := 2*grep.GrepBufSize+grep.GrepBlock+777, 2*grep.GrepBufSize+grep.GrepBlock
	if testenv.Long() {
		size, longLine = 3*grep.GrepBufSize+777, 3<<20
	}
	var log bytes.Buffer
	for i := 0; log.Len() < size; i++ {
		fmt.Fprintf(&log, "%d level=%s msg=request took %dms\n", i, []string{"INFO", "DEBUG", "ERROR"}[i%3], i%997)
	}
	big := log.Bytes()
	// A byte >= 0x80 in the long line: -o over a pattern that can match
	// one searches it widened through the reader (x.E).
	long := append(bytes.Repeat([]byte("x"), longLine), "\xffERROR\nshort ERROR\n"...)
	withNul := func(at int) []byte {
		b := bytes.Clone(big)
		b[at] = 0
		return b
	}
	inputs := map[string][]byte{
		"log":       big,
		"log-noeol": big[:len(big)-1],
		"long":      long,
		"nul-early": withNul(10),
		"nul-block": withNul(grep.GrepBlock + 5),
		"nul-late":  withNul(2*grep.GrepBufSize + 3),
		"nul-last":  withNul(len(big) - 2),
		"random":    computetest.RandomBytes(7, grep.GrepBufSize+grep.GrepBlock/2),
	}
	argvs := [][]string{
		{"grep", "ERROR"},
		{"grep", "-c", "ERROR"},
		{"grep", "-vn", "DEBUG"},
		{"grep", "-E", "took [0-9]+5ms"},
		{"grep", "-c", "-E", "x"},
		{"grep", "-o", "-E", "=[A-Z]+"},
		{"grep", "-m", "1000", "ms"},
		{"grep", "-c", "-v", "a"},
		{"grep", "-o", "-E", "x.E"},
	}
	// The long line is over the default line limit: a server that allows
	// it gets GNU's output.
	cfg := engine.Config{MaxLineBytes: 4 << 20}
	if testenv.Long() {
		for _, argv := range argvs {
			computetest.DiffGNUEachEnv(t, cfg, inputs, argv...)
		}
		return
	}
	// By default the inputs with a NUL, which only the binary rule sets
	// apart, each meet half of the options, in turn: every option still
	// meets a NUL in the first buffer and one in a later buffer. The log
	// with and without its final newline (the same buffers but for the
	// last line) take the options in turn too.
	nul := []string{"nul-early", "nul-block", "nul-late", "nul-last", "random"}
	for k, argv := range argvs {
		in := map[string][]byte{"long": inputs["long"]}
		if k%2 == 0 {
			in["log"] = inputs["log"]
		} else {
			in["log-noeol"] = inputs["log-noeol"]
		}
		for i, name := range nul {
			if (i+k)%2 == 0 {
				in[name] = inputs[name]
			}
		}
		computetest.DiffGNUEachEnv(t, cfg, in, argv...)
	}
}

func TestGrepErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args string
		want []string
	}{
		{"grep", []string{"grep", "no pattern"}},
		{"grep -Q x", []string{"grep", `"-Q"`}},
		{"grep x file", []string{"grep", `"file"`}},
		{"grep -m abc x", []string{"grep", `"abc"`, "-m"}},
		{`grep '\(a\)\1'`, []string{"grep", "back-reference"}},
		{"grep '[a'", []string{"grep", "unmatched ["}},
		{"grep -E 'a{2000}'", []string{"grep", "unsupported", "1000"}},
		{"grep '[[:foo:]]'", []string{"grep", "foo"}},
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

func TestGrepPipelines(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&log, "%s user%d %s\n", []string{"INFO", "DEBUG", "ERROR", "WARN"}[i*7%4], i%37, []string{"ok", "fail", "Fail"}[i%3])
	}
	for _, script := range []string{
		"grep -v DEBUG | sort | uniq -c | sort -rn",
		"grep -E 'ERROR|WARN' | sort -k2,2 -s | uniq -c",
		"grep -i fail | sort -u -f",
		"sort -t ' ' -k2 | grep -n user1 | uniq -d",
		"grep -o 'user[0-9]*' | sort | uniq -c | sort -k1,1nr -k2",
	} {
		t.Run(script, func(t *testing.T) {
			want, ok := computetest.Sh(t, log.Bytes(), script)
			if !ok {
				t.Fatalf("oracle failed")
			}
			got, err := computetest.RunPipeline(t, script, log.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %q\nwant %q", computetest.Trunc(got), computetest.Trunc(want))
			}
		})
	}
}

// logInput returns about n bytes of varied, realistic log lines.
func logInput(n int) []byte {
	levels := []string{"INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR", "INFO"}
	comps := []string{"api", "db", "auth", "cache", "worker", "scheduler"}
	users := []string{"alice", "bob", "carol", "dave", "eve", "mallory"}
	var log bytes.Buffer
	for i := 0; log.Len() < n; i++ {
		h := uint32(i) * 2654435761
		fmt.Fprintf(&log, "2024-05-%02d %02d:%02d:%02d.%03d %-5s [%s] ", 1+i/86400%28, i/3600%24, i/60%60, i%60, h%1000,
			levels[h>>8%8], comps[h>>12%6])
		switch h >> 16 % 6 {
		case 0:
			fmt.Fprintf(&log, "request GET /v1/items/%d status=%d took %dms\n", h%5000, []int{200, 200, 404, 500}[h>>20%4], h%997)
		case 1:
			fmt.Fprintf(&log, "login user=%s id=%d from 10.0.%d.%d\n", users[h>>4%6], h%100000, h>>8%256, h%256)
		case 2:
			fmt.Fprintf(&log, "query select * from items where id = %d returned %d rows\n", h%100000, h%50)
		case 3:
			fmt.Fprintf(&log, "cache miss key=item:%d size=%d bytes\n", h%10000, h%65536)
		case 4:
			fmt.Fprintf(&log, "connection error: timeout after %d retries, backing off %dms\n", h%5, h%3000)
		default:
			fmt.Fprintf(&log, "job %08x finished in %d.%03ds queue=%s\n", h, h%60, h%1000, comps[h%6])
		}
	}
	return log.Bytes()
}

// tookInput is log lines that all hold "took ": a prefilter on it selects
// every line.
func tookInput() []byte {
	tookOnce.Do(func() { tookData = makeTookInput() })
	return tookData
}

var (
	tookOnce sync.Once
	tookData []byte
)

func makeTookInput() []byte {
	var log bytes.Buffer
	for i := 0; log.Len() < 64<<20; i++ {
		fmt.Fprintf(&log, "2024-05-01T12:%02d:%02d.%03dZ %s svc=api req=%08x path=/v1/items/%d took %dms\n",
			i/60%60, i%60, i%1000, []string{"INFO", "DEBUG", "WARN", "ERROR", "INFO"}[i%5], uint32(i)*2654435761, i%5000, i%997)
	}
	return log.Bytes()
}

var (
	benchInputOnce sync.Once
	benchInput     []byte
)

func grepBenchInput() []byte {
	benchInputOnce.Do(func() { benchInput = logInput(64 << 20) })
	return benchInput
}

func benchGrep(b *testing.B, pipeline string) {
	computetest.BenchVsGNU(b, grepBenchInput(), strings.Fields(pipeline)...)
}

// BenchmarkGrepF and its neighbours time grep on synthetic log lines.
func BenchmarkGrepF(b *testing.B) { benchGrep(b, "grep -F ERROR") }
func BenchmarkGrepE(b *testing.B) {
	computetest.BenchVsGNU(b, grepBenchInput(), "grep", "-E", "took [0-9]+5ms")
}
func BenchmarkGrepETook(b *testing.B) {
	computetest.BenchVsGNU(b, tookInput(), "grep", "-E", "took [0-9]+5ms")
}
func BenchmarkGrepEAlt(b *testing.B) {
	computetest.BenchVsGNU(b, grepBenchInput(), "grep", "-E", "WARN|ERROR")
}
func BenchmarkGrepV(b *testing.B) { benchGrep(b, "grep -v DEBUG") }
func BenchmarkGrepC(b *testing.B) { benchGrep(b, "grep -c ms") }
func BenchmarkGrepTime(b *testing.B) {
	computetest.BenchVsGNU(b, grepBenchInput(), "grep", "-E", "^2024-..-.. ..:..:..")
}
func BenchmarkGrepUser(b *testing.B) {
	computetest.BenchVsGNU(b, grepBenchInput(), "grep", "-E", "user=[a-z]+ id=[0-9]{3}")
}
func BenchmarkGrepI(b *testing.B)   { benchGrep(b, "grep -i error") }
func BenchmarkGrepN(b *testing.B)   { benchGrep(b, "grep -n ERROR") }
func BenchmarkGrepO(b *testing.B)   { benchGrep(b, "grep -o took.[0-9]*") }
func BenchmarkGrepBRE(b *testing.B) { benchGrep(b, "grep took.[0-9]*5ms") }

// TestGrepWidePrefilter: a pattern whose required literals are not ASCII
// on input that must be widened.
func TestGrepWidePrefilter(t *testing.T) {
	t.Parallel()
	in := []byte("x\xc3\xa9y\n\xc3\xa9\n\xe9\nab\xff\xc3\xa9z\n\xc3\n")
	for _, argv := range [][]string{
		{"grep", "-E", "\xc3\xa9.|ab"},
		{"grep", "-E", "\xc3\xa9|\xff"},
		{"grep", "-o", ".\xc3\xa9"},
		{"grep", "-c", "\xc3."},
		{"grep", "-F", "-e", "\xc3\xa9", "-e", "\xe9"},
	} {
		computetest.DiffGNU(t, in, argv...)
	}
}

// TestGrepWideLineOutsideProcess: while a line too long to search as a
// slice is processed, or last was, the reader search also serves lines
// widened outside that text, which it must read as widened (two bytes
// one rune) whether or not the long line was: a line of before-context
// that -o -v prints the matches of (contextRaw), and the lines of GNU's
// read after the one with the first NUL, tested as GNU would select them
// while after-context is pending (binaryTail's lineMatches).
func TestGrepWideLineOutsideProcess(t *testing.T) {
	t.Parallel()
	long := bytes.Repeat([]byte("x"), 128<<10) // no byte >= 0x80
	for _, argv := range [][]string{
		{"grep", "-o", "-v", "-B", "1", "caf."},
		{"grep", "-o", "-v", "-B", "1", "-E", "caf.( |$)"},
	} {
		t.Run(fmt.Sprintf("%q", argv[1:]), func(t *testing.T) {
			computetest.DiffGNU(t, slices.Concat([]byte("caf\xe9 \n"), long, []byte("\n")), argv...)
		})
	}
	// The long line ends GNU's third read (96 KiB, 48 KiB, then to a page
	// boundary); the NUL is in the next one, with a line that selects.
	const lineEnd = 40 << 12
	in := slices.Concat(bytes.Repeat([]byte("x"), lineEnd-len(" cafe\n")), []byte(" cafe\ncaf\xe9 z\na\nb\nc\n\x00\n"))
	if ends := grep.GNUReadEnds(in); !slices.Contains(ends, lineEnd) {
		t.Fatalf("GNU's reads end at %v, not at the long line's end %d", ends, lineEnd)
	}
	for _, argv := range [][]string{
		{"grep", "-A", "5", "-E", "caf.( |$)"},
		{"grep", "-A", "5", "-w", "-E", "cafe|caf\xe9"},
	} {
		t.Run(fmt.Sprintf("%q", argv[1:]), func(t *testing.T) {
			computetest.DiffGNU(t, in, argv...)
		})
	}
}

// TestGrepFastPaths: the prefilters (rarest literal, case-folded literals)
// and the byte-class sequence matcher, against GNU.
func TestGrepFastPaths(t *testing.T) {
	t.Parallel()
	log := logInput(300 << 10) // past the 256 KiB prefilter sample
	odd := []byte("Error ERROR eRRor\nerr or\nwarn WARN Warn\n2024-05-01 12:00:00 x\n2024-05-01 12:00:0\n" +
		"x2024-05-01 12:00:00\nid=123 user=bob id=12\nuser=BOB id=1234\n\xe9rror \xc9RROR\n" +
		"a\xffb\na\nb\nab\nabab\nab ab\nERRerr\nxzz\ncdcd\nt\xffok 5ms\ntook 15ms took 5ms\ntook 5ms\n\xff\xfe\n2024-05-01 12:00:00\n\n")
	big := append(bytes.Repeat([]byte("no match here, just text\n"), 60000), "took 12345ms\n2024-13-99 99:99:99\n"...)
	args := [][]string{
		{"grep", "-E", "took [0-9]+5ms"},
		{"grep", "-E", "took [0-9]*5ms"},
		{"grep", "-E", "ERROR|WARN"},
		{"grep", "-E", "^2024-..-.. ..:..:.."},
		{"grep", "-E", "^2024-..-.. ..:..:..$"},
		{"grep", "-E", "..:..:..$"},
		{"grep", "-E", "[0-9][0-9]:[0-9][0-9]"},
		{"grep", "-x", "2024-05-01 12:00:00"},
		{"grep", "-E", "user=[a-z]+ id=[0-9]{3}"},
		{"grep", "-E", "id=[0-9]{3}"},
		{"grep", "-E", "id=[0-9]{3}$"},
		{"grep", "-i", "error"},
		{"grep", "-ic", "ERROR"},
		{"grep", "-in", "Warn"},
		{"grep", "-iv", "error"},
		{"grep", "-io", "error"},
		{"grep", "-iw", "error"},
		{"grep", "-iE", "error|warn"},
		{"grep", "-iE", "err(or)?|took [0-9]+"},
		{"grep", "-E", "[Ee]rror|WARN"},
		{"grep", "-E", "[Ee]RRor"},
		{"grep", "-iE", "user=[a-z]+ ID=[0-9]{3}"},
		{"grep", "-iF", "-e", "Error", "-e", "WARN"},
		{"grep", "-i", "\xe9rror"},
		{"grep", "a.b"},
		{"grep", "^a.b$"},
		{"grep", "-c", "^.$"},
		{"grep", "-E", "t.ok 5ms"},
		{"grep", "-o", "t.ok"},
		{"grep", "-n", "[^a-z ]ok"},
		{"grep", "-E", "\xff."},
		{"grep", "-E", "[\x80-\xff]"},
		{"grep", "-E", "^$"},
		{"grep", "-E", "took [0-9]+5ms|2024-13"},
		{"grep", "-E", "(took|2024)-?[0-9]{2}"},
		{"grep", "-E", "(ab){2}|zz"},
		{"grep", "-E", "(ab){2,}|(cd)+|x{1,3}"},
		{"grep", "-iE", "(err){2}|WARN"},
		{"grep", "-E", "(ERROR|WARN) \\[(db|api)\\]"},
	}
	for k, a := range args {
		in := map[string][]byte{"log": log, "odd": odd}
		// big, 1.5 MB past the prefilter's sample and the buffer, meets
		// every other option by default, all in the long run.
		if k%2 == 0 || testenv.Long() {
			in["big"] = big
		}
		computetest.DiffGNUEach(t, in, a...)
	}
}

func TestLowerASCII(t *testing.T) {
	t.Parallel()
	src := make([]byte, 256+13)
	for i := range src {
		src[i] = byte(i * 7) // every byte value, at every offset in a word
	}
	for _, off := range []int{0, 1, 3, 8, 13} {
		s := src[off:]
		dst := make([]byte, len(s))
		grep.LowerASCII(dst, s)
		for i, c := range s {
			want := c
			if 'A' <= c && c <= 'Z' {
				want = c + 'a' - 'A'
			}
			if dst[i] != want {
				t.Fatalf("grep.LowerASCII(%#x) = %#x, want %#x", c, dst[i], want)
			}
		}
	}
}

// TestGrepPrefixAllocs: the line number and byte offset before each
// output line are formatted into the output buffer, not into a heap
// array of their own per line (100,000 lines of grep -n cost 100,000
// allocations and 2.4 MB of garbage; halfclosed's RSS for grep -n over
// 312 MB was 100 MiB against 35 MiB without -n).
func TestGrepPrefixAllocs(t *testing.T) {
	in := bytes.Repeat([]byte("info line of some text here 0123456789\n"), 10000)
	for _, text := range []string{"grep -n info", "grep -b info", "grep -nb -H -C1 info", "grep -vn x"} {
		p, err := computetest.Engine(engine.Config{}).Compile(text)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(3, func() {
			if err := p.Stages[0].Run(t.Context(), bytes.NewReader(in), computetest.Discard{}); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 1000 {
			t.Errorf("%s: %.0f allocations over 10,000 lines; want a few per input, not one per line", text, allocs)
		}
	}
}

// takingWriter is a compute.BufferTaker that takes every buffer handed
// to it, keeps it and a copy of it as it was then, and gives a new one.
type takingWriter struct {
	out          bytes.Buffer
	taken, snaps [][]byte
	partial      int // buffers handed over before they were full
}

func (w *takingWriter) Write(p []byte) (int, error) { return w.out.Write(p) }

func (w *takingWriter) Holding() bool { return true }

func (w *takingWriter) TakeBuffer(p []byte) ([]byte, int, error) {
	if len(p) < cap(p) {
		w.partial++
	}
	w.out.Write(p)
	w.taken, w.snaps = append(w.taken, p), append(w.snaps, bytes.Clone(p))
	return make([]byte, 0, cap(p)), len(p), nil
}

// TestGrepHandsOverFullBuffers: grep hands its output buffers to a
// destination that takes them (the reply spool), full but for the last,
// never touches one again, and writes GNU's output.
func TestGrepHandsOverFullBuffers(t *testing.T) {
	t.Parallel()
	in := logInput(3 << 20)
	for _, argv := range [][]string{{"grep", "-F", "INFO"}, {"grep", "-v", "INFO"}, {"grep", "-n", "ERROR"}} {
		text := strings.Join(argv, " ")
		p, err := computetest.Engine(engine.Config{}).Compile(text)
		if err != nil {
			t.Fatal(err)
		}
		var w takingWriter
		if err := p.Run(t.Context(), bytes.NewReader(in), &w); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		want, ok := computetest.GNU(t, in, argv...)
		if ok && !bytes.Equal(w.out.Bytes(), want) {
			t.Errorf("%s: %d bytes out, GNU %d", text, w.out.Len(), len(want))
		}
		if len(w.taken) < w.out.Len()/(64<<10) {
			t.Errorf("%s: %d buffers taken of %d bytes out", text, len(w.taken), w.out.Len())
		}
		if w.partial > 1 {
			t.Errorf("%s: %d buffers handed over before they were full", text, w.partial)
		}
		for i, b := range w.taken {
			if !bytes.Equal(b, w.snaps[i]) {
				t.Fatalf("%s: buffer %d written after it was handed over", text, i)
			}
		}
	}
}

// TestGrepFlushesToReleasedSpool: once the reply spool is released (the
// input has ended, and the reply goes out while the stages still run:
// `sort | grep`), grep passes on what each read of its input selected, as
// to a pipe, rather than keeping it until its 64 KiB buffer fills: the
// line selected in the first read is in the spool, or sent, when grep
// asks for more input megabytes later.
func TestGrepFlushesToReleasedSpool(t *testing.T) {
	t.Parallel()
	s := spool.New(compute.SpoolConfig{MemBytes: 1 << 20, Dir: t.TempDir(), Disk: compute.NewDiskBudget(4 << 20)})
	defer s.Close()
	g := &releaseGate{started: make(chan struct{})}
	s.SetGate(g)
	out := &syncbuf.Buffer{}
	released := make(chan error, 1)
	go func() { released <- s.Release(out) }()
	testenv.Recv(t, hangTimeout, "Release's start", g.started)
	in := append([]byte("a match\n"), bytes.Repeat([]byte("filler line\n"), 4<<20/12)...)
	var passed bool
	r := &endReader{data: in, atEnd: func() {
		// Held first: Release drops what it sent only after out took it.
		passed = s.Held() > 0 || out.Len() > 0
	}}
	p, err := computetest.Engine(engine.Config{}).Compile("grep match")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(t.Context(), r, s); err != nil {
		t.Fatal(err)
	}
	s.CloseWrite()
	if err := testenv.Recv(t, hangTimeout, "Release's return", released); err != nil {
		t.Fatal(err)
	}
	if !passed {
		t.Error("the line selected megabytes before the end was still in grep's buffer at the end of its input")
	}
	if got := out.String(); got != "a match\n" {
		t.Errorf("sent %q", got)
	}
}

// releaseGate is a spool.Gate that closes started when Release starts.
type releaseGate struct{ started chan struct{} }

func (g *releaseGate) Wait(held, n int64) error { return nil }
func (g *releaseGate) Released()                { close(g.started) }

// endReader reads data, then calls atEnd at the first read past it.
type endReader struct {
	data  []byte
	atEnd func()
}

func (r *endReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		if r.atEnd != nil {
			r.atEnd()
			r.atEnd = nil
		}
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestGrepInvertOnlyPastMaxBudget: -o -v -x with -m and -A compiles the
// patterns a second time, without -x, for the -A lines past -m (GNU's
// regexp matcher searches them from -o's start without -x's check), and
// that second compile is charged to the pipeline's pattern budget too
// (docs/protocol.md, Limits of a pipeline): a pattern that fits once and
// not twice is refused with that combination only.
func TestGrepInvertOnlyPastMaxBudget(t *testing.T) {
	p := strings.Repeat("[ab]{900}", 3) // over half the budget
	in := []byte("zz\nab\n")
	for _, args := range []string{"-Exov -m1", "-Exov -A1", "-Exv -m1 -A1", "-Exovc -m1 -A1", "-Fxov -m1 -A1"} {
		if _, err := computetest.RunPipeline(t, "grep "+args+" '"+p+"'", in); err != nil {
			t.Errorf("grep %s: %v, want it taken (one compile)", args, err)
		}
	}
	_, err := computetest.RunPipeline(t, "grep -Exov -m1 -A1 '"+p+"'", in)
	if compute.CodeOf(err) != compute.CodeResourceExhausted || !strings.Contains(err.Error(), "pattern too large") {
		t.Errorf("grep -Exov -m1 -A1: %v, want RESOURCE_EXHAUSTED pattern too large (two compiles)", err)
	}
}
