package builtin_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// This file compares whole pipelines with the GNU tools, stage by stage:
// the generated differential run (gnudiff_test.go) checks each command
// alone, this one what joins them — a stage's output as the next one's
// input across the engine's buffers, a reply past its memory (spill),
// stages that stop reading early (head, grep -m), a failure in one stage
// ending the job, and a digest at the end.
//
// The oracle runs each GNU stage in turn, from a regular file into a
// regular file (LC_ALL=C): a shell pipe would make GNU grep's binary-file
// rule follow the pipe's read sizes, and its timing decides whether a
// stage upstream of an early exit ends with SIGPIPE or with its own
// error. So a case where a stage failed upstream of a stage that may stop
// reading early accepts either outcome; every other case must give GNU's
// bytes, or an error where a GNU stage failed.
//
// PIPEDIFF_N sets the number of pipelines (make fuzz runs many), PIPEDIFF_SEED
// the seed.

// pipeCase is one generated pipeline and its input.
type pipeCase struct {
	stages [][]string
	input  []byte
	// stops[i]: stage i may stop reading before its input ends.
	stops []bool
	// reads: as diffCase.reads.
	reads uint64
}

func (c pipeCase) text() string {
	parts := make([]string, len(c.stages))
	for i, s := range c.stages {
		parts[i] = shquote.Join(s)
	}
	return strings.Join(parts, " | ")
}

func (c pipeCase) String() string {
	s := fmt.Sprintf("%s <<< %q (%d bytes)", c.text(), computetest.Trunc(c.input), len(c.input))
	if c.reads != 0 {
		s += fmt.Sprintf(" (split reads, seed %d)", c.reads)
	}
	return s
}

// pipeStage draws one stage that is usually valid: the forms users write.
// last: the stage ends the pipeline (a digest may appear only there).
func (g *gen) pipeStage(last bool) (argv []string, stops bool) {
	flags := func(opts ...string) []string {
		var out []string
		for _, o := range opts {
			if g.chance(0.3) {
				out = append(out, o)
			}
		}
		return out
	}
	n := strconv.Itoa(g.n(6))
	k := 16
	if last {
		k = 22
	}
	switch g.n(k) {
	case 0, 1, 2:
		argv = append([]string{"grep"}, flags("-i", "-v", "-n", "-w", "-x", "-c")...)
		if g.chance(0.2) {
			argv = append(argv, flags("-b", "-A1", "-B2", "-C1", "-H", "-a", "-z", "-T")...)
		}
		if g.chance(0.2) {
			argv = append(argv, "-m", n)
			stops = true
		}
		if g.chance(0.15) {
			argv = append(argv, "-o")
		}
		ere := g.n(3)
		p := g.regex(ere == 1, 0)
		for bigRepeat(p) { // refused (docs/protocol.md), and slow for GNU
			p = g.regex(ere == 1, 0)
		}
		switch ere {
		case 0:
			argv = append(argv, "-F", g.word())
		case 1:
			argv = append(argv, "-E", p)
		default:
			argv = append(argv, p)
		}
	case 3, 4:
		argv = append([]string{"sort"}, flags("-r", "-n", "-u", "-f", "-s")...)
		if g.chance(0.2) {
			argv = append(argv, g.pick("-b", "-d", "-h", "-V", "-M", "-i", "-z", "-g"))
		}
		if g.chance(0.4) {
			argv = append(argv, "-t", g.pick(",", ":", " "), "-k", g.pick("1", "2", "2,2", "1,1n", "3r", "2.2,2.3"))
		}
	case 5, 6:
		argv = append([]string{"uniq"}, flags("-i")...)
		if c := g.pick("", "-c", "-d", "-u", "-cd", "-D", "--group", "--all-repeated=separate"); c != "" {
			argv = append(argv, c)
		}
		if g.chance(0.2) {
			argv = append(argv, g.pick("-f1", "-s1", "-w2", "-z", "-f1 -s2"))
			argv = append(argv[:len(argv)-1], strings.Fields(argv[len(argv)-1])...)
		}
	case 7:
		argv = []string{"head", g.pick("-n", "-c"), g.pick("", "-") + n + g.pick("", "", "", "K", "b")}
		stops = !strings.HasPrefix(argv[2], "-")
	case 8:
		argv = []string{"tail", g.pick("-n", "-c"), g.pick("", "+") + n + g.pick("", "", "", "K", "b")}
	case 9:
		argv = []string{"tac"}
	case 10:
		argv = []string{"cut", "-d", g.pick(",", ":", " "), "-f", g.pick("1", "2", "1,3", "2-", "-2")}
		argv = append(argv, flags("-s", "--complement", "--output-delimiter=|")...)
		if g.chance(0.3) {
			argv = []string{"cut", g.pick("-c", "-b"), g.pick("1-3", "2", "3-", "1,5-7")}
		}
	case 11:
		switch g.n(5) {
		case 4:
			argv = []string{"tr", g.pick("-c", "-cs", "-cd"), g.pick("a-z", "[:alnum:]", "\\n", "[:print:]"), "\\n"}
			if argv[1] == "-cd" {
				argv = argv[:3]
			}
		case 0:
			argv = []string{"tr", "a-z", "A-Z"}
		case 1:
			argv = []string{"tr", "-d", g.pick("0-9", "[:space:]", "\\n", "a-c")}
		case 2:
			argv = []string{"tr", "-s", g.pick(" ", "[:blank:]", "\\n", "a-z")}
		default:
			argv = []string{"tr", g.pick("[:upper:]", "abc", "\\000-\\037"), g.pick("[:lower:]", "x", "_")}
		}
	case 12:
		argv = append([]string{"base64"}, flags("-w", "0")...)
		if len(argv) == 2 {
			argv = []string{"base64", "-w", g.pick("0", "1", "76", "5")}
		}
	case 13:
		argv = []string{"base64", "-d"}
		argv = append(argv, flags("-i")...)
	case 14:
		argv = []string{"gunzip", "-c"} // after a gzip stage, or on text: an error
	case 15:
		argv = append([]string{"wc"}, flags("-l", "-w", "-c", "-m", "-L")...)
	default:
		argv = []string{g.pick("sha256sum", "md5sum", "sha1sum", "b3sum", "cksum", "sha512sum")}
		if argv[0] == "cksum" && g.chance(0.5) {
			argv = append(argv, "-a", g.pick("sha256", "md5", "blake2b", "crc"))
		}
	}
	return argv, stops
}

