package builtin_test

import (
	"math/rand/v2"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/internal/textgen"
)

// TestTextDiffGenerated runs internal/textgen's command lines of tr,
// uniq, wc, base64, tac, head and tail (every getopt_long spelling of
// their flags, values at GNU's edges, inputs with NULs, CRs, high bytes
// and long lines) in process against GNU reading a pipe (checkCases: the
// output, the status, the diagnostics, or an error where GNU fails);
// every other case reads its input in pieces of random sizes. e2e's
// TestTextDiffRandom runs the same generator through a real halfclosed.
// TEXTDIFF_N cases (make test: 60; make fuzz: 3000), TEXTDIFF_SEED.
func TestTextDiffGenerated(t *testing.T) {
	t.Parallel()
	n := testenv.Uint(t, "TEXTDIFF_N", 60)
	seed := testenv.Uint(t, "TEXTDIFF_SEED", 20261206)
	// The seed, for a failure's report: a case prints its input cut to
	// 300 bytes, and make fuzz draws the seed from the clock.
	t.Logf("%d cases, TEXTDIFF_SEED=%d", n, seed)
	var cases []diffCase
	for i := range n {
		r := rand.New(rand.NewPCG(seed, i))
		argv, in := textgen.Case(r)
		c := diffCase{argv: argv, input: in}
		if i%2 == 1 {
			c.reads = r.Uint64() | 1
		}
		cases = append(cases, c)
	}
	checkCases(t, cases)
}
