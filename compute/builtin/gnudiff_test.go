package builtin_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/shquote"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// registry holds the commands the generator draws flags from.
var registry = builtin.Registry()

// This file compares the engine with the GNU tools on command lines that
// are generated, not written: flags drawn from each command's GNU option
// table (spelled short, long, abbreviated, clustered, before or after the
// operands), values and operands from small grammars (numbers with blanks,
// signs, suffixes and overflow; grep patterns with brackets, classes,
// ranges, intervals, anchors and escapes; tr sets; cut lists; sort keys),
// and inputs from edge-case generators (NUL, \r, no final newline, long
// lines, invalid UTF-8; and the shapes of gen.shape). Each case must give GNU's bytes, or an error
// where GNU fails. A flag halfclose refuses may be an error ("unsupported")
// where GNU succeeds: that is the documented difference.
//
// GNUDIFF_N sets the number of cases (default: a short run for make test;
// make fuzz runs many more), GNUDIFF_SEED the seed.

// diffCase is one generated command line and its input.
type diffCase struct {
	argv  []string
	input []byte
	// refused: the line holds something halfclose refuses on purpose, so
	// an "unsupported" error is an accepted answer.
	refused bool
	// roundTrip: the output is gzip data, compared after GNU gunzip -c
	// (gzip's bytes need not be GNU's, docs/protocol.md).
	roundTrip bool
	// reads: the input reaches us in reads whose sizes this seed draws
	// (computetest.RunPipelineReads), as from a network client; 0: in
	// one read.
	reads uint64
	// shuffled: sort -R was drawn, whose order is random on both sides:
	// the outputs are compared as multisets of their pieces between
	// newlines and NULs (-z or not), and under -c, whose verdict and
	// disorder line depend on the shuffle, nothing else is
	// (compute/text's TestSortRandomGroupsAsGNU holds the order to GNU's).
	shuffled bool
}

func (c diffCase) String() string {
	s := fmt.Sprintf("%s <<< %q", shquote.Join(c.argv), computetest.Trunc(c.input))
	if c.reads != 0 {
		s += fmt.Sprintf(" (split reads, seed %d)", c.reads)
	}
	return s
}

// diffResult is how a case ended on both sides.
type diffResult struct {
	gnuOut  []byte
	gnuCode int
	gnuErr  []byte // GNU's standard error
	ourOut  []byte
	ourCode int      // the exit status of a success
	ourDiag []string // the diagnostics of a success
	ourErr  error
	skipped bool // GNU did not finish in time
}

// gnuFailed reports whether GNU's exit status is a failure (grep's 1, no
// line selected, is not; nor is sort -c's 1, a disorder, for GNU sort
// fails with 2; nor gzip's 2, a warning: the data decompressed, trailing
// garbage ignored).
func gnuFailed(cmd string, code int) bool {
	switch cmd {
	case "grep", "sort":
		return code >= 2
	case "gzip", "gunzip", "zcat":
		return code != 0 && code != 2
	}
	return code != 0
}

// verdict returns "" when the two sides agree, else what differs.
func (c diffCase) verdict(r diffResult) string {
	if r.skipped {
		return ""
	}
	failed := gnuFailed(c.argv[0], r.gnuCode)
	switch {
	case failed && r.ourErr == nil && c.argv[0] == "sort" && bytes.Contains(r.gnuErr, []byte("sort: memory exhausted")) && slices.ContainsFunc(c.argv, isParallel):
		// GNU could not allocate threads for the --parallel count:
		// here any count is taken (docs/protocol.md).
		return ""
	case failed && r.ourErr == nil:
		return fmt.Sprintf("GNU fails (exit %d), we succeed with %q", r.gnuCode, computetest.Trunc(r.ourOut))
	case failed:
		return ""
	case r.ourErr != nil && c.refused && strings.Contains(r.ourErr.Error(), "unsupported"):
		return ""
	case r.ourErr != nil && c.argv[0] == "grep" && strings.Contains(r.ourErr.Error(), "grep: -P construct ") && strings.Contains(r.ourErr.Error(), "patterns run on RE2"):
		// a Perl construct RE2 cannot keep exactly (compute/grep/perl.go)
		return ""
	case r.ourErr != nil && strings.Contains(r.ourErr.Error(), "grep: unsupported with -o: "):
		// a pattern drawn with an assertion inside a repetition glibc
		// copies: refused whatever the flags (docs/protocol.md)
		return ""
	case r.ourErr != nil && c.argv[0] == "grep" && strings.Contains(r.ourErr.Error(), "no file operands"):
		// A word became a file operand (a "-" drawn as a flag took the
		// pattern's place): GNU fails on the missing file but for grep
		// -q, which exits 0 when another input has a match. We never
		// open a file.
		return ""
	case r.ourErr != nil:
		return fmt.Sprintf("GNU succeeds with %q, we fail: %v", computetest.Trunc(r.gnuOut), r.ourErr)
	case c.shuffled:
		if g, o := shufflePieces(r.gnuOut), shufflePieces(r.ourOut); !slices.Equal(g, o) {
			return fmt.Sprintf("output differs (as a multiset of lines):\n  GNU  %q\n  ours %q", computetest.Trunc(r.gnuOut), computetest.Trunc(r.ourOut))
		}
		return ""
	case !bytes.Equal(r.gnuOut, r.ourOut):
		return fmt.Sprintf("output differs:\n  GNU  %q\n  ours %q", computetest.Trunc(r.gnuOut), computetest.Trunc(r.ourOut))
	case r.gnuCode != r.ourCode:
		return fmt.Sprintf("exit status %d, GNU's %d", r.ourCode, r.gnuCode)
	case gzipPending(r.gnuErr):
		return ""
	}
	return computetest.DiffDiagnostics(r.ourDiag, r.gnuErr)
}

// isParallel reports whether w is sort's --parallel, in full or cut.
func isParallel(w string) bool {
	name, _, _ := strings.Cut(w, "=")
	return len(name) >= len("--p") && strings.HasPrefix("--parallel", name)
}

// shufflePieces is out cut at every newline and NUL, sorted: what a
// shuffle of its lines (-z or not) leaves as it was.
func shufflePieces(out []byte) []string {
	ps := strings.Split(strings.ReplaceAll(string(out), "\x00", "\n"), "\n")
	slices.Sort(ps)
	return ps
}

// gzipPending reports whether GNU's stderr holds a line of gzip that
// cannot be compared: -v's ratio (" -6.9%"), which halfclose reports for
// its own output, whose bytes may differ from GNU's. The rest (header
// warnings, "gzip: stdin: extra field of 6 bytes ignored", and the
// trailing-garbage and trailing-zero warnings) is compared.
func gzipPending(stderr []byte) bool {
	for _, l := range strings.Split(string(stderr), "\n") {
		if gzipRatio.MatchString(l) {
			return true
		}
	}
	return false
}

// gzipRatio is a line of gzip -v: the compression ratio of stdin.
var gzipRatio = regexp.MustCompile(`^ *-?[0-9]+\.[0-9]%$`)

// gnuWait bounds one GNU run: far over what any case takes GNU (a few
// milliseconds), far under the suite's deadline.
const gnuWait = 20 * time.Second

// gnuRunner runs GNU tools in an empty directory (a generated flag that
// names a file touches nothing), stdin from a regular file. Their stdout
// and stderr are regular files of another directory, out of reach of a
// generated operand: the exec then needs no pipe and no copying
// goroutine in this race-instrumented process (a third of the test's own
// CPU per GNU run; these tables run thousands of them).
type gnuRunner struct {
	dir, in string
	stdout  *os.File
	stderr  *os.File
}

