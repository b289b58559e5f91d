package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/halfclose/halfclose/internal/testenv"
)

// TestHuntRealDiff runs command lines of every command over real files
// (this repository's, the Go tree's, and REALDIFF_FILES: a list of files
// and directories separated by colons, such as /usr/share/man/man1:/usr/bin)
// through a real halfclosed: the CLI over gRPC, the CLI over --tcp, nc -N
// to the command port and nc -N to a --tcp-route port; against the GNU
// tools reading the same bytes. The generated tests' inputs have the
// generators' shapes; real files have others: long lines, binaries with
// NULs and few newlines, CRLF text, Latin-1 and UTF-8, gzip files of the
// wild. Each case takes a file whole, a prefix of it at a buffer boundary
// (4 KiB, 64 KiB, 1 MiB, ±1; a short file repeated to reach it), its
// lines with CRLF ends, or two files joined; patterns, delimiters and
// separators are taken from the input itself.
//
// A pipeline runs in GNU stage by stage, each stage reading the output of
// the one before from a regular file for grep (whose reads halfclose
// models on a file's) and from a pipe for the others, the first stage
// from a pipe (or, for a quarter of the cases, the file itself, which the
// CLI then declares: input_file_size, and for gzip -lv its time,
// input_file_mtime, which gzip -lv lists as GNU does). Where every stage succeeds, each
// transport's stdout is GNU's (gzip's output must gunzip to the input),
// the CLI's exit status is GNU's last stage's, and its stderr over gRPC
// the stages' stderr in order (over --tcp there is none). Where a stage
// fails, the CLI fails and the replies hold no more than GNU printed.
// REALDIFF_N cases (make test: 24; make fuzz: 2000), REALDIFF_SEED.
func TestHuntRealDiff(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"nc", "gzip", "b3sum", "sort", "grep", "tr"} {
		need(t, tool)
	}
	files := realFiles(t)
	if len(files) == 0 {
		t.Skip("no real files to read")
	}
	routes := []string{"sort", "wc", "sha256sum", "tac", "uniq -c", "grep -c e", "gzip -c", "base64", "cut -c1-20", "tr -s '[:space:]'", "head -n 3", "tail -c 100"}
	var args []string
	for _, p := range routes {
		args = append(args, "--tcp-route", "127.0.0.1:0="+p)
	}
	// Lines of a real binary may be megabytes long: they are held whole
	// (grep, sort, uniq) under a limit past the longest input.
	// Every other case goes to a server that spills replies and sorts
	// past 64 KiB.
	args = append(args, "--max-line-bytes", "8MiB")
	daemons := []*daemon{launch(t, args...), launch(t, append(args, "--spool-mem", "64KiB")...)}
	n := testenv.Uint(t, "REALDIFF_N", 24)
	seed := testenv.Uint(t, "REALDIFF_SEED", 20261207)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	var (
		diffs  int
		counts = map[string]map[string]int{}
	)
	count := func(cmd, transport string) {
		if counts[cmd] == nil {
			counts[cmd] = map[string]int{}
		}
		counts[cmd][transport]++
	}
	for i := range n {
		r := rand.New(rand.NewPCG(seed, i))
		d := daemons[i%2]
		data, what := realInput(t, r, files)
		stages := realPipeline(r, data)
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// A time of its own for each case, which gzip -lv lists of a
		// regular file (the CLI sends it for gzip -lv: input_file_mtime, @mtime);
		// not drawn from r, so each seed's cases stay what they were.
		at := time.Unix(int64(i)*7777777+123456789, 0)
		if err := os.Chtimes(in, at, at); err != nil {
			t.Fatal(err)
		}
		fileIn := r.IntN(4) == 0
		// head's later - operands get what GNU's reads of a pipe left
		// (docs/protocol.md): several are read from a file only, and
		// the replies of nc, a pipe, are not compared then.
		headDashes := stages[0][0] == "head" && slices.Contains(stages[0], "-")
		if headDashes && !fileIn {
			stages[0] = slices.DeleteFunc(stages[0], func(w string) bool { return w == "-" })
			headDashes = false
		}
		switch {
		case stages[0][0] == "tac" && slices.Contains(stages[0], "-"):
			// GNU's later passes over a regular file start from what
			// its first left (docs/protocol.md, tac).
			fileIn = false
		}
		want := realStages(t, dir, in, fileIn, stages)
		last := stages[len(stages)-1]
		gzipOut := last[0] == "gzip" && last[1] == "-c" // compressing
		text := pipelineText(stages)
		name := stages[0][0]
		if len(stages) > 1 {
			name = "pipeline"
		}
		var errs []string
		check := func(transport string, got result, stderrToo bool) {
			count(name, transport)
			if msg := judgeReal(t, got, want, gzipOut, data, stderrToo); msg != "" {
				errs = append(errs, transport+": "+msg)
			}
		}
		cli := []string{bin(t, "halfclose"), "--addr", d.GRPC}
		words := []string{text}
		if len(stages) == 1 && r.IntN(2) == 0 {
			words = stages[0]
		}
		stdin := run
		if !fileIn {
			stdin = runPiped
		}
		check("grpc", stdin(t, "", in, append(cli, words...)...), true)
		tcp := []string{bin(t, "halfclose"), "--tcp", "--tcp-addr", d.TCP}
		check("tcp", stdin(t, "", in, append(tcp, words...)...), false)
		pipedWant := want
		if fileIn {
			pipedWant = realStages(t, dir, in, false, stages)
		}
		// nc -N to the command port: the header line, then the input.
		if headDashes {
			pipedWant.code = -3
		} else {
			count(name, "nc")
		}
		hdr := filepath.Join(dir, "hdr")
		if err := os.WriteFile(hdr, append([]byte(text+"\n"), data...), 0o644); err != nil {
			t.Fatal(err)
		}
		if msg := judgeNc(t, run(t, "", hdr, ncArgv(t, d.TCP)...), pipedWant, gzipOut, data); msg != "" {
			errs = append(errs, "nc: "+msg)
		}
		// nc -N to a route: one of the fixed pipelines over the same input.
		rp := routes[r.IntN(len(routes))]
		rw := realStages(t, dir, in, false, splitRoute(rp))
		count("route "+strings.Fields(rp)[0], "nc")
		if msg := judgeNc(t, run(t, "", in, ncArgv(t, d.Routes[rp])...), rw, rp == "gzip -c", data); msg != "" {
			errs = append(errs, fmt.Sprintf("route %q: %s", rp, msg))
		}
		if len(errs) > 0 {
			diffs++
			if diffs <= 10 {
				t.Errorf("case %d (REALDIFF_SEED=%d) %s < %s, %d bytes (file input %v; GNU exit %d, stderr %q):\n%s", i, seed, text, what, len(data), fileIn, want.code, want.stderr, strings.Join(errs, "\n"))
			}
		}
	}
	var b strings.Builder
	for _, c := range slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, " %s:", c)
		for _, tr := range []string{"grpc", "tcp", "nc"} {
			if k := counts[c][tr]; k > 0 {
				fmt.Fprintf(&b, " %s %d", tr, k)
			}
		}
		b.WriteByte(';')
	}
	t.Logf("%d cases over %d files (REALDIFF_SEED=%d), %d differ:%s", n, len(files), seed, diffs, b.String())
	if diffs > 0 {
		t.Errorf("%d of %d cases differ from GNU (REALDIFF_SEED=%d)", diffs, n, seed)
	}
}

