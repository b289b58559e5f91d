package text_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
)

// tacDiffInput is an input made of pieces of sep (whole, its prefixes and
// its suffixes) and runs of its bytes, about size bytes: separators and
// near-separators fall at every offset, across GNU tac's block boundaries.
func tacDiffInput(r *rand.Rand, sep string, size int) []byte {
	var b bytes.Buffer
	for b.Len() < size {
		switch r.IntN(5) {
		case 0:
			b.WriteString(sep)
		case 1:
			b.WriteString(sep[:r.IntN(len(sep))+1])
		case 2:
			b.WriteString(sep[r.IntN(len(sep)):])
		case 3:
			b.WriteString(strings.Repeat(sep[r.IntN(len(sep)):][:1], r.IntN(3*len(sep)+2)))
		default:
			b.WriteString("y\n"[r.IntN(2):])
		}
	}
	return b.Bytes()
}

// TestTacSeparatorDiffGNU: tac -s and -b -s with separators of 2 to 12,000
// bytes that overlap themselves, over inputs of their pieces of 1 KB to
// 70 KB, against GNU tac; then tac -b -s with separators of 1,000 to 9,000
// bytes over 40 KB to 100 KB, seeds whose candidates at a block boundary
// read past the pending record into the block GNU read before (tacMemory:
// 10 of the first 700 seeds do; no other test reached that branch, and
// its off-by-one passed them).
func TestTacSeparatorDiffGNU(t *testing.T) {
	check := func(what string, sep string, in []byte, argv ...string) {
		got, err := computetest.RunPipeline(t, shquote.Join(argv), in)
		if err != nil {
			t.Fatal(err)
		}
		if want, ok := computetest.GNU(t, in, argv...); !ok || !bytes.Equal(got, want) {
			t.Errorf("%s, %s of %d bytes on %d bytes: got %d bytes %q, want %d bytes %q (GNU ok %v)", what, argv[1], len(sep), len(in), len(got), computetest.Trunc(got), len(want), computetest.Trunc(want), ok)
		}
	}
	seps := []string{"aa", "aab", "aba", strings.Repeat("a", 100) + "b", "b" + strings.Repeat("a", 700),
		strings.Repeat("ab", 2000), strings.Repeat("a", 5000) + "b" + strings.Repeat("a", 3000), strings.Repeat("a", 12000)}
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 42))
		for _, sep := range seps {
			in := tacDiffInput(r, sep, 1000+r.IntN(70000))
			check(fmt.Sprintf("seed %d", seed), sep, in, "tac", "-s", sep)
			check(fmt.Sprintf("seed %d", seed), sep, in, "tac", "-b", "-s", sep)
		}
	}
	for _, seed := range []uint64{15, 127, 193, 272, 300, 489, 656, 709, 729, 915} {
		r := rand.New(rand.NewPCG(seed, 7))
		sep := strings.Repeat("a", 1000+r.IntN(8000)-1) + "b"
		if r.IntN(2) == 0 {
			sep = strings.Repeat("a", len(sep))
		}
		in := tacDiffInput(r, sep, 40000+r.IntN(60000))
		check(fmt.Sprintf("past the record, seed %d", seed), sep, in, "tac", "-b", "-s", sep)
	}
}
