//go:build linux

// Command benchtable is `make bench`: it times halfclose against the GNU
// tools in one run on one machine and prints a table of throughputs and
// ratios, with PASS/FAIL for each row that has a bar. It always exits 0
// when it could measure: the bars are a report, not a gate.
//
//	go run ./internal/benchtable [-size 1GiB] [-rows REGEX] [-runs 3] [-data DIR]
//
// # Adding rows
//
// The table is the explicit list in allRows: each file of this package
// contributes a function returning its rows (sha256Rows, filterRows,
// chainRows, ...; grepRows in grep.go), and allRows joins them in table
// order. A row:
//
//	Row{
//		Group: "sha256",             // rows compared with each other
//		Name:  "halfclose (gRPC)",   // unique within the group
//		Bar:   0.8,                  // PASS when MB/s ≥ 0.8 × the baseline's; 0: no bar
//		Needs: []string{"sha256sum"}, // server commands; the row is skipped without them
//		Run: func(env *Env) (Result, error) {
//			in, err := env.RandomFile()
//			if err != nil {
//				return Result{}, err
//			}
//			return env.TimeCommand(in, env.Bin("halfclose"), "--addr", env.GRPCAddr, "sha256sum")
//		},
//	}
//
// Exactly one row of a group has Baseline: true; the ratio of every row is
// its MB/s over the baseline's. Run is called once per row (it does its own
// repetitions, normally through Env.TimeCommand or Env.Best, which keep the
// best of Env.Runs): it returns the bytes processed per repetition, the best
// time, that repetition's CPU, and optionally a digest of the output, which
// must then equal the baseline's (a fast wrong answer is a failure, not a
// win). A row that runs processes under Env.Best reports each to the
// repetition's Rep once it has exited (Rep.Client, Rep.Server).
//
// # Columns
//
// wall s is the best repetition's time; MB/s the bytes over it; vs
// baseline the ratio; bar and verdict as above. A verdict "FAIL (bar >
// nc up+down 0.53x)" names the group's lowest ceiling row (Row.Ceiling)
// when the bar is above it: the row, sent with nc, is not expected to
// reach its bar on this machine (a ceiling is nc's cost on both ends, not
// a hard bound: halfclosed receives for less CPU than nc -l, so a row may
// come out a few % above it). The CPU columns are the best repetition's, in seconds
// (see CPU): client CPU-s the row's client processes (wait4's rusage),
// or this process's when the row computes in it; server CPU-s
// halfclosed's (/proc/PID/stat before and after) for rows that talk to
// it, the nc listeners' for the ceilings; hash CPU-s this process
// reading and hashing the client's stdout. "-": not measured or not
// there. On N cores, wall s ≥ (client + server + hash) / N.
//
// Before any row runs, one halfclosed is started on loopback with every
// route that a selected row lists in Routes; Env.Routes maps each route's
// pipeline to its address. Rows run one at a time, in list order
// within a group, groups in the order of their first row.
//
// It runs on Linux only: it reads /proc for the server's CPU time and
// ties its children's lives to its own (PR_SET_PDEATHSIG).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/halfclose/halfclose/internal/syncbuf"

	"github.com/halfclose/halfclose/internal/flagenv"
)

// Row is one line of the table. See the package comment.
type Row struct {
	Group    string   // rows compared with each other; one is the Baseline
	Name     string   // unique within the group
	Baseline bool     // the row the others of its group are divided by
	Bar      float64  // minimum ratio to the baseline for PASS; 0 for none
	Needs    []string // server commands the row needs (Capabilities)
	Routes   []string // --tcp-route pipelines the daemon must serve
	// Ceiling, when not empty, marks a row that only moves the group's
	// bytes over loopback TCP with nc and no server, and names it in
	// verdicts: "nc→nc" (the input, one way) or "nc up+down" (the input
	// up, then the GNU tool's output down, as a reply that may only start
	// after the client's FIN). A row of the group sent with nc is not
	// expected to beat it by more than a few % on this machine: a bar
	// above its ratio is reported as out of reach here, with the lowest
	// ceiling of the group.
	Ceiling string
	// Daemon marks a row that talks to the benchtable's halfclosed
	// without needing one of its commands (a Digest call); rows with
	// Needs or Routes do too. Its Server CPU is the daemon's.
	Daemon bool
	Run    func(env *Env) (Result, error)
}

