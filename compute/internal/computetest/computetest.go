// Package computetest holds what the tests of the compute packages share:
// running a pipeline through an engine with every builtin command, the GNU
// tools as the oracle (LC_ALL=C), reproducible inputs, and benchmarks that
// report their speed against GNU's.
package computetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/shquote"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/internal/tz"
)

// Engine returns an engine with cfg's limits and, when cfg names no
// registry, every builtin command.
func Engine(cfg engine.Config) *engine.Engine {
	if cfg.Registry == nil {
		cfg.Registry = builtin.Registry()
	}
	return engine.New(cfg)
}

// RunPipeline compiles text and runs it over input through an Engine, as an
// adapter would, returning the output.
func RunPipeline(t testing.TB, text string, input []byte) ([]byte, error) {
	t.Helper()
	return RunPipelineEnv(t, engine.Config{}, text, input)
}

// RunPipelineEnv is RunPipeline on an engine with cfg.
func RunPipelineEnv(t testing.TB, cfg engine.Config, text string, input []byte) ([]byte, error) {
	t.Helper()
	return runPipeline(t, cfg, text, input, false)
}

// RunPipelineFile is RunPipeline with the pipeline told that its input
// is a regular file of that size (engine.Pipeline.SetInputFile).
func RunPipelineFile(t testing.TB, text string, input []byte) ([]byte, error) {
	t.Helper()
	return runPipeline(t, engine.Config{}, text, input, true)
}

// RunPipelineStatus is RunPipeline (RunPipelineFile when file is set)
// with the pipeline's exit status, 0 on error.
func RunPipelineStatus(t testing.TB, text string, input []byte, file bool) ([]byte, int, error) {
	t.Helper()
	return runPipelineStatus(t, engine.Config{}, text, input, file)
}

// RunPipelineEnvStatus is RunPipelineEnv with the pipeline's exit
// status, 0 on error.
func RunPipelineEnvStatus(t testing.TB, cfg engine.Config, text string, input []byte) ([]byte, int, error) {
	t.Helper()
	return runPipelineStatus(t, cfg, text, input, false)
}

// RunPipelineDiag is RunPipelineEnvStatus (told the input is a regular
// file when file is set) with the lines the job's commands wrote on
// standard error (engine.Stats.Diagnostics), nil on error.
func RunPipelineDiag(t testing.TB, cfg engine.Config, text string, input []byte, file bool) ([]byte, int, []string, error) {
	t.Helper()
	return runPipelineDiag(t, cfg, text, input, file)
}

func runPipeline(t testing.TB, cfg engine.Config, text string, input []byte, file bool) ([]byte, error) {
	t.Helper()
	out, _, err := runPipelineStatus(t, cfg, text, input, file)
	return out, err
}

func runPipelineStatus(t testing.TB, cfg engine.Config, text string, input []byte, file bool) ([]byte, int, error) {
	t.Helper()
	out, status, _, err := runPipelineDiag(t, cfg, text, input, file)
	return out, status, err
}

func runPipelineDiag(t testing.TB, cfg engine.Config, text string, input []byte, file bool) ([]byte, int, []string, error) {
	t.Helper()
	return RunPipelineReads(t, cfg, text, input, file, 0)
}

// RunPipelineReads is RunPipelineDiag with the input arriving as a
// network client's does, in reads of 1 to 64 bytes and now and then of
// up to 64 KiB, their sizes drawn from seed (NewSplitReader); 0 is one
// read of it all, as RunPipelineDiag's.
func RunPipelineReads(t testing.TB, cfg engine.Config, text string, input []byte, file bool, seed uint64) ([]byte, int, []string, error) {
	t.Helper()
	e := Engine(cfg)
	p, err := e.Compile(text)
	if err != nil {
		return nil, 0, nil, err
	}
	if file {
		p.SetInputFile(int64(len(input)))
	}
	ctx, cancel := testenv.Context(t)
	defer cancel()
	var in io.Reader = bytes.NewReader(input)
	if seed != 0 {
		in = NewSplitReader(input, seed)
	}
	var out bytes.Buffer
	st, err := e.Run(ctx, p, in, &out)
	return out.Bytes(), st.ExitStatus, st.Diagnostics, err
}

