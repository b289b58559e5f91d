package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
)

// serverCommands returns the command names the server's Capabilities
// lists, asked once through grpcurl.
func serverCommands(t testing.TB, grpcAddr string) map[string]bool {
	t.Helper()
	r := grpcurl(t, grpcAddr, "halfclose.v1.ComputeService/Capabilities", []any{map[string]any{}})
	var caps struct{ Commands []struct{ Name string } }
	if err := json.Unmarshal(r.stdout, &caps); err != nil || r.code != 0 {
		t.Fatalf("Capabilities: exit %d, %v: %s", r.code, err, r.stderr)
	}
	m := map[string]bool{}
	for _, c := range caps.Commands {
		m[c.Name] = true
	}
	return m
}

// requireServes fails the test when a stage of pipeline names a command
// the server does not list in Capabilities: every command the tests use is
// served, and a test must not pass by skipping its pipeline.
func requireServes(t *testing.T, have map[string]bool, pipeline string) {
	t.Helper()
	for _, name := range stageCommands(pipeline) {
		if !have[name] {
			t.Fatalf("the server has no %s command (Capabilities)", name)
		}
	}
}

// stageCommands returns the first word of each stage of pipeline; a "|"
// inside quotes does not split (enough of sh for the test pipelines).
func stageCommands(pipeline string) []string {
	var names []string
	start := true
	var quote rune
	for i, c := range pipeline {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '|':
			start = true
		case start && c != ' ':
			start = false
			names = append(names, strings.Fields(pipeline[i:])[0])
		}
	}
	return names
}

// filterLogSize is the size of TestFilters' log: 3 MiB in the long run
// (testenv.Long), 1.25 MiB by default. Both are more than a client's data
// message (client.DefaultChunkSize, 1 MiB): the upload is two messages or
// more (head -n and grep -m have their answer from the first and the rest
// is drained), and the replies of the filters that keep most of it are
// more than one; both are under the server's 8 MiB spool, so the long
// run's extra 1.75 MiB only pays GNU's and our pipelines' CPU.
func filterLogSize() int {
	if testenv.Long() {
		return 3 << 20
	}
	return 1<<20 + 256<<10
}

// filterLog is the generated log text TestFilters sends (filterLogSize).
func filterLog(t testing.TB) string {
	n := filterLogSize()
	return textFile(t, fmt.Sprintf("filter-log-%d", n), n, 11)
}

// edgeText is input made of edge cases: CRLF, NUL, invalid UTF-8, blank
// lines, duplicates differing in case, a line over 1 MiB, and no final
// newline.
func edgeText(t testing.TB) string {
	return cachedFile(t, "edge-text", func(w io.Writer) error {
		_, err := io.WriteString(w, "b\r\na\nA\na\n\n\nB\x00z\nb\x00y\n\xff\xfe bytes\n\tTabbed  line  \n"+
			"caf\xc3\xa9 CAF\xc3\x89\n10 ten\n9 nine\n-3 minus\n 7 spaced\n007 zeros\n"+
			strings.Repeat("long ", 300_000)+"\n"+"same\nsame\nSAME\nsame\n"+"last line without newline")
		return err
	})
}