// pipeInput draws a pipeline's input: the generator's text, or a larger
// log of its lines (past the engine's buffers and a small spool).
func (g *gen) pipeInput() []byte {
	in := g.text()
	if g.chance(0.3) {
		var b bytes.Buffer
		for b.Len() < 64<<10+g.n(256<<10) {
			b.Write(g.text())
			b.WriteByte('\n')
		}
		in = b.Bytes()
	}
	return in
}

func generatePipes(seed uint64, n int) []pipeCase {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))}
	rg := rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, seed)) // reads: as in generateCases
	cases := make([]pipeCase, n)
	for i := range cases {
		k := 2 + g.n(3)
		c := pipeCase{stages: make([][]string, k), stops: make([]bool, k)}
		for j := range k {
			c.stages[j], c.stops[j] = g.pipeStage(j == k-1)
		}
		// Now and then a stage is a generated command line of the
		// single-command run: odd flags, odd values.
		if g.chance(0.3) {
			j := g.n(k)
			one := generateCases(g.r.Uint64(), 1)[0]
			// head or grep with several "-" would read them from a pipe
			// here, where GNU's later operands get what its reads left
			// (see generate); its input is cut to 4 KiB only there.
			several := (one.argv[0] == "head" || one.argv[0] == "grep") && slicesCount(one.argv, "-") > 1
			// A sort -R stage's shuffle is its own: no oracle byte for byte.
			if !one.refused && !one.roundTrip && !one.shuffled && !several && (j == k-1 || !isDigest(one.argv[0])) {
				c.stages[j], c.stops[j] = one.argv, true // whether it stops early is not known
			}
		}
		// gzip's bytes need not be GNU's (docs/protocol.md): a gzip stage
		// is always followed by a gunzip one.
		if j := g.n(k + 2); j < k-1 {
			c.stages[j], c.stops[j] = []string{"gzip", "-c", g.pick("-1", "-6", "-9")}, false
			c.stages[j+1], c.stops[j+1] = []string{g.pick("gunzip", "zcat"), "-c"}, false
		}
		// A decoder after text fails at once, GNU's too (a third of the
		// pipelines did): most of them decode what the stage before
		// encoded, so the stages after them see output.
		// (The stage replaced is no coder, nor one a gzip stage feeds.)
		for j := 1; j < k; j++ {
			switch prev := c.stages[j-1][0]; {
			case prev == "base64" || prev == "gzip" || prev == "gunzip" || prev == "zcat":
				continue
			case j >= 2 && c.stages[j-2][0] == "gzip":
				continue
			}
			switch c.stages[j][0] {
			case "base64":
				if slices.Contains(c.stages[j], "-d") && g.chance(0.75) {
					c.stages[j-1], c.stops[j-1] = []string{"base64", "-w", g.pick("0", "76", "5")}, false
				}
			case "gunzip", "zcat":
				if g.chance(0.75) {
					c.stages[j-1], c.stops[j-1] = []string{"gzip", "-c", g.pick("-1", "-6", "-9")}, false
				}
			}
		}
		c.input = g.pipeInput()
		if rg.IntN(3) == 0 {
			c.reads = rg.Uint64() | 1
		}
		cases[i] = c
	}
	return cases
}

