package builtin_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
	"github.com/halfclose/halfclose/internal/testenv"
)

// The generated run above gives GNU a pipe (grep -T aside); a client
// whose input is a regular file (halfclose wc < FILE: input_file_size,
// @file=N) makes the first stage print what GNU prints reading that file,
// where GNU tells the two apart: wc's widths and its count of the bytes
// alone from the size for every "-" operand, head's seek back after the
// N-th line, tail reading back from the end (docs/protocol.md). This run
// draws lines of those commands from the same generators, with "-"
// operands added more often, and compares them with GNU reading the input
// from a regular file. wc -m - - < FILE printed 0 for every "-" after the
// first, where GNU counts -m (bytes, in the C locale) from the size as it
// does -c; head -n N - - - lost bytes after a long line.
//
// FILEINPUTDIFF_N sets the number of cases (default: a short run for make
// test), FILEINPUTDIFF_SEED the seed.

// fileInputCmds are the commands whose GNU reads a regular file otherwise
// than a pipe, and their weights.
var fileInputCmds = map[string]int{"wc": 4, "head": 3, "tail": 3, "tac": 2}

// fileInputCases draws n lines of fileInputCmds.
func fileInputCases(seed uint64, n int) []diffCase {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))}
	var gens []*cmdGen
	for _, cg := range diffGens {
		for range fileInputCmds[cg.name] {
			gens = append(gens, cg)
		}
	}
	cases := make([]diffCase, 0, n)
	for len(cases) < n {
		c := gens[g.n(len(gens))].generate(g)
		if g.chance(0.6) {
			for range 1 + g.n(2) {
				c.argv = append(c.argv, "-")
			}
		}
		if g.chance(0.2) {
			// sizes at and beside a page: GNU wc reads a file whose
			// size is a multiple of it
			size := g.pick1(4095, 4096, 4097, 8192)
			c.input = bytes.Repeat(append(c.input, 'x', '\n'), 1+size/(len(c.input)+2))[:size]
		}
		if g.chance(0.3) {
			c.reads = g.r.Uint64() | 1
		}
		if c.argv[0] == "head" && g.chance(0.3) {
			// short lines around one of 200 KB, in one read: the reads
			// of one "-" grow past those of the next, which may take its
			// lines from part of the bytes the one before read past its
			// own, and the count takes the "-" after it past those
			var b strings.Builder
			count := 200 + g.n(3000)
			long := g.n(count)
			for i := range count*3 + g.n(1000) {
				fmt.Fprintf(&b, "%0*d\n", 1+g.n(12), i)
				if i == long {
					b.WriteString(strings.Repeat("y", 200000) + "\n")
				}
			}
			c.input = []byte(b.String())
			c.argv = []string{"head", "-n", strconv.Itoa(count), "-", "-", "-"}
			c.reads = 0
		}
		cases = append(cases, c)
	}
	return cases
}

// fileInputAccepted reports whether a difference is one docs/protocol.md
// accepts: tac's later "-" operands after a record over GNU's 8 KiB
// reads, and tail -c +N seeking past what GNU's filesystem allows.
func fileInputAccepted(c diffCase, r diffResult) bool {
	switch {
	case c.argv[0] == "tac" && slicesCount(c.argv, "-") > 1 && len(c.input) > 8192:
		return true
	case c.argv[0] == "tail" && bytes.Contains(r.gnuErr, []byte("cannot seek to relative offset")):
		return true
	}
	return false
}

func TestGNUDiffFileInput(t *testing.T) {
	t.Parallel()
	// make test runs 120 (the default seed draws both wc -m - - and a head
	// -n N - - - after a long line; both differed before their fixes),
	// make test-long 480, make fuzz 3000.
	n := 120
	if testenv.Long() {
		n = 480
	}
	n = int(testenv.Uint(t, "FILEINPUTDIFF_N", uint64(n)))
	seed := testenv.Uint(t, "FILEINPUTDIFF_SEED", 8)
	runner := newGNURunner(t)
	paths := map[string]string{}
	for name := range fileInputCmds {
		paths[name] = testenv.Tool(t, name)
	}
	diffs := 0
	perCmd := map[string]int{}
	for _, c := range fileInputCases(seed, n) {
		perCmd[c.argv[0]]++
		var r diffResult
		r.ourOut, r.ourCode, r.ourDiag, r.ourErr = computetest.RunPipelineReads(t, engine.Config{}, shquote.Join(c.argv), c.input, true, c.reads)
		r.gnuOut, r.gnuErr, r.gnuCode, r.skipped = runner.gnuFrom(t, paths[c.argv[0]], c.argv, c.input, true)
		if v := c.verdict(r); v != "" && !fileInputAccepted(c, r) {
			diffs++
			if diffs <= 20 {
				t.Errorf("%s < FILE\n  %s", c, v)
			}
		}
	}
	var sum []string
	for _, k := range slices.Sorted(maps.Keys(perCmd)) {
		sum = append(sum, fmt.Sprintf("%s %d", k, perCmd[k]))
	}
	t.Logf("seed %d: %d cases from a regular file (%s), %d differences", seed, n, strings.Join(sum, ", "), diffs)
}
