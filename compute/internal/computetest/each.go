package computetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/shquote"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/testenv"
)

// Starting a process costs about 10 ms of CPU on the test machines, more
// than most differential cases cost us: GNUEach runs the oracle once for
// many inputs where the tool's output for several file operands can be
// split back into one output per input (grep's "NAME:" prefixes, head's and
// tail's "==> NAME <==" headers). The split is only ever trusted when our
// output agrees with it: a disagreement is settled by running the tool on
// that input alone, as the single-input helpers do, so a mistake in the
// split can cost time but never fail or pass a test.

// GNUEach runs the GNU tool argv once over inputs given as file operands
// (regular files, read in turn) and returns what it printed for each, as
// it would for that input alone on stdin. It returns nil when argv cannot
// be run that way, or the tool exits with an error: the caller then runs
// the tool once per input.
func GNUEach(t testing.TB, inputs [][]byte, argv ...string) [][]byte {
	t.Helper()
	outs, _ := GNUEachStderr(t, inputs, argv...)
	return outs
}

// GNUEachStderr is GNUEach with what the tool wrote on standard error in
// that run: what it would write for each input alone when that is the
// same for all (grep's pattern warnings, for inputs with no NUL), never
// what names a file.
func GNUEachStderr(t testing.TB, inputs [][]byte, argv ...string) ([][]byte, []byte) {
	t.Helper()
	b := eachBatcher(argv)
	if b == nil || len(inputs) < 2 {
		return nil, nil
	}
	dir := t.TempDir()
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = fmt.Sprintf("in%03d", i)
		if err := os.WriteFile(filepath.Join(dir, names[i]), in, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := append(append(b.args(argv[1:]), "--"), names...)
	cmd := exec.Command(testenv.Tool(t, argv[0]), args...)
	cmd.Args[0] = filepath.Base(argv[0]) // GNU's messages start with it
	cmd.Dir = dir
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	// Regular files, read back after it exits, as gnuRun's: no pipe
	// copied into a growing buffer by a goroutine of the race-instrumented
	// test process (8% of TestGrepColumnLiteralRandom's CPU). The inputs
	// are named inNNN.
	outFile, errFile := Create(t, filepath.Join(dir, "stdout")), Create(t, filepath.Join(dir, "stderr"))
	defer outFile.Close()
	defer errFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, errFile
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("oracle %v: %v", argv, err)
		}
		if ee.ExitCode() > b.okStatus {
			return nil, nil
		}
	}
	stdout, stderr := ReadBack(t, outFile), ReadBack(t, errFile)
	for _, n := range names {
		if bytes.Contains(stderr, []byte(n)) {
			return nil, nil // a line about one input: not what stdin gets
		}
	}
	return b.split(stdout, names), stderr
}

// EachStatus is the exit status the tool of argv, run by GNUEach, has
// for one input alone, told from what it printed for that input, and
// whether that tells it (GNUEach gives one status for all inputs). head
// and tail exit 0. grep exits 0 when it selected a line and 1 when it
// selected none: under -c its count says which (under -m0 it prints
// none: nothing selected); otherwise it printed
// every line it selected, but for -o, which prints nothing for a line
// whose only matches are empty, so an empty -o output does not tell.
func EachStatus(argv []string, out []byte) (code int, ok bool) {
	if argv[0] != "grep" {
		return 0, true
	}
	count, only := false, false
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if a == "--group-separator" {
			i++ // its value
			continue
		}
		if len(a) < 2 || a[0] != '-' || a[1] == '-' {
			continue
		}
		for j, r := range a[1:] {
			if strings.ContainsRune("emABC", r) {
				if j+2 == len(a) {
					i++ // its value is the next argument
				}
				break // or the cluster's rest
			}
			count = count || r == 'c'
			only = only || r == 'o'
		}
	}
	switch {
	case count:
		// grep -c -m0 prints no count at all, and exits 1
		if len(out) == 0 || string(out) == "0\n" {
			return 1, true
		}
		return 0, true
	case len(out) > 0:
		return 0, true
	case only:
		return 0, false
	}
	return 1, true
}

// batcher knows how one tool prints several files.
type batcher struct {
	args     func(opts []string) []string              // the options for a run over files
	split    func(out []byte, names []string) [][]byte // one output per file, or nil
	okStatus int                                       // the highest exit status that is not an error
}

