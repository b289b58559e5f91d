package grep

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// TestIndexPairAgreesWithIndex: indexPair finds what bytes.Index finds, for
// every pair of positions of the literal, on text from small alphabets
// (dense candidates, several in one word) and larger ones, of lengths
// around its 32-byte steps, with the literal planted at the text's start,
// its end and across a step.
func TestIndexPairAgreesWithIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 14))
	alphabets := []string{"ab", "abAB\n", "\x00\x01\x80\xff\x7f", "abcdefghijklmnopqrstuvwxyz ABC\n", "aA`@[{ \xc1\xe1zZ"}
	for round := range 4000 {
		alpha := alphabets[round%len(alphabets)]
		text := randText(r, alpha, r.IntN(200))
		lit := randText(r, alpha, 2+r.IntN(14))
		if len(text) >= len(lit) {
			switch r.IntN(4) { // plant it
			case 0:
				copy(text, lit)
			case 1:
				copy(text[len(text)-len(lit):], lit)
			case 2:
				copy(text[r.IntN(len(text)-len(lit)+1):], lit)
			}
		}
		want := bytes.Index(text, lit)
		for i := range lit {
			for j := i + 1; j < len(lit); j++ {
				if got := indexPair(text, lit, i, j); got != want {
					t.Fatalf("indexPair(%q, %q, %d, %d) = %d, want %d", text, lit, i, j, got, want)
				}
				if got, want := countPair(text, lit, i, j), countPairNaive(text, lit, i, j); got != want {
					t.Fatalf("countPair(%q, %q, %d, %d) = %d, want %d", text, lit, i, j, got, want)
				}
			}
		}
		low, lowText := lowerCopy(lit), lowerCopy(text)
		wantFold := bytes.Index(lowText, low)
		ff := newFoldFinder(low)
		for i := range lit {
			for j := i + 1; j < len(lit); j++ {
				if got := indexPairFold(text, low, i, j, ff); got != wantFold {
					t.Fatalf("indexPairFold(%q, %q, %d, %d) = %d, want %d", text, low, i, j, got, wantFold)
				}
			}
		}
		if f := planFoldFinder(low, lowText, histogram(lowText), ff); f.index(text, low) != wantFold {
			t.Fatalf("planFoldFinder(%q, %q) = %+v: index %d, want %d", low, text, f, f.index(text, low), wantFold)
		}
		f := planFinder(lit, text, histogram(text))
		if got := f.index(text, lit); got != want {
			t.Fatalf("planFinder(%q, %q) = %+v: index %d, want %d", lit, text, f, got, want)
		}
	}
}

func countPairNaive(hay, lit []byte, i, j int) int {
	n := 0
	for s := 0; s+len(lit) <= len(hay); s++ {
		if hay[s+i] == lit[i] && hay[s+j] == lit[j] {
			n++
		}
	}
	return n
}

// TestPlanFinderOnBenchLog: on the log text make bench greps, the
// literals made of common letters are searched by pairs (with -i too),
// and a literal
// with a rare first byte (INFO, on every other line) by bytes.Index: the
// choices the differential tests of the bench log rely on to cover each
// path (TestGrepBenchLogPaths).
func TestPlanFinderOnBenchLog(t *testing.T) {
	var b bytes.Buffer
	if err := WriteBenchLog(&b, 256<<10); err != nil {
		t.Fatal(err)
	}
	sample := b.Bytes()
	h := histogram(sample)
	for _, c := range []struct {
		lit  string
		pair bool
	}{
		{"connection reset", true},
		{"timed out", true},
		{"refused", true},
		{"INFO", false},
	} {
		if f := planFinder([]byte(c.lit), sample, h); f.pair != c.pair {
			t.Errorf("planFinder(%q) = %+v, want pair %v", c.lit, f, c.pair)
		}
	}
	// -i: the literals of a fold set with a foldFinder
	low := lowerCopy(sample)
	hl := histogram(low)
	for _, lit := range []string{"connection reset", "timed out", "refused"} {
		if f := planFoldFinder([]byte(lit), low, hl, newFoldFinder([]byte(lit))); !f.pair {
			t.Errorf("planFoldFinder(%q) = %+v, want a pair", lit, f)
		}
	}
}

// BenchmarkFinders: the search planFinder picks for each literal of make
// bench's grep rows, over 16 MiB of its log text, every occurrence found
// in turn; x_index is its speed as a multiple of bytes.Index's, measured
// in the same run. Its figures set planFinder's cost model.
func BenchmarkFinders(b *testing.B) {
	var buf bytes.Buffer
	if err := WriteBenchLog(&buf, 16<<20); err != nil {
		b.Fatal(err)
	}
	text := buf.Bytes()
	h := histogram(text[:256<<10])
	all := func(index func(hay []byte) int, lit []byte) int {
		n := 0
		for p := 0; ; n++ {
			i := index(text[p:])
			if i < 0 {
				return n
			}
			p += i + len(lit)
		}
	}
	for _, lit := range []string{"connection reset", "timed out", "refused", "INFO", "ERROR", "Reset", "mallory", "status=500", "queue=default"} {
		l := []byte(lit)
		f := planFinder(l, text[:256<<10], h)
		b.Run(lit, func(b *testing.B) {
			if n, want := all(func(hay []byte) int { return f.index(hay, l) }, l), all(func(hay []byte) int { return bytes.Index(hay, l) }, l); n != want {
				b.Fatalf("%d found, bytes.Index %d", n, want)
			}
			var base, ours time.Duration // alternating, so both see the same machine
			b.SetBytes(int64(len(text)))
			for i := 0; b.Loop(); i++ {
				for k := range 2 {
					t0 := time.Now()
					if (i+k)%2 == 0 {
						all(func(hay []byte) int { return bytes.Index(hay, l) }, l)
						base += time.Since(t0)
					} else {
						all(func(hay []byte) int { return f.index(hay, l) }, l)
						ours += time.Since(t0)
					}
				}
			}
			b.ReportMetric(base.Seconds()/ours.Seconds(), "x_index")
		})
	}
}

// TestLastNewline: lastNewline is bytes.LastIndexByte(b, '\n'), on every
// length around its words, with newlines at each position and none.
func TestLastNewline(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 14))
	for n := range 40 {
		for round := range 50 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.IntN(256))
				if b[i] == '\n' || round%3 == 0 && r.IntN(n+1) == 0 {
					b[i] = "\n\x0a\x8a\x0b\x09"[r.IntN(5)]
				}
			}
			if got, want := lastNewline(b), bytes.LastIndexByte(b, '\n'); got != want {
				t.Fatalf("lastNewline(%q) = %d, want %d", b, got, want)
			}
		}
	}
}