// SplitReader returns its input in reads of pseudo-random sizes, as TCP
// segments and gRPC messages arrive: what a stage keeps of one read
// across the next (a view of a buffer a later read refills) shows where
// one read of it all never would.
type SplitReader struct {
	b []byte
	r *rand.Rand
}

// NewSplitReader returns a SplitReader of b whose read sizes come from
// seed.
func NewSplitReader(b []byte, seed uint64) *SplitReader {
	return &SplitReader{b: b, r: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))}
}

func (s *SplitReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := 1 + s.r.IntN(64)
	if s.r.IntN(8) == 0 {
		n = 1 + s.r.IntN(64<<10)
	}
	n = copy(p, s.b[:min(n, len(s.b))])
	s.b = s.b[n:]
	return n, nil
}

// StderrLines returns what a GNU tool wrote on standard error as the
// diagnostics a job holds for it: one string a line, within the bounds of
// compute.Diagnostics (each line cut to compute.MaxDiagnosticBytes and
// made valid UTF-8; past compute.MaxDiagnostics lines, the count of the
// others), nil for none. A line GNU ends with a NUL in place of its
// newline (sort -cz's disorder line) is the job's line without it.
func StderrLines(stderr []byte) []string {
	if len(stderr) == 0 {
		return nil
	}
	var d compute.Diagnostics
	ctx := compute.WithDiagnostics(context.Background(), &d)
	for _, l := range strings.SplitAfter(string(stderr), "\n") {
		if line, ok := strings.CutSuffix(l, "\n"); ok {
			compute.Diagnose(ctx, line)
		} else if l != "" {
			compute.Diagnose(ctx, strings.TrimSuffix(l, "\x00"))
		}
	}
	return d.Lines()
}

// DiffDiagnostics returns "" when our diagnostics are GNU's stderr lines
// (StderrLines), in order; else what differs.
func DiffDiagnostics(ours []string, gnuStderr []byte) string {
	want := StderrLines(gnuStderr)
	if slices.Equal(ours, want) {
		return ""
	}
	return fmt.Sprintf("diagnostics differ:\n  GNU  %q\n  ours %q", want, ours)
}

// GNU runs a real tool with LC_ALL=C, input on stdin (a pipe): the oracle.
// It returns stdout and whether the tool exited zero. A tool that is not
// installed fails the test under CI and skips it elsewhere (testenv.Tool).
func GNU(t testing.TB, input []byte, argv ...string) ([]byte, bool) {
	t.Helper()
	out, _, code := gnuRun(t, input, false, argv...)
	return out, code == 0
}

// TZ is the oracles' time zone (their TZ variable), which UseTZ makes
// the test process's too: gzip -lv lists a time in the local zone, GNU's
// in its process's (TZ), the server's in its own (time.Local). Lord
// Howe's rule, half-hour offsets and a half-hour summer shift (+10:30,
// +11 from the first Sunday in October to the first in April, at 02:00),
// so that a zone lost on one side shows. A POSIX rule, not a zone name:
// glibc reads it as it is, and UseTZ gives Go the same rule as the
// server reads it (internal/tz), so neither needs the machine's zone
// data (/usr/share/zoneinfo, Debian's tzdata).
const TZ = "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"

// UseTZ makes TZ the test process's local zone (time.Local). It must run
// before any test starts, from TestMain: nothing may read time.Local
// meanwhile.
func UseTZ() error {
	loc, err := tzLocation()
	if err != nil {
		return err
	}
	time.Local = loc
	return nil
}

