package e2e

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// digestVariants are the digest command lines checked against their
// oracle; oracle is nil when it is the same command line run locally (GNU
// coreutils, or the b3sum tool for b3sum).
var digestVariants = []struct {
	argv []string
}{
	{[]string{"md5sum"}},
	{[]string{"sha1sum"}},
	{[]string{"sha224sum"}},
	{[]string{"sha256sum"}},
	{[]string{"sha384sum"}},
	{[]string{"sha512sum"}},
	{[]string{"b2sum"}},
	{[]string{"b2sum", "-l", "256"}},
	{[]string{"b3sum"}},
	{[]string{"b3sum", "--no-names"}},
	{[]string{"b3sum", "-l", "64"}},
	{[]string{"cksum"}},
	{[]string{"cksum", "-a", "sha256"}},
	{[]string{"cksum", "-a", "sha256", "--untagged"}},
	{[]string{"cksum", "-a", "md5"}},
	{[]string{"cksum", "-a", "blake2b", "-l", "256"}},
	{[]string{"cksum", "-a", "sysv"}},
	{[]string{"cksum", "-a", "bsd"}},
	{[]string{"md5sum", "--tag"}},
	{[]string{"sha1sum", "--tag"}},
	{[]string{"sha224sum", "--tag"}},
	{[]string{"sha256sum", "--tag"}},
	{[]string{"sha384sum", "--tag"}},
	{[]string{"sha512sum", "--tag"}},
	{[]string{"b2sum", "--tag"}},
	{[]string{"b2sum", "--tag", "-l", "256"}},
	{[]string{"sha256sum", "-z"}},
	{[]string{"sha256sum", "-", "-"}},
}

// transports are the two ways halfclose reaches the server.
var transports = []string{"grpc", "tcp"}

// clientArgv is the halfclose command line for cmd over transport.
func clientArgv(t testing.TB, grpcAddr, tcpAddr, transport string, cmd ...string) []string {
	argv := []string{bin(t, "halfclose"), "--addr", grpcAddr}
	if transport == "tcp" {
		argv = append(argv, "--tcp", "--tcp-addr", tcpAddr)
	}
	return append(argv, cmd...)
}

// TestDigestStdin: `halfclose CMD < file` prints what `CMD < file` prints,
// over gRPC and over the raw-TCP command port, for every digest command and
// input size (by default the sizes around 64 KiB in turn, sizesFor, and
// the 3 MiB input over one transport, in turn: the transports carry it in
// the same chunks whatever the digest).
func TestDigestStdin(t *testing.T) {
	t.Parallel()
	need(t, "b3sum")
	g, tcp := startDaemon(t)
	for k, v := range digestVariants {
		name := strings.Join(v.argv, " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, n := range sizesFor(k) {
				in := randomFile(t, n)
				want := gnu(t, in, v.argv...)
				trs := transports
				if !testenv.Long() && n == 3<<20 {
					trs = transports[k%len(transports) : k%len(transports)+1]
				}
				for _, tr := range trs {
					r := run(t, "", in, clientArgv(t, g, tcp, tr, v.argv...)...)
					if r.code != 0 || !bytes.Equal(r.stdout, want) {
						t.Errorf("%s, %s bytes: exit %d, stderr %q\n%s", tr, sizeName(n), r.code, r.stderr, diff(r.stdout, want))
					}
				}
			}
		})
	}
}

// wcFlags are the flags whose every combination is checked.
var wcFlags = []string{"-l", "-w", "-c", "-m", "-L"}

