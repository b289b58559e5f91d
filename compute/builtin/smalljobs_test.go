package builtin_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/shquote"
)

// smallJobSizes are the inputs' sizes, in the order the jobs run: large and
// small jobs alternate, and sizes sit on the edges where a buffer that
// grows on demand (4 KiB, doubling) grows, so that a buffer or compressor
// kept from an earlier job that leaks its bytes into a later one, or a
// growth that drops or repeats bytes, changes some output.
var smallJobSizes = []int{0, 1, 1000, 300_000, 4095, 4096, 4097, 70_000, 8191, 8193, 20, 140_000, 12_289, 5, 1000}

// smallJobLines returns about n bytes of lines (cut to n exactly, so the
// last line may lack its newline) with fields, numbers and repeats.
func smallJobLines(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 77))
	var b bytes.Buffer
	words := []string{"ERROR", "INFO", "debug", "svc=api", "req", "took", "a", "Zz", ""}
	var prev []byte
	for b.Len() < n {
		if prev != nil && r.IntN(4) == 0 { // a run of equal lines, for uniq
			b.Write(prev)
			continue
		}
		start := b.Len()
		for k := r.IntN(8); k >= 0; k-- {
			if r.IntN(3) == 0 {
				fmt.Fprintf(&b, "%d", r.IntN(100000)-500)
			} else {
				b.WriteString(words[r.IntN(len(words))])
			}
			b.WriteByte(" \t "[r.IntN(3)])
		}
		b.WriteByte('\n')
		prev = append(prev[:0], b.Bytes()[start:]...)
	}
	return b.Bytes()[:n]
}

// TestSmallJobsInSequence runs many jobs of each command one after the
// other in one process, small and large, against GNU: the buffers that
// grow on demand and the pooled gzip compressors and gunzip readers must
// give every job GNU's output, whatever ran before it.
func TestSmallJobsInSequence(t *testing.T) {
	t.Parallel()
	run := func(text string, in []byte) []byte {
		t.Helper()
		out, err := computetest.RunPipeline(t, text, in)
		if err != nil {
			t.Fatalf("%s over %d bytes: %v", text, len(in), err)
		}
		return out
	}
	cmds := [][]string{
		{"sort"}, {"sort", "-n"}, {"sort", "-u", "-k2,2"}, {"sort", "-m"}, {"uniq", "-c"},
		{"tac"}, {"tail", "-n", "5"}, {"head", "-n", "-5"}, {"head", "-n", "5"}, {"tail", "-c", "+7"},
		{"cut", "-d", " ", "-f", "1,3"}, {"cut", "-c", "2-9"}, {"tr", "a-z", "A-Z"}, {"tr", "-s", " "},
		{"base64"}, {"base64", "-w", "0"},
	}
	for i, n := range smallJobSizes {
		in := smallJobLines(uint64(i), n)
		for _, argv := range cmds {
			want, ok := computetest.GNU(t, in, argv...)
			if !ok {
				t.Fatalf("GNU %s failed over %d bytes", shquote.Join(argv), n)
			}
			if got := run(shquote.Join(argv), in); !bytes.Equal(got, want) {
				t.Fatalf("%s over %d bytes (job %d):\n got %q\nwant %q", shquote.Join(argv), n, i, computetest.Trunc(got), computetest.Trunc(want))
			}
		}
		enc, _ := computetest.GNU(t, in, "base64")
		if got := run("base64 -d", enc); !bytes.Equal(got, in) {
			t.Fatalf("base64 -d over %d bytes (job %d): got %q", len(enc), i, computetest.Trunc(got))
		}
		// gzip's output need not be GNU's, but GNU gunzip must read it back.
		for _, level := range []string{"-1", "-6", "-9"} {
			z := run("gzip -c "+level, in)
			if back, ok := computetest.GNU(t, z, "gunzip", "-c"); !ok || !bytes.Equal(back, in) {
				t.Fatalf("gzip -c %s over %d bytes (job %d): GNU gunzip gave %q (ok %v)", level, n, i, computetest.Trunc(back), ok)
			}
		}
		z, _ := computetest.GNU(t, in, "gzip", "-c")
		if got := run("gunzip -c", z); !bytes.Equal(got, in) {
			t.Fatalf("gunzip -c over %d bytes (job %d): got %q", len(z), i, computetest.Trunc(got))
		}
	}
}
