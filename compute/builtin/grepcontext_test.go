package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// contextInputs are grep inputs for the context flags: selected lines
// adjacent, one or more apart, at the start and the end, no final
// newline, empty lines, a NUL, and drawn runs of a few words.
func contextInputs() []string {
	ins := []string{
		"",
		"a\n",
		"a",
		"x\n",
		"\n\n\n",
		"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n",
		"a\nb\na\nb\nb\na\nb\nb\nb\na\nb\nb\nb\nb\na\n",
		"b\nb\nb\na\nb\nb\nb\nb\nb\nb\nb\na\na\nb\nb\nb",
		"ab\nAB\nx ab y\nabc\n\nab\nb a\n",
		"a\nb\nc\x00\nd\na\n",
		"b\nb\nb\nb\nb\nb\na",
		"a\na\na\nb\n\nb\na\n\n",
	}
	r := rand.New(rand.NewPCG(7, 11))
	for range 6 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteString([]string{"a", "b", "c", "ab", "", "A", "a b", "bab", "xa\xffx"}[r.IntN(9)])
			b.WriteByte('\n')
		}
		if r.IntN(3) == 0 {
			b.WriteString("tail a")
		}
		ins = append(ins, b.String())
	}
	return ins
}

// contextArgvs crosses the context flags with the flags they interact with.
func contextArgvs() [][]string {
	ctxs := [][]string{
		{"-A1"}, {"-A", "2"}, {"-B1"}, {"-B", "3"}, {"-C1"}, {"-C", "2"}, {"-1"}, {"-2"}, {"-12"},
		{"-A0"}, {"-B0"}, {"-C0"}, {"-0"}, {"--context=1"}, {"--after-context=2"}, {"--before-context=2"},
		{"-A1", "-B2"}, {"-C1", "-A3"}, {"-A3", "-C1"}, {"-A1", "-A2"}, {"-2", "-C1"}, {"-C1", "-2"}, {"-B1", "-3"},
		{"-1", "-2"}, {"-1n2"}, {"-n12"}, {"-00"}, {"-007"}, {"-A", " +1"}, {"-A", "99999999999999999999"},
		{"-B", "99999999999999999999"}, {"-999999999999999999999"}, {"-C1", "--group-separator=XX"},
		{"-A1", "--group-separator="}, {"-A1", "--no-group-separator"}, {"-B1", "--group-separator", "::", "--no-group-separator"},
		{"--no-group-separator", "--group-separator=##", "-C1"},
	}
	others := [][]string{
		{"a"}, {"-n", "a"}, {"-H", "a"}, {"--label=in", "-Hn", "a"}, {"-v", "a"}, {"-vn", "a"}, {"-m1", "a"},
		{"-m2", "-n", "a"}, {"-v", "-m2", "a"}, {"-o", "a"}, {"-on", "a"}, {"-vo", "a"}, {"-von", "-H", "a"},
		{"-c", "a"}, {"-l", "a"}, {"-L", "a"}, {"-q", "a"}, {"-x", "a"}, {"-w", "a"}, {"-i", "a"}, {"-e", "a", "-e", "c"},
		{"-a", "-n", "a"}, {"-E", "a|^$"}, {"-F", "ab"}, {"-oxw", "ab"}, {"-voxw", "ab"}, {"-m1", "-c", "a"}, {"-nH", "-m", "1", "-v", "b"},
	}
	var argvs [][]string
	for i, c := range ctxs {
		for j, o := range others {
			// every context form with the plain pattern, the others
			// with a few forms each
			if j > 0 && (i+j)%6 != 0 {
				continue
			}
			argvs = append(argvs, append(append([]string{"grep"}, c...), o...))
		}
	}
	return argvs
}

// TestGNUGrepContext compares the context flags (-A -B -C -NUM, the group
// separator) with GNU grep over inputs and flag combinations.
func TestGNUGrepContext(t *testing.T) {
	t.Parallel()
	checkCross(t, contextInputs(), contextArgvs())
}

// TestGNUGrepContextErrors: the values GNU refuses are errors here.
func TestGNUGrepContextErrors(t *testing.T) {
	t.Parallel()
	var cases []diffCase
	for _, argv := range [][]string{
		{"-A", "-1"}, {"-A", "x"}, {"-B", ""}, {"-C", "1k"}, {"--context=-2"}, {"-9999999999999999999999"},
		{"-A", "-99999999999999999999"}, {"-C", "0x10"}, {"-m0", "-A", "x"},
	} {
		cases = append(cases, diffCase{argv: append(append([]string{"grep"}, argv...), "a"), input: []byte("a\nb\n")})
	}
	checkCases(t, cases)
	for _, argv := range []string{"grep -A -1 a", "grep -9999999999999999999999 a"} {
		_, err := computetest.RunPipeline(t, argv, []byte("a\n"))
		if err == nil || !strings.Contains(err.Error(), "invalid context length argument") {
			t.Errorf("%s: %v, want an invalid context length error", argv, err)
		}
	}
}

