package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
)

// The clients in examples/ (Python with Debian's python3-grpcio, Node with
// @grpc/grpc-js from examples/node/package-lock.json) are run as a user
// runs them, against a real halfclosed, and compared with the GNU tools.

// missing skips the test because something a client needs is not
// installed, or fails it in CI, where .ci/run installs everything.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("required in CI: "+format, args...)
	}
	t.Skipf("skipped: "+format, args...)
}

// examplesDir is the absolute path of examples/.
func examplesDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// findPython returns a python3 that can import grpc and google.protobuf:
// $E2E_PYTHON, the python3 on PATH, or Debian's /usr/bin/python3 (the one
// python3-grpcio installs into, when PATH has another, such as pyenv's).
var findPython = sync.OnceValues(func() (string, error) {
	var tried []string
	for _, p := range []string{os.Getenv("E2E_PYTHON"), "python3", "/usr/bin/python3"} {
		if p == "" {
			continue
		}
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import grpc, google.protobuf").Run() == nil {
			return path, nil
		}
		tried = append(tried, path)
	}
	return "", fmt.Errorf("no python3 with grpc and google.protobuf (tried %v): apt-get install python3-grpcio python3-protobuf", tried)
})

// exampleClient returns the argv prefix that runs the example client of
// lang ("python" or "node").
func exampleClient(t testing.TB, lang string) []string {
	t.Helper()
	dir := examplesDir(t)
	switch lang {
	case "python":
		py, err := findPython()
		if err != nil {
			missing(t, "%v", err)
		}
		return []string{py, filepath.Join(dir, "python", "client.py")}
	case "node":
		node := need(t, "node")
		if _, err := os.Stat(filepath.Join(dir, "node", "node_modules", "@grpc", "grpc-js", "package.json")); err != nil {
			missing(t, "@grpc/grpc-js not installed: run make examples-deps (npm ci in examples/node): %v", err)
		}
		return []string{node, filepath.Join(dir, "node", "client.js")}
	}
	t.Fatalf("no example client %q", lang)
	return nil
}

var exampleLangs = []string{"python", "node"}

// TestExampleDigest: `client digest -a ALGO FILE...` prints what the GNU
// tool prints for the same files, and for stdin. The clients send End with
// their own digest (hashlib, node:crypto), or only the size for BLAKE3.
func TestExampleDigest(t *testing.T) {
	need(t, "b3sum")
	g, _ := startDaemon(t)
	var names []string
	for _, n := range []int{0, 1, 65535, 65536, 65537, 3 << 20} {
		names = append(names, filepath.Base(randomFile(t, n)))
	}
	dir := filepath.Dir(randomFile(t, 0))
	stdin := randomFile(t, 3<<20)
	algos := []struct{ name, oracle string }{
		{"sha256", "sha256sum"}, {"md5", "md5sum"}, {"sha1", "sha1sum"},
		{"sha512", "sha512sum"}, {"blake2b", "b2sum"}, {"blake3", "b3sum"},
	}
	for _, lang := range exampleLangs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			client := exampleClient(t, lang)
			for _, a := range algos {
				t.Run(a.name, func(t *testing.T) {
					want := run(t, dir, "", append([]string{a.oracle}, names...)...)
					got := run(t, dir, "", append(append(client, "--addr", g, "digest", "-a", a.name), names...)...)
					if want.code != 0 || got.code != 0 || !bytes.Equal(got.stdout, want.stdout) {
						t.Errorf("exit %d (%s %d), stderr %q\n%s", got.code, a.oracle, want.code, got.stderr, diff(got.stdout, want.stdout))
					}
				})
			}
			t.Run("stdin", func(t *testing.T) {
				want := gnu(t, stdin, "sha256sum")
				got := runPiped(t, "", stdin, append(client, "--addr", g, "digest")...)
				if got.code != 0 || !bytes.Equal(got.stdout, want) {
					t.Errorf("exit %d, stderr %q\n%s", got.code, got.stderr, diff(got.stdout, want))
				}
			})
			// Without --addr the address is the Go CLI's variable's
			// (docs/clients.md), before the example's older name.
			t.Run("env", func(t *testing.T) {
				want := gnu(t, stdin, "sha256sum")
				env := []string{"env", "HALFCLOSE_CLIENT_ADDR=" + g, "HALFCLOSE_ADDR=127.0.0.1:1"}
				got := run(t, "", stdin, append(append(env, client...), "digest")...)
				if got.code != 0 || !bytes.Equal(got.stdout, want) {
					t.Errorf("exit %d, stderr %q\n%s", got.code, got.stderr, diff(got.stdout, want))
				}
			})
		})
	}
}

