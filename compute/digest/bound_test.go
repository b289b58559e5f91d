package digest_test

import (
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// TestDigestOutputBound: a digest stage that states a bound on its output
// (compute.BoundedStage: the engine then runs its job on the caller's
// goroutine, with no release of the reply while it runs) never writes
// more, whatever its flags and input; and every digest command states
// one, so that small digest jobs take that path.
func TestDigestOutputBound(t *testing.T) {
	r := compute.NewRegistry()
	digest.Register(r)
	texts := []string{"crc32c", "crc32c - - -", "xxh3 -", "sha512sum --tag - - - -", "b2sum -l 8 --tag -z - -",
		"cksum -a sysv - -", "cksum -a bsd", "cksum -a blake2b -l 8 --untagged -", "cksum -a sha512", "b3sum -l 100 - -", "b3sum --raw -l 3", "b3sum --no-names"}
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
		if bound < 0 {
			t.Errorf("%s: no bound on its output", text)
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