// TestFilters: pipelines of the filter commands print what sh prints for
// them (GNU coreutils and grep, LC_ALL=C), over gRPC and raw TCP, and exit
// as sh does (grep's 1: no line selected; over TCP the @status trailer
// carries it), with sh's stderr over gRPC (none over TCP). The long
// run (testenv.Long) sends each input of each pipeline over both
// transports; by default the inputs take the transports in turn (the
// transport carries bytes, the pipeline computes): every pipeline with two
// inputs or more, and every input, still meets both.
//
// The edge text's long line (1.5 MB) is over the default --max-line-bytes
// (1 MiB): this server allows 2 MiB, and grep, sort and uniq give GNU's
// output for it. (TestMemoryBound checks the refusal at the limit.)
//
// The log is 3 MiB in the long run and 1.25 MiB by default (filterLogSize).
func TestFilters(t *testing.T) {
	g, tcp := startDaemon(t, "--max-line-bytes", "2097152")
	have := serverCommands(t, g)
	inputs := map[string]string{
		"log":    filterLog(t),
		"edge":   edgeText(t),
		"empty":  randomFile(t, 0),
		"random": randomFile(t, 65537),
		// gzip data, then bytes that are not: GNU gunzip's warning
		"gzjunk": gzipJunk(t),
	}
	cases := []struct {
		pipeline string
		inputs   []string // names in inputs
	}{
		{"grep ERROR", []string{"log", "edge", "empty"}},
		{"grep -F -c request", []string{"log", "edge", "empty"}},
		{"grep -v DEBUG | sha256sum", []string{"log", "edge"}},
		{"grep -i -n error", []string{"log", "edge"}},
		{"grep -E 'alpha|gamma' | wc -l", []string{"log"}},
		{"grep -w a", []string{"log", "edge"}},
		{"grep -x same", []string{"edge"}},
		{"grep -o 'id=[0-9]*'", []string{"log"}},
		// -P: Perl syntax, leftmost-first (compute/grep/perl.go)
		{"grep -oP '\\d+' | sort -n | uniq -c", []string{"log", "edge"}},
		{"grep -P -c -w 'id=\\d+|alpha'", []string{"log", "edge"}},
		{"grep -m 5 WARN", []string{"log"}},
		{"grep -E -c '^[0-9]+ '", []string{"edge"}},
		{"grep -F -v -i 'INFO'", []string{"log", "edge"}},
		{"grep -c ''", []string{"random", "edge", "empty"}},
		// the exit status: grep's 1 when it selected no line, a
		// pipeline's that of its last command
		{"grep -q ERROR", []string{"log", "edge", "empty"}},
		{"grep -v -c -e '' -e x", []string{"log", "edge"}},
		{"grep nosuchword | sort", []string{"log", "empty"}},
		{"sort | grep -c nosuchword", []string{"log", "empty"}},
		// sort -c: a disorder is exit status 1 and, with -c, GNU's line
		// on stderr; the pipeline goes on after it
		{"sort -c", []string{"log", "edge", "empty"}},
		{"sort -C", []string{"log", "edge"}},
		{"sort -c | wc -l", []string{"log", "edge"}},
		{"sort | sort -c", []string{"log"}},
		{"sort", []string{"log", "edge", "empty"}},
		{"sort -r", []string{"log", "edge"}},
		{"sort -u", []string{"log", "edge"}},
		{"sort -f", []string{"edge"}},
		{"sort -n", []string{"edge"}},
		{"sort -t ' ' -k 3,3 -s", []string{"log"}},
		{"sort -k 2 -r", []string{"log"}},
		// sort --debug: its annotations on stdout, its warnings (the
		// collation, a key's blanks, -r left to the last resort) on
		// stderr over gRPC
		{"sort --debug -t ' ' -k 3,3n -r", []string{"log", "edge"}},
		{"sort --debug -k 2 -u | wc -l", []string{"log"}},
		{"sort | uniq -c", []string{"log", "edge"}},
		{"sort | uniq -d", []string{"edge"}},
		{"uniq -u", []string{"edge"}},
		{"uniq -i -c", []string{"edge"}},
		{"cut -d ' ' -f 3 | sort | uniq -c | sort -rn | head -n 5", []string{"log"}},
		{"grep -v DEBUG | sort | uniq -c | sort -rn | head -n 3", []string{"log"}},
		{"head -n 10", []string{"log", "edge", "empty"}},
		{"head -n 0", []string{"log"}},
		{"head -c 100", []string{"random", "edge"}},
		{"tail -n 10", []string{"log", "edge", "empty"}},
		{"tail -c 100", []string{"random", "edge"}},
		{"tac", []string{"edge"}},
		{"cut -c 1-10", []string{"log", "edge"}},
		{"cut -b 3-", []string{"random", "edge"}},
		{"cut -d ' ' -f 1,3", []string{"log", "edge"}},
		{"tr a-z A-Z", []string{"log", "random"}},
		{"tr -d '\\r'", []string{"edge"}},
		{"tr -s ' '", []string{"edge"}},
		{"tr -d '[:digit:]'", []string{"log"}},
		{"tr '[:lower:]' '[:upper:]' | sha1sum", []string{"log"}},
		{"base64", []string{"random", "edge", "empty"}},
		{"base64 -w 0", []string{"random"}},
		{"base64 -w 76 | base64 -d | sha256sum", []string{"random"}},
		{"gzip -c | gunzip -c | sha256sum", []string{"random", "log", "empty"}},
		{"grep -v DEBUG | gzip -c | gunzip -c | wc", []string{"log"}},
		// status 2 and GNU's warning on stderr: trailing garbage
		{"gunzip -c", []string{"gzjunk"}},
		{"gunzip -c | wc -l", []string{"gzjunk"}},
	}
	for k, c := range cases {
		t.Run(c.pipeline, func(t *testing.T) {
			t.Parallel() // one daemon serves them all at once, as it would clients
			requireServes(t, have, c.pipeline)
			for i, name := range c.inputs {
				in := inputs[name]
				want := runPiped(t, "", in, "sh", "-c", c.pipeline)
				// grep exits 1 when nothing matched, sort -c at a
				// disorder, gzip 2 when it warns
				if want.code > 1 && !(want.code == 2 && strings.HasSuffix(c.pipeline, "gunzip -c")) {
					t.Fatalf("oracle %q exited %d: %s", c.pipeline, want.code, want.stderr)
				}
				trs := transports
				if !testenv.Long() && want.code == 0 {
					// (A status other than 0 is checked over both: they
					// carry it differently.)
					j := (k + i) % len(transports)
					trs = transports[j : j+1]
				}
				for _, tr := range trs {
					got := run(t, "", in, clientArgv(t, g, tcp, tr, c.pipeline)...)
					code, stderr := want.code, strings.ToValidUTF8(string(want.stderr), "\uFFFD")
					if tr == "tcp" {
						// A TCP reply is the output and the status
						// (@status): no diagnostics (docs/cli.md).
						stderr = ""
					}
					if !bytes.Equal(got.stdout, want.stdout) || got.code != code || string(got.stderr) != stderr {
						t.Errorf("%s, %s: exit %d (want %d), stderr %q (want %q)\n%s", tr, name, got.code, code, got.stderr, stderr, diff(got.stdout, want.stdout))
					}
				}
			}
		})
	}
}

