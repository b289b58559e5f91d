// Package e2e drives the real binaries (halfclosed, halfclose) with real
// clients (grpcurl, OpenBSD nc -N, a raw Go socket) and compares every
// answer with the GNU tools run locally with LC_ALL=C.
//
// The binaries come from $E2E_BIN_DIR (make test sets it); without it they
// are built once into a temporary directory.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/leakcheck"
	"github.com/halfclose/halfclose/internal/syncbuf"
	"github.com/halfclose/halfclose/internal/testenv"

	"go.uber.org/goleak"
)

// defaultTestTimeout bounds every wait of these tests: a daemon start, a
// daemon stop, a client run.
const defaultTestTimeout = 60 * time.Second

// buildTimeout bounds a build a test runs (make build tools, make
// install, go tool -n): on a busy 2-core machine linking the binaries
// took over a minute (TestTour failed at load 24), and a build that ends
// is no hang.
const buildTimeout = 10 * time.Minute

// tmpRoot holds what the package builds or generates once (binaries, input
// files); TestMain removes it.
var tmpRoot string

func TestMain(m *testing.M) {
	// A test binary started as a background job of a shell without job
	// control (`./e2e.test &` in a script) starts with SIGINT ignored, and
	// every process it starts inherits that: the clients the tests stop
	// with SIGINT then rightly go on (a background job ignores Ctrl-C), and
	// TestExampleAbort/python waited out its minute. Handling SIGINT here,
	// into a channel nobody reads (so it stays without effect, as ignored),
	// makes the children start with the default action instead.
	if signal.Ignored(syscall.SIGINT) {
		signal.Notify(make(chan os.Signal, 1), syscall.SIGINT)
	}
	// The same for SIGHUP (a test binary run under nohup): a halfclosed
	// started with it ignored keeps ignoring it, and
	// TestServerSignalMidReply/SIGHUP would wait for an exit that never
	// comes.
	if signal.Ignored(syscall.SIGHUP) {
		signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	}
	if err := enterTourNamespace(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: tour namespace:", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "halfclose-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	tmpRoot = dir
	goleak.VerifyTestMain(m, leakcheck.Options(goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))...)
}

var (
	buildOnce sync.Once
	builtDir  string
	buildErr  error
)