// realFileMax is the most of one real file a case reads.
const realFileMax = 3 << 20

// realFiles lists the real files the hunt reads: a few of this repository
// and of the Go tree, and every regular file under REALDIFF_FILES.
func realFiles(t *testing.T) []string {
	var files []string
	add := func(p string) {
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
			return
		}
		if f, err := os.Open(p); err == nil { // readable
			f.Close()
			files = append(files, p)
		}
	}
	for _, p := range []string{"../docs/protocol.md", "../go.sum", "../README.md"} {
		add(p)
	}
	// The Go tree: the go command's (the test binary's own root is
	// where it was built, which may be elsewhere).
	root := ""
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		root = strings.TrimSpace(string(out))
	}
	for _, p := range []string{"src/compress/testdata/e.txt", "src/compress/testdata/gettysburg.txt", "src/unicode/tables.go", "src/compress/gzip/testdata/issue6550.gz.base64", "lib/time/zoneinfo.zip", "pkg/include/asm_amd64.h", "misc/wasm/wasm_exec.js", "api/go1.txt"} {
		add(filepath.Join(root, p))
	}
	for _, p := range filepath.SplitList(os.Getenv("REALDIFF_FILES")) {
		if p == "" {
			continue
		}
		filepath.WalkDir(p, func(path string, de fs.DirEntry, err error) error {
			if err == nil && de.Type().IsRegular() {
				add(path)
			}
			return nil
		})
	}
	return files
}