func newGNURunner(t testing.TB) *gnuRunner {
	dir := t.TempDir()
	out := t.TempDir()
	g := &gnuRunner{dir: dir, in: filepath.Join(dir, ".stdin"),
		stdout: computetest.Create(t, filepath.Join(out, "stdout")),
		stderr: computetest.Create(t, filepath.Join(out, "stderr"))}
	t.Cleanup(func() {
		g.stdout.Close()
		g.stderr.Close()
	})
	return g
}

// rewind empties f for the next run.
func rewind(t testing.TB, f *os.File) {
	t.Helper()
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
}

func (g *gnuRunner) run(t testing.TB, c diffCase) diffResult {
	t.Helper()
	path, err := exec.LookPath(c.argv[0])
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("oracle %s not installed: %v", c.argv[0], err)
		}
		t.Skipf("oracle %s not installed", c.argv[0])
	}
	// as GNU's stdin (gnuRunner.gnu): grep -T pads numbers to the digits
	// of a regular file's size
	file := grepReadsFile(c.argv, c.input)
	ourOut, ourCode, ourDiag, ourErr := computetest.RunPipelineReads(t, engine.Config{}, shquote.Join(c.argv), c.input, file, c.reads)
	if c.refused && ourErr != nil && strings.Contains(ourErr.Error(), "unsupported") {
		// Refused on purpose: the verdict is the same whatever GNU does,
		// so GNU is not run (grep -E 'a{32767}' costs it a second and a
		// half of CPU per input).
		return diffResult{ourOut: ourOut, ourErr: ourErr}
	}
	r := diffResult{}
	r.gnuOut, r.gnuErr, r.gnuCode, r.skipped = g.gnu(t, path, c.argv, c.input)
	if !r.skipped {
		r.ourOut, r.ourCode, r.ourDiag, r.ourErr = ourOut, ourCode, ourDiag, ourErr
	}
	if c.roundTrip && !r.skipped {
		if !gnuFailed(c.argv[0], r.gnuCode) {
			r.gnuOut = gnuGunzip(t, r.gnuOut)
		}
		if r.ourErr == nil {
			if out, ok := computetest.GNU(t, r.ourOut, "gunzip", "-c"); ok {
				r.ourOut = out
			} else {
				r.ourErr = fmt.Errorf("GNU gunzip -c refuses our output %q", computetest.Trunc(r.ourOut))
			}
		}
	}
	return r
}

// gnu runs the GNU tool at path with argv's flags over input: its stdout,
// its stderr, its exit status, and whether it did not finish within gnuWait (then
// there is no oracle: GNU itself can walk for minutes, tr
// '[x*99999999999]' in SET1; said, not hidden).
func (g *gnuRunner) gnu(t testing.TB, path string, argv []string, input []byte) (out, stderr []byte, code int, timedOut bool) {
	t.Helper()
	return g.gnuFrom(t, path, argv, input, grepReadsFile(argv, input))
}