// binDir returns the directory holding halfclosed, halfclose and grpcurl:
// $E2E_BIN_DIR, or a directory they are built into once.
func binDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("E2E_BIN_DIR"); d != "" {
		return d
	}
	buildOnce.Do(func() {
		builtDir = filepath.Join(tmpRoot, "bin")
		root, err := filepath.Abs("..")
		if err != nil {
			buildErr = err
			return
		}
		for _, args := range [][]string{
			{"build", "-o", builtDir + "/", "./cmd/halfclosed", "./cmd/halfclose"},
			{"build", "-modfile=tools/go.mod", "-o", builtDir + "/", "github.com/fullstorydev/grpcurl/cmd/grpcurl"},
		} {
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the binaries: %v", buildErr)
	}
	return builtDir
}

// bin returns the path of one of the project's binaries.
func bin(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(binDir(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v (run make build tools, or unset E2E_BIN_DIR)", name, err)
	}
	return p
}

// need returns the path of an external tool the test needs: a missing
// tool fails the test under CI and skips it elsewhere (testenv.Tool).
func need(t testing.TB, tool string) string {
	t.Helper()
	return testenv.Tool(t, tool)
}

// daemon is a running halfclosed.
type daemon struct {
	GRPC   string            // gRPC address
	TCP    string            // raw-TCP command port ("" when disabled)
	Routes map[string]string // route pipeline → address

	log    *logSink
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
	cmd    *exec.Cmd
	killed atomic.Bool // by kill or term: its exit is no failure
}

// kill stops the daemon with SIGKILL, as a crash would, and waits for it.
func (d *daemon) kill(t testing.TB) {
	t.Helper()
	d.killed.Store(true)
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.exited
}

// term stops the daemon with SIGTERM, as an orchestrator does, and checks
// that it drained and exited 0.
func (d *daemon) term(t testing.TB) {
	t.Helper()
	d.killed.Store(true)
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(defaultTestTimeout):
		d.cmd.Process.Kill()
		<-d.exited
		t.Fatalf("halfclosed did not stop within %v of SIGTERM\n%s", defaultTestTimeout, d.log.String())
	}
	if d.err != nil {
		t.Fatalf("halfclosed exited with %v after SIGTERM\n%s", d.err, d.log.String())
	}
}

// startDaemon runs halfclosed on free loopback ports and returns its gRPC
// and command-port addresses; it is stopped with SIGTERM when the test ends,
// and the test fails if it does not exit 0.
func startDaemon(t testing.TB, args ...string) (grpcAddr, tcpAddr string) {
	d := launch(t, args...)
	return d.GRPC, d.TCP
}

// launch runs halfclosed. Its listeners bind port 0 (args may override
// that); the bound addresses are read from its JSON log, which the
// daemon writes after listening, so there is no port race.
func launch(t testing.TB, args ...string) *daemon {
	t.Helper()
	return launchEnv(t, nil, args...)
}

// launchEnv is launch with env's variables added to the daemon's.
func launchEnv(t testing.TB, env []string, args ...string) *daemon {
	t.Helper()
	full := append([]string{"--grpc-addr", "127.0.0.1:0", "--tcp-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	cmd := exec.Command(bin(t, "halfclosed"), full...)
	cmd.Env = append(cleanEnv(), env...)
	d := &daemon{Routes: map[string]string{}, log: &logSink{}, exited: make(chan struct{}), cmd: cmd}
	cmd.Stdout = d.log
	cmd.Stderr = d.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting halfclosed: %v", err)
	}
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		if d.killed.Load() {
			return
		}
		select {
		case <-d.exited:
			t.Errorf("halfclosed exited before the end of the test: %v\n%s", d.err, d.log.String())
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(defaultTestTimeout):
			cmd.Process.Kill()
			<-d.exited
			t.Errorf("halfclosed did not stop within %v of SIGTERM\n%s", defaultTestTimeout, d.log.String())
			return
		}
		if d.err != nil {
			t.Errorf("halfclosed exited with %v after SIGTERM\n%s", d.err, d.log.String())
		}
	})

	wantRoutes := 0
	tcpOn := true
	for i, a := range full {
		switch {
		case a == "--tcp-route" || a == "-tcp-route":
			wantRoutes++
		case strings.HasPrefix(a, "--tcp-route=") || strings.HasPrefix(a, "-tcp-route="):
			wantRoutes++
		case (a == "--tcp-addr" || a == "-tcp-addr") && i+1 < len(full):
			tcpOn = full[i+1] != ""
		case a == "--tcp-addr=" || a == "-tcp-addr=":
			tcpOn = false
		}
	}
	deadline := time.After(defaultTestTimeout)
	for {
		for _, rec := range d.log.records() {
			addr, _ := rec["addr"].(string)
			switch rec["msg"] {
			case "grpc listening":
				d.GRPC = addr
			case "tcp command port listening":
				d.TCP = addr
			case "tcp route listening":
				p, _ := rec["pipeline"].(string)
				d.Routes[p] = addr
			}
		}
		if d.GRPC != "" && (d.TCP != "") == tcpOn && len(d.Routes) == wantRoutes {
			break
		}
		select {
		case <-d.exited:
			t.Fatalf("halfclosed %s exited at start: %v\n%s", strings.Join(args, " "), d.err, d.log.String())
		case <-deadline:
			t.Fatalf("halfclosed not listening after %v\n%s", defaultTestTimeout, d.log.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The log line comes after Listen, so connections are accepted now;
	// check one anyway so a start-up regression fails here, clearly. It
	// half-closes and waits for the server's close: a connection holds
	// its place of the connection caps until the server has read its
	// end (docs/operations.md), and a test's next connection from
	// 127.0.0.1 must not find this one's place still taken.
	c, err := net.DialTimeout("tcp", d.GRPC, defaultTestTimeout)
	if err != nil {
		t.Fatalf("halfclosed not accepting on %s: %v", d.GRPC, err)
	}
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(defaultTestTimeout))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("halfclosed did not close a connection that sent nothing on %s: %v", d.GRPC, err)
	}
	c.Close()
	return d
}

// jobs returns the daemon's "job" log records so far.
func (d *daemon) jobs() []map[string]any {
	var out []map[string]any
	for _, r := range d.log.records() {
		if r["msg"] == "job" {
			out = append(out, r)
		}
	}
	return out
}

// waitJob waits for a "job" log record, beyond the first skip ones, for
// which match is true.
func (d *daemon) waitJob(t testing.TB, skip int, match func(map[string]any) bool) map[string]any {
	t.Helper()
	return d.waitRecord(t, d.jobs, skip, match)
}

// waitRecord waits for a record of those list returns, beyond the first
// skip ones, for which match is true.
func (d *daemon) waitRecord(t testing.TB, list func() []map[string]any, skip int, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for time.Now().Before(deadline) {
		js := list()
		if len(js) > skip {
			for _, j := range js[skip:] {
				if match(j) {
					return j
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no matching job log line within %v; log:\n%s", defaultTestTimeout, d.log.String())
	return nil
}

// logSink collects the daemon's output.
type logSink struct{ syncbuf.Buffer }

func (l *logSink) records() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// cleanEnv is the environment without HALFCLOSE_* variables (so a
// developer's settings do not change the tests), without GOGC and
// GOMEMLIMIT (they win over --gc-percent and --memory-limit: a CI
// runner's GOMEMLIMIT changed what --print-limits prints, and
// TestWaitingStreamsMemory failed), in the C locale; but
// HALFCLOSE_TCP_RAW_ACCEPT stays, to run the suites with each
// --tcp-raw-accept (docs/operations.md, "Small TCP jobs").
func cleanEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		if strings.HasPrefix(kv, "HALFCLOSE_TCP_RAW_ACCEPT=") {
			return false
		}
		return strings.HasPrefix(kv, "HALFCLOSE_") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") ||
			strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GOMEMLIMIT=")
	})
	return append(env, "LC_ALL=C")
}

// result is what a process did.
type result struct {
	stdout, stderr []byte
	code           int
}

// run runs argv in dir ("" for the current one) with stdin from the file
// stdinPath ("" for none), LC_ALL=C, and returns what it did. Only a
// failure to start or a timeout fails the test.
func run(t testing.TB, dir, stdinPath string, argv ...string) result {
	t.Helper()
	return runStdin(t, dir, stdinPath, false, argv...)
}

// runPiped is run with stdin a pipe fed from the file, not the file.
func runPiped(t testing.TB, dir, stdinPath string, argv ...string) result {
	t.Helper()
	return runStdin(t, dir, stdinPath, true, argv...)
}

// runBuild is run for a build step, bounded by buildTimeout (or the test
// binary's -timeout, if sooner) instead of defaultTestTimeout.
func runBuild(t testing.TB, dir string, argv ...string) result {
	t.Helper()
	bound := buildTimeout
	if d, ok := testenv.Deadline(t); ok {
		// Still this test's failure, with its command named, before the
		// binary's -timeout panics.
		bound = max(min(bound, time.Until(d)-30*time.Second), defaultTestTimeout)
	}
	return runBounded(t, bound, dir, "", false, argv...)
}

func runStdin(t testing.TB, dir, stdinPath string, piped bool, argv ...string) result {
	t.Helper()
	return runBounded(t, defaultTestTimeout, dir, stdinPath, piped, argv...)
}

func runBounded(t testing.TB, bound time.Duration, dir, stdinPath string, piped bool, argv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	if stdinPath != "" {
		f, err := os.Open(stdinPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
		if piped {
			cmd.Stdin = struct{ io.Reader }{f} // not an *os.File: exec makes a pipe
		}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%q: timed out after %v", argv, bound)
	}
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%q: %v", argv, err)
	}
	return result{stdout: out.Bytes(), stderr: errb.Bytes(), code: code}
}

// gnu runs the oracle: a local tool reading the file stdinPath through a
// pipe, as the server reads a stream (GNU wc, for one, sizes its columns
// from fstat when stdin is a regular file). It must succeed.
func gnu(t testing.TB, stdinPath string, argv ...string) []byte {
	t.Helper()
	need(t, argv[0])
	r := runPiped(t, "", stdinPath, argv...)
	if r.code != 0 {
		t.Fatalf("oracle %q exited %d: %s", argv, r.code, r.stderr)
	}
	return r.stdout
}

// sizes are the input sizes every differential test covers: empty, one
// byte, around the 64 KiB buffer boundary, and several 256 KiB client
// chunks and 1 MiB server buffers; the long run (testenv.Long) adds 20 MiB,
// past the 8 MiB spool, which TestNcRoute always covers.
var sizes = func() []int {
	s := []int{0, 1, 65535, 65536, 65537, 3 << 20}
	if testenv.Long() {
		s = append(s, bigSize)
	}
	return s
}()

// sizesFor returns the sizes case k of a test meets: all of them in the
// long run (testenv.Long); by default the edges (empty, one byte, 3 MiB)
// and one of the three sizes around the 64 KiB boundary, in turn, so that
// consecutive cases meet all three and each case costs four client runs,
// not six. What the boundary tests is the transport's chunking, which
// every command line crosses the same way.
func sizesFor(k int) []int {
	if testenv.Long() {
		return sizes
	}
	return []int{0, 1, 65535 + k%3, 3 << 20}
}

// bigSize is an input larger than the default spool memory (8 MiB).
const bigSize = 20 << 20

var (
	inputsMu sync.Mutex // protects inputs
	inputs   = map[string]string{}
)

// randomFile returns the path of a file of n random bytes, made once per
// run (seeded by n, so a failure reproduces).
func randomFile(t testing.TB, n int) string {
	t.Helper()
	return cachedFile(t, fmt.Sprintf("random-%d", n), func(w io.Writer) error {
		return writeRandom(w, n, uint64(n))
	})
}

func writeRandom(w io.Writer, n int, seed uint64) error {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24), 'e', '2', 'e'})
	_, err := io.CopyN(w, r, int64(n))
	return err
}