// TestExampleUsage: a flag the example does not know, or one missing its
// value, is a usage error that names it (exit 2, the usage on stderr, no
// stack trace), and --help prints the usage and exits 0, in both
// languages (Node's parseArgs threw its error as an uncaught exception).
func TestExampleUsage(t *testing.T) {
	for _, lang := range exampleLangs {
		t.Run(lang, func(t *testing.T) {
			client := exampleClient(t, lang)
			for _, args := range [][]string{{"digest", "--bogus"}, {"--bogus-flag", "digest"}, {"--addr"}} {
				got := run(t, "", "", append(client, args...)...)
				named := args[len(args)-1]
				if args[0] == "--bogus-flag" {
					named = args[0]
				}
				stderr := string(got.stderr)
				if got.code != 2 || !strings.Contains(stderr, "usage:") || strings.Contains(stderr, "Traceback") || strings.Contains(stderr, "    at ") {
					t.Errorf("%q: exit %d, stderr %q; want 2 and the usage, no stack trace", args, got.code, stderr)
				}
				if !strings.Contains(stderr, named) {
					t.Errorf("%q: stderr %q does not name %s", args, stderr, named)
				}
			}
			got := run(t, "", "", append(client, "--help")...)
			if got.code != 0 || !strings.Contains(string(got.stdout), "usage:") {
				t.Errorf("--help: exit %d, stdout %q, stderr %q; want 0 and the usage", got.code, got.stdout, got.stderr)
			}
		})
	}
}

// TestExampleRun: `client run PIPELINE` streams stdin in and the output
// out (9.5 MiB of base64, past the server's 8 MiB of spool memory, passes
// through in chunks; 27 MiB in the long run, testenv.Long) and prints what
// sh prints for the same pipeline, and exits as sh does (grep's 1); a bad
// pipeline is INVALID_ARGUMENT, exit 1.
func TestExampleRun(t *testing.T) {
	g, _ := startDaemon(t)
	base64Size := 7 << 20
	if testenv.Long() {
		base64Size = 20 << 20
	}
	cases := []struct{ pipeline, input string }{
		{"grep -v DEBUG | sort | uniq -c", textFile(t, "filter-log", 3<<20, 11)},
		{"base64", randomFile(t, base64Size)},
		{"wc -l", randomFile(t, 0)},
		{"tr -d a-z | sha256sum", textFile(t, "filter-log", 3<<20, 11)},
		// exit status 1, grep's: no line selected
		{"sort | grep -c nosuchword", textFile(t, "filter-log", 3<<20, 11)},
		// exit status 1 and GNU's line on stderr: sort -c's disorder
		{"sort -c", writeFile(t, t.TempDir(), "unsorted", []byte("a\nc\nb\n"))},
	}
	for _, lang := range exampleLangs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			client := exampleClient(t, lang)
			for _, c := range cases {
				t.Run(c.pipeline, func(t *testing.T) {
					want := runPiped(t, "", c.input, "sh", "-c", c.pipeline)
					if want.code > 1 { // grep exits 1 when it selected no line
						t.Fatalf("oracle %q exited %d: %s", c.pipeline, want.code, want.stderr)
					}
					got := runPiped(t, "", c.input, append(client, "--addr", g, "run", c.pipeline)...)
					if got.code != want.code || !bytes.Equal(got.stdout, want.stdout) || !bytes.Equal(got.stderr, want.stderr) {
						t.Errorf("exit %d (sh's %d), stderr %q (sh's %q)\n%s", got.code, want.code, got.stderr, want.stderr, diff(got.stdout, want.stdout))
					}
				})
			}
			t.Run("unknown command", func(t *testing.T) {
				got := run(t, "", randomFile(t, 1), append(client, "--addr", g, "run", "frob -x")...)
				if got.code != 1 || len(got.stdout) != 0 || !bytes.Contains(got.stderr, []byte(`INVALID_ARGUMENT: unknown command "frob"`)) {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and INVALID_ARGUMENT on stderr", got.code, got.stdout, got.stderr)
				}
			})
		})
	}
}