// TestGzipRoundTrip: gzip output need not be what GNU gzip prints, but GNU
// gunzip must restore the input from it; and the server's gunzip reads
// what GNU gzip wrote.
func TestGzipRoundTrip(t *testing.T) {
	t.Parallel()
	need(t, "gzip")
	g, tcp := startDaemon(t)
	have := serverCommands(t, g)
	for _, n := range []int{0, 1, 65537, 3 << 20} {
		in := randomFile(t, n)
		orig := readFile(t, in)
		t.Run("gzip -c/"+sizeName(n), func(t *testing.T) {
			requireServes(t, have, "gzip")
			for _, tr := range transports {
				gz := run(t, "", in, clientArgv(t, g, tcp, tr, "gzip", "-c")...)
				if gz.code != 0 {
					t.Fatalf("%s: exit %d: %s", tr, gz.code, gz.stderr)
				}
				back := runPiped(t, "", writeFile(t, t.TempDir(), "x.gz", gz.stdout), "gunzip", "-c")
				if back.code != 0 || !bytes.Equal(back.stdout, orig) {
					t.Errorf("%s: GNU gunzip exit %d (%s) on the server's gzip output\n%s", tr, back.code, back.stderr, diff(back.stdout, orig))
				}
			}
		})
		t.Run("gunzip -c/"+sizeName(n), func(t *testing.T) {
			requireServes(t, have, "gunzip")
			gzPath := writeFile(t, t.TempDir(), "x.gz", gnu(t, in, "gzip", "-c", "-6"))
			for _, tr := range transports {
				got := run(t, "", gzPath, clientArgv(t, g, tcp, tr, "gunzip", "-c")...)
				if got.code != 0 || !bytes.Equal(got.stdout, orig) {
					t.Errorf("%s: exit %d (%s)\n%s", tr, got.code, got.stderr, diff(got.stdout, orig))
				}
			}
		})
	}
	// Corrupt gzip input is an error, with no output that looks complete.
	t.Run("gunzip -c/corrupt", func(t *testing.T) {
		requireServes(t, have, "gunzip")
		gz := gnu(t, randomFile(t, 65537), "gzip", "-c")
		gz[len(gz)/2] ^= 0xff
		p := writeFile(t, t.TempDir(), "bad.gz", gz)
		for _, tr := range transports {
			if got := run(t, "", p, clientArgv(t, g, tcp, tr, "gunzip", "-c")...); got.code == 0 {
				t.Errorf("%s: corrupt input accepted, %d bytes of output", tr, len(got.stdout))
			}
		}
	})
}

// TestJobLogExitStatus: the job's log record carries a status other than
// 0 (job.exit_status), whichever adapter ran it: the TCP reply does not
// carry it, the log does.
func TestJobLogExitStatus(t *testing.T) {
	t.Parallel()
	d := launch(t)
	in := writeFile(t, t.TempDir(), "in", []byte("b\na\n"))
	for _, c := range []struct {
		transport, pipeline string
		status              float64 // 0: no exit_status field
	}{
		{"grpc", "grep -q nosuchword", 1},
		{"tcp", "grep -q nosuchword", 1},
		{"grpc", "sort -C", 1},
		{"grpc", "grep -q a", 0},
		{"tcp", "sort -c | wc -l", 0},
	} {
		before := len(d.log.records())
		if r := run(t, "", in, clientArgv(t, d.GRPC, d.TCP, c.transport, c.pipeline)...); len(r.stderr) > 0 {
			t.Logf("%s over %s: stderr %q", c.pipeline, c.transport, r.stderr)
		}
		// A TCP job's record is a "job" line; a gRPC call's, the
		// logging middleware's "finished call" with the job's fields.
		j := d.waitRecord(t, d.log.records, before, func(j map[string]any) bool {
			if c.transport == "tcp" {
				return j["msg"] == "job" && j["adapter"] == "tcp"
			}
			return j["msg"] == "finished call" && j["grpc.method"] == "Run"
		})
		job, _ := j["job"].(map[string]any)
		st, has := job["exit_status"]
		if job["outcome"] != "ok" || has != (c.status != 0) || (has && st != c.status) {
			t.Errorf("%s over %s: job record %v; want outcome ok and exit_status %v (none for 0)", c.pipeline, c.transport, job, c.status)
		}
	}
}

// gzipJunk is a file of gzip data followed by bytes that are not.
func gzipJunk(t *testing.T) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	for i := range 1000 {
		fmt.Fprintf(zw, "line %d\n", i)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	b.WriteString("junk after the member\n")
	return writeFile(t, t.TempDir(), "junk.gz", b.Bytes())
}