// readPrefix is the first n bytes of the file p (all of it if shorter).
func readPrefix(t *testing.T, p string, n int) []byte {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	k, _ := f.Read(b)
	for k < n {
		m, err := f.Read(b[k:])
		if m == 0 || err != nil {
			break
		}
		k += m
	}
	return b[:k]
}

// realInput picks a file and a variant of it: the input and its name.
func realInput(t *testing.T, r *rand.Rand, files []string) ([]byte, string) {
	p := files[r.IntN(len(files))]
	limit := realFileMax
	if r.IntN(3) > 0 {
		limit = 256 << 10
	}
	data := readPrefix(t, p, limit)
	switch x := r.IntN(10); {
	case x < 4:
		return data, p
	case x < 7:
		bounds := []int{4096, 65536, 1 << 20}
		n := bounds[r.IntN(len(bounds))] + r.IntN(3) - 1
		if n > len(data) && len(data) > 0 {
			more := readPrefix(t, p, n)
			for len(more) < n {
				more = append(more, data...)
			}
			data = more
		}
		return data[:min(n, len(data))], fmt.Sprintf("%s (first %d bytes)", p, n)
	case x < 8:
		return bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), p + " (CRLF)"
	case x < 9:
		q := files[r.IntN(len(files))]
		return append(data[:len(data):len(data)], readPrefix(t, q, 64<<10)...), p + " + " + q
	}
	// gzip of the file, a stream from the wild when the file is one.
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return data, p
	}
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, 1+r.IntN(9))
	w.Write(data)
	w.Close()
	return b.Bytes(), p + " (gzipped)"
}

