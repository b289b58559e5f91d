package digest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/cputime"
	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/zeebo/blake3"
	lblake3 "lukechampine.com/blake3"
)

// writeIn writes in to h in writes of size bytes (all at once for 0).
func writeIn(h io.Writer, in []byte, size int) {
	if size == 0 {
		size = len(in) + 1
	}
	for len(in) > 0 {
		k := min(size, len(in))
		h.Write(in[:k])
		in = in[k:]
	}
}

// xof reads n bytes of p's extended output.
func xof(t *testing.T, p *parallelBlake3, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(p.XOF(), b); err != nil {
		t.Fatal(err)
	}
	return b
}

// withProcs runs f with GOMAXPROCS 1 (no goroutines: every block hashed
// in Write), 2 and 5 (helpers, more than the tasks of a small tail).
func withProcs(t *testing.T, f func(t *testing.T)) {
	for _, procs := range []int{1, 2, 5} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			old := runtime.GOMAXPROCS(procs)
			defer runtime.GOMAXPROCS(old)
			f(t)
		})
	}
}

// TestParallelBlake3Vectors checks the three modes against the official
// BLAKE3 test vectors (testdata/blake3_vectors.json, the BLAKE3 team's
// test_vectors.json as lukechampine.com/blake3 ships it): 131 bytes of
// extended output each, the input written at once and in odd pieces.
func TestParallelBlake3Vectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/blake3_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Key   string
		Cases []struct {
			InputLen  int    `json:"input_len"`
			Hash      string `json:"hash"`
			KeyedHash string `json:"keyed_hash"`
			DeriveKey string `json:"derive_key"`
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) < 20 {
		t.Fatalf("%d vectors", len(v.Cases))
	}
	const ctx = "BLAKE3 2019-12-27 16:29:52 test vectors context"
	withProcs(t, func(t *testing.T) {
		for _, c := range v.Cases {
			in := make([]byte, c.InputLen)
			for i := range in {
				in[i] = byte(i % 251)
			}
			for _, size := range []int{0, 1, 63, 1023, 1025} {
				for _, m := range []struct {
					name string
					h    *parallelBlake3
					want string
				}{
					{"hash", newParallelBlake3(), c.Hash},
					{"keyed", newKeyedBlake3([]byte(v.Key)), c.KeyedHash},
					{"derive", newDeriveKeyBlake3(ctx), c.DeriveKey},
				} {
					writeIn(m.h, in, size)
					if got := hex.EncodeToString(xof(t, m.h, len(m.want)/2)); got != m.want {
						t.Fatalf("%s of %d bytes in writes of %d: %s, want %s", m.name, c.InputLen, size, got, m.want)
					}
					if got := hex.EncodeToString(m.h.Sum(nil)); got != m.want[:64] {
						t.Fatalf("%s of %d bytes in writes of %d: Sum %s, want %s", m.name, c.InputLen, size, got, m.want[:64])
					}
				}
			}
		}
	})
}

// b3parBlock is 1 MiB, an edge of the lengths and writes tested (the
// block small writes were gathered into before).
const b3parBlock = 1 << 20

// b3Lengths are around the chunk (1 KiB), 16-chunk, task (64 KiB) and
// block (1 MiB) edges, and several blocks.
var b3Lengths = []int{0, 1, 64, 1023, 1024, 1025, 2047, 2048, 3073, 16<<10 - 1, 16 << 10, 16<<10 + 1,
	b3TaskBytes - 1, b3TaskBytes, b3TaskBytes + 1, 31*b3ChunkSize + 5, b3parBlock - 1025, b3parBlock - 1,
	b3parBlock, b3parBlock + 1, b3parBlock + 1024, b3parBlock + 1025, 2*b3parBlock - 1, 2 * b3parBlock,
	2*b3parBlock + 1, 3*b3parBlock + 64<<10 + 7*1024 + 3, 7*b3parBlock + 12345}