// TestExampleAbort is the cancel loop: a client interrupted (SIGINT) while
// it is still uploading, or whose deadline expires then, exits with an
// error, and the server records an abort for the call — never a result
// computed from the partial input. grpc-js sends END_STREAM before the
// RST_STREAM of a cancel or a deadline; the clients' require_end and End
// message are what make that an abort.
//
// The tries take turns: Digest and Run, input flowing and input waiting.
// With the input waiting, a client without the proof (require_end unset
// in client.js) has the server compute a result on 23 of 24 cancels, so
// the 8 cancels of make test (4 with the input waiting) see the race; the
// long run (testenv.Long) keeps the 50 cancels it first took to see it,
// when every try kept the input flowing. Each try starts a client process
// (about 0.7 CPU-s for Node alone).
func TestExampleAbort(t *testing.T) {
	tries := map[string]struct{ cancels, deadlines int }{
		"node":   {cancels: 8, deadlines: 4},
		"python": {cancels: 4, deadlines: 2},
	}
	if testenv.Long() {
		tries["node"] = struct{ cancels, deadlines int }{cancels: 50, deadlines: 4}
	}
	for _, lang := range exampleLangs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			client := exampleClient(t, lang)
			d := launch(t, "--metrics-addr", "127.0.0.1:0")
			m := d.metricsAddr(t)
			n := tries[lang]
			for i := range n.cancels + n.deadlines {
				method, args := "Digest", []string{"digest"}
				if i%2 == 1 {
					method, args = "Run", []string{"run", "wc -c"}
				}
				deadline := i >= n.cancels
				if deadline {
					args = append([]string{"--timeout", "1"}, args...)
				}
				// Half the tries keep the input flowing; in the others the
				// client has sent one chunk and waits for more, and the
				// server waits too, ready to take an END_STREAM for the end.
				flood := (i/2)%2 == 0
				argv := append(append(client, "--addr", d.GRPC), args...)
				seen := len(d.calls(method))
				started := metric(t, m, "grpc_server_started_total", method)
				received := metric(t, m, "grpc_server_msg_received_total", method)

				p := startFed(t, argv, flood)
				if !deadline {
					// Interrupt once the server has the header and some data.
					waitMetric(t, m, "grpc_server_msg_received_total", method, received+2, p.exited)
					p.cmd.Process.Signal(syscall.SIGINT)
				}
				res := p.wait(t)
				// A deadline is enforced by both ends: when grpc-go's timer
				// fires first, it resets the stream (RST_STREAM CANCEL) and
				// the client reports CANCELLED instead.
				want, wantCode := []string{"interrupted"}, 130
				if deadline {
					want, wantCode = []string{"DEADLINE_EXCEEDED", "CANCELLED"}, 1
				}
				said := slices.ContainsFunc(want, func(w string) bool { return bytes.Contains(res.stderr, []byte(w)) })
				if res.code != wantCode || !said || len(res.stdout) != 0 {
					t.Errorf("try %d (%s, flood %v): exit %d, stdout %q, stderr %q; want exit %d and one of %q", i, method, flood, res.code, res.stdout, res.stderr, wantCode, want)
				}
				if metric(t, m, "grpc_server_started_total", method) == started {
					// Only a deadline can end a call before it reached the
					// server (a slow connect): nothing to check there.
					if !deadline {
						t.Errorf("try %d (%s): the call never reached the server", i, method)
					}
					continue
				}
				rec := d.waitCall(t, method, seen)
				job, _ := rec["job"].(map[string]any)
				if job["outcome"] == "ok" || rec["grpc.code"] == "OK" {
					t.Errorf("try %d (%s, deadline %v, flood %v): the server computed a result from partial input: %v", i, method, deadline, flood, rec)
				}
			}
		})
	}
}