// usesDaemon reports whether the row talks to the benchtable's halfclosed.
func (r Row) usesDaemon() bool { return r.Daemon || len(r.Needs) > 0 || len(r.Routes) > 0 }

// Result is what a row measured.
type Result struct {
	Bytes     int64         // bytes processed by one repetition
	Elapsed   time.Duration // the best repetition
	OutputSum []byte        // digest of the output, compared with the baseline's; nil: not compared
	Note      string        // shown under the table
	CPU       CPU           // of the best repetition, by side; see CPU
	// Rate marks a Result whose Elapsed is only the unit of a rate (the
	// chain rows' calls per second): the table shows no wall time.
	Rate bool
}

// MBps is the throughput in MB/s (10^6 bytes).
func (r Result) MBps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / r.Elapsed.Seconds() / 1e6
}

// allRows is the table, in order: every row of every file of this
// package, listed explicitly (no init registration), checked.
func allRows() []Row {
	var rs []Row
	for _, part := range [][]Row{
		sha256Rows(),
		transportRows(),
		b3Rows(),
		multiDigestRows(),
		filterRows(),
		grepRows(), // grep.go (the grep and sort rows of issue 14)
		chainRows(),
		smallTCPRows(),
	} {
		rs = append(rs, part...)
	}
	checkRows(rs)
	return rs
}

// checkRows panics on a row without Group, Name or Run, a name used twice
// in a group, or a group with two baselines: a programming error.
func checkRows(rs []Row) {
	for i, r := range rs {
		if r.Group == "" || r.Name == "" || r.Run == nil {
			panic("benchtable: a row needs Group, Name and Run")
		}
		for _, o := range rs[:i] {
			if o.Group == r.Group && (o.Name == r.Name || o.Baseline && r.Baseline) {
				panic(fmt.Sprintf("benchtable: row %s/%s: duplicate name or second baseline", r.Group, r.Name))
			}
		}
	}
}

// Env is what rows run in.
type Env struct {
	BinDir   string            // halfclose, halfclosed, grpcurl, ghz
	DataDir  string            // input files; see File
	Size     int64             // -size: bytes of the main inputs
	SortSize int64             // -sort-size
	Runs     int               // -runs: repetitions; the best counts
	GRPCAddr string            // the daemon's gRPC address
	TCPAddr  string            // its raw-TCP command port
	Routes   map[string]string // route pipeline → address
	Commands map[string]bool   // the daemon's commands (Capabilities)

	daemonPID int // halfclosed's, for its CPU time; 0: none
	ctx       context.Context
	files     sync.Map // name → path, made once
	timed     sync.Map // command line → Result, measured once
}

// Bin is the path of a binary in BinDir.
func (e *Env) Bin(name string) string { return filepath.Join(e.BinDir, name) }

// Context is cancelled on SIGINT.
func (e *Env) Context() context.Context { return e.ctx }

// File returns DataDir/name, written by fill once (or reused, when a file
// of that name and size is already there, e.g. with -data).
func (e *Env) File(name string, size int64, fill func(w io.Writer, size int64) error) (string, error) {
	key := fmt.Sprintf("%s-%d", name, size)
	if p, ok := e.files.Load(key); ok {
		return p.(string), nil
	}
	p := filepath.Join(e.DataDir, key)
	if st, err := os.Stat(p); err == nil && st.Size() == size {
		e.files.Store(key, p)
		return p, nil
	}
	fmt.Fprintf(os.Stderr, "benchtable: writing %s (%d MiB)\n", p, size>>20)
	f, err := os.Create(p + ".tmp")
	if err != nil {
		return "", err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = fill(&limitWriter{w: bw, n: size}, size)
	if errors.Is(err, errFull) {
		err = nil
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync() // written back before any timing, as withHeader's file
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p+".tmp", p)
	}
	if err != nil {
		os.Remove(p + ".tmp")
		return "", err
	}
	e.files.Store(key, p)
	return p, nil
}

var errFull = errors.New("file full")

// limitWriter cuts what fill writes at exactly n bytes.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errFull
	}
	if int64(len(p)) > l.n {
		k, err := l.w.Write(p[:l.n])
		l.n -= int64(k)
		if err == nil {
			err = errFull
		}
		return k, err
	}
	k, err := l.w.Write(p)
	l.n -= int64(k)
	return k, err
}