// eachBatcher returns how to run argv over several files, or nil when its
// options are not all known to keep the outputs apart.
func eachBatcher(argv []string) *batcher {
	switch argv[0] {
	case "grep":
		if !grepBatchable(argv[1:]) {
			return nil
		}
		return &batcher{
			args:     func(opts []string) []string { return append([]string{"-H"}, opts...) },
			split:    splitPrefixed,
			okStatus: 1, // 1: nothing selected
		}
	case "head", "tail":
		ok, verbose := headTailBatchable(argv[0], argv[1:])
		if !ok {
			return nil
		}
		split := splitHeaders
		if verbose {
			// -v prints the header for stdin too.
			split = func(out []byte, names []string) [][]byte {
				outs := splitHeaders(out, names)
				for i := range outs {
					outs[i] = append([]byte("==> standard input <==\n"), outs[i]...)
				}
				return outs
			}
		}
		return &batcher{
			args:  func(opts []string) []string { return append([]string(nil), opts...) },
			split: split,
		}
	}
	return nil
}

// grepBatchable reports whether grep's options are only ones that print
// each file's lines after a "NAME:" prefix (a context line after
// "NAME-"), one pattern operand, and no file operand: -E -F -G -c -i -n
// -o -v -w -x -b, -e and -m with their values, and the context ones
// (-A -B -C and their long forms, -NUM, the group separator's).
func grepBatchable(args []string) bool {
	operands, patterns := 0, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--group-separator":
			if i+1 == len(args) || !plainSeparator(args[i+1]) {
				return false
			}
			i++
		case strings.HasPrefix(a, "--group-separator="):
			if !plainSeparator(strings.TrimPrefix(a, "--group-separator=")) {
				return false
			}
		case a == "--no-group-separator" ||
			strings.HasPrefix(a, "--context=") || strings.HasPrefix(a, "--after-context=") ||
			strings.HasPrefix(a, "--before-context="):
		case len(a) > 1 && a[0] == '-' && a[1] != '-':
			value, ok := grepCluster(a[1:])
			switch {
			case !ok:
				return false
			case value == 'e' || value == 'm' || value == 'A' || value == 'B' || value == 'C':
				// its value is the next argument
				if i+1 == len(args) {
					return false
				}
				i++
			}
			patterns = patterns || value == 'e' || value == 'E'+'e'
		default:
			operands++
		}
	}
	if patterns {
		return operands == 0
	}
	return operands == 1
}

// plainSeparator reports whether splitPrefixed tells the group separator
// sep from a line of a file: no ":" or "-" after its first byte, as in
// "NAME:" or "NAME-".
func plainSeparator(sep string) bool {
	return strings.IndexAny(sep, ":-") <= 0
}

// grepCluster checks a cluster of grep's short options (without its
// "-"): ok when every one is batchable. value is the option that takes
// the next argument as its value (the cluster ends with it), 'E'+'e' for
// an -e whose pattern is in the cluster, else 0.
func grepCluster(c string) (value rune, ok bool) {
	for i, r := range c {
		switch {
		case strings.ContainsRune("EFGcinovwxb0123456789", r):
		case strings.ContainsRune("emABC", r):
			if i+1 < len(c) {
				if r == 'e' {
					return 'E' + 'e', true
				}
				return 0, true // the value is the cluster's rest
			}
			return r, true
		default:
			return 0, false
		}
	}
	return 0, true
}

// headTailBatchable reports whether head's or tail's options are only -n
// and -c with their values, -v and -z (no -q, no file operand, and for tail
// no obsolete +N or -N form, which GNU tail takes only with one file), and
// whether -v is among them.
func headTailBatchable(tool string, args []string) (ok, verbose bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-n" || a == "-c":
			if i+1 == len(args) {
				return false, false
			}
			i++
		case a == "-v" || a == "--verbose":
			verbose = true
		case a == "-z" || a == "--zero-terminated":
		case strings.HasPrefix(a, "--lines=") || strings.HasPrefix(a, "--bytes="):
		case len(a) > 2 && (a[:2] == "-n" || a[:2] == "-c"):
		case tool == "head" && i == 0 && len(a) > 1 && a[0] == '-' && '0' <= a[1] && a[1] <= '9':
			// head's obsolete -NUM[bkm][cl] form, first only
		default:
			return false, false
		}
	}
	return true, verbose
}