// tzLocation is TZ for Go, read from no file, as the server reads a
// TZ that names none (internal/tz, glibc's reading).
func tzLocation() (*time.Location, error) {
	loc, ok := tz.Rule(TZ)
	if !ok {
		return nil, fmt.Errorf("time zone %s for the oracles: not one Go can be given", TZ)
	}
	return loc, nil
}

// gnuWait bounds one run of an oracle: far over what any takes, also
// over the long tests' large inputs on a busy machine.
const gnuWait = 2 * time.Minute

// gnuRun runs a real tool with LC_ALL=C, named by its base name (GNU's
// messages start with it), its stdin a regular file holding input when
// file is set, else a pipe; it returns stdout, stderr and the exit status.
// Its stdout and stderr are regular files, read back after it exits: no
// pipe and no copying goroutine in the race-instrumented test process,
// which costs it a third less CPU per run (the GNU tables run thousands).
func gnuRun(t testing.TB, input []byte, file bool, argv ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), gnuWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Tool(t, argv[0]), argv[1:]...)
	cmd.Args[0] = filepath.Base(argv[0])
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin", "TZ=" + TZ}
	cmd.Stdin = bytes.NewReader(input)
	dir := t.TempDir()
	defer os.RemoveAll(dir) // the outputs of a long run's large inputs
	if file {
		f := filepath.Join(dir, "in")
		if err := os.WriteFile(f, input, 0o600); err != nil {
			t.Fatal(err)
		}
		in, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		cmd.Stdin = in
	}
	out, errOut := Create(t, filepath.Join(dir, "stdout")), Create(t, filepath.Join(dir, "stderr"))
	defer out.Close()
	defer errOut.Close()
	cmd.Stdout, cmd.Stderr = out, errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("oracle %v: did not finish within %v", argv, gnuWait)
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("oracle %v: %v", argv, err)
	}
	return ReadBack(t, out), ReadBack(t, errOut), code
}