// TestParallelBlake3VsB3sum compares the digest and 200 bytes of extended
// output, in default and derive-key mode, with the b3sum tool for every
// length of b3Lengths, written in pieces of many sizes (odd, a gRPC
// frame, a block and one, all at once).
func TestParallelBlake3VsB3sum(t *testing.T) {
	b3sum := testenv.Tool(t, "b3sum")
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	all := make([]byte, b3Lengths[len(b3Lengths)-1])
	for i := range all {
		all[i] = byte(r.Uint32())
	}
	const ctx = "halfclose 2026 b3par test"
	want := map[string]string{}
	for _, n := range b3Lengths {
		f := filepath.Join(dir, fmt.Sprint(n))
		if err := os.WriteFile(f, all[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		for _, mode := range []string{"hash", "derive"} {
			args := []string{"--no-names", "-l", "200", f}
			if mode == "derive" {
				args = append([]string{"--derive-key", ctx}, args...)
			}
			out, err := exec.Command(b3sum, args...).Output()
			if err != nil {
				t.Fatalf("b3sum %q: %v", args, err)
			}
			want[fmt.Sprint(mode, n)] = string(bytes.TrimSpace(out))
		}
	}
	withProcs(t, func(t *testing.T) {
		for _, n := range b3Lengths {
			sizes := []int{0, 1000, 16 << 10, b3parBlock + 1, 3*b3parBlock - 1}
			if n < 100<<10 {
				sizes = append(sizes, 1, 7)
			}
			for _, size := range sizes {
				for _, mode := range []string{"hash", "derive"} {
					h := newParallelBlake3()
					if mode == "derive" {
						h = newDeriveKeyBlake3(ctx)
					}
					writeIn(h, all[:n], size)
					w := want[fmt.Sprint(mode, n)]
					if got := hex.EncodeToString(xof(t, h, 200)); got != w {
						t.Fatalf("%s of %d bytes in writes of %d: %s, want %s", mode, n, size, got, w)
					}
					if got := hex.EncodeToString(h.Sum(nil)); got != w[:64] {
						t.Fatalf("%s of %d bytes in writes of %d: Sum %s, want %s", mode, n, size, got, w[:64])
					}
				}
			}
		}
	})
}

// TestParallelBlake3SumMidway: Sum and XOF leave the state as it was
// (writing after them continues the input), and Reset starts over; the
// oracle is zeebo/blake3, itself checked against the official vectors in
// this package's tests.
func TestParallelBlake3SumMidway(t *testing.T) {
	in := make([]byte, 3*b3parBlock+5000)
	for i := range in {
		in[i] = byte(i * 7)
	}
	withProcs(t, func(t *testing.T) {
		h := newParallelBlake3()
		ref := blake3.New()
		for _, k := range []int{1, 1023, 1, 5000, b3parBlock - 6025, 1, b3parBlock, 100, b3parBlock + 3000, len(in)} {
			k = min(k, len(in))
			h.Write(in[:k])
			ref.Write(in[:k])
			if got, want := h.Sum(nil), ref.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("after %d more bytes: %x, want %x", k, got, want)
			}
			want := make([]byte, 2000)
			io.ReadFull(ref.Digest(), want)
			if got := xof(t, h, 2000); !bytes.Equal(got, want) {
				t.Fatalf("after %d more bytes: XOF differs", k)
			}
		}
		h.Reset()
		h.Write(in[:5000])
		if got, want := h.Sum(nil), blake3.Sum256(in[:5000]); !bytes.Equal(got, want[:]) {
			t.Fatalf("after Reset: %x, want %x", got, want)
		}
	})
}

// TestB3OutputReads: the extended output read in pieces of any size is
// the same stream.
func TestB3OutputReads(t *testing.T) {
	h := newParallelBlake3()
	h.Write([]byte("abc"))
	whole := xof(t, h, 10000)
	for _, size := range []int{1, 63, 64, 1000, 1024, 1025} {
		o := h.XOF()
		var got []byte
		for len(got) < len(whole) {
			b := make([]byte, min(size, len(whole)-len(got)))
			if _, err := io.ReadFull(o, b); err != nil {
				t.Fatal(err)
			}
			got = append(got, b...)
		}
		if !bytes.Equal(got, whole) {
			t.Fatalf("reads of %d differ", size)
		}
	}
}

// BenchmarkBlake3 reports the CPU time (user+system, the whole process)
// per GiB besides the wall time: "tree" is parallelBlake3, "luke" the
// previous way (lukechampine's Hasher given 1 MiB blocks, a goroutine per
// 16 KiB), fed writes of 16 KiB (a gRPC frame, the gRPC stage's writes)
// and 256 KiB (the digest stage's reads), from one hot buffer.
func BenchmarkBlake3(b *testing.B) {
	in := make([]byte, 256<<10)
	for i := range in {
		in[i] = byte(i * 13)
	}
	const total = 64 << 20
	for _, w := range []int{16 << 10, 256 << 10} {
		for _, c := range []struct {
			name string
			new  func() io.Writer
		}{
			{"tree", func() io.Writer { return newParallelBlake3() }},
			{"luke", func() io.Writer { return &lukeBlocks{h: lblake3.New(32, nil)} }},
		} {
			b.Run(fmt.Sprintf("%s/write=%dK", c.name, w>>10), func(b *testing.B) {
				b.SetBytes(total)
				cpu0 := cpuTime(b)
				for range b.N {
					h := c.new()
					for i := 0; i < total; i += w {
						h.Write(in[:w])
					}
					h.(interface{ Sum([]byte) []byte }).Sum(nil)
				}
				cpu := cpuTime(b) - cpu0
				b.ReportMetric(cpu.Seconds()/float64(b.N)/total*(1<<30), "cpu-s/GiB")
			})
		}
	}
}

// lukeBlocks is the previous parallelBlake3: writes gathered into 1 MiB.
type lukeBlocks struct {
	h   *lblake3.Hasher
	buf []byte
}

func (l *lukeBlocks) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	if len(l.buf) >= b3parBlock {
		l.h.Write(l.buf)
		l.buf = l.buf[:0]
	}
	return len(b), nil
}

