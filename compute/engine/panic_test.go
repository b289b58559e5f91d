package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
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

// panicAfterFirst gives one byte, then panics on every read.
type panicAfterFirst struct{ read bool }

func (p *panicAfterFirst) Read(b []byte) (int, error) {
	if p.read {
		panic("boom in the source")
	}
	p.read = true
	b[0] = 'x'
	return 1, nil
}

// TestReadAheadPanicIsAnInternalError: a stage that writes more than it
// read (here 4 MiB for one byte) past the spool's memory makes the
// engine read its input ahead, on a goroutine of its own; a panic in the
// source's Read there fails the job with an internal error and no
// output, the spill file gone. Before, it ended the process.
func TestReadAheadPanicIsAnInternalError(t *testing.T) {
	grow := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		if _, err := io.ReadFull(in, make([]byte, 1)); err != nil {
			return err
		}
		if _, err := out.Write(make([]byte, 4<<20)); err != nil {
			return err
		}
		_, err := io.Copy(out, in)
		return err
	})
	dir := t.TempDir()
	disk := compute.NewDiskBudget(1 << 30)
	e := engine.New(engine.Config{Spool: compute.SpoolConfig{MemBytes: 1 << 20, Dir: dir, Disk: disk}})
	var out bytes.Buffer
	_, err := e.Run(t.Context(), testPipeline(grow), &panicAfterFirst{}, &out)
	if compute.CodeOf(err) != compute.CodeInternal || out.Len() != 0 {
		t.Fatalf("err %v (code %v), %d bytes of output; want an internal error and none", err, compute.CodeOf(err), out.Len())
	}
	if !strings.Contains(fmt.Sprint(errors.Unwrap(err)), "boom in the source") {
		t.Errorf("the cause %q does not name the panic", errors.Unwrap(err))
	}
	if disk.Used() != 0 {
		t.Errorf("the disk budget still holds %d bytes", disk.Used())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("%s holds %d files", dir, len(ents))
	}
}