func isDigest(name string) bool {
	return strings.HasSuffix(name, "sum") || name == "cksum"
}

// gnuStages runs the stages in turn, each over the previous one's
// output. failed: the first stage that failed, -1 for none, -2 when a
// stage did not finish in time (no oracle). stderr is what the stages
// wrote on standard error, one after the other.
func gnuStages(t *testing.T, g *gnuRunner, c pipeCase) (out, stderr []byte, failed, status int) {
	t.Helper()
	in := c.input
	for i, argv := range c.stages {
		// The engine's grep reads a pipe (the job's input, or the stage
		// before it): GNU's too, where a pipe written at once is read at
		// once, so its binary-file blocks are a regular file's (and -T
		// pads numbers as for a pipe); a longer input is a file.
		// grep -T pads -n and -b to a regular file's size: it reads a
		// pipe, as a stage does, where no NUL makes its reads matter
		// (none does under -z).
		// Under -a (text) no NUL makes its reads matter either.
		tab, z, text := grepTabNull(argv)
		file := argv[0] == "grep" && len(in) > 4096 && !(tab && (z || text || bytes.IndexByte(in, 0) < 0))
		out, errOut, code, timedOut := g.gnuFrom(t, testenv.Tool(t, argv[0]), argv, in, file)
		switch {
		case timedOut:
			return nil, nil, -2, 0
		case gnuFailed(argv[0], code):
			return nil, nil, i, 0
		}
		in, status = out, code // a shell's status: the last command's
		stderr = append(stderr, errOut...)
	}
	return in, stderr, -1, status
}

// grepTabNull reports whether grep's words hold -T (--initial-tab) and
// -z (--null-data), and whether binary input is read as text (-a, or
// --binary-files=text, the last of them and -I winning).
func grepTabNull(argv []string) (tab, z, text bool) {
	if argv[0] != "grep" {
		return false, false, false
	}
	cmd, _ := registry.Lookup("grep")
	g := compute.NewGetopt("grep", cmd.Flags, compute.Permute, argv[1:])
	for {
		it, ok, err := g.Next()
		if err != nil || !ok {
			return tab, z, text
		}
		if !it.IsFlag {
			continue
		}
		switch it.Flag.Key {
		case "T":
			tab = true
		case "z":
			z = true
		case "a":
			text = true
		case "I":
			text = false
		case "binary-files":
			text = it.Flag.Value != "" && strings.HasPrefix("text", it.Flag.Value)
		}
	}
}