// Best runs fn Runs times and returns the shortest time and that
// repetition's CPU. fn reports the processes it ran to its Rep; without
// any, the row computed in this process and its Client CPU is this
// process's.
func (e *Env) Best(fn func(rep *Rep) error) (time.Duration, CPU, error) {
	return e.bestOf(func(rep *Rep) (time.Duration, error) {
		start := time.Now()
		err := fn(rep)
		return time.Since(start), err
	})
}

// bestOf is Best for an fn that times itself (a part of what it does).
// The CPU is read around the whole call: this process's getrusage and
// the daemon's /proc/PID/stat.
func (e *Env) bestOf(fn func(rep *Rep) (time.Duration, error)) (time.Duration, CPU, error) {
	best := time.Duration(math.MaxInt64)
	var cpu CPU
	for range e.Runs {
		if err := e.ctx.Err(); err != nil {
			return 0, CPU{}, err
		}
		var rep Rep
		d0, derr0 := e.daemonCPU()
		self0 := selfCPU()
		d, err := fn(&rep)
		self1 := selfCPU()
		d1, derr1 := e.daemonCPU()
		if err != nil {
			return 0, CPU{}, err
		}
		if d < best {
			best = d
			cpu = rep.cpu(self1-self0, d1-d0, derr0 == nil && derr1 == nil)
		}
	}
	return best, cpu, nil
}

// daemonCPU is halfclosed's CPU time so far.
func (e *Env) daemonCPU() (time.Duration, error) {
	if e.daemonPID == 0 {
		return 0, errors.New("no daemon")
	}
	return procCPU(e.daemonPID)
}

// TimeCommand runs argv Runs times with stdin from the file stdinPath
// (as a file: a client reads it as a user's shell would give it) and stdout
// into a pipe that is hashed and discarded, with LC_ALL=C. It returns the
// file's size, the best time and the output's digest; a non-zero exit or
// output differing between runs is an error.
func (e *Env) TimeCommand(stdinPath string, argv ...string) (Result, error) {
	return e.timeCommand(stdinPath, nil, argv...)
}

// TimeCommandHeader is TimeCommand with header before the file on the
// command's stdin. A non-empty header is written with a copy of the file
// into one input file, made before the timing and removed after it:
// `argv < HEADER+FILE`, as a client that has its request in a file sends it
// (a pipe from cat would time the pipe: in this run it held nc to half the
// port's rate). The bytes counted are the file's. An empty header is the
// file through a pipe: `cat FILE | argv`.
func (e *Env) TimeCommandHeader(header, stdinPath string, argv ...string) (Result, error) {
	return e.timeCommand(stdinPath, []byte(header), argv...)
}

func (e *Env) timeCommand(stdinPath string, header []byte, argv ...string) (Result, error) {
	// Rows of several groups may time the same command: once is enough.
	key := fmt.Sprintf("%q %q %q", stdinPath, header, argv)
	if r, ok := e.timed.Load(key); ok {
		return r.(Result), nil
	}
	res, err := e.timeCommandOnce(stdinPath, header, argv...)
	if err == nil {
		e.timed.Store(key, res)
	}
	return res, err
}

func (e *Env) timeCommandOnce(stdinPath string, header []byte, argv ...string) (Result, error) {
	st, err := os.Stat(stdinPath)
	if err != nil {
		return Result{}, err
	}
	if len(header) > 0 {
		joined, err := e.withHeader(header, stdinPath)
		if err != nil {
			return Result{}, err
		}
		defer os.Remove(joined)
		stdinPath, header = joined, nil
	}
	var sum []byte
	d, cpu, err := e.Best(func(rep *Rep) error {
		f, err := os.Open(stdinPath)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd := command(e.ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		cmd.Stdin = f
		if header != nil {
			cmd.Stdin = io.MultiReader(bytes.NewReader(header), f)
		}
		h := sha256.New()
		var stderr bytes.Buffer
		cmd.Stdout = struct{ io.Writer }{h} // a pipe, not /dev/null: GNU grep stops early on /dev/null
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, bytes.TrimSpace(stderr.Bytes()))
		}
		rep.Client(cmd.ProcessState)
		s := h.Sum(nil)
		if sum != nil && !bytes.Equal(s, sum) {
			return fmt.Errorf("%s: output differs between runs", strings.Join(argv, " "))
		}
		sum = s
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Bytes: st.Size(), Elapsed: d, OutputSum: sum, CPU: cpu}, nil
}