// contextLog is 60000 lines, made with errFmt or infoFmt (each given the
// line's number), the ERROR lines few and some of them on both sides of
// GNU's 96 KiB blocks: an input of several read blocks for the context
// tests.
func contextLog(errFmt, infoFmt string) []byte {
	var b strings.Builder
	for i := range 60000 {
		switch {
		case i%7919 == 0 || i%10007 < 2:
			fmt.Fprintf(&b, errFmt, i)
		default:
			fmt.Fprintf(&b, infoFmt, i)
		}
	}
	return []byte(b.String())
}

// TestGNUGrepContextBig: context over inputs of several read blocks, with
// selected lines on both sides of block boundaries, and -B holding more
// than the spool's memory (spilled to its file), against GNU.
func TestGNUGrepContextBig(t *testing.T) {
	t.Parallel()
	in := contextLog("ERROR line %d\n", "info line %d of some text\n")
	g := newGNURunner(t)
	cfg := engine.Config{}
	cfg.Spool = compute.SpoolConfig{MemBytes: 4 << 10, Dir: t.TempDir()}
	for _, argv := range [][]string{
		{"grep", "-n", "-B", "3000", "ERROR"}, {"grep", "-C", "5", "ERROR"}, {"grep", "-A", "2000", "-m", "3", "ERROR"},
		{"grep", "-v", "-B2", "info"}, {"grep", "-c", "-C3", "ERROR"}, {"grep", "-B", "100000", "ERROR"},
		{"grep", "-b", "-B", "3000", "ERROR"}, {"grep", "-bo", "-C", "2", "ERROR"}, {"grep", "-bv", "info"},
	} {
		want, _, code, _ := g.gnu(t, "/usr/bin/grep", argv, in)
		if code >= 2 {
			t.Fatalf("%v: GNU fails", argv)
		}
		got, err := computetest.RunPipelineEnv(t, cfg, strings.Join(argv, " "), in)
		if err != nil || string(got) != string(want) {
			t.Errorf("%v: %d bytes, %v; GNU %d bytes", argv, len(got), err, len(want))
		}
	}
}

// TestGNUGrepContextBinary: after-context pending when GNU meets the
// read block with a NUL, which it prints from that block (its NULs made
// newlines) unless a line of the block is selected.
func TestGNUGrepContextBinary(t *testing.T) {
	t.Parallel()
	const block = 96 << 10
	var inputs []string
	for _, tail := range []string{"x\ny\x00z\nw\n", "x\x00\nERROR\nw\n", "\x00\x00\nq\n", "p\nq\nr\ns\nt\nu\nv\n\x00"} {
		for _, at := range []int{0, 3, 40} {
			head := strings.Repeat("info line\n", (block-at-30)/10)
			in := head + "ERROR one\n" + strings.Repeat("i\n", at/2)
			for len(in) < block {
				in += "k"
			}
			in = in[:block-1] + "\n" + tail
			for _, more := range []string{"", strings.Repeat("more ERROR\n", 20), strings.Repeat("filler\n", block/7) + "late ERROR\n"} {
				inputs = append(inputs, in+more)
			}
		}
	}
	// 36 inputs of 96 KiB and more by 7 argvs: half of them under make
	// test (checkCross), every argv over every input under make test-long
	checkCross(t, inputs, [][]string{
		{"grep", "-A5", "ERROR"}, {"grep", "-nA2", "ERROR"}, {"grep", "-A1", "-m1", "ERROR"}, {"grep", "-C3", "ERROR"},
		{"grep", "-vA9", "info"}, {"grep", "-oA3", "ERROR"}, {"grep", "-bnA5", "ERROR"},
	})
}

// TestGrepContextRefused: -v with a negative -m and context lines, where
// GNU's context follows its read buffer, is refused, not answered wrong.
func TestGrepContextRefused(t *testing.T) {
	t.Parallel()
	for _, argv := range []string{"grep -v -m -1 -A1 a", "grep -vm-2 -C1 a", "grep -v -1 -m -1 a"} {
		_, err := computetest.RunPipeline(t, argv, []byte("a\nb\nc\na\n"))
		if err == nil || !strings.Contains(err.Error(), "unsupported") || !strings.Contains(err.Error(), "negative -m") {
			t.Errorf("%s: %v, want unsupported -v with a negative -m and context", argv, err)
		}
	}
	// where no line is printed, context is ignored, as in GNU
	checkCases(t, []diffCase{{argv: []string{"grep", "-c", "-v", "-m", "-1", "-A1", "a"}, input: []byte("a\nb\n")}})
}

// TestGNUGrepNull: -Z (--null) puts a NUL after the input's name, in
// place of ':', '-' or the newline of -l and -L.
func TestGNUGrepNull(t *testing.T) {
	t.Parallel()
	var argvs [][]string
	for _, f := range [][]string{
		{"-HZ", "a"}, {"-Z", "a"}, {"--null", "-H", "-n", "a"}, {"-ZHc", "a"}, {"-Zc", "a", "-", "-"}, {"-lZ", "a"}, {"-LZ", "a"},
		{"-Zl", "a", "-", "-"}, {"-ZL", "a", "-", "-"}, {"-Z", "--label=in", "-H", "-n", "-C1", "a"}, {"-ZHo", "a"}, {"-ZHv", "-A1", "a"},
		{"-Z", "-q", "a"}, {"-Z", "-h", "a", "-", "-"}, {"-ZH", "-m1", "-A1", "a"},
	} {
		argvs = append(argvs, append([]string{"grep"}, f...))
	}
	checkCross(t, []string{"", "a\n", "b\nab\nc\nd\na", "x\n\ny\n"}, argvs)
}

