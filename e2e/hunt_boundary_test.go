package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// huntLineBytes is the --max-line-bytes of TestHuntBoundaryRandom's server.
const huntLineBytes = 4096

// TestHuntBoundaryRandom is a seeded generated differential run over a
// real halfclosed (--max-line-bytes 4096, a 64 KiB header line) of two
// kinds of case the other generated runs do not draw, against GNU grep 3.8
// and coreutils 9.1:
//
//   - grep with many patterns: 24 to 3,000 (a keyword set, or RE2 with a
//     few operators among them), literals sharing prefixes, empty ones,
//     bytes >= 0x80, several to a -e word joined by newlines (GNU splits
//     them), under -F/-E/-G and -i -w -x -v -c -o -n -b -m, over lines with
//     NULs, CRs and bytes >= 0x80;
//   - pipelines of one to three filters (and a digest or wc now and then)
//     over inputs at the line limit's edges: lines of 4,095 to 4,097 bytes
//     and of twice the limit, ended by a newline, CRLF, CR or NUL or not at
//     all, NUL-only and empty inputs, bytes that are not UTF-8.
//
// Each case goes over the TCP command port, its input in writes of random
// sizes, and over gRPC with the CLI. GNU runs the stages one after
// another (grep reading a regular file, the rest a pipe; docs/protocol.md).
// Where GNU succeeds the reply is its stdout and the CLI's stdout, stderr
// and exit status are GNU's, but where a stage that holds lines (grep,
// sort, uniq) is given one longer than the limit: there the job may also
// fail with RESOURCE_EXHAUSTED naming --max-line-bytes (an error line or,
// over gRPC, the CLI's error), and patterns over the compile budget or
// text over the header line may be refused naming their limit. Where GNU
// fails, the TCP reply is an error line or a reset and the CLI fails.
// make test runs BOUNDDIFF_N=40 cases (about a second), half of them
// grep with many patterns: a keyword set missing its first keyword was
// found in 3 of them; make fuzz runs 2000 (BOUNDDIFF_SEED).
func TestHuntBoundaryRandom(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"grep", "sort", "uniq", "head", "tail", "tac", "cut", "tr", "wc", "base64", "sha256sum", "cksum"} {
		need(t, tool)
	}
	g, tcp := startDaemon(t, "--max-line-bytes", fmt.Sprint(huntLineBytes), "--max-header-bytes", "65536")
	n := testenv.Uint(t, "BOUNDDIFF_N", 40)
	seed := testenv.Uint(t, "BOUNDDIFF_SEED", 20261206)
	dir := t.TempDir()
	diffs, limited := 0, 0
	for i := 0; i < int(n); i++ {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		var stages [][]string
		var in []byte
		re2 := false // patterns with operators: RE2, which may be over its budget
		if i%2 == 0 {
			stages, in, re2 = genManyPatterns(r)
		} else {
			stages, in = genBoundaryPipeline(r)
		}
		want, long := gnuStages(t, dir, stages, in)
		ok := want.code == 0 || want.code == 1
		text := pipelineText(stages)
		var errs []string
		limit := func(out []byte) bool { // a limit named, where one may be hit
			s := string(out)
			// (not "keyword set too large": one set always fits)
			return strings.Contains(s, "RESOURCE_EXHAUSTED") && (long && strings.Contains(s, "--max-line-bytes") ||
				re2 && strings.Contains(s, "pattern too large")) ||
				strings.Contains(s, "header line longer than") || strings.Contains(s, "pipeline: ") && strings.Contains(s, " allowed")
		}
		data, reset, err := tcpSplitRun(r, tcp, text, in)
		errLine := bytes.HasPrefix(data, []byte("halfclose: error: ")) && bytes.IndexByte(data, '\n') == len(data)-1
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("tcp: %v after %d bytes of the reply", err, len(data)))
		case !ok && !reset && !errLine:
			errs = append(errs, fmt.Sprintf("tcp: GNU failed, but the reply ended in a FIN: %.200q", data))
		case ok && errLine && limit(data):
			limited++
		case ok && (reset || errLine):
			errs = append(errs, fmt.Sprintf("tcp: GNU succeeded, the reply %.300q (reset %v)", data, reset))
		case ok && !bytes.Equal(data, want.stdout):
			errs = append(errs, "tcp: "+diff(data, want.stdout))
		}
		stdin := filepath.Join(dir, "in")
		if err := os.WriteFile(stdin, in, 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{bin(t, "halfclose"), "--addr", g}
		if len(stages) == 1 {
			args = append(args, append([]string{"--"}, stages[0]...)...) // the words as operands
		} else {
			args = append(args, text)
		}
		got := runPiped(t, "", stdin, args...)
		switch {
		case !ok && got.code == 0:
			errs = append(errs, fmt.Sprintf("cli: GNU failed; exit 0, stderr %q", got.stderr))
		case ok && got.code == 1 && len(got.stdout) == 0 && limit(got.stderr):
			limited++
		case ok && (got.code != want.code || !bytes.Equal(got.stderr, want.stderr)):
			errs = append(errs, fmt.Sprintf("cli: exit %d, stderr %.300q", got.code, got.stderr))
		case ok && !bytes.Equal(got.stdout, want.stdout):
			errs = append(errs, "cli: "+diff(got.stdout, want.stdout))
		}
		if len(errs) > 0 {
			diffs++
			if diffs <= 10 {
				t.Errorf("case %d (BOUNDDIFF_SEED=%d) %.300q < %d bytes %.100q (GNU exit %d, stderr %q):\n%s",
					i, seed, text, len(in), in, want.code, want.stderr, strings.Join(errs, "\n"))
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d of %d cases differ from GNU (BOUNDDIFF_SEED=%d)", diffs, n, seed)
	}
	t.Logf("seed %d: %d cases, %d answers refused naming a limit", seed, n, limited)
}

// gnuStages runs stages one after another over in, as GNU tools: the last
// stage's stdout, the stages' stderr in turn and the last one's status
// (the failing one's, with no output, where a stage fails: grep's 1 is not
// a failure). long says whether a stage that holds lines was given one
// longer than huntLineBytes.
func gnuStages(t *testing.T, dir string, stages [][]string, in []byte) (res result, long bool) {
	path := filepath.Join(dir, "stage")
	var stderr []byte
	for _, st := range stages {
		if holdsLines(st) && longLine(in, st) {
			long = true
		}
		if err := os.WriteFile(path, in, 0o644); err != nil {
			t.Fatal(err)
		}
		var r result
		if st[0] == "grep" {
			r = run(t, "", path, st...)
		} else {
			r = runPiped(t, "", path, st...)
		}
		stderr = append(stderr, r.stderr...)
		if r.code != 0 && !(st[0] == "grep" && r.code == 1) {
			return result{code: max(r.code, 2), stderr: stderr}, long
		}
		res, in = r, r.stdout
	}
	res.stderr = stderr
	return res, long
}

func holdsLines(st []string) bool { return st[0] == "grep" || st[0] == "sort" || st[0] == "uniq" }

// longLine says whether in has a line longer than huntLineBytes, its
// lines ended by NUL where st has -z (none of the generated stages has
// another flag with a z).
func longLine(in []byte, st []string) bool {
	sep := byte('\n')
	for _, w := range st[1:] {
		if w == "-z" {
			sep = 0
		}
	}
	for len(in) > 0 {
		i := bytes.IndexByte(in, sep)
		if i < 0 {
			i = len(in)
		}
		if i > huntLineBytes {
			return true
		}
		in = in[min(i+1, len(in)):]
	}
	return false
}

// pipelineText joins stages into one line of UTF-8 pipeline text: a word
// with a newline, a CR or bytes that are not UTF-8 as $'...'.
func pipelineText(stages [][]string) string {
	var parts []string
	for _, st := range stages {
		ws := make([]string, len(st))
		for i, w := range st {
			ws[i] = shquote.Quote(w)
			if !utf8.ValidString(w) || strings.ContainsAny(w, "\n\r") {
				var b strings.Builder
				b.WriteString("$'")
				for j := 0; j < len(w); j++ {
					switch c := w[j]; {
					case c == '\\' || c == '\'':
						b.WriteByte('\\')
						b.WriteByte(c)
					case c == '\n':
						b.WriteString(`\n`)
					case c >= 0x20 && c < 0x7f:
						b.WriteByte(c)
					default:
						fmt.Fprintf(&b, `\x%02x`, c)
					}
				}
				b.WriteByte('\'')
				ws[i] = b.String()
			}
		}
		parts = append(parts, strings.Join(ws, " "))
	}
	return strings.Join(parts, " | ")
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

// genManyPatterns draws a grep with many patterns and its input.
func genManyPatterns(r *rand.Rand) (stages [][]string, in []byte, re2 bool) {
	alpha := []string{"a", "b", "ab", "A", "B", "\x80", "\xe9", "\xff", " ", "_", "1", "-"}
	npat := pick(r, 24, 25, 40, 200, 1000, 3000)
	if re2 = npat <= 200 && r.IntN(3) == 0; re2 { // operators: RE2
		alpha = append(alpha, ".", "[ab]", "x*", "^", "$", "\\<")
	}
	lit := func(n int) string { // 1 to n pieces
		var b strings.Builder
		for range 1 + r.IntN(n) {
			b.WriteString(pick(r, alpha...))
		}
		return b.String()
	}
	base := make([]string, 30)
	for i := range base {
		base[i] = lit(4)
	}
	pats := make([]string, npat)
	empty := r.IntN(4) == 0 // one empty pattern (it matches every line) now and then
	for i := range pats {
		switch x := r.IntN(50); {
		case x == 0 && empty:
			pats[i], empty = "", false
		case x < 25:
			pats[i] = pick(r, base...) + lit(2) // sharing a prefix
		default:
			pats[i] = lit(6)
		}
	}
	argv := []string{"grep"}
	if m := pick(r, "", "-F", "-E", "-G"); m != "" {
		argv = append(argv, m)
	}
	for _, f := range []string{"-i", "-w", "-x", "-v", "-c", "-o", "-n", "-b", "-a"} {
		if r.IntN(5) == 0 {
			argv = append(argv, f)
		}
	}
	if r.IntN(6) == 0 {
		argv = append(argv, "-m", fmt.Sprint(r.IntN(4)))
	}
	for rest := pats; len(rest) > 0; {
		k := 1
		if r.IntN(3) == 0 {
			k = 1 + r.IntN(min(len(rest), 200))
		}
		argv = append(argv, "-e", strings.Join(rest[:k], "\n"))
		rest = rest[k:]
	}
	// Lines made of patterns (whole, cut short, in another case) and
	// other bytes, so that keywords overlap, nest and fill lines.
	var buf bytes.Buffer
	chars := append(alpha[:12:12], "\r", "abab", "aB", "x")
	if r.IntN(4) == 0 {
		chars = append(chars, "\x00") // binary: GNU prints the lines before a NUL's read
	}
	for range r.IntN(40) {
		for range r.IntN(5) {
			switch p := pick(r, pats...); r.IntN(5) {
			case 0, 1:
				buf.WriteString(p)
			case 2:
				buf.WriteString(p[:r.IntN(len(p)+1)])
			case 3:
				buf.WriteString(strings.ToUpper(p))
			default:
				buf.WriteString(pick(r, chars...))
			}
			if r.IntN(2) == 0 {
				buf.WriteString(pick(r, chars...))
			}
		}
		buf.WriteByte('\n')
	}
	if r.IntN(4) == 0 && buf.Len() > 0 {
		buf.Truncate(buf.Len() - 1) // no final newline
	}
	return [][]string{argv}, buf.Bytes(), re2
}

// genBoundaryPipeline draws a pipeline of filters and an input at the
// line limit's edges.
func genBoundaryPipeline(r *rand.Rand) ([][]string, []byte) {
	filters := [][]string{
		{"grep", "a"}, {"grep", "-v", "b"}, {"grep", "-c", "x"}, {"grep", "-o", "a*"}, {"grep", "-n", "-b", "."},
		{"grep", "-F", "-e", "ab", "-e", "\r"}, {"grep", "-x", "-E", "a*"}, {"grep", "-m", "1", "a"}, {"grep", "-q", "a"},
		{"grep", "-a", "a"}, {"grep", "-z", "a"}, {"grep", "-c", ""}, {"grep", "-w", "a"}, {"grep", "-i", "-o", "A"},
		{"sort"}, {"sort", "-r"}, {"sort", "-n"}, {"sort", "-u"}, {"sort", "-z"}, {"sort", "-f", "-s"}, {"sort", "-t", ",", "-k2"},
		{"uniq"}, {"uniq", "-c"}, {"uniq", "-d"}, {"uniq", "-u", "-i"}, {"uniq", "-z"},
		{"head", "-n", "3"}, {"head", "-c", "5000"}, {"head", "-n", "-1"}, {"tail", "-n", "2"}, {"tail", "-c", "100"}, {"tail", "-n", "+2"},
		{"tac"}, {"tac", "-s", "\r"}, {"cut", "-c", "1-10"}, {"cut", "-d", ",", "-f", "1"}, {"cut", "-b", "4090-4100"},
		{"tr", "a-z", "A-Z"}, {"tr", "-d", "\r"}, {"tr", "-s", "\n"}, {"tr", "\\000", "x"}, {"tr", "\n", "\\000"},
		{"wc"}, {"wc", "-l"}, {"wc", "-L"}, {"base64"}, {"base64", "-w", "0"},
	}
	var stages [][]string
	for range 1 + r.IntN(3) {
		stages = append(stages, pick(r, filters...))
	}
	if r.IntN(4) == 0 {
		stages = append(stages, pick(r, []string{"sha256sum"}, []string{"wc", "-c"}, []string{"cksum"}))
	}
	var in []byte
	switch x := r.IntN(20); {
	case x == 0: // empty
	case x == 1:
		in = bytes.Repeat([]byte{0}, 1+r.IntN(2*huntLineBytes))
	case x == 2:
		in = bytes.Repeat([]byte{'\n'}, 1+r.IntN(10))
	default:
		for range 1 + r.IntN(8) {
			n := r.IntN(21)
			if r.IntN(3) == 0 {
				n = pick(r, huntLineBytes-2, huntLineBytes-1, huntLineBytes, huntLineBytes+1, 2*huntLineBytes, huntLineBytes/2)
			}
			chars := pick(r, "ab", "abx, ", "\r\x00a", "\x80\xff\xc3\xa9a", "aAbB", "0123456789,")
			for range n {
				in = append(in, chars[r.IntN(len(chars))])
			}
			if r.IntN(2) == 0 {
				in = append(in, pick(r, "\n", "\r\n", "\r", "\x00")...)
			} else {
				in = append(in, '\n')
			}
		}
		if r.IntN(3) == 0 {
			in = bytes.TrimRight(in, "\n")
		}
	}
	return stages, in
}