func (l *lukeBlocks) Sum(b []byte) []byte { l.h.Write(l.buf); return l.h.Sum(b) }

func cpuTime(b *testing.B) time.Duration {
	d, err := cputime.Process()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkMultiHash4 is the CPU per GiB of the Digest of issue 14's row
// (sha256, sha1, md5, blake3), BLAKE3 with and without helpers.
func BenchmarkMultiHash4(b *testing.B) {
	in := make([]byte, 256<<10)
	for i := range in {
		in[i] = byte(i * 13)
	}
	var algos []*Algo
	for _, n := range []string{"sha256", "sha1", "md5", "blake3"} {
		a, _ := Lookup(n)
		algos = append(algos, a)
	}
	const total = 256 << 20
	for _, serial := range []bool{true, false} {
		b.Run(fmt.Sprint("serial=", serial), func(b *testing.B) {
			defer func(old bool) { mhSerialBlake3 = old }(mhSerialBlake3)
			mhSerialBlake3 = serial
			b.SetBytes(total)
			cpu0 := cpuTime(b)
			for range b.N {
				m := NewMultiHash(algos)
				for i := 0; i < total; i += len(in) {
					m.Write(in)
				}
				m.Sums()
				m.Close()
			}
			cpu := cpuTime(b) - cpu0
			b.ReportMetric(cpu.Seconds()/float64(b.N)/total*(1<<30), "cpu-s/GiB")
		})
	}
}

// grpcSegments cuts in as a gRPC stage hands a b3sum its input: each
// 1 MiB message's data as its 16 KiB frames carry it, starting 9 bytes
// into the first (16375 bytes, 63 of 16384, then 9).
func grpcSegments(in []byte) [][]byte {
	var segs [][]byte
	for len(in) > 0 {
		for _, n := range append(append([]int{16375}, repeatInt(16384, 63)...), 9) {
			n = min(n, len(in))
			segs = append(segs, in[:n])
			in = in[n:]
		}
	}
	return segs
}

// TestParallelBlake3GRPCFrames: writes of a gRPC stage's frames (16 KiB,
// 9 bytes off the 16-chunk groups) give b3sum's digest, start no helper
// goroutine (the receiving goroutine and the client use the other core)
// and are gathered into no more than one group: a 1 MiB block missed the
// cache. The oracle is zeebo/blake3.
func TestParallelBlake3GRPCFrames(t *testing.T) {
	in := make([]byte, 3*b3parBlock+777)
	for i := range in {
		in[i] = byte(i*7 + i>>11)
	}
	old := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(old)
	h := newParallelBlake3()
	for _, s := range grpcSegments(in) {
		h.Write(s)
		if cap(h.buf) > b3InPlace {
			t.Fatalf("after %d bytes the hash holds a buffer of %d", len(s), cap(h.buf))
		}
	}
	if n := h.job.helpers; n != 0 {
		t.Errorf("%d helper goroutines started", n)
	}
	if got, want := h.Sum(nil), blake3.Sum256(in); !bytes.Equal(got, want[:]) {
		t.Fatalf("digest %x, want %x", got, want)
	}
}