// realWords are substrings of the input's lines, for patterns, sets and
// separators: short runs of bytes of one line, never a NUL or newline.
func realWords(r *rand.Rand, data []byte, k int) []string {
	var out []string
	for len(out) < k {
		if len(data) == 0 {
			out = append(out, "e")
			continue
		}
		at := r.IntN(len(data))
		start := bytes.LastIndexByte(data[:at], '\n') + 1
		end := bytes.IndexByte(data[at:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += at
		}
		line := data[start:end]
		if len(line) > 0 && line[len(line)-1] == '\r' && r.IntN(2) == 0 {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			continue
		}
		i := r.IntN(len(line))
		j := min(len(line), i+1+r.IntN(12))
		w := string(line[i:j])
		if r.IntN(2) == 0 {
			// A word of the line: letters and digits around i.
			isw := func(c byte) bool { return c == '_' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' }
			a, b := i, i
			for a > 0 && isw(line[a-1]) {
				a--
			}
			for b < len(line) && isw(line[b]) {
				b++
			}
			if b > a {
				w = string(line[a:min(b, a+32)])
			}
		}
		if strings.IndexByte(w, 0) >= 0 {
			continue
		}
		out = append(out, w)
	}
	return out
}

// regexQuote escapes what is special in a basic or extended regexp.
func regexQuote(s string, ere bool) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		special := strings.IndexByte(`.[]*^$\`, c) >= 0 || ere && strings.IndexByte(`+?(){}|`, c) >= 0
		if special {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// realPipeline is one to three stages over data.
func realPipeline(r *rand.Rand, data []byte) [][]string {
	gz := bytes.HasPrefix(data, []byte{0x1f, 0x8b})
	if gz && r.IntN(3) > 0 {
		first := []string{"gunzip", "-c"}
		switch r.IntN(5) {
		case 0:
			first = []string{"gzip", "-l", pick(r, "-N", "-n", "-q", "-M", "-lN")}[:2+r.IntN(2)]
			if r.IntN(2) == 0 {
				first = append(first, "-v")
			}
			return [][]string{first}
		case 1:
			first = []string{"zcat"}
		case 2:
			first = []string{"gzip", "-dc"}
		}
		if r.IntN(4) == 0 {
			first = []string{"gunzip", pick(r, "-t", "-tv", "-cv", "-cq", "-cf")}
		}
		out := [][]string{first}
		if r.IntN(2) == 0 {
			out = append(out, realStage(r, data, false))
		}
		return out
	}
	if r.IntN(12) == 0 {
		// base64 there and back, then perhaps a digest.
		out := [][]string{{"base64", "-w", []string{"0", "1", "3", "76", "1000"}[r.IntN(5)]}, {"base64", "-d"}}
		if r.IntN(2) == 0 {
			out[1] = append(out[1], "-i")
		}
		if r.IntN(2) == 0 {
			out = append(out, realDigests[r.IntN(len(realDigests))])
		}
		return out
	}
	k := 1
	if r.IntN(3) == 0 {
		k += 1 + r.IntN(2)
	}
	var out [][]string
	for i := range k {
		out = append(out, realStage(r, data, i == k-1))
	}
	return out
}

var realDigests = [][]string{
	{"md5sum"}, {"sha1sum"}, {"sha224sum"}, {"sha256sum"}, {"sha384sum"}, {"sha512sum", "--tag"},
	{"b2sum"}, {"b2sum", "-l", "128"}, {"b2sum", "--tag", "-l", "64"}, {"b3sum"}, {"b3sum", "-l", "7"}, {"b3sum", "--no-names"},
	{"cksum"}, {"cksum", "-a", "md5"}, {"cksum", "-a", "sha1", "--untagged"}, {"cksum", "-a", "blake2b", "-l", "256"}, {"cksum", "-a", "sysv"},
	{"cksum", "-a", "bsd"}, {"cksum", "-a", "sm3"}, {"cksum", "-a", "crc"}, {"cksum", "-a", "sha512", "--tag"}, {"sum"}, {"sum", "-s"},
}

// realStage is one command line over data (the input of the pipeline; a
// later stage's input is close to it in what it holds).
func realStage(r *rand.Rand, data []byte, last bool) []string {
	words := realWords(r, data, 4)
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	flags := func(argv []string, p float64, fs ...string) []string {
		for _, f := range fs {
			if r.Float64() < p {
				argv = append(argv, f)
			}
		}
		return argv
	}
	num := func() string {
		return pick("0", "1", "2", "3", "5", "10", "100", "1000", strconv.Itoa(r.IntN(70000)), "1K", "4k", "64K")
	}
	// gzip's bytes may differ from GNU's: it only ends a pipeline.
	cmds := []string{"grep", "grep", "grep", "sort", "sort", "uniq", "head", "tail", "tac", "cut", "tr", "tr", "base64"}
	if last {
		cmds = append(cmds, "digest", "digest", "wc", "wc", "gzip")
	}
	switch pick(cmds...) {
	case "digest":
		return realDigests[r.IntN(len(realDigests))]
	case "wc":
		argv := flags([]string{"wc"}, 0.4, "-l", "-w", "-c", "-m", "-L")
		if r.IntN(8) == 0 {
			argv = append(argv, "-", "-")
		}
		return argv
	case "grep":
		argv := []string{"grep"}
		ere, fixed := false, false
		switch r.IntN(4) {
		case 0:
			argv, ere = append(argv, "-E"), true
		case 1:
			argv, fixed = append(argv, "-F"), true
		}
		argv = flags(argv, 0.2, "-i", "-v", "-c", "-n", "-w", "-x", "-o", "-b", "-a")
		argv = flags(argv, 0.05, "-z", "-l", "-L", "-q", "-I", "-h", "-H", "-T")
		if r.IntN(20) == 0 {
			argv = append(argv, "-P")
		}
		if r.IntN(5) == 0 {
			argv = append(argv, "-m", pick("1", "2", "5", "100"))
		}
		if r.IntN(8) == 0 {
			argv = append(argv, pick("-A", "-B", "-C"), pick("0", "1", "3"))
		}
		var pats []string
		for _, w := range words[:1+r.IntN(3)] {
			p := w
			if !fixed {
				p = regexQuote(w, ere)
				switch r.IntN(6) {
				case 0:
					p = "^" + p
				case 1:
					p += "$"
				case 2:
					if len(p) > 2 && p[len(p)-2] != '\\' {
						p = p[:len(p)-1] + "."
					}
				case 3:
					if ere {
						p = p + "|" + pick("[0-9]+", "[[:upper:]]{2,}", "\\bthe\\b", "x?y")
					} else {
						p = p + pick("*", "[[:space:]]", "\\|foo", "[^a-z]")
					}
				}
			}
			pats = append(pats, p)
		}
		if r.IntN(10) == 0 {
			pats = append(pats, pick("", "^", "$", ".", "[[:digit:]]", "\\w\\+", "[[:punct:]]"))
		}
		if len(pats) == 1 && r.IntN(2) == 0 {
			return append(argv, pats[0])
		}
		for _, p := range pats {
			argv = append(argv, "-e", p)
		}
		return argv
	case "sort":
		argv := flags([]string{"sort"}, 0.2, "-r", "-u", "-f", "-s", "-b")
		argv = flags(argv, 0.05, "-z", "-c", "-C", "-m", "--debug")
		if r.IntN(3) == 0 {
			argv = append(argv, pick("-n", "-g", "-h", "-V", "-M", "-d", "-i"))
		}
		if r.IntN(2) == 0 {
			if r.IntN(2) == 0 {
				argv = append(argv, "-t", pick(",", ":", " ", "\t", "/", "=", words[0][:1]))
			}
			k := strconv.Itoa(1 + r.IntN(4))
			key := pick(k, k+","+k, k+".2", k+","+k+"n", k+"r,"+k, k+".3,"+k+".5")
			argv = append(argv, "-k", key)
			if r.IntN(3) == 0 {
				argv = append(argv, "-k", pick("1", "2,2n", "3r"))
			}
		}
		return argv
	case "uniq":
		argv := flags([]string{"uniq"}, 0.25, "-c", "-d", "-u", "-i")
		argv = flags(argv, 0.05, "-z", "-D", "--group")
		if r.IntN(3) == 0 {
			argv = append(argv, pick("-f", "-s", "-w"), pick("0", "1", "2", "5"))
		}
		return argv
	case "head", "tail":
		tool := pick("head", "tail")
		f := pick("-n", "-c")
		v := num()
		switch r.IntN(4) {
		case 0:
			if tool == "head" {
				v = "-" + v
			} else {
				v = "+" + v
			}
		case 1:
			return []string{tool}
		}
		argv := []string{tool, f, v}
		if r.IntN(8) == 0 {
			argv = flags(append(argv, "-"), 0.5, "-")
		}
		return flags(argv, 0.05, "-z", "-q", "-v")
	case "tac":
		argv := flags([]string{"tac"}, 0.3, "-b")
		if r.IntN(8) == 0 {
			argv = append(argv, "-", "-")
		}
		if r.IntN(6) == 0 {
			return append(argv, "-r", "-s", pick("[0-9]+", "^", "\\n\\n", "[.:]", "\\<the\\>", regexQuote(words[0], false)))
		}
		if r.IntN(3) == 0 {
			sep := words[0]
			if r.IntN(2) == 0 {
				sep = sep[:1]
			}
			argv = append(argv, "-s", sep)
		}
		return argv
	case "cut":
		list := pick("1", "2", "1-3", "2-", "-2", "1,3", "3-5,1", "10-", "1-80")
		switch r.IntN(3) {
		case 0:
			return flags([]string{"cut", "-c", list}, 0.2, "--complement")
		case 1:
			return flags([]string{"cut", "-b", list}, 0.2, "--complement")
		}
		argv := []string{"cut", "-z"}[:1+r.IntN(8)/7]
		argv = append(argv, "-d", pick(",", ":", " ", "\t", "/", words[0][:1]), "-f", list)
		argv = flags(argv, 0.3, "-s", "--complement")
		if r.IntN(5) == 0 {
			argv = append(argv, "--output-delimiter", pick("|", "", "::"))
		}
		return argv
	case "tr":
		classes := []string{"[=e=]", "[a*3]", "\\101-\\132", "\\t\\v\\f", "[:alpha:]", "[:digit:]", "[:upper:]", "[:lower:]", "[:space:]", "[:punct:]", "[:cntrl:]", "[:print:]", "[:alnum:]", "[:blank:]", "[:graph:]", "[:xdigit:]", "a-z", "A-Z", "0-9", "\\n", "\\r", "\\000-\\037", "\\200-\\377"}
		set := func() string {
			if r.IntN(3) == 0 {
				return regexQuote(words[r.IntN(len(words))], false)
			}
			return classes[r.IntN(len(classes))]
		}
		switch r.IntN(5) {
		case 0:
			return flags([]string{"tr", "-d"}, 0.3, "-c", set())
		case 1:
			return flags([]string{"tr", "-s"}, 0.3, "-c", set())
		case 2:
			return []string{"tr", "-ds", set(), set()}
		case 3:
			return []string{"tr", pick("a-z", "[:lower:]", "[:upper:]"), pick("A-Z", "[:upper:]", "[:lower:]")}
		}
		return flags([]string{"tr"}, 0.2, "-c", "-t", set(), pick("x", "[x*]", "[.*3]", "_-", "\\n", "a-e", "[:upper:]", "[=x=]", "xy[z*]"))
	case "base64":
		argv := []string{"base64"}
		if r.IntN(3) == 0 {
			argv = append(argv, "-w", pick("0", "1", "76", "100", "4"))
		}
		if r.IntN(4) == 0 {
			argv = flags(append(argv, "-d"), 0.5, "-i")
		}
		return argv

	}
	// gzip -c: the output is held to its round trip.
	return flags([]string{"gzip", "-c"}, 0.3, pick("-1", "-9", "-n"))
}

// splitRoute is a route's pipeline as stages of words.
func splitRoute(p string) [][]string {
	var out [][]string
	for _, s := range strings.Split(p, "|") {
		ws := strings.Fields(s)
		for i, w := range ws {
			ws[i] = strings.Trim(w, "'")
		}
		out = append(out, ws)
	}
	return out
}

// stageFailed reports whether a GNU tool's exit code is a failure, not a
// status (grep's 1, sort -c's 1, gzip's warning 2).
func stageFailed(argv []string, code int) bool {
	switch {
	case code == 0:
		return false
	case code == 1 && argv[0] == "grep":
		return false
	case code == 1 && argv[0] == "sort" && (slices.Contains(argv, "-c") || slices.Contains(argv, "-C")):
		return false
	case code == 2 && (argv[0] == "gzip" || argv[0] == "gunzip" || argv[0] == "zcat"):
		return false
	}
	return true
}

// realStages runs stages in GNU, one after another: the first reads the
// file in (through a pipe unless fileIn), each later one the output of the
// one before (from a regular file for grep, a pipe for the others). The
// result's stdout is the last stage's, its stderr all of theirs in order,
// its code the last stage's. Where a stage fails, code is -1 and stdout
// what the later stages made of its output (a shell without pipefail);
// code is -2 when a later stage may stop reading before that failure
// (head, grep -m, -q, -l, -L), where halfclose may succeed as a shell's
// pipe may: then its output is that stdout.
func realStages(t *testing.T, dir, in string, fileIn bool, stages [][]string) realResult {
	var res realResult
	cur := in
	failed := false
	for i, argv := range stages {
		piped := !fileIn || i > 0
		if argv[0] == "grep" && !slices.Contains(argv, "-T") {
			piped = false // -T pads its numbers to the width a pipe gets
		}
		need(t, argv[0])
		got := runStdin(t, "", cur, piped, argv...)
		if i > 0 && stopsEarly(argv) {
			// The stages before may stop before their warnings, as
			// in a shell, where they would get SIGPIPE.
			res.racyErr = true
			if failed {
				res.code = -2
			}
		}
		if !failed {
			if len(got.stderr) > 0 && len(res.stderr) > 0 {
				res.manyErr = true
			}
			res.stderr = append(res.stderr, got.stderr...)
			res.code = got.code
			if stageFailed(argv, got.code) {
				failed = true
				res.code = -1
			}
		}
		cur = filepath.Join(dir, fmt.Sprintf("stage%d", i))
		if err := os.WriteFile(cur, got.stdout, 0o644); err != nil {
			t.Fatal(err)
		}
		res.stdout = got.stdout
	}
	return res
}

// realResult is what GNU's stages did.
type realResult struct {
	result
	racyErr bool // their stderr may be cut short in a pipe
	manyErr bool // several stages wrote on stderr, in an order of time
}

// sortedLines is b's lines in byte order.
func sortedLines(b []byte) string {
	ls := strings.SplitAfter(string(b), "\n")
	slices.Sort(ls)
	return strings.Join(ls, "")
}

// stopsEarly reports whether a GNU tool may stop reading its input before
// its end.
func stopsEarly(argv []string) bool {
	if argv[0] == "head" {
		return true
	}
	if argv[0] == "tail" && len(argv) > 2 && (argv[2] == "0" || argv[2] == "-0") {
		return true // it reads nothing
	}
	if argv[0] != "grep" {
		return false
	}
	for _, w := range argv[1:] {
		if w == "-m" || w == "-q" || w == "-l" || w == "-L" {
			return true
		}
	}
	return false
}

// judgeReal says how a CLI run differs from GNU's ("" when it does not).
func judgeReal(t *testing.T, got result, want realResult, gzipOut bool, in []byte, stderrToo bool) string {
	if want.code == -2 && got.code == 0 && bytes.Equal(got.stdout, want.stdout) {
		return ""
	}
	if want.code < 0 {
		if got.code == 0 {
			return fmt.Sprintf("GNU failed; exit 0, stderr %q, %d bytes out", got.stderr, len(got.stdout))
		}
		if !gzipOut && !bytes.HasPrefix(want.stdout, got.stdout) {
			return "GNU failed; stdout not a prefix of GNU's: " + diff(got.stdout, want.stdout)
		}
		return ""
	}
	wantErr := want.stderr
	if !stderrToo {
		wantErr = nil
	}
	if !utf8.Valid(wantErr) || want.racyErr || slices.ContainsFunc(bytes.Split(wantErr, []byte("\n")), func(l []byte) bool { return len(l) > 1024 }) {
		// A diagnostic is UTF-8 (U+FFFD for another byte) and at most
		// 1 KiB (docs/protocol.md): the status alone is compared.
		wantErr = got.stderr
	}
	if want.manyErr && sortedLines(got.stderr) == sortedLines(wantErr) {
		wantErr = got.stderr
	}
	if got.code != want.code || !bytes.Equal(got.stderr, wantErr) {
		return fmt.Sprintf("exit %d (GNU %d), stderr %q (want %q)", got.code, want.code, got.stderr, wantErr)
	}
	if gzipOut {
		return gunzipsTo(t, got.stdout, lastInput(t, want, in))
	}
	if !bytes.Equal(got.stdout, want.stdout) {
		return diff(got.stdout, want.stdout)
	}
	return ""
}

// lastInput is what the last stage, a gzip -c, read: GNU's output gunzipped.
func lastInput(t *testing.T, want realResult, in []byte) []byte {
	cmd := exec.Command(need(t, "gzip"), "-dc")
	cmd.Env = cleanEnv()
	cmd.Stdin = bytes.NewReader(want.stdout)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("GNU gunzip of GNU gzip's output: %v", err)
	}
	return out
}

// judgeNc says how an nc reply differs from GNU's output.
func judgeNc(t *testing.T, got result, want realResult, gzipOut bool, in []byte) string {
	errLine := bytes.HasPrefix(got.stdout, []byte("halfclose: error: "))
	switch {
	case want.code == -3: // not compared
	case got.code != 0:
		return fmt.Sprintf("nc exit %d, stderr %q", got.code, got.stderr)
	case want.code == -2 && bytes.Equal(got.stdout, want.stdout):
	case want.code < 0:
		if !errLine && !bytes.HasPrefix(want.stdout, got.stdout) {
			return "GNU failed; the reply is no error line and no prefix of GNU's: " + diff(got.stdout, want.stdout)
		}
	case errLine:
		return fmt.Sprintf("GNU succeeded, the reply %.200q", got.stdout)
	case gzipOut:
		return gunzipsTo(t, got.stdout, lastInput(t, want, in))
	case !bytes.Equal(got.stdout, want.stdout):
		return diff(got.stdout, want.stdout)
	}
	return ""
}