// fedProcess is a client whose stdin is fed until it exits.
type fedProcess struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	exited         chan struct{}
	err            error
	fed            sync.WaitGroup
}

// startFed starts argv with its stdin a pipe that never ends while the
// process runs, so the client is always in the middle of its upload. With
// flood, a goroutine fills the pipe with random bytes until the process
// exits (at most 1 GiB); without, it writes one chunk of 4 KiB (PIPE_BUF:
// the client reads it whole, and sends it as one message) and no more.
func startFed(t testing.TB, argv []string, flood bool) *fedProcess {
	t.Helper()
	p := &fedProcess{cmd: exec.Command(argv[0], argv[1:]...), exited: make(chan struct{})}
	p.cmd.Env = cleanEnv()
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	in, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%q: %v", argv, err)
	}
	p.fed.Add(1)
	go func() {
		defer p.fed.Done()
		n := 4096
		if flood {
			n = 1 << 30
		}
		_ = writeRandom(in, n, 8) // ends with an error once the process has exited
	}()
	go func() {
		p.err = p.cmd.Wait() // closes in, which ends the writer
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		p.fed.Wait()
	})
	return p
}

// wait waits for the process to exit and returns what it did.
func (p *fedProcess) wait(t testing.TB) result {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(defaultTestTimeout):
		t.Fatalf("%q did not exit within %v", p.cmd.Args, defaultTestTimeout)
	}
	p.fed.Wait()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(p.err, &ee):
		code = ee.ExitCode()
	case p.err != nil:
		t.Fatalf("%q: %v", p.cmd.Args, p.err)
	}
	return result{stdout: p.stdout.Bytes(), stderr: p.stderr.Bytes(), code: code}
}

// metricsAddr returns the address of the daemon's /metrics.
func (d *daemon) metricsAddr(t testing.TB) string {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for time.Now().Before(deadline) {
		for _, r := range d.log.records() {
			if a, ok := r["addr"].(string); ok && r["msg"] == "metrics listening" {
				return a
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no metrics address in the log:\n%s", d.log.String())
	return ""
}

// calls returns the daemon's log records of finished gRPC calls of method
// of halfclose.v1.ComputeService.
func (d *daemon) calls(method string) []map[string]any {
	var out []map[string]any
	for _, r := range d.log.records() {
		if r["msg"] == "finished call" && r["grpc.service"] == "halfclose.v1.ComputeService" && r["grpc.method"] == method {
			out = append(out, r)
		}
	}
	return out
}

// waitCall waits for the record of a finished call of method beyond the
// first skip ones.
func (d *daemon) waitCall(t testing.TB, method string, skip int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for time.Now().Before(deadline) {
		if cs := d.calls(method); len(cs) > skip {
			return cs[skip]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log record of a finished %s call within %v; log:\n%s", method, defaultTestTimeout, d.log.String())
	return nil
}

// metricsClient keeps no idle connections (no goroutine outlives a call).
var metricsClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: defaultTestTimeout}

// metric returns the value of the gRPC server counter name for method
// (0 before the first call).
func metric(t testing.TB, addr, name, method string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, `grpc_method="`+method+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading /metrics: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return sum
}

// waitMetric waits until metric reaches at least want, or fails the test
// when the process exits first.
func waitMetric(t testing.TB, addr, name, method string, want float64, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for time.Now().Before(deadline) {
		if metric(t, addr, name, method) >= want {
			return
		}
		select {
		case <-exited:
			t.Fatalf("the client exited before the server received %v %s messages", want, method)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("%s{%s} did not reach %v within %v", name, method, want, defaultTestTimeout)
}
