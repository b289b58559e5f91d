package engine_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"strings"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/digest"
	"github.com/halfclose/halfclose/compute/engine"
)

// panicHash panics on every write.
type panicHash struct{ hash.Hash }

func (panicHash) Write([]byte) (int, error) { panic("boom in a hash") }

// TestDigestPanicIsAnInternalError: a hash that panics, on the job's
// goroutine (one algorithm) or on a MultiHash goroutine (two), fails that
// Digest job with an internal error naming the panic, never sums; the
// engine goes on. Before, the panic ended the process (a Digest job runs
// on a gRPC handler's goroutine, which nothing recovers).
func TestDigestPanicIsAnInternalError(t *testing.T) {
	boom := &digest.Algo{Name: "boom", New: func() hash.Hash { return panicHash{sha256.New()} }}
	sha := &digest.Algo{Name: "sha256", New: sha256.New}
	e := engine.New(engine.Config{})
	in := bytes.Repeat([]byte("x"), 4<<20)
	for _, algos := range [][]*digest.Algo{{boom}, {sha, boom}, {boom, sha}} {
		res, err := e.Digest(t.Context(), engine.DigestJob{Algos: algos, ExpectedSize: -1}, bytes.NewReader(in))
		if compute.CodeOf(err) != compute.CodeInternal || res.Sums != nil {
			t.Fatalf("%d algorithms: %v (code %v), sums %x; want an internal error and no sums", len(algos), err, compute.CodeOf(err), res.Sums)
		}
		if !strings.Contains(fmt.Sprint(errors.Unwrap(err)), "boom in a hash") {
			t.Errorf("the cause %q does not name the panic", errors.Unwrap(err))
		}
	}
	res, err := e.Digest(t.Context(), engine.DigestJob{Algos: []*digest.Algo{sha}, ExpectedSize: -1}, strings.NewReader("abc"))
	if want := sha256.Sum256([]byte("abc")); err != nil || len(res.Sums) != 1 || !bytes.Equal(res.Sums[0], want[:]) {
		t.Errorf("the next job: %x, %v", res.Sums, err)
	}
}