// cachedFile writes a file under tmpRoot once and returns its path.
func cachedFile(t testing.TB, name string, fill func(io.Writer) error) string {
	t.Helper()
	inputsMu.Lock()
	defer inputsMu.Unlock()
	if p, ok := inputs[name]; ok {
		return p
	}
	p := filepath.Join(tmpRoot, "inputs", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	inputs[name] = p
	return p
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sizeName names a size for subtest names.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprint(n)
}

// diff reports the first difference between two outputs, shortened.
func diff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-40)
	clip := func(b []byte) string {
		hi := min(len(b), i+80)
		if lo > len(b) {
			return ""
		}
		return fmt.Sprintf("%q", b[lo:hi])
	}
	return fmt.Sprintf("first difference at byte %d (got %d bytes, want %d):\n got: %s\nwant: %s", i, len(got), len(want), clip(got), clip(want))
}

// freeAddr returns a loopback address nothing listens on (it did a moment
// ago), for tests of a missing server.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// errTimedOut is runQuiet's error for a process it killed at
// defaultTestTimeout: a call that stalled.
var errTimedOut = errors.New("timed out")

// runQuiet runs argv with stdin from the file stdinPath ("" for none), for
// the load loops: it returns errors rather than failing the test, since it
// runs on other goroutines than the test's.
func runQuiet(stdinPath string, argv ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = cleanEnv()
	if stdinPath != "" {
		f, err := os.Open(stdinPath)
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		// What it had said tells where it stopped: before its reply, or
		// after printing it (on its way out).
		return result{}, fmt.Errorf("%s: %w after %v (stdout %q, stderr %q)", filepath.Base(argv[0]), errTimedOut, defaultTestTimeout, firstLine(out.Bytes()), firstLine(errb.Bytes()))
	case errors.As(err, &ee):
		return result{stdout: out.Bytes(), stderr: errb.Bytes(), code: ee.ExitCode()}, nil
	case err != nil:
		return result{}, err
	}
	return result{stdout: out.Bytes(), stderr: errb.Bytes()}, nil
}

// firstLine is b on one line, white space squeezed, at most 160 bytes.
func firstLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}
