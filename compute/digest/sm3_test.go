package digest_test

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/internal/computetest"
)

// TestSM3VsGNU holds our SM3 to GNU cksum -a sm3 on every length up to
// three blocks (each place the padding can fall: 55, 56 and 63 bytes into
// a block), and on a larger input written in random pieces: a piece that
// fills a partial block, whole blocks in one write, and what is left.
func TestSM3VsGNU(t *testing.T) {
	in := computetest.RandomBytes(32905, 200_000)
	var lens []int
	for n := 0; n <= 3*digest.SM3BlockSize+1; n++ {
		lens = append(lens, n)
	}
	lens = append(lens, len(in))
	// One GNU run for every length: cksum prints a line per operand, and
	// reads each "-" until EOF, so the lengths go through files.
	dir := t.TempDir()
	var names []string
	for _, n := range lens {
		name := filepath.Join(dir, strconv.Itoa(n))
		if err := os.WriteFile(name, in[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	out, ok := computetest.GNU(t, nil, append([]string{"cksum", "-a", "sm3", "--untagged"}, names...)...)
	if !ok {
		t.Fatal("GNU cksum -a sm3 failed")
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(lens) {
		t.Fatalf("GNU printed %d lines for %d files", len(lines), len(lens))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, n := range lens {
		want, _, _ := strings.Cut(lines[i], " ")
		d := digest.NewSM3()
		for p := in[:n]; len(p) > 0; {
			k := min(len(p), 1+rng.IntN(3*digest.SM3BlockSize))
			d.Write(p[:k])
			p = p[k:]
		}
		if got := hex.EncodeToString(d.Sum(nil)); got != want {
			t.Fatalf("length %d: SM3 %s, GNU %s", n, got, want)
		}
		// Sum leaves the state as it was.
		if got := hex.EncodeToString(d.Sum(nil)); got != want {
			t.Fatalf("length %d: a second Sum gave %s, GNU %s", n, got, want)
		}
	}
	d := digest.NewSM3()
	d.Write(in)
	d.Reset()
	if got, _, _ := strings.Cut(lines[0], " "); !bytes.Equal([]byte(hex.EncodeToString(d.Sum(nil))), []byte(got)) {
		t.Fatalf("after Reset: %x, want the empty input's %s", d.Sum(nil), got)
	}
}

// BenchmarkSM3 is cksum -a sm3's hash over 1 MiB writes (GNU's, for
// comparison: time cksum -a sm3 < FILE).
func BenchmarkSM3(b *testing.B) {
	in := computetest.RandomBytes(1, 1<<20)
	d := digest.NewSM3()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		d.Write(in)
	}
}