// pipeDiagnostics returns "" when ours are the lines the GNU stages wrote
// on standard error: in any order, as the stages of a shell's pipeline
// run at once. Where a stage may stop reading early, a stage before it
// may be stopped before it writes its last lines (GNU's by SIGPIPE), so
// ours need only be among GNU's.
func pipeDiagnostics(c pipeCase, ours []string, gnuStderr []byte) string {
	if gzipPending(gnuStderr) {
		return ""
	}
	want := slices.Sorted(slices.Values(computetest.StderrLines(gnuStderr)))
	got := slices.Sorted(slices.Values(ours))
	if slices.Equal(got, want) {
		return ""
	}
	if slices.Contains(c.stops[1:], true) && len(want) <= compute.MaxDiagnostics {
		rest := want
		for _, l := range got {
			i := slices.Index(rest, l)
			if i < 0 {
				break
			}
			rest = slices.Delete(slices.Clone(rest), i, i+1)
		}
		if len(rest) == len(want)-len(got) {
			return ""
		}
	}
	return fmt.Sprintf("diagnostics differ:\n  GNU  %q\n  ours %q", want, got)
}

// pipeVerdict returns "" when the engine's answer is GNU's, else what
// differs.
func pipeVerdict(c pipeCase, gnuOut, gnuStderr []byte, failed, gnuStatus int, ours []byte, ourStatus int, ourDiag []string, ourErr error) string {
	if failed >= 0 {
		for j := failed + 1; j < len(c.stages); j++ {
			if c.stops[j] {
				if ourErr == nil && !bytes.Equal(ours, gnuOut) && gnuOut != nil {
					return "output differs"
				}
				return "" // either outcome: GNU's pipe would race too
			}
		}
		if ourErr == nil {
			return fmt.Sprintf("GNU stage %d (%s) fails, we succeed with %q", failed+1, c.stages[failed][0], computetest.Trunc(ours))
		}
		return ""
	}
	if ourErr != nil {
		if strings.Contains(ourErr.Error(), "unsupported") {
			return "" // a flag refused on purpose (docs/protocol.md)
		}
		return fmt.Sprintf("GNU succeeds with %q, we fail: %v", computetest.Trunc(gnuOut), ourErr)
	}
	if !bytes.Equal(ours, gnuOut) {
		return fmt.Sprintf("output differs:\n  GNU  %q\n  ours %q", computetest.Trunc(gnuOut), computetest.Trunc(ours))
	}
	if ourStatus != gnuStatus {
		return fmt.Sprintf("exit status %d, GNU's %d", ourStatus, gnuStatus)
	}
	return pipeDiagnostics(c, ourDiag, gnuStderr)
}

// TestGNUPipelinesGenerated runs generated pipelines through the engine
// with the default spool and with one of 4 KiB (every reply and sort past
// it spills, and the input is read ahead), against GNU stage by stage.
func TestGNUPipelinesGenerated(t *testing.T) {
	t.Parallel()
	n := 60
	if testenv.Long() {
		n = 300
	}
	n = int(testenv.Uint(t, "PIPEDIFF_N", uint64(n)))
	seed := testenv.Uint(t, "PIPEDIFF_SEED", 20261203)
	runner := newGNURunner(t)
	// No floor to sort's budget (SortMinBytes): small inputs spill.
	small := engine.Config{Spool: compute.SpoolConfig{MemBytes: 4 << 10, SortMinBytes: -1, Dir: t.TempDir()}}
	diffs, failedGNU := 0, 0
	for i, c := range generatePipes(seed, n) {
		gnuOut, gnuStderr, failed, gnuStatus := gnuStages(t, runner, c)
		if failed == -2 {
			continue
		}
		if failed >= 0 {
			failedGNU++
		}
		cfg := engine.Config{}
		if i%2 == 1 {
			cfg = small
		}
		ours, status, diag, err := computetest.RunPipelineReads(t, cfg, c.text(), c.input, false, c.reads)
		if v := pipeVerdict(c, gnuOut, gnuStderr, failed, gnuStatus, ours, status, diag, err); v != "" {
			diffs++
			if diffs <= 20 {
				t.Errorf("%s (spool %d)\n  %s", c, cfg.Spool.MemBytes, v)
			}
		}
	}
	t.Logf("seed %d: %d pipelines (%d where a GNU stage fails), %d differences", seed, n, failedGNU, diffs)
}