// withHeader writes header and then the file at path into a new file of
// DataDir and returns its name.
func (e *Env) withHeader(header []byte, path string) (string, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(e.DataDir, "header-*")
	if err != nil {
		return "", err
	}
	_, err = out.Write(header)
	if err == nil {
		_, err = io.Copy(out, in) // copy_file_range where the kernel has it
	}
	if err == nil {
		// Written back before the timing: the kernel's write-back of a
		// just-written GiB (after dirty_expire_centisecs, 30 s) would
		// otherwise take CPU from whichever row runs then.
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

// SumOf is the OutputSum of output, for rows that compute in process.
func SumOf(output []byte) []byte { s := sha256.Sum256(output); return s[:] }

func main() {
	if addr := os.Getenv(bareEnv); addr != "" {
		// A child of chainMeasure: the chain rows' bare server.
		if err := serveBare(addr); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable: bare server:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		size     = flagenv.Bytes(1 << 30)
		sortSize = flagenv.Bytes(200 << 20)
		rowsRE   = flag.String("rows", "", "run only rows whose GROUP/NAME matches this regular expression (baselines of their groups always run)")
		runs     = flag.Int("runs", 3, "repetitions of each row; the best counts")
		dataDir  = flag.String("data", "", "directory for the input files, kept and reused (default: a temporary directory, removed)")
		binDir   = flag.String("bin", os.Getenv("E2E_BIN_DIR"), "directory of halfclose, halfclosed, grpcurl, ghz (default $E2E_BIN_DIR, else ./bin)")
	)
	flag.Var(&size, "size", "bytes of the main inputs (e.g. 256MiB, 1GiB)")
	flag.Var(&sortSize, "sort-size", "bytes of the sort input")
	flag.Parse()
	if *binDir == "" {
		*binDir = "bin"
	}
	re, err := regexp.Compile(*rowsRE)
	if err != nil {
		return fmt.Errorf("-rows: %v", err)
	}
	if size < 1 || sortSize < 1 || *runs < 1 {
		return errors.New("-size, -sort-size and -runs must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	env := &Env{Size: int64(size), SortSize: int64(sortSize), Runs: *runs, ctx: ctx}
	if env.BinDir, err = filepath.Abs(*binDir); err != nil {
		return err
	}
	if *dataDir != "" {
		if err := os.MkdirAll(*dataDir, 0o755); err != nil {
			return err
		}
		env.DataDir = *dataDir
	} else {
		if env.DataDir, err = os.MkdirTemp("", "benchtable-"); err != nil {
			return err
		}
		defer os.RemoveAll(env.DataDir)
	}

	selected := selectRows(re)
	if len(selected) == 0 {
		return fmt.Errorf("-rows %q matches no row", *rowsRE)
	}
	var routes []string
	for _, r := range selected {
		for _, p := range r.Routes {
			if !slices.Contains(routes, p) {
				routes = append(routes, p)
			}
		}
	}
	d, err := startDaemon(env, routes)
	if err != nil {
		return err
	}
	defer d.stop()

	fmt.Printf("benchtable: -size %d MiB, -sort-size %d MiB, best of %d, %d CPUs; CPU-s: user+system seconds of the best run\n\n",
		env.Size>>20, env.SortSize>>20, env.Runs, runtime.NumCPU())
	results := make([]outcome, len(selected))
	for i, r := range selected {
		results[i] = measure(env, r)
		fmt.Fprintf(os.Stderr, "benchtable: %s/%s: %s\n", r.Group, r.Name, results[i].short())
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	printTable(os.Stdout, selected, results)
	return nil
}

// selectRows returns the rows matching re, plus their groups' baselines,
// in table order.
func selectRows(re *regexp.Regexp) []Row {
	rows := allRows()
	groups := map[string]bool{}
	for _, r := range rows {
		if re.MatchString(r.Group + "/" + r.Name) {
			groups[r.Group] = true
		}
	}
	var order []string
	for _, r := range rows {
		if groups[r.Group] && !slices.Contains(order, r.Group) {
			order = append(order, r.Group)
		}
	}
	var out []Row
	for _, g := range order {
		for _, r := range rows {
			if r.Group == g && (r.Baseline || re.MatchString(r.Group+"/"+r.Name)) {
				out = append(out, r)
			}
		}
	}
	return out
}

// outcome is a row's result or why it has none.
type outcome struct {
	res     Result
	err     error
	skipped string
}

// ok reports whether the row measured.
func (o outcome) ok() bool { return o.err == nil && o.skipped == "" }

func (o outcome) short() string {
	switch {
	case o.skipped != "":
		return "skipped: " + o.skipped
	case o.err != nil:
		return "error: " + o.err.Error()
	}
	return fmt.Sprintf("%.0f MB/s (%d bytes in %v)", o.res.MBps(), o.res.Bytes, o.res.Elapsed.Round(time.Millisecond))
}

func measure(env *Env, r Row) outcome {
	for _, c := range r.Needs {
		if !env.Commands[c] {
			return outcome{skipped: "the server has no " + c}
		}
	}
	res, err := r.Run(env)
	var skip *skipError
	if errors.As(err, &skip) {
		return outcome{skipped: skip.why}
	}
	if c := &res.CPU; r.usesDaemon() && !c.HasServer && c.hasDaemon {
		c.Server, c.HasServer = c.daemon, true
	}
	return outcome{res: res, err: err}
}

// skipError is returned by a row that cannot run here (a missing tool).
type skipError struct{ why string }

func (e *skipError) Error() string { return e.why }

// Skip makes a row's Run report a skip rather than an error.
func Skip(format string, args ...any) error { return &skipError{fmt.Sprintf(format, args...)} }

// LookPath finds a local tool, or returns a Skip error.
func LookPath(tool string) (string, error) {
	p, err := exec.LookPath(tool)
	if err != nil {
		return "", Skip("%s not installed", tool)
	}
	return p, nil
}

// tableHeader are the table's columns; see tableLines.
var tableHeader = []string{"group", "row", "wall s", "MB/s", "vs baseline", "bar", "verdict", "client CPU-s", "server CPU-s", "hash CPU-s"}

func printTable(w io.Writer, sel []Row, res []outcome) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	lines, notes := tableLines(sel, res)
	for _, l := range append([][]string{tableHeader}, lines...) {
		fmt.Fprintln(tw, strings.Join(l, "\t")+"\t")
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, "  "+n)
	}
}

// ceiling is the lowest ceiling row of a group: its label and its ratio
// to the baseline.
type ceiling struct {
	label string
	ratio float64
}

// sameOutput is false when both results have an output digest and they
// differ.
func sameOutput(a, b Result) bool {
	return a.OutputSum == nil || b.OutputSum == nil || bytes.Equal(a.OutputSum, b.OutputSum)
}

// tableLines are the cells of the table, one line a row (tableHeader's
// columns), and the notes printed under it.
func tableLines(sel []Row, res []outcome) (lines [][]string, notes []string) {
	base := map[string]outcome{}
	for i, r := range sel {
		if r.Baseline {
			base[r.Group] = res[i]
		}
	}
	ceilings := map[string]ceiling{} // group → its lowest measured ceiling
	for i, r := range sel {
		b, ok := base[r.Group]
		if r.Ceiling == "" || !ok || !res[i].ok() || !b.ok() || !sameOutput(res[i].res, b.res) {
			continue
		}
		q := res[i].res.MBps() / b.res.MBps()
		if c, ok := ceilings[r.Group]; !ok || q < c.ratio {
			ceilings[r.Group] = ceiling{r.Ceiling, q}
		}
	}
	for i, r := range sel {
		o := res[i]
		wall, mbps, ratio, bar, verdict := "-", "-", "-", "", ""
		cpu := []string{"-", "-", "-"}
		if r.Bar > 0 {
			bar = fmt.Sprintf("≥ %.2gx", r.Bar)
		}
		b, hasBase := base[r.Group]
		switch {
		case o.skipped != "":
			verdict = "SKIP"
			notes = append(notes, fmt.Sprintf("%s/%s: skipped: %s", r.Group, r.Name, o.skipped))
		case o.err != nil:
			verdict = "ERROR"
			notes = append(notes, fmt.Sprintf("%s/%s: %v", r.Group, r.Name, o.err))
		default:
			if !o.res.Rate {
				wall = fmt.Sprintf("%.2f", o.res.Elapsed.Seconds())
			}
			mbps = fmt.Sprintf("%.0f", o.res.MBps())
			if o.res.MBps() < 10 {
				mbps = fmt.Sprintf("%.2g", o.res.MBps()) // small calls: 1 KiB each
			}
			c := o.res.CPU
			cpu = []string{formatCPU(c.Client, c.HasClient), formatCPU(c.Server, c.HasServer), formatCPU(c.Hash, c.HasHash)}
			if r.Baseline {
				ratio = "1.00x"
				verdict = "baseline"
			} else if hasBase && b.ok() {
				q := o.res.MBps() / b.res.MBps()
				ratio = fmt.Sprintf("%.2fx", q)
				switch {
				case !sameOutput(o.res, b.res):
					verdict = "WRONG OUTPUT"
				case r.Bar > 0 && q >= r.Bar:
					verdict = "PASS"
				case r.Bar > 0:
					verdict = "FAIL"
					// The ceilings bound the rows sent with nc.
					if c, ok := ceilings[r.Group]; ok && c.ratio < r.Bar && strings.HasPrefix(r.Name, "nc -N") {
						verdict = fmt.Sprintf("FAIL (bar > %s %.2fx)", c.label, c.ratio)
					}
				case r.Ceiling != "":
					verdict = "ceiling"
				}
			}
			if o.res.Note != "" {
				notes = append(notes, fmt.Sprintf("%s/%s: %s", r.Group, r.Name, o.res.Note))
			}
		}
		lines = append(lines, append([]string{r.Group, r.Name, wall, mbps, ratio, bar, verdict}, cpu...))
	}
	return lines, notes
}

// daemon is the halfclosed the rows talk to.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{}
	log    *syncbuf.Buffer
}

// startDaemon runs halfclosed on loopback port 0 with the routes, reads
// the bound addresses from its log, and asks for its commands.
func startDaemon(env *Env, routes []string) (*daemon, error) {
	args := []string{"--grpc-addr", "127.0.0.1:0", "--tcp-addr", "127.0.0.1:0", "--health-addr", "", "--log-format", "json", "--log-level", "info"}
	for _, r := range routes {
		args = append(args, "--tcp-route", "127.0.0.1:0="+r)
	}
	d := &daemon{exited: make(chan struct{}), log: &syncbuf.Buffer{}}
	d.cmd = command(context.Background(), env.Bin("halfclosed"), args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting halfclosed (make build?): %w", err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	env.daemonPID = d.cmd.Process.Pid
	env.Routes = map[string]string{}
	deadline := time.After(30 * time.Second)
	for env.GRPCAddr == "" || env.TCPAddr == "" || len(env.Routes) < len(routes) {
		select {
		case <-d.exited:
			return nil, fmt.Errorf("halfclosed exited: %s", d.log.String())
		case <-deadline:
			d.stop()
			return nil, fmt.Errorf("halfclosed not listening after 30s: %s", d.log.String())
		case <-time.After(10 * time.Millisecond):
		}
		sc := bufio.NewScanner(strings.NewReader(d.log.String()))
		for sc.Scan() {
			var rec struct{ Msg, Addr, Pipeline string }
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case "grpc listening":
				env.GRPCAddr = rec.Addr
			case "tcp command port listening":
				env.TCPAddr = rec.Addr
			case "tcp route listening":
				env.Routes[rec.Pipeline] = rec.Addr
			}
		}
	}
	out, err := command(env.ctx, env.Bin("grpcurl"), "-plaintext", env.GRPCAddr, "halfclose.v1.ComputeService/Capabilities").Output()
	if err != nil {
		d.stop()
		return nil, fmt.Errorf("calling Capabilities via grpcurl (make tools?): %v", err)
	}
	var caps struct{ Commands []struct{ Name string } }
	if err := json.Unmarshal(out, &caps); err != nil {
		d.stop()
		return nil, fmt.Errorf("decoding Capabilities: %v", err)
	}
	env.Commands = map[string]bool{}
	for _, c := range caps.Commands {
		env.Commands[c.Name] = true
	}
	return d, nil
}

func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
}