// TestGNUGrepByteOffset: -b prefixes each output line (context lines
// too) or -o match with its byte offset in the input, after the name and
// the line number, as GNU grep 3.8.
func TestGNUGrepByteOffset(t *testing.T) {
	t.Parallel()
	var argvs [][]string
	for _, f := range [][]string{
		{"-b", "a"}, {"-bo", "a"}, {"-bn", "a"}, {"-bH", "a"}, {"-bv", "a"}, {"-bo", "."}, {"-bo", "[^a]b*"}, {"-bio", "A"},
		{"-b", "-C1", "a"}, {"-bn", "-B2", "b"}, {"-bnH", "-A1", "-v", "a"}, {"-bo", "-C1", "a"}, {"-bov", "-A1", "a"}, {"-bc", "a"},
		{"-bl", "a"}, {"-b", "-m1", "-A2", "a"}, {"-bo", "-x", "-w", "ab"}, {"-bwo", "ab"}, {"-bF", "-e", "b", "-e", "ab"},
		{"-bo", "x.x"}, {"-bZH", "a"}, {"-ub", "a"}, {"--byte-offset", "-E", "a|$"}, {"-bo", "-E", "é|a"},
	} {
		argvs = append(argvs, append([]string{"grep"}, f...))
	}
	// past GNU's 96 KiB read block: once under make test (107 KB), twice
	// under make test-long (258 KB)
	reps := 2500
	if testenv.Long() {
		reps = 6000
	}
	big := strings.Repeat("\xe9a\xe9 line\n\xff\xfeab\nab\xe9ab x.x\nplain text here\n", reps)
	checkCross(t, append(contextInputs()[:14], "\xe9a\xe9\n\xff\xfeab\nab\xe9ab\n", "xa\xffx\nx\xe9x ab\n", big), argvs)
}

// cancelOnWrite cancels its job at the first write, and counts the bytes
// written.
type cancelOnWrite struct {
	n      int64
	cancel context.CancelFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	c.cancel()
	c.n += int64(len(p))
	return len(p), nil
}

// TestGrepContextCancelFlush: a job cancelled while it prints the lines
// -B held in its spill file stops printing them and returns the cancel;
// it printed all of them (16 MiB here) and returned no error.
func TestGrepContextCancelFlush(t *testing.T) {
	t.Parallel()
	disk := compute.NewDiskBudget(1 << 30)
	cfg := engine.Config{Spool: compute.SpoolConfig{MemBytes: 4 << 10, Dir: t.TempDir(), Disk: disk}}
	p, err := computetest.Engine(cfg).Compile("grep -B 100000000 ERROR")
	if err != nil {
		t.Fatal(err)
	}
	const size = 16 << 20
	in := strings.Repeat("info line of text\n", size/18) + "ERROR\n"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOnWrite{cancel: cancel}
	err = p.Stages[0].Run(ctx, strings.NewReader(in), out)
	if !errors.Is(err, context.Canceled) || out.n > size/4 {
		t.Errorf("cancelled at its first write: returned %v after writing %d bytes; want the cancel, and well under %d bytes", err, out.n, size)
	}
	if u := disk.Used(); u != 0 {
		t.Errorf("disk budget still holds %d bytes", u)
	}
}

// TestGNUGrepContextDigitWords: how GNU joins the digits of -NUM depends
// on getopt's optind, not on words alone: after operands getopt skipped,
// a word's first digit is dropped (grep a -23 is -3), and a run across
// words restarts (-12 -34 is 34, -12 a -34 is 4).
func TestGNUGrepContextDigitWords(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 80 {
		if i == 40 {
			b.WriteString("a\n")
		}
		fmt.Fprintf(&b, "line %d\n", i)
	}
	var cases []diffCase
	for _, argv := range [][]string{
		{"a", "-23"}, {"a", "-234"}, {"a", "-12", "-34"}, {"-12", "a", "-34"}, {"-12", "-34", "a"},
		{"-2", "a", "-3"}, {"a", "-n23"}, {"a", "-2n3"}, {"a", "-1", "-2"}, {"-e", "a", "-23"},
		{"-ea", "-23"}, {"a", "-", "-23"}, {"a", "-023"}, {"a", "-0023"}, {"a", "-203"}, {"-1", "a", "-23"},
		{"a", "-A1", "-23"}, {"a", "-23", "-4"}, {"-n", "a", "-2", "-34"}, {"--", "a", "-23"},
		{"-2", "a", "-11"}, {"a", "-12n"}, {"a", "-30"},
	} {
		cases = append(cases, diffCase{argv: append([]string{"grep"}, argv...), input: []byte(b.String())})
	}
	checkCases(t, cases)
}
