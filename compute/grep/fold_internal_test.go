package grep

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestSearchersAgreeWithIndex: the fold finder and the anchored search
// find what bytes.Index finds (in the lower-cased text for the finder), at
// every anchor, on text from a small alphabet where candidates are dense
// (the anchored search's switch to bytes.Index) and on sparse text.
func TestSearchersAgreeWithIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 14))
	alphabets := []string{"abAB", "aA`@[{ \xc1\xe1", "abcdefghijklmnopqrstuvwxyz ABC\n"}
	for round := range 3000 {
		alpha := alphabets[round%len(alphabets)]
		text := randText(r, alpha, r.IntN(400))
		lit := randText(r, alpha, 1+r.IntN(12))
		if r.IntN(2) == 0 && len(text) > len(lit) { // plant it
			copy(text[r.IntN(len(text)-len(lit)):], lit)
		}
		for k := range lit {
			if got, want := indexAnchored(text, lit, k), bytes.Index(text, lit); got != want {
				t.Fatalf("indexAnchored(%q, %q, %d) = %d, want %d", text, lit, k, got, want)
			}
		}
		low := lowerCopy(lit)
		if got, want := newFoldFinder(low).index(text), bytes.Index(lowerCopy(text), low); got != want {
			t.Fatalf("foldFinder(%q).index(%q) = %d, want %d", low, text, got, want)
		}
	}
}

// randText is n bytes drawn from alpha.
func randText(r *rand.Rand, alpha string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[r.IntN(len(alpha))]
	}
	return b
}