// gnuFrom is gnu with the input from a regular file when file is set,
// else from a pipe.
func (g *gnuRunner) gnuFrom(t testing.TB, path string, argv []string, input []byte, file bool) (out, stderr []byte, code int, timedOut bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), gnuWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = filepath.Base(argv[0]) // GNU's messages start with it
	cmd.Dir = g.dir
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin", "TZ=" + computetest.TZ}
	cmd.Stdin = bytes.NewReader(input)
	// grep with several "-" reads a pipe, as halfclose's stdin is one:
	// with -m, GNU seeks a regular file back after the last line it
	// selected, for the next "-" to read (docs/protocol.md). Its input
	// is at most PIPE_BUF (cmdGen.generate), written at once: GNU's
	// first read takes all of it, as from a regular file.
	if file {
		// GNU grep's binary-file blocks follow its reads: a regular file
		// reads in whole blocks (docs/protocol.md).
		if err := os.WriteFile(g.in, input, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(g.in)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	rewind(t, g.stdout)
	rewind(t, g.stderr)
	cmd.Stdout, cmd.Stderr = g.stdout, g.stderr
	err := cmd.Run()
	stdout, errOut := computetest.ReadBack(t, g.stdout), computetest.ReadBack(t, g.stderr)
	// A generated line may make GNU write a file (uniq - OUT): remove
	// what it made, so no later case reads it as an input.
	if ents, derr := os.ReadDir(g.dir); derr == nil {
		for _, e := range ents {
			if e.Name() != ".stdin" {
				os.RemoveAll(filepath.Join(g.dir, e.Name()))
			}
		}
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Logf("not compared: GNU %s did not finish within %v", shquote.Join(argv), gnuWait)
		return nil, nil, 0, true
	case errors.As(err, &ee):
		return stdout, errOut, sortStatus(argv[0], ee.ExitCode(), errOut), false
	case err != nil:
		t.Fatalf("oracle %v: %v", argv, err)
	}
	return stdout, errOut, 0, false
}

// sortStatus is GNU's status with sort's 1 told apart: sort -c exits 1 at
// a disorder, an answer (quiet under -C, else a "disorder" line on
// stderr), but GNU sort also exits 1, not its usual 2, when it rejects
// the argument of --check. That failure is returned as 2.
func sortStatus(cmd string, code int, stderr []byte) int {
	if cmd == "sort" && code == 1 && len(stderr) > 0 && !bytes.Contains(stderr, []byte(": disorder: ")) {
		return 2
	}
	return code
}

// grepReadsFile reports whether gnuRunner.gnu gives GNU grep its input
// as a regular file (else a pipe).
func grepReadsFile(argv []string, input []byte) bool {
	return argv[0] == "grep" && (slicesCount(argv, "-") < 2 || len(input) > 4096)
}

// gnuGunzip is GNU gunzip -c of what GNU gzip wrote.
func gnuGunzip(t testing.TB, z []byte) []byte {
	t.Helper()
	out, ok := computetest.GNU(t, z, "gunzip", "-c")
	if !ok {
		t.Fatalf("GNU gunzip -c refuses GNU gzip's output %q", computetest.Trunc(z))
	}
	return out
}

// checkCases runs cases against GNU and reports every difference. The
// grep cases of one command line on several inputs first share a GNU run
// (eachCases); a case passes there only when our output, exit status and
// diagnostics are what that run gives for its input, and any other case
// runs GNU alone, whose verdict is the one reported.
func checkCases(t *testing.T, cases []diffCase) {
	t.Helper()
	g := newGNURunner(t)
	each := eachCases(t, cases)
	for i, c := range cases {
		if each[i] != nil && each[i].agrees(t, c) {
			continue
		}
		if v := c.verdict(g.run(t, c)); v != "" {
			t.Errorf("%s\n  %s", c, v)
		}
	}
}

// eachWant is what GNU printed for a case's input in a run over the
// inputs of several cases (computetest.GNUEachStderr).
type eachWant struct {
	out, stderr []byte
}

// eachCases runs GNU grep once for all the cases of one command line
// (computetest.GNUEach: each input a file operand, the output split back
// by its "NAME:" prefixes), where it can, and returns what it printed for
// each case's input, nil for a case left to run alone: one of another
// tool, refused (GNU is not run where we refuse it: grep -E 'a{32767}'
// costs it seconds), read from a pipe (gnuRunner gives grep a regular
// file as stdin, as the batch's operands are), or whose input holds a NUL
// (GNU grep's binary-file rules follow its reads). Starting a process
// costs more CPU than most of these cases do (about 5 ms for GNU grep,
// and as much again for this race-instrumented process's exec).
func eachCases(t *testing.T, cases []diffCase) []*eachWant {
	t.Helper()
	wants := make([]*eachWant, len(cases))
	groups := map[string][]int{} // indexes of the cases of each command line
	var lines []string           // the command lines, in their cases' order
	for i, c := range cases {
		if c.argv[0] != "grep" || c.refused || c.roundTrip || !grepReadsFile(c.argv, c.input) || bytes.IndexByte(c.input, 0) >= 0 {
			continue
		}
		k := strings.Join(c.argv, "\x00")
		if groups[k] == nil {
			lines = append(lines, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range lines {
		idx := groups[k]
		if len(idx) < 2 {
			continue
		}
		ins := make([][]byte, len(idx))
		for n, i := range idx {
			ins[n] = cases[i].input
		}
		outs, stderr := computetest.GNUEachStderr(t, ins, cases[idx[0]].argv...)
		if outs == nil {
			continue
		}
		for n, i := range idx {
			wants[i] = &eachWant{out: outs[n], stderr: stderr}
		}
	}
	return wants
}

// agrees reports whether c, run here as gnuRunner.run runs it, gives w's
// output, the exit status that output tells (computetest.EachStatus) and
// w's diagnostics.
func (w *eachWant) agrees(t *testing.T, c diffCase) bool {
	t.Helper()
	got, code, diag, err := computetest.RunPipelineDiag(t, engine.Config{}, shquote.Join(c.argv), c.input, grepReadsFile(c.argv, c.input))
	want, told := computetest.EachStatus(c.argv, w.out)
	return err == nil && told && code == want && bytes.Equal(got, w.out) && computetest.DiffDiagnostics(diag, w.stderr) == ""
}

// checkCross runs every argv on every input against GNU (checkCases).
// A table of more than crossAll cases runs whole only in the long variant
// (make test-long); make test runs half of it, the pairs whose indexes
// add up to an even number, so every argv meets half the inputs and
// every input half the argvs; a table of more than crossThird cases, a
// third (the sums that are multiples of 3); of more than crossSixth, a
// sixth. Each case costs a GNU process (about 3 ms of CPU, and as much
// again in this race-instrumented process's exec).
func checkCross(t *testing.T, inputs []string, argvs [][]string) {
	t.Helper()
	step := crossStep(len(inputs), len(argvs), testenv.Long())
	var cases []diffCase
	for i, argv := range argvs {
		for j, in := range inputs {
			if (i+j)%step != 0 {
				continue
			}
			cases = append(cases, diffCase{argv: argv, input: []byte(in)})
		}
	}
	checkCases(t, cases)
}

// crossStep is the fraction (1/step) of a table of inputs × argvs that
// checkCross runs: the pairs whose index sum is a multiple of step. A
// step is taken only when both sides have that many entries, so that
// every input meets some argv and every argv some input.
func crossStep(inputs, argvs int, long bool) int {
	n, least := inputs*argvs, min(inputs, argvs)
	switch {
	case long:
	case n > crossSixth && least >= 6:
		return 6
	case n > crossThird && least >= 3:
		return 3
	case n > crossAll && least >= 2:
		return 2
	}
	return 1
}

// crossAll is the largest checkCross table make test runs whole,
// crossThird the largest it runs half of, and crossSixth the largest it
// runs a third of. (TestGNUGrepContext's 18 inputs × 203 argvs, a sixth:
// 609 GNU runs, 4 CPU-s under -race, each argv over 3 inputs and each
// input under 34 argvs.)
const (
	crossAll   = 200
	crossThird = 2000
	crossSixth = 3000
)

// spillCopies is how many copies of its input a check of sort's spilled
// runs sorts: n in the long variant (make test-long), an eighth (at least
// 2) under make test. Its budget of 1000 bytes spills every line to a run
// of its own (the line index alone passes it), so more copies add only
// runs and merge levels, each a temporary file (the five checks of sort
// -g's 40 copies, 24,400 runs, cost 10 CPU-s under -race): an eighth still
// merges 260 to 610 runs over eight levels or more, every line compared
// with lines of other runs, equal ones among them. (No input of these
// checks, whole, fills a merge's 64 KiB read buffer.)
func spillCopies(n int) int {
	if testenv.Long() {
		return n
	}
	return max(2, n/8)
}

// gen draws the parts of a case.
type gen struct {
	r *rand.Rand
}

func (g *gen) n(k int) int              { return g.r.IntN(k) }
func (g *gen) chance(p float64) bool    { return g.r.Float64() < p }
func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// count is a number as a user, or a fuzzer, writes one for a flag.
func (g *gen) count() string {
	switch g.n(12) {
	case 0:
		return g.pick(" 2", "\t3", "+4", " +1", "+ 1", "- 1", "-0", "007", "0x10", "1e2", "", "x", "2x", "3 ")
	case 1:
		return strconv.Itoa(g.n(20)) + g.pick("b", "k", "K", "KB", "KiB", "kB", "M", "MB", "MiB", "G", "bB", "B", "c", "w", "iB", "KD", "Ki", "T", "E", "Y", "Z", "P")
	case 2:
		return g.pick("99999999999999999999", "18446744073709551615", "18446744073709551616", "9223372036854775807", "9223372036854775808", "4294967296", "2147483648", "1Y", "99999999999E", "1000000000000000000000000")
	case 3:
		return g.pick("K", "M", "b", "kB")
	case 4:
		// edges of each reading: zero and one in every spelling, the
		// suffixes of 2^60 and over, an overflow inside a suffix, bytes
		// strtol does not take
		return g.pick("0", "1", "+0", "00", "01", "1KiB", "1kiB", "1Ki", "1MiB", "1GB", "1E", "7E", "8E", "15E", "16E", "1EiB", "1EB",
			"9223372036854775807k", "18446744073709551615b", "1e", "0x", "+", "-", " ", "\t1", "1\n", "\xd9\xa3", "1\xff", "\t", "1 2")
	default:
		return strconv.Itoa(g.n(8))
	}
}

// signed is a count with an optional sign, for head/tail -n/-c and grep -m.
func (g *gen) signed() string {
	return g.pick("", "", "", "-", "+") + g.count()
}

// render writes one flag use: short or long, abbreviated, value attached
// or not.
func (g *gen) render(s compute.FlagSpec, specs []compute.FlagSpec, val string) []string {
	if s.Long != "" && g.chance(0.03) {
		// spellings getopt_long does not take as the long flag: one
		// dash (short flags clustered, "-lines"), or upper case
		if g.chance(0.7) {
			return []string{"-" + s.Long}
		}
		return []string{"--" + strings.ToUpper(s.Long)}
	}
	useShort := s.Short != 0 && (s.Long == "" || g.chance(0.5))
	if useShort {
		w := "-" + string(s.Short)
		switch {
		case !s.Value:
			return []string{w}
		case s.Optional || val != "" && g.chance(0.5):
			return []string{w + val}
		}
		return []string{w, val}
	}
	name := s.Long
	if g.chance(0.3) && len(name) > 1 {
		name = name[:1+g.n(len(name)-1)]
	}
	w := "--" + name
	switch {
	case !s.Value:
		if g.chance(0.02) {
			return []string{w + "=x"}
		}
		return []string{w}
	case s.Optional:
		if val == "" {
			return []string{w}
		}
		return []string{w + "=" + val}
	case g.chance(0.5):
		return []string{w + "=" + val}
	}
	return []string{w, val}
}

// cmdGen generates the command lines of one command.
type cmdGen struct {
	name   string
	weight int
	// value draws the value of the flag with this key.
	value func(g *gen, c *diffCase, key string) string
	// operands draws the operands (given the flags drawn); it may mark the
	// case refused.
	operands func(g *gen, c *diffCase, keys map[string]bool) []string
	// skip lists keys never to draw (GNU would block or write files).
	skip []string
	// first draws words to put before everything else (obsolete forms
	// that GNU only reads as the first word), or nil.
	first func(g *gen, c *diffCase) []string
	// input draws the input; nil: the shared text generator.
	input func(g *gen) []byte
}

func (cg *cmdGen) generate(g *gen) diffCase {
	cmd, ok := registry.Lookup(cg.name)
	if !ok {
		panic("no command " + cg.name)
	}
	specs := cmd.Flags
	c := diffCase{argv: []string{cg.name}}
	var flags [][]string
	keys := map[string]bool{}
	nflags := g.n(4)
	if g.chance(0.15) {
		nflags = 3 + g.n(5) // combinations of many flags
	}
	for range nflags {
		s := specs[g.n(len(specs))]
		if s.Refuse != "" && !g.chance(0.15) || slicesContains(cg.skip, s.Key()) {
			continue
		}
		if s.Refuse != "" {
			c.refused = true
		}
		if cg.name == "sort" && s.Short == 'R' {
			c.shuffled = true
		}
		val := ""
		if s.Value && (!s.Optional || g.chance(0.6)) && cg.value != nil {
			val = cg.value(g, &c, s.Key())
		}
		keys[s.Key()] = true
		words := g.render(s, specs, val)
		if refusedName(specs, words[0]) || refusedCluster(specs, words[0]) {
			c.refused = true // --version-sort cut to --version; -recursive
		}
		flags = append(flags, words)
	}
	if g.chance(0.02) {
		flags = append(flags, []string{g.pick("-Q", "--bogus", "--", "-")})
	}
	// Cluster short flags without values now and then.
	var words []string
	for i := 0; i < len(flags); i++ {
		f := flags[i]
		if len(f) == 1 && len(f[0]) == 2 && f[0][0] == '-' && f[0] != "--" && i+1 < len(flags) && g.chance(0.3) {
			next := flags[i+1]
			if len(next[0]) >= 2 && next[0][0] == '-' && next[0][1] != '-' {
				words = append(words, f[0]+next[0][1:])
				words = append(words, next[1:]...)
				i++
				continue
			}
		}
		words = append(words, f...)
	}
	var ops []string
	if cg.operands != nil {
		ops = cg.operands(g, &c, keys)
	}
	if g.chance(0.08) {
		ops = append(ops, "-")
		if g.chance(0.3) {
			ops = append(ops, "-")
		}
	}
	if cg.first != nil {
		c.argv = append(c.argv, cg.first(g, &c)...)
	}
	switch {
	case len(ops) > 0 && g.chance(0.1):
		c.argv = append(append(append(c.argv, words...), "--"), ops...)
	case len(ops) > 0 && len(words) > 0 && g.chance(0.2):
		k := g.n(len(words) + 1)
		// operands first, or in the middle of the flags
		c.argv = append(c.argv, words[:k]...)
		c.argv = append(c.argv, ops...)
		c.argv = append(c.argv, words[k:]...)
	default:
		c.argv = append(append(c.argv, words...), ops...)
	}
	if cg.input != nil {
		c.input = cg.input(g)
	} else {
		c.input = g.text()
	}
	// head -n with several "-": GNU's later operands see what its 8 KiB
	// reads of the pipe left, which depends on timing (docs/protocol.md).
	// grep likewise reads them from a pipe (gnuRunner.gnu).
	if (cg.name == "head" || cg.name == "grep") && len(c.input) > 4096 && slicesCount(c.argv, "-") > 1 {
		c.input = c.input[:4096]
	}
	return c
}

// refusedName reports whether w is a long flag whose name is in full
// that of a flag halfclose refuses: an abbreviation of another flag that
// happens to be one names that flag (getopt_long prefers an exact match).
func refusedName(specs []compute.FlagSpec, w string) bool {
	name, ok := strings.CutPrefix(w, "--")
	if !ok {
		return false
	}
	name, _, _ = strings.Cut(name, "=")
	for _, s := range specs {
		if s.Long == name && s.Refuse != "" {
			return true
		}
	}
	return false
}

// refusedCluster reports whether w, read as clustered short flags, holds
// one halfclose refuses before the first that takes a value.
func refusedCluster(specs []compute.FlagSpec, w string) bool {
	if len(w) < 2 || w[0] != '-' || w[1] == '-' {
		return false
	}
	for i := 1; i < len(w); i++ {
		for _, s := range specs {
			if s.Short == w[i] {
				if s.Refuse != "" {
					return true
				}
				if s.Value {
					return false
				}
			}
		}
	}
	return false
}

func slicesCount(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

func slicesContains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// text draws an input: short lines of words, numbers, fields, blanks and
// punctuation; sometimes NULs, \r, invalid UTF-8, a long line, no final
// newline; a fifth of the time one of the edge shapes (shape).
func (g *gen) text() []byte {
	if g.chance(0.2) {
		return g.shape()
	}
	return g.textLines()
}

// textLines draws the lines of text.
func (g *gen) textLines() []byte {
	var b bytes.Buffer
	lines := g.n(12)
	if g.chance(0.05) {
		lines = 200 + g.n(2000)
	}
	for range lines {
		switch g.n(10) {
		case 0:
			b.WriteString(g.pick("", "", " ", "\t", "  x"))
		case 1:
			fmt.Fprintf(&b, "%s%d%s", g.pick("", "-", "+", " ", "  ", "0"), g.n(200)-50, g.pick("", ".5", "e3", " x", ",1", "a", "\x8017", "\x80"))
		case 2:
			parts := 1 + g.n(4)
			for i := range parts {
				if i > 0 {
					b.WriteString(g.pick(",", ":", " ", "\t", "  ", ", "))
				}
				b.WriteString(g.word())
			}
		case 3:
			b.WriteString(g.pick("\x00", "a\x00b", "\xff\xfe", "\xc3\xa9t\xc3\xa9", "\xc3(", "\x80x", "a\rb", "x\r", "\x1b[1m", "\x7f"))
		default:
			n := 1 + g.n(3)
			for i := range n {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(g.word())
			}
		}
		b.WriteString(g.pick("\n", "\n", "\n", "\n", "\n", "\n", "\n", "\r\n"))
	}
	if g.chance(0.03) {
		b.Write(bytes.Repeat([]byte(g.word()+" "), 2000+g.n(30000)))
		b.WriteByte('\n')
	}
	if g.chance(0.25) {
		b.WriteString(g.word())
	}
	return b.Bytes()
}

// shape draws an input of an edge shape the line generator (text) rarely
// makes: nothing, one byte, only newlines or carriage returns, NUL-ended
// records, any bytes, runs of one line (some differing only in case or
// in trailing blanks), a line whose length sits on a buffer size, blank
// padded fields, bytes >= 0x80 in every field.
func (g *gen) shape() []byte {
	var b bytes.Buffer
	switch g.n(10) {
	case 0:
		b.WriteString(g.pick("", "\n", "a", "\x00", "\r", " ", "\t", "\xff", "\n\n", "\r\n", "a\n", "\x00\n", "\n\x00"))
	case 1:
		b.Write(bytes.Repeat([]byte(g.pick("\n", "\r", "\r\n", "\n\r", " \n", "\t\n", "\x00")), 1+g.n(g.pick1(3, 20, 5000))))
	case 2:
		// records ended by NUL (-z), newlines inside them
		for range 1 + g.n(8) {
			b.WriteString(g.pick(g.word(), "", "a\nb", "\n", " x", "x y", "B", "b"))
			b.WriteByte(0)
		}
		if g.chance(0.3) {
			b.WriteString(g.word())
		}
	case 3:
		// any bytes, newlines and NULs among them
		n := g.pick1(1, 7, 63, 200, 4097, 70000)
		for range n {
			switch g.n(6) {
			case 0:
				b.WriteByte('\n')
			case 1:
				b.WriteByte(byte(g.n(256)))
			default:
				const soup = "ab \t,:\x00\r\xff\x80AZ09"
				b.WriteByte(soup[g.n(len(soup))])
			}
		}
	case 4, 5:
		// runs of lines equal, or equal but for case or trailing blanks
		base := g.pick("a", "abc", "x y", "A b", "", " a", "a\tb", "\xff", "é", "1")
		variants := []string{base, base, strings.ToUpper(base), base + " ", base + "\t", base + "  ", strings.ToLower(base), " " + base}
		for range 1 + g.n(6) {
			line := variants[g.n(len(variants))]
			if g.chance(0.2) {
				line = g.word()
			}
			for range 1 + g.n(g.pick1(3, 3, 40, 3000)) {
				b.WriteString(line)
				b.WriteByte('\n')
			}
		}
		if g.chance(0.2) {
			b.Truncate(b.Len() - 1)
		}
	case 6:
		// a line whose length sits on a buffer size
		n := g.pick1(1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192, 8193, 32768, 65535, 65536, 65537, 131072, 131073)
		fill := g.pick("x", "ab", "a b", "a,b:", "\t", " ", "\xff")
		for b.Len() < n {
			b.WriteString(fill)
		}
		b.Truncate(n - g.n(2))
		if g.chance(0.7) {
			b.WriteByte('\n')
		}
		if g.chance(0.4) {
			b.WriteString("a,b c\n")
		}
	case 7:
		// blanks around and between fields
		for range 1 + g.n(8) {
			for f := range 1 + g.n(4) {
				if f > 0 {
					b.WriteString(g.pick(" ", "  ", "\t", " \t", ",", ":", ", "))
				}
				b.WriteString(g.pick("", " ", "\t") + g.word())
			}
			b.WriteString(g.pick("", " ", "\t", "  ") + g.pick("\n", "\n", "\r\n"))
		}
	case 8:
		// bytes >= 0x80 in words, fields and numbers
		for range 1 + g.n(8) {
			b.WriteString(g.pick("\xff", "\x80", "\xc3\xa9", "\xe9", "\xa0", "a\xffb", "1\x802", "\xfe,\xfd", "\xff \xfe", "\xc3", "\x9b1m", "\x85"))
			if g.chance(0.5) {
				b.WriteString(g.pick(" ", ",", ":", "\t") + g.word())
			}
			b.WriteByte('\n')
		}
	default:
		// the line generator's text without its last newline, or with
		// \r line ends throughout
		t := g.textLines()
		if g.chance(0.5) {
			t = bytes.ReplaceAll(t, []byte("\n"), []byte("\r\n"))
		}
		b.Write(bytes.TrimSuffix(t, []byte("\n")))
	}
	return b.Bytes()
}

// numbers draws lines of number-like fields for sort -g, -n and -h:
// decimals with signs, blanks, exponents and garbage after them, hex
// floats, inf, huge and tiny numbers, numbers equal as float64s but not
// as long doubles. At most one line holds a NaN: GNU 9.1 orders two keys
// that are the same NaN by uninitialized bytes (docs/protocol.md).
func (g *gen) numbers() []byte {
	var b bytes.Buffer
	lines := g.n(14)
	if g.chance(0.05) {
		lines = 200 + g.n(800)
	}
	nan := g.n(max(lines, 1) * 3)
	for i := range lines {
		for f := range 1 + g.n(3) {
			if f > 0 {
				b.WriteString(g.pick(" ", "\t", ":", ",", "  "))
			}
			if i == nan && f == 0 {
				b.WriteString(g.pick("nan", "-nan", "NaN(1)", "nan(0x10)", "nan(", "+NAN", " nan()"))
				continue
			}
			b.WriteString(g.number())
		}
		b.WriteString(g.pick("\n", "\n", "\n", "\n", "\r\n"))
	}
	if g.chance(0.2) {
		b.WriteString(g.number())
	}
	return b.Bytes()
}

// number draws one number-like field.
func (g *gen) number() string {
	digits := func(n int) string {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte('0' + g.n(10))
		}
		return string(d)
	}
	sign := g.pick("", "", "", "-", "+", " ", "\t-", "- ")
	switch g.n(9) {
	case 0:
		return sign + g.pick("inf", "-inf", "Infinity", "INF", "infx", "in", "x", "", ".", "-", "e3", "0x", "0x.", "1e", "1e+", "abc", "1,5", "K", "1K", "2M")
	case 1:
		return sign + "0x" + g.pick("1", "A", "ff", "0.8", "1.8", "1p3", "1P-2", ".8p1", "1fffffffffffffffe8", "g", "1p", "10000000000000008.0")
	case 2:
		return sign + g.pick("1e4932", "1.18973149535723176502e+4932", "1.2e4932", "1e4933", "1e-4950", "3.6e-4951", "1.8e-4951", "0x1p-16445", "0x1p-16446", "1e308", "1e309", "4.9e-324", "1e99999999999999999999", "1e-99999999999999999999")
	case 3:
		return sign + g.pick("9007199254740992", "9007199254740993", "1.0000000000000000001", "1.00000000000000000001", "18446744073709551615", "18446744073709551617", "0.1", "0.10000000000000000001", "1", "1.0", "01")
	case 4:
		return sign + digits(1+g.n(25)) + g.pick("", ".", "."+digits(g.n(25))) + g.pick("e", "E", "e+", "e-") + strconv.Itoa(g.n(60))
	case 5:
		return sign + digits(1+g.n(4)) + g.pick("", "", ".5", "e3", "e-2", "x", ".0", "K", "e")
	default:
		return sign + strconv.Itoa(g.n(30)-10) + g.pick("", "", ".", ".5", ".25", "e1", "e-1", "0")
	}
}

func (g *gen) word() string {
	return g.pick("a", "b", "ab", "abc", "ABC", "Ab", "aB", "x", "xyz", "foo", "Foo", "FOO", "bar", "_x", "/", "a.b",
		"{1}a", "a{1}", "x*y", "[a]", "a-z", "1", "42", "-3", "a+b", "a?", "(a)", "a|b", "^a", "a$", "\\", "'", "\"",
		"é", "zz", "aaa", "abab", "aA", "Z", "_", "a_b", "9z", "{", "}", "*", ".", "[:alpha:]", "a\tb")
}

// patAlpha are the literal bytes patterns draw from: the words' letters.
const patAlpha = "aabbcxyzABCZ_19 -/.,:\xff\xe9\x80\t"

// regex draws a GNU regular expression (basic or extended): atoms,
// brackets, groups, alternation, anchors, escapes and repetitions, right
// and wrong. It never draws what docs/protocol.md lists as unsupported
// (back-references, repeat counts above 1000).
func (g *gen) regex(ere bool, depth int) string {
	return g.regexIn(ere, depth)
}

// bigRepeat reports whether a pattern may hold a repeat count RE2 refuses
// (docs/protocol.md): such a case may be refused.
func bigRepeat(p string) bool {
	return strings.Contains(p, "1001") || strings.Contains(p, "3276")
}

func (g *gen) regexIn(ere bool, depth int) string {
	var b strings.Builder
	branches := 1
	if g.chance(0.15) {
		branches = 2 + g.n(2)
	}
	for i := range branches {
		if i > 0 {
			if ere {
				b.WriteString("|")
			} else {
				b.WriteString(`\|`)
			}
		}
		for range g.n(4) + 1 {
			b.WriteString(g.atom(ere, depth))
			if g.chance(0.3) {
				b.WriteString(g.quant(ere))
			}
		}
	}
	return b.String()
}

func (g *gen) atom(ere bool, depth int) string {
	switch g.n(16) {
	case 0, 1, 2, 3:
		return string(patAlpha[g.n(len(patAlpha))])
	case 4:
		return "."
	case 5, 6:
		return g.bracket()
	case 7:
		if depth < 2 {
			if ere {
				return "(" + g.regex(ere, depth+1) + ")"
			}
			return `\(` + g.regex(ere, depth+1) + `\)`
		}
		return "a"
	case 8:
		return g.pick("^", "$")
	case 9:
		return g.pick(`\w`, `\W`, `\s`, `\S`, `\b`, `\B`, `\<`, `\>`, `\.`, `\*`, `\[`, `\]`, `\\`, `\/`, `\a`, `\x`, "\\`", `\'`, `\-`, `\,`, `\d`, `\D`, `\z`, `\Z`)
	case 10:
		if ere {
			return g.pick("*", "+", "?", "{", "}", "{1}", "{,2}", "(", ")", "()", "|", "a|", "|b")
		}
		return g.pick("*", `\+`, `\?`, `\{`, `\}`, `\{1\}`, `\(`, `\)`, `\(\)`, `\|`, "{", "}", "+", "?", "|", "(", ")")
	case 11:
		return g.pick("[:alpha:]", "[:digit:]", "[:space:]", "[::]", "[:a]", "[[:alpha:]", "[[:foo:]]", "[[:upper:]]", "[[:lower:]]", "[", "]")
	default:
		return string(patAlpha[g.n(12)])
	}
}

func (g *gen) quant(ere bool) string {
	iv := func() string {
		switch g.n(8) {
		case 0:
			return strconv.Itoa(g.n(4))
		case 1:
			return strconv.Itoa(g.n(3)) + ","
		case 2:
			return "," + strconv.Itoa(g.n(4))
		case 3:
			return ","
		case 4:
			return g.pick("2,1", "x", "", "1,x", "a", "1001", "65536", "1,2,3", "32767", "32768")
		default:
			lo := g.n(3)
			return strconv.Itoa(lo) + "," + strconv.Itoa(lo+g.n(3))
		}
	}
	if ere {
		switch g.n(6) {
		case 0:
			return "+"
		case 1:
			return "?"
		case 2:
			s := "{" + iv()
			if g.chance(0.9) {
				s += "}"
			}
			return s
		default:
			return "*"
		}
	}
	switch g.n(6) {
	case 0:
		return `\+`
	case 1:
		return `\?`
	case 2:
		s := `\{` + iv()
		if g.chance(0.9) {
			s += `\}`
		}
		return s
	default:
		return "*"
	}
}

// bracket draws a bracket expression.
func (g *gen) bracket() string {
	var b strings.Builder
	b.WriteByte('[')
	if g.chance(0.3) {
		b.WriteByte('^')
	}
	if g.chance(0.1) {
		b.WriteString(g.pick("]", "-", "]-", "^"))
	}
	for range 1 + g.n(3) {
		switch g.n(8) {
		case 0, 1:
			b.WriteByte(patAlpha[g.n(len(patAlpha))])
		case 2, 3:
			ends := "aAzZ_-09./[]^`{"
			b.WriteByte(ends[g.n(len(ends))])
			b.WriteByte('-')
			b.WriteByte(ends[g.n(len(ends))])
		case 4:
			b.WriteString("[:" + g.pick("alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct", "print", "graph", "cntrl", "xdigit", "foo", "") + ":]")
		case 5:
			b.WriteString(g.pick("[=a=]", "[=e=]", "[.a.]", "[.-.]", "[.ab.]", "[==]", "[=", "[.", "[:", "[a", "\\"))
		case 6:
			b.WriteString(g.pick("a-", "-a", "a-b-c", "--a", "a--", "!--", "[.a.]-c", "a-[.c.]", "[=a=]-c", "[:alpha:]-z"))
		default:
			b.WriteByte(g.pick("a", "b", "A", "B", "x", "1")[0])
		}
	}
	if g.chance(0.95) {
		b.WriteByte(']')
	}
	return b.String()
}

// trSet draws a tr set.
func (g *gen) trSet() string {
	var b strings.Builder
	for range 1 + g.n(4) {
		switch g.n(10) {
		case 0, 1:
			b.WriteByte("abcxyzABZ019 ,._-"[g.n(17)])
		case 2:
			ends := "aAzZ09_\\"
			b.WriteByte(ends[g.n(len(ends))])
			b.WriteByte('-')
			b.WriteByte(ends[g.n(len(ends))])
		case 3:
			b.WriteString("[:" + g.pick("alpha", "digit", "alnum", "upper", "lower", "upper", "lower", "space", "blank", "punct", "print", "graph", "cntrl", "xdigit", "foo", "") + ":]")
		case 4:
			n := g.pick("", "", "0", "1", "3", "010", "08", "+2", " 2", "\\9", "x", "16777217", "18446744073709551617")
			if g.chance(0.01) {
				// GNU walks such a set for minutes (not compared, gnuWait
				// of CPU lost): rare
				n = "99999999999"
			}
			b.WriteString("[" + g.pick("a", "x", "\\n", "-", "]", "*", "\\\\") + "*" + n + "]")
		case 5:
			b.WriteString(g.pick("[=a=]", "[=ab=]", "[==]", "[::]", "[:", "[=", "[a", "[", "]", "\\", "\\-", "a\\-z"))
		case 6:
			b.WriteString(g.pick(`\n`, `\t`, `\\`, `\0`, `\101`, `\400`, `\18`, `\x`, `\a`, `\r`, `\-`, `\[`, `\]`, `\200`, `\377`, `\177-\377`, "\xff", "\x80-\xff", `\f\v\b`))
		default:
			b.WriteByte("abcxyz"[g.n(6)])
		}
	}
	return b.String()
}

// cutList draws a cut list.
func (g *gen) cutList() string {
	items := 1 + g.n(3)
	var parts []string
	for range items {
		switch g.n(8) {
		case 0:
			parts = append(parts, strconv.Itoa(1+g.n(4))+"-")
		case 1:
			parts = append(parts, "-"+strconv.Itoa(1+g.n(4)))
		case 2:
			a := 1 + g.n(4)
			parts = append(parts, strconv.Itoa(a)+"-"+strconv.Itoa(a+g.n(3)-1))
		case 3:
			parts = append(parts, g.pick("0", "", "-", "x", " 1", "1 ", "99999999999999999999", "2-1", "0-2", "1-0", "+1"))
		default:
			parts = append(parts, strconv.Itoa(1+g.n(4)))
		}
	}
	return strings.Join(parts, g.pick(",", ",", " ", ",,"))
}

// sortKeyDef draws a -k KEYDEF.
func (g *gen) sortKeyDef(c *diffCase) string {
	pos := func(end bool) string {
		s := g.pick("", "", "", " ", "+") + strconv.Itoa(g.n(4)+map[bool]int{false: 1, true: 0}[end && g.chance(0.2)])
		if g.chance(0.3) {
			s += "." + strconv.Itoa(g.n(4))
		}
		for range g.n(2) {
			s += g.pick("b", "n", "f", "r", "d", "i", "M", "h", "x", "V", "g", "g")
		}
		return s
	}
	s := pos(false)
	if g.chance(0.6) {
		s += g.pick(",", ",", ", ") + pos(true)
	}
	if g.chance(0.05) {
		s = g.pick("0", "1.0", "1,0", "x", "-1", "1,", "99999999999999999999", "")
	}
	return s
}

// diffGens are the generated commands.
var diffGens = []*cmdGen{
	{
		name: "grep", weight: 30,
		value: func(g *gen, c *diffCase, key string) string {
			switch key {
			case "m":
				return g.signed()
			case "e":
				p := g.regex(g.chance(0.5), 0)
				c.refused = c.refused || bigRepeat(p)
				return p
			case "label":
				return g.pick("x", "", "in put")
			case "color":
				return g.pick("never", "auto", "always", "bogus", "NEVER", "tty")
			case "binary-files":
				return g.pick("binary", "text", "without-match", "bogus", "tex", "")
			case "A", "B", "C":
				if g.chance(0.7) {
					return strconv.Itoa(g.n(4))
				}
				return g.signed()
			case "group-separator":
				return g.pick("--", "", "XX", "a b", ":")
			case "X":
				m := g.pick("grep", "egrep", "fgrep", "perl", "awk", "Egrep")
				c.refused = c.refused || m == "awk"
				return m
			}
			return g.pick("x", "--", "2")
		},
		operands: func(g *gen, c *diffCase, keys map[string]bool) []string {
			if keys["color"] {
				c.refused = true // --color=always
			}
			if keys["v"] && keys["m"] {
				for _, k := range []string{"A", "B", "C", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"} {
					// -v, a negative -m and context are refused
					c.refused = c.refused || keys[k]
				}
			}
			if keys["e"] && g.chance(0.7) {
				return nil
			}
			ere := keys["E"]
			var p string
			switch {
			case keys["F"]:
				p = g.word() + g.pick("", "", "\n"+g.word(), g.word())
			default:
				p = g.regex(ere, 0)
				if g.chance(0.1) {
					p += "\n" + g.regex(ere, 0)
				}
				c.refused = c.refused || bigRepeat(p)
			}
			// A pattern such as "-x" reads as a flag, perhaps a refused
			// one, as in GNU ("-3" is the context -NUM).
			c.refused = c.refused || strings.HasPrefix(p, "-")
			return []string{p}
		},
	},
	{
		name: "tr", weight: 14,
		operands: func(g *gen, c *diffCase, keys map[string]bool) []string {
			n := 1 + g.n(2)
			if g.chance(0.05) {
				n = g.n(4)
			}
			ops := make([]string, n)
			for i := range ops {
				ops[i] = g.trSet()
			}
			return ops
		},
	},
	{
		name: "sort", weight: 10,
		value: func(g *gen, c *diffCase, key string) string {
			switch key {
			case "k":
				return g.sortKeyDef(c)
			case "t":
				return g.pick(",", ":", " ", `\0`, "ab", "", "\t", "a", "\xff", "\r", `\t`, "\n")
			case "check":
				return g.pick("quiet", "silent", "diagnose-first", "q", "s", "d", "", "x")
			case "parallel":
				// Not past a few threads: GNU sorting two lines or more
				// with --parallel=100000000 on this machine is "memory
				// exhausted" (its merge tree), a limit of its own, which
				// halfclose does not copy (docs/protocol.md).
				return g.pick("0", "1", "2", "8", "64", "", "x", "5x", "-1", "+3", " 4", "1k", "00")
			case "sort":
				w := g.pick("general-numeric", "g", "gen", "numeric", "human-numeric", "h", "month", "version", "n", "x", "")
				c.refused = c.refused || w == "r"
				return w
			}
			return g.count()
		},
		input: func(g *gen) []byte {
			if g.chance(0.4) {
				return g.text()
			}
			return g.numbers()
		},
		operands: func(g *gen, c *diffCase, keys map[string]bool) []string {
			var ops []string
			for range g.n(3) {
				ops = append(ops, "-k", g.sortKeyDef(c))
			}
			if g.chance(0.1) {
				ops = append(ops, "+"+strconv.Itoa(g.n(3))+g.pick("", ".1", "n", "r", "b"))
				if g.chance(0.6) {
					ops = append(ops, "-"+strconv.Itoa(g.n(4))+g.pick("", ".1", ".0", "b", "x"))
				}
			}
			return ops
		},
	},
	{name: "uniq", weight: 6,
		value: func(g *gen, c *diffCase, key string) string {
			switch key {
			case "all-repeated", "group":
				// the methods, abbreviated, in the wrong case, or another's
				return g.pick("none", "prepend", "separate", "append", "both", "n", "p", "s", "a", "b", "sep", "", "x", "NONE", "prepend ")
			}
			return g.count()
		},
		operands: func(g *gen, c *diffCase, keys map[string]bool) []string {
			if g.chance(0.1) {
				c.refused = true
				return []string{g.pick("+1", "+x", "- -", "-")}
			}
			return nil
		},
	},
	{name: "head", weight: 8, skip: []string{"presume-input-pipe"},
		value: func(g *gen, c *diffCase, key string) string { return g.signed() },
		first: func(g *gen, c *diffCase) []string {
			if g.chance(0.2) { // GNU's obsolete -N[bcklmqvz] as the first word
				return []string{"-" + strconv.Itoa(g.n(12)) + g.pick("", "", "c", "b", "k", "m", "l", "q", "v", "z", "cq", "x", "lc")}
			}
			return nil
		},
	},
	{name: "tail", weight: 8, skip: []string{"f", "F", "follow", "pid", "retry", "s", "max-unchanged-stats"},
		value: func(g *gen, c *diffCase, key string) string { return g.signed() },
		first: func(g *gen, c *diffCase) []string {
			if g.chance(0.25) { // GNU's obsolete [+-]N[bcl] form
				n := g.pick("", "0", "1", "3", "12", "99999999999999999999")
				return []string{g.pick("-", "+") + n + g.pick("", "", "c", "b", "l", "x", "cc")}
			}
			return nil
		},
	},
	{name: "tac", weight: 4,
		value: func(g *gen, c *diffCase, key string) string {
			return g.pick("", "\n", ",", "a", "ab", "\n\n", "x\n", " ", "\xff", "\r\n", "aa", "aba", "\t")
		},
	},
	{name: "cut", weight: 8,
		value: func(g *gen, c *diffCase, key string) string {
			switch key {
			case "d":
				return g.pick(",", ":", " ", "", "ab", "\n", "\t", "a", "\xff", "\r")
			case "output-delimiter":
				return g.pick("", "|", "::", ",", "\n")
			}
			return g.cutList()
		},
		operands: func(g *gen, c *diffCase, keys map[string]bool) []string {
			if !keys["b"] && !keys["c"] && !keys["f"] && g.chance(0.9) {
				return []string{g.pick("-f", "-b", "-c"), g.cutList()}
			}
			return nil
		},
	},
	{name: "base64", weight: 4,
		value: func(g *gen, c *diffCase, key string) string { return g.pick("", "-") + g.count() },
	},
	{name: "wc", weight: 3},
	{name: "sha256sum", weight: 2, input: (*gen).digestInput},
	{name: "md5sum", weight: 1, input: (*gen).digestInput},
	{name: "b2sum", weight: 2, input: (*gen).digestInput, value: func(g *gen, c *diffCase, key string) string { return g.b2Length() }},
	{name: "cksum", weight: 3, input: (*gen).digestInput, value: func(g *gen, c *diffCase, key string) string {
		if key == "a" {
			a := g.pick("crc", "md5", "sha1", "blake2b", "sysv", "bsd", "sha224", "sha256", "sha384", "sha512", "bogus", "sm3", "SHA1", "sha", "blake2", "")
			c.refused = c.refused || a == "sm3"
			return a
		}
		return g.b2Length()
	}},
	{name: "sha1sum", weight: 1, input: (*gen).digestInput},
	{name: "sha224sum", weight: 1, input: (*gen).digestInput},
	{name: "sha384sum", weight: 1, input: (*gen).digestInput},
	{name: "sha512sum", weight: 1, input: (*gen).digestInput},
	{name: "b3sum", weight: 3, input: (*gen).digestInput,
		value: func(g *gen, c *diffCase, key string) string {
			switch key {
			case "l":
				return g.pick("0", "1", "16", "31", "32", "33", "64", "65", "200", "1000", "+8", " 8", "08", "-1", "x", "", "8k", "99999999999999999999", "18446744073709551616")
			case "derive-key":
				return g.pick("ctx", "", "a b", "\xff", "example.com 2019-12-25 16:18:03 session tokens v1")
			}
			return g.pick("1", "0", "2", "x", "-1", "")
		},
	},
	{name: "gzip", weight: 4, input: (*gen).gzipInput,
		operands: func(g *gen, c *diffCase, keys map[string]bool) []string {
			// Compressed bytes need not be GNU's: compare what they
			// decompress to (-d and -t decompress: their output is
			// compared as it is).
			c.roundTrip = !keys["d"] && !keys["t"]
			return nil
		},
	},
	{name: "gunzip", weight: 4, input: (*gen).gzipInput},
	{name: "zcat", weight: 2, input: (*gen).gzipInput},
}

// b2Length draws a BLAKE2b -l value.
func (g *gen) b2Length() string {
	return g.pick("0", "8", "256", "512", "7", "520", " 16", "+24", "1bB", "abc", "", "-8", "160", "384", "99999999999999999999", "x")
}

// digestInput draws an input for a digest: text, or bytes whose size
// sits on a boundary of a block or BLAKE3's chunks and subtrees.
func (g *gen) digestInput() []byte {
	if g.chance(0.6) {
		return g.text()
	}
	size := g.n(3)*1024 + g.pick1(0, 0, 1, -1, 63, 64, 65, 127, 128, 129)
	if g.chance(0.3) {
		size += 64 << 10 << g.n(3)
	}
	return computetest.RandomBytes(g.r.Uint64(), max(size, 0))
}

func (g *gen) pick1(xs ...int) int { return xs[g.r.IntN(len(xs))] }

// gzipInput draws an input for gzip and gunzip: members GNU gzip and Go's
// writer made (names, comments, extra fields, empty ones), concatenated,
// followed by zeros or garbage, truncated, with a CRC, ISIZE or data byte
// changed; or no gzip data at all.
func (g *gen) gzipInput() []byte {
	if g.chance(0.15) {
		return g.text()
	}
	var z []byte
	var ends []int // where each member ends
	for range 1 + g.n(3) {
		data := g.text()
		if g.chance(0.15) {
			data = nil
		}
		if g.chance(0.5) {
			z = append(z, gnuGzipMember(data, g.pick("-1", "-6", "-9"))...)
		} else {
			z = append(z, goGzipMember(g, data)...)
		}
		ends = append(ends, len(z))
		if !g.chance(0.3) {
			break
		}
	}
	end := ends[g.n(len(ends))]
	switch g.n(12) {
	case 0:
		z = append(z, make([]byte, g.pick1(1, 2, 7, 8, 9, 512, 600))...)
	case 1:
		// GNU: an error, or trailing garbage (a warning, status 2)
		z = append(z, g.pick("x", "garbage\n", "\x1f", "\x1f\x8b", "\x1f\x8b\x08", "\x1f\x8b\x08\x00", "\x00\x00x", "\x1f\x8b\x09\x00",
			"PK\x03\x04", "\x00x", "x\x00", "\x00\x1f\x8b\x08", "\x1f\x8c")...)
	case 2:
		z = z[:g.n(len(z))]
	case 3:
		z[end-8+g.n(4)] ^= 1 << g.n(8) // CRC
	case 4:
		z[end-4+g.n(4)] ^= 1 << g.n(8) // ISIZE
	case 5:
		if end > 20 {
			z[10+g.n(end-18)] ^= 1 << g.n(8) // header or data
		}
	case 6:
		z = z[:max(0, len(z)-1-g.n(8))] // the trailer cut
	}
	return z
}

// gnuGzipMember is data compressed by GNU gzip (no name, no time).
func gnuGzipMember(data []byte, level string) []byte {
	cmd := exec.Command("gzip", "-c", "-n", level)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		panic(fmt.Sprintf("GNU gzip: %v", err))
	}
	return out
}

// goGzipMember is data compressed by Go's writer, with header fields.
func goGzipMember(g *gen, data []byte) []byte {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, g.pick1(gzip.NoCompression, gzip.BestSpeed, gzip.DefaultCompression, gzip.HuffmanOnly))
	if err != nil {
		panic(err)
	}
	if g.chance(0.3) {
		zw.Name = g.pick("a.txt", "x")
	}
	if g.chance(0.2) {
		zw.Comment = "comment"
	}
	if g.chance(0.2) {
		zw.Extra = []byte("AB\x02\x00xy")
	}
	if g.chance(0.2) {
		zw.ModTime = time.Unix(1700000000, 0)
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// generateCases draws n cases from seed. A third of them reach us in
// reads of random sizes (diffCase.reads), drawn from a generator of their
// own, so that a seed's command lines and inputs stay what they were.
func generateCases(seed uint64, n int) []diffCase {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x5bd1e995))}
	rg := rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, seed))
	total := 0
	for _, cg := range diffGens {
		total += cg.weight
	}
	cases := make([]diffCase, n)
	for i := range cases {
		k := g.n(total)
		for _, cg := range diffGens {
			if k < cg.weight {
				cases[i] = cg.generate(g)
				if rg.IntN(3) == 0 {
					cases[i].reads = rg.Uint64() | 1
				}
				break
			}
			k -= cg.weight
		}
	}
	return cases
}

