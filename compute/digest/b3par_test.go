package digest

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/zeebo/blake3"
)

// parallelBlake3 gives what another BLAKE3 implementation gives (zeebo's,
// itself checked against the official vectors in this package's tests),
// whatever the sizes of the writes around its 1 MiB blocks, for the digest
// and the extended output.
func TestParallelBlake3(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	in := make([]byte, 3*b3parBlock+12345)
	for i := range in {
		in[i] = byte(r.Uint32())
	}
	for _, size := range []int{1, 1000, 16 << 10, b3parBlock - 1, b3parBlock, 2*b3parBlock + 7, len(in)} {
		for _, n := range []int{0, 1024, b3parBlock, b3parBlock + 1, len(in)} {
			p := newParallelBlake3()
			for rest := in[:n]; len(rest) > 0; {
				k := min(size, len(rest))
				p.Write(rest[:k])
				rest = rest[k:]
			}
			ref := blake3.New()
			ref.Write(in[:n])
			if got, want := p.Sum(nil), ref.Sum(nil); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes in writes of %d: %x, want %x", n, size, got, want)
			}
			got := make([]byte, 200)
			want := make([]byte, 200)
			io.ReadFull(p.XOF(), got)
			io.ReadFull(ref.Digest(), want)
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bytes in writes of %d: XOF differs", n, size)
			}
		}
	}
}