// Create is os.Create, failing t: a file for a tool's stdout or stderr.
func Create(t testing.TB, name string) *os.File {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// ReadBack is what a tool wrote to f, a file it had as stdout or stderr.
func ReadBack(t testing.TB, f *os.File) []byte {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Sh runs a shell pipeline locally with LC_ALL=C as the oracle for
// multi-stage pipelines. The text is the test's own, never a request's.
func Sh(t testing.TB, input []byte, script string) ([]byte, bool) {
	t.Helper()
	return GNU(t, input, "/bin/sh", "-c", script)
}

// RandomBytes returns n reproducible pseudo-random bytes. (ChaCha8 fills
// them in one call: a byte-by-byte loop is slow under the race detector.)
func RandomBytes(seed uint64, n int) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	binary.LittleEndian.PutUint64(key[8:], seed^0x9e3779b97f4a7c15)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// DiffGNU runs argv through RunPipeline and through the GNU tool and
// compares stdout, the exit status and, when GNU succeeded, the
// diagnostics with its standard error (StderrLines). GNU's exit status 1
// (grep: no line selected) is a success with status 1 for us; a GNU error
// (status >= 2) must be an error here too.
func DiffGNU(t *testing.T, input []byte, argv ...string) {
	t.Helper()
	DiffGNUEnv(t, engine.Config{}, input, argv...)
}

// DiffGNUEnv is DiffGNU on an engine with cfg.
func DiffGNUEnv(t *testing.T, cfg engine.Config, input []byte, argv ...string) {
	t.Helper()
	want, stderr, ok := GNUStatusStderr(t, input, argv...)
	got, status, diag, err := runPipelineDiag(t, cfg, shquote.Join(argv), input, false)
	if ok >= 2 {
		if err == nil {
			t.Fatalf("%s: GNU failed (status %d) but we succeeded with %q", shquote.Join(argv), ok, Trunc(got))
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", shquote.Join(argv), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s on %q:\n got %q\nwant %q", shquote.Join(argv), Trunc(input), Trunc(got), Trunc(want))
	}
	if status != ok {
		t.Fatalf("%s on %q: exit status %d, GNU's %d", shquote.Join(argv), Trunc(input), status, ok)
	}
	if d := DiffDiagnostics(diag, stderr); d != "" {
		t.Fatalf("%s on %q: %s", shquote.Join(argv), Trunc(input), d)
	}
}

// Trunc shortens b for a failure message.
func Trunc(b []byte) []byte {
	if len(b) > 300 {
		return append(append([]byte{}, b[:300]...), "..."...)
	}
	return b
}

// GNUStatus is GNU with the exit status; the input comes from a regular
// file, as GNU grep's binary-file blocks follow its reads. (The file is
// the tool's stdin directly: no shell, one process per call.)
func GNUStatus(t testing.TB, input []byte, argv ...string) ([]byte, int) {
	t.Helper()
	out, _, code := GNUStatusStderr(t, input, argv...)
	return out, code
}

// GNUStatusStderr is GNUStatus with what the tool wrote on standard error.
func GNUStatusStderr(t testing.TB, input []byte, argv ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	return gnuRun(t, input, true, argv...)
}

var (
	gnuMu    sync.Mutex
	gnuSpeed = map[string]float64{} // MB/s of a GNU command; protected by gnuMu
)

// gnuMBps times the GNU tool (LC_ALL=C) over in, best of three runs, stdout
// to a pipe (grep treats /dev/null as -q), and returns its MB/s, or 0 when
// the tool is missing.
func gnuMBps(b *testing.B, in []byte, argv ...string) float64 {
	key := fmt.Sprint(len(in), argv)
	gnuMu.Lock()
	defer gnuMu.Unlock()
	if v, ok := gnuSpeed[key]; ok {
		return v
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 0
	}
	f := filepath.Join(b.TempDir(), "in")
	if err := os.WriteFile(f, in, 0o600); err != nil {
		b.Fatal(err)
	}
	best := time.Duration(1 << 62)
	for range 3 {
		fd, err := os.Open(f)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(path, argv[1:]...)
		cmd.Env = []string{"LC_ALL=C"}
		cmd.Stdin, cmd.Stdout = fd, Discard{}
		start := time.Now()
		_ = cmd.Run() // exit 1: nothing selected
		best = min(best, time.Since(start))
		fd.Close()
	}
	v := float64(len(in)) / best.Seconds() / 1e6
	gnuSpeed[key] = v
	return v
}

// BenchVsGNU benchmarks argv on in and reports its speed as a multiple of
// the GNU tool's ("x_gnu").
func BenchVsGNU(b *testing.B, in []byte, argv ...string) {
	BenchEngineVsGNU(b, engine.Config{}, in, argv...)
}

// BenchEngineVsGNU is BenchVsGNU on an engine with cfg.
func BenchEngineVsGNU(b *testing.B, cfg engine.Config, in []byte, argv ...string) {
	e := Engine(cfg)
	p, err := e.Compile(shquote.Join(argv))
	if err != nil {
		b.Fatal(err)
	}
	gnu := gnuMBps(b, in, argv...)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	for i := 0; i < b.N; i++ {
		if _, err := e.Run(b.Context(), p, bytes.NewReader(in), Discard{}); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time, which a busy machine inflates less than the wall time
	// ns/op is (the process's: the collector's threads count too)
	if cpu0 > 0 {
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	}
	if gnu > 0 {
		ours := float64(len(in)) * float64(b.N) / time.Since(start).Seconds() / 1e6
		b.ReportMetric(ours/gnu, "x_gnu")
	}
}

// Discard is a writer that drops what it is given, with no ReadFrom.
type Discard struct{}

// Write returns len(p).
func (Discard) Write(p []byte) (int, error) { return len(p), nil }

// EmptyDir fails the test when dir (a spool directory) holds anything:
// every spill file must be gone once its job or spool is done.
func EmptyDir(t testing.TB, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("spool dir %s holds %v", dir, ents)
	}
}