// TestGNUDiffGenerated is the generated differential run: a short seeded
// run by default, GNUDIFF_N cases when set (make fuzz).
func TestGNUDiffGenerated(t *testing.T) {
	t.Parallel()
	// Random cases add volume, not edges (those are the GNU classes):
	// make test runs 120 of them, make test-long 480, make fuzz 20000.
	n := 120
	if testenv.Long() {
		n = 480
	}
	n = int(testenv.Uint(t, "GNUDIFF_N", uint64(n)))
	seed := testenv.Uint(t, "GNUDIFF_SEED", 20220902)
	runner := newGNURunner(t)
	perCmd := map[string][2]int{} // cases, differences
	diffs := 0
	for _, c := range generateCases(seed, n) {
		r := runner.run(t, c)
		v := c.verdict(r)
		pc := perCmd[c.argv[0]]
		pc[0]++
		if v != "" {
			pc[1]++
			diffs++
			if diffs <= 40 {
				t.Errorf("%s\n  %s", c, v)
			}
		}
		perCmd[c.argv[0]] = pc
	}
	names := make([]string, 0, len(perCmd))
	for k := range perCmd {
		names = append(names, k)
	}
	sort.Strings(names)
	var sum []string
	for _, k := range names {
		sum = append(sum, fmt.Sprintf("%s %d/%d", k, perCmd[k][1], perCmd[k][0]))
	}
	t.Logf("seed %d: %d cases, %d differences (per command, differences/cases: %s)", seed, n, diffs, strings.Join(sum, ", "))
}

