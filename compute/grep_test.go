package compute

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// diffGNU runs argv through runPipeline and through the GNU tool and
// compares stdout. GNU's exit status 1 (no match) is an empty success for
// us; a GNU error (status >= 2) must be an error here too.
func diffGNU(t *testing.T, input []byte, argv ...string) {
	t.Helper()
	want, ok := gnuStatus(t, input, argv...)
	got, err := runPipeline(t, shJoin(argv), input)
	if ok >= 2 {
		if err == nil {
			t.Fatalf("%s: GNU failed (status %d) but we succeeded with %q", shJoin(argv), ok, trunc(got))
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", shJoin(argv), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s on %q:\n got %q\nwant %q", shJoin(argv), trunc(input), trunc(got), trunc(want))
	}
}

func trunc(b []byte) []byte {
	if len(b) > 300 {
		return append(append([]byte{}, b[:300]...), "..."...)
	}
	return b
}

// gnuStatus is gnu with the exit status; the input comes from a regular
// file, as GNU grep's binary-file blocks follow its reads.
func gnuStatus(t testing.TB, input []byte, argv ...string) ([]byte, int) {
	t.Helper()
	if _, err := exec.LookPath(argv[0]); err != nil {
		gnu(t, input, argv...) // skips or fails as the helper decides
	}
	f := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(f, input, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", shJoin(argv)+" < "+shellQuote(f))
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return stdout.Bytes(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.Bytes(), 0
}

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
	for name, in := range grepInputs {
		for _, argv := range grepArgs {
			t.Run(fmt.Sprintf("%s/%q", name, argv[1:]), func(t *testing.T) {
				if argv[1] == "-" {
					argv = []string{"grep", "foo", "-"}
				}
				diffGNU(t, []byte(in), argv...)
			})
		}
	}
}

// TestGrepBig covers buffer boundaries, long lines and the binary block
// rule on inputs larger than the buffer.
func TestGrepBig(t *testing.T) {
	var log bytes.Buffer
	for i := 0; log.Len() < 3*grepBufSize+777; i++ {
		fmt.Fprintf(&log, "%d level=%s msg=request took %dms\n", i, []string{"INFO", "DEBUG", "ERROR"}[i%3], i%997)
	}
	big := log.Bytes()
	long := append(bytes.Repeat([]byte("x"), 3<<20), "ERROR\nshort ERROR\n"...)
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
		"nul-block": withNul(grepBlock + 5),
		"nul-late":  withNul(2*grepBufSize + 3),
		"nul-last":  withNul(len(big) - 2),
		"random":    randomBytes(7, grepBufSize+grepBlock/2),
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
	}
	for name, in := range inputs {
		for _, argv := range argvs {
			t.Run(fmt.Sprintf("%s/%q", name, argv[1:]), func(t *testing.T) {
				diffGNU(t, in, argv...)
			})
		}
	}
}

func TestGrepErrors(t *testing.T) {
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
		{"grep -E 'a{2000}'", []string{"grep", "invalid"}},
		{"grep '[[:foo:]]'", []string{"grep", "foo"}},
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

func TestGrepPipelines(t *testing.T) {
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
			want, ok := sh(t, log.Bytes(), script)
			if !ok {
				t.Fatalf("oracle failed")
			}
			got, err := runPipeline(t, script, log.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %q\nwant %q", trunc(got), trunc(want))
			}
		})
	}
}

func grepBenchInput() []byte {
	var log bytes.Buffer
	for i := 0; log.Len() < 64<<20; i++ {
		fmt.Fprintf(&log, "2024-05-01T12:%02d:%02d.%03dZ %s svc=api req=%08x path=/v1/items/%d took %dms\n",
			i/60%60, i%60, i%1000, []string{"INFO", "DEBUG", "WARN", "ERROR", "INFO"}[i%5], i*2654435761, i%5000, i%997)
	}
	return log.Bytes()
}

func benchGrep(b *testing.B, pipeline string) {
	in := grepBenchInput()
	e := NewEngine(Config{})
	p, err := e.Compile(pipeline)
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

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Compare with: grep -F ERROR bench.log > /dev/null (LC_ALL=C), on the same
// data (write it with go test -run TestWriteGrepBench).
func BenchmarkGrepF(b *testing.B)    { benchGrep(b, "grep -F ERROR") }
func BenchmarkGrepE(b *testing.B)    { benchGrep(b, "grep -E 'took [0-9]+5ms'") }
func BenchmarkGrepEAlt(b *testing.B) { benchGrep(b, "grep -E 'WARN|ERROR'") }
func BenchmarkGrepV(b *testing.B)    { benchGrep(b, "grep -v DEBUG") }
func BenchmarkGrepC(b *testing.B)    { benchGrep(b, "grep -c ms") }

// TestWriteGrepBench writes the benchmark input for a GNU comparison when
// HALFCLOSE_BENCH_OUT names a file.
func TestWriteGrepBench(t *testing.T) {
	out := os.Getenv("HALFCLOSE_BENCH_OUT")
	if out == "" {
		t.Skip("HALFCLOSE_BENCH_OUT not set")
	}
	if err := os.WriteFile(out, grepBenchInput(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestGrepWidePrefilter: a pattern whose required literals are not ASCII
// on input that must be widened.
func TestGrepWidePrefilter(t *testing.T) {
	in := []byte("x\xc3\xa9y\n\xc3\xa9\n\xe9\nab\xff\xc3\xa9z\n\xc3\n")
	for _, argv := range [][]string{
		{"grep", "-E", "\xc3\xa9.|ab"},
		{"grep", "-E", "\xc3\xa9|\xff"},
		{"grep", "-o", ".\xc3\xa9"},
		{"grep", "-c", "\xc3."},
		{"grep", "-F", "-e", "\xc3\xa9", "-e", "\xe9"},
	} {
		diffGNU(t, in, argv...)
	}
}