// splitPrefixed splits grep -H output: every line of a file starts with
// its name and ":" (a selected line) or "-" (a context line), and the
// group separator lines between them name none. A separator goes with
// the file of the lines on both sides of it. Between two files one is
// dropped: grep prints it before a file's first group when an earlier
// file printed one, never for a file alone. More than one there, or one
// before the first line or after the last, may be one that a file alone
// ends its output with (grep -vo -A1 does): the output does not split.
func splitPrefixed(out []byte, names []string) [][]byte {
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	outs := make([][]byte, len(names))
	last := -1      // the file of the last line that named one
	var seps []byte // separator lines since then
	nseps := 0      // how many
	for len(out) > 0 {
		end := bytes.IndexByte(out, '\n')
		if end < 0 {
			return nil // grep ends every line it prints
		}
		line := out[:end+1]
		out = out[end+1:]
		i, rest := -1, line
		if k := bytes.IndexAny(line, ":-"); k > 0 {
			if j, ok := index[string(line[:k])]; ok {
				i, rest = j, line[k+1:]
			}
		}
		switch {
		case i < 0:
			seps = append(seps, line...)
			nseps++
			continue
		case i == last:
			outs[i] = append(outs[i], seps...)
		case nseps > 1 || nseps > 0 && last < 0:
			return nil
		}
		seps, nseps = seps[:0], 0
		outs[i] = append(outs[i], rest...)
		last = i
	}
	if len(seps) > 0 {
		return nil // grep prints a separator only before a group
	}
	return outs
}

// splitHeaders splits head's and tail's output for several files: each
// file's output follows "==> NAME <==\n", and a blank line precedes every
// header but the first.
func splitHeaders(out []byte, names []string) [][]byte {
	outs := make([][]byte, len(names))
	first := "==> " + names[0] + " <==\n"
	if !bytes.HasPrefix(out, []byte(first)) {
		return nil
	}
	out = out[len(first):]
	for i := range names {
		if i == len(names)-1 {
			outs[i] = out
			break
		}
		next := []byte("\n==> " + names[i+1] + " <==\n")
		k := bytes.Index(out, next)
		if k < 0 {
			return nil
		}
		outs[i] = out[:k]
		out = out[k+len(next):]
	}
	return outs
}

// DiffGNUEach is DiffGNU of argv on each input, in a subtest named
// name/argv per input. The oracle runs once for all the text inputs when
// GNUEach can, and alone for an input whose output differs from ours, and
// for every input holding a NUL: GNU grep's binary-file rules follow its
// reads, which differ between a file operand and stdin.
func DiffGNUEach(t *testing.T, inputs map[string][]byte, argv ...string) {
	t.Helper()
	DiffGNUEachEnv(t, engine.Config{}, inputs, argv...)
}

// DiffGNUEachEnv is DiffGNUEach on an engine with cfg.
func DiffGNUEachEnv(t *testing.T, cfg engine.Config, inputs map[string][]byte, argv ...string) {
	t.Helper()
	names, ins := SortedInputs(inputs)
	var text []int // indexes of the inputs the batch covers
	var batch [][]byte
	for i, in := range ins {
		if bytes.IndexByte(in, 0) < 0 {
			text = append(text, i)
			batch = append(batch, in)
		}
	}
	wants := make([][]byte, len(ins))
	have := make([]bool, len(ins)) // the batch gave wants[i]
	outs, stderr := GNUEachStderr(t, batch, argv...)
	if outs != nil {
		for k, i := range text {
			wants[i], have[i] = outs[k], true
		}
	}
	for i, name := range names {
		t.Run(fmt.Sprintf("%s/%q", name, argv[1:]), func(t *testing.T) {
			if have[i] {
				got, code, diag, err := runPipelineDiag(t, cfg, shquote.Join(argv), ins[i], false)
				want, told := EachStatus(argv, wants[i])
				if err == nil && told && code == want && bytes.Equal(got, wants[i]) && DiffDiagnostics(diag, stderr) == "" {
					return
				}
			}
			DiffGNUEnv(t, cfg, ins[i], argv...)
		})
	}
}

// SortedInputs returns the names of inputs in order, and the inputs in the
// same order.
func SortedInputs(inputs map[string][]byte) ([]string, [][]byte) {
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	slices.Sort(names)
	ins := make([][]byte, len(names))
	for i, n := range names {
		ins[i] = inputs[n]
	}
	return names, ins
}
