package digest_test

import (
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// TestDigestOutputBound: a digest stage that states a bound on its output
// (compute.BoundedStage: the engine then runs its job on the caller's
// goroutine, with no release of the reply while it runs) never writes
// more, whatever its flags and input; and the GNU-style sums and the
// non-GNU checksums state one, so that small digest jobs take that path.
func TestDigestOutputBound(t *testing.T) {
	r := compute.NewRegistry()
	digest.Register(r)
	texts := []string{"crc32c", "crc32c - - -", "xxh3 -", "sha512sum --tag - - - -", "b2sum -l 8 --tag -z - -"}
	for _, tc := range digestCases {
		texts = append(texts, tc[0])
	}
	inputs := [][]byte{nil, []byte("a"), computetest.RandomBytes(5, 70_000)}
	for _, text := range texts {
		p, err := engine.Compile(r, &compute.Env{Patterns: compute.NewPatternBudget(compute.MaxPatternInsts)}, text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		b, ok := p.Stages[0].(compute.BoundedStage)
		bound := int64(-1)
		if ok {
			bound = b.MaxOutput()
		}
		name := strings.Fields(text)[0]
		if bound < 0 && name != "cksum" && name != "b3sum" {
			t.Errorf("%s: no bound on its output", text)
		}
		if bound < 0 {
			continue
		}
		for _, in := range inputs {
			out, err := computetest.RunPipeline(t, text, in)
			if err != nil {
				t.Fatalf("%s: %v", text, err)
			}
			if int64(len(out)) > bound {
				t.Errorf("%s over %d bytes: %d bytes of output, more than its bound %d", text, len(in), len(out), bound)
			}
		}
	}
}