// TestSortDebugGenerated is the generated run of sort --debug: sort's
// command lines as TestGNUDiffGenerated draws them, each with --debug
// (first, or last when no "--" ends the flags), now and then with a -t
// whose warnings GNU words its own way, against GNU's output,
// warnings and exit status. SORTDEBUG_N cases (make fuzz runs many),
// SORTDEBUG_SEED the seed.
func TestSortDebugGenerated(t *testing.T) {
	t.Parallel()
	n := int(testenv.Uint(t, "SORTDEBUG_N", 150))
	seed := testenv.Uint(t, "SORTDEBUG_SEED", 20261207)
	var sortGen *cmdGen
	for _, cg := range diffGens {
		if cg.name == "sort" {
			sortGen = cg
		}
	}
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x5bd1e995))}
	runner := newGNURunner(t)
	diffs, compared := 0, 0 // compared: GNU and we succeeded
	for i := range n {
		c := sortGen.generate(g)
		if g.chance(0.5) || slices.Contains(c.argv, "--") {
			c.argv = slices.Insert(c.argv, 1, "--debug")
		} else {
			c.argv = append(c.argv, "--debug")
		}
		if g.chance(0.15) {
			// the separators GNU's warnings name: in numbers they are a
			// decimal point, a minus or a plus sign
			c.argv = slices.Insert(c.argv, 1, "-t"+g.pick(".", "-", "+"))
		}
		if i%3 == 0 {
			c.reads = g.r.Uint64() | 1
		}
		r := runner.run(t, c)
		if !gnuFailed("sort", r.gnuCode) && r.ourErr == nil {
			compared++
		}
		if v := c.verdict(r); v != "" {
			diffs++
			if diffs <= 40 {
				t.Errorf("%s\n  %s", c, v)
			}
		}
	}
	t.Logf("seed %d: %d cases (%d succeeded on both sides), %d differences", seed, n, compared, diffs)
}
