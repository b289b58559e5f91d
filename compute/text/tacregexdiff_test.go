package text_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/internal/textgen"
)

// tacRegexInput draws an input for a tac -r separator: bytes of a small
// alphabet (textgen.TacRegexAlphabet), in runs, of about size bytes.
func tacRegexInput(r *rand.Rand, size int) []byte {
	const alpha = textgen.TacRegexAlphabet
	b := make([]byte, 0, size)
	for len(b) < size {
		c := alpha[r.IntN(len(alpha))]
		for range 1 + r.IntN(1+r.IntN(4)) {
			b = append(b, c)
		}
	}
	return b
}

// TestTacRegexDiffGNU: generated tac -r and tac -r -b separators
// (textgen.TacRegex) over inputs of up to 300 KB, where GNU's blocks and
// the searches that start again at a block's start (its anchors there)
// show, against GNU tac. TACREDIFF_N cases (make test: 40; make fuzz:
// 2000), TACREDIFF_SEED.
func TestTacRegexDiffGNU(t *testing.T) {
	t.Parallel()
	n := testenv.Uint(t, "TACREDIFF_N", 40)
	seed := testenv.Uint(t, "TACREDIFF_SEED", 20261207)
	t.Logf("%d cases, TACREDIFF_SEED=%d", n, seed)
	for i := range n {
		r := rand.New(rand.NewPCG(seed, i))
		sep := textgen.TacRegex(r)
		size := r.IntN(200)
		switch r.IntN(3) {
		case 1:
			size = 8000 + r.IntN(30000)
		case 2:
			size = 64<<10 + r.IntN(240<<10)
		}
		in := tacRegexInput(r, size)
		argv := []string{"tac", "-r", "-s", sep}
		if r.IntN(2) == 0 {
			argv = []string{"tac", "-b", "-r", "-s", sep}
		}
		t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) {
			t.Logf("%s on %d bytes", strings.Join(argv, " "), len(in))
			diffTacRegex(t, in, argv...)
		})
	}
}