// TestWc: every combination of wc's flags, on random bytes and on text
// shaped to hit word and line edge cases, with stdin a regular file (wc <
// FILE: GNU's widths are the digits of its size) and a pipe. The long run
// (testenv.Long) runs each combination over both transports, on every
// file. By default the combinations take the transports in turn (the
// transport carries bytes, wc counts them), and the sizes around 64 KiB
// and the three large files (random bytes, text, a long line) in turn:
// every flag still meets each large file over several combinations, and
// compute/text's TestWcVsOracle counts every combination on every edge.
func TestWc(t *testing.T) {
	t.Parallel()
	g, tcp := startDaemon(t)
	files := map[string]string{}
	for _, n := range sizes {
		files["random-"+sizeName(n)] = randomFile(t, n)
	}
	files["text"] = textFile(t, "wc-text", 3<<20, 7)
	files["no-final-newline"] = writeFile(t, t.TempDir(), "nofinal", []byte("one two\r\nthree\tfour\x00five\n\xff\xfe six  "))
	files["long-line"] = cachedFile(t, "long-line", func(w io.Writer) error {
		_, err := io.WriteString(w, strings.Repeat("word ", 300_000)+"\n"+strings.Repeat("x", 2<<20))
		return err
	})
	// turns are the files that combination mask meets by default: one of
	// each group, the mask-th in turn; the others meet every combination.
	turns := [][]string{
		{"random-" + sizeName(65535), "random-" + sizeName(65536), "random-" + sizeName(65537)},
		{"random-" + sizeName(3<<20), "text", "long-line"},
	}
	for mask := range 1 << len(wcFlags) {
		var flags []string
		for i, f := range wcFlags {
			if mask&(1<<i) != 0 {
				flags = append(flags, f)
			}
		}
		argv := append([]string{"wc"}, flags...)
		trs := transports
		piped := []bool{false, true}
		if !testenv.Long() {
			trs = transports[mask%len(transports) : mask%len(transports)+1]
			piped = piped[mask/2%2 : mask/2%2+1]
		}
		meets := files
		if !testenv.Long() {
			meets = maps.Clone(files)
			for _, group := range turns {
				for i, name := range group {
					if i != mask%len(group) {
						delete(meets, name)
					}
				}
			}
		}
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			t.Parallel()
			for fname, in := range meets {
				for _, p := range piped {
					// GNU pads to the digits of a regular file's size, and
					// to at least 7 for a pipe: halfclose's stdin is the
					// same kind as GNU's.
					want := runStdin(t, "", in, p, argv...)
					if want.code != 0 {
						t.Fatalf("oracle %q exited %d: %s", argv, want.code, want.stderr)
					}
					for _, tr := range trs {
						r := runStdin(t, "", in, p, clientArgv(t, g, tcp, tr, argv...)...)
						if r.code != 0 || !bytes.Equal(r.stdout, want.stdout) {
							t.Errorf("%s, %s, piped %v: exit %d, stderr %q\n%s", tr, fname, p, r.code, r.stderr, diff(r.stdout, want.stdout))
						}
					}
				}
			}
		})
	}
}

// textFile returns a file of about n bytes of log-like text: words,
// blank lines, \r\n endings, tabs, NUL and invalid UTF-8 bytes, made once.
func textFile(t testing.TB, name string, n int, seed uint64) string {
	t.Helper()
	return cachedFile(t, name, func(w io.Writer) error {
		return writeText(w, int64(n), seed)
	})
}

// writeText writes about n bytes of generated log text.
func writeText(w io.Writer, n int64, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0x10c))
	levels := []string{"INFO", "DEBUG", "WARN", "ERROR", "info"}
	words := []string{"alpha", "beta", "gamma", "delta", "request", "id=42", "user", "Halfclose", "timeout", "a", "\xff\xfe", "caf\xc3\xa9", "x\x00y", "tab\there"}
	ends := []string{"\n", "\n", "\n", "\r\n", "\n\n"}
	var line bytes.Buffer
	var total int64
	for total < n {
		line.Reset()
		fmt.Fprintf(&line, "2026-11-%02d %02d:%02d:%02d %s", 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), levels[r.IntN(len(levels))])
		for range r.IntN(12) {
			line.WriteByte(' ')
			line.WriteString(words[r.IntN(len(words))])
		}
		fmt.Fprintf(&line, " n=%d", r.IntN(100000)-500)
		line.WriteString(ends[r.IntN(len(ends))])
		k, err := w.Write(line.Bytes())
		if err != nil {
			return err
		}
		total += int64(k)
	}
	return nil
}
