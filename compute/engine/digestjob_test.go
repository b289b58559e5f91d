package engine_test

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/engine"
)

// TestDigestSizeBounds: Digest takes an input of exactly ExpectedSize
// bytes, and of at most MaxInputBytes; one byte fewer or more than the
// declared size is DATA_LOSS, one byte over the limit RESOURCE_EXHAUSTED,
// and neither gives sums. (The adapters check the declared size too; the
// engine must hold on its own for its other callers.)
func TestDigestSizeBounds(t *testing.T) {
	sha, ok := digest.Lookup("sha256")
	if !ok {
		t.Fatal("no sha256")
	}
	for _, c := range []struct {
		name            string
		limit, expected int64
		size            int
		code            compute.Code // 0: success
	}{
		{"declared, exact", 0, 3, 3, 0},
		{"declared, one short", 0, 4, 3, compute.CodeDataLoss},
		{"declared, one over", 0, 2, 3, compute.CodeDataLoss},
		{"declared, empty", 0, 0, 0, 0},
		{"declared empty, one byte", 0, 0, 1, compute.CodeDataLoss},
		{"at the limit", 3, -1, 3, 0},
		{"one over the limit", 3, -1, 4, compute.CodeResourceExhausted},
		{"one over the limit, declared", 3, 4, 4, compute.CodeResourceExhausted},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := bytes.Repeat([]byte{'x'}, c.size)
			e := engine.New(engine.Config{MaxInputBytes: c.limit})
			res, err := e.Digest(t.Context(), engine.DigestJob{Algos: []*digest.Algo{sha}, ExpectedSize: c.expected}, bytes.NewReader(in))
			if c.code != 0 {
				if compute.CodeOf(err) != c.code || res.Sums != nil {
					t.Fatalf("err = %v (code %v), sums %x; want code %v and no sums", err, compute.CodeOf(err), res.Sums, c.code)
				}
				return
			}
			want := sha256.Sum256(in)
			if err != nil || res.Size != int64(c.size) || len(res.Sums) != 1 || !bytes.Equal(res.Sums[0], want[:]) {
				t.Fatalf("err = %v, size %d, sums %x; want %d bytes, %x", err, res.Size, res.Sums, c.size, want)
			}
		})
	}
}
