package spool_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/spool"
	"github.com/halfclose/halfclose/internal/testenv"
)

// randomDest is a destination for TestSpoolReleaseRandom: it takes its
// bytes in order, fails at byte failAt (taking those before it), and at
// its write number event runs fire (an Abort or a Close of the spool,
// while it holds the bytes). Each write checks that its bytes do not
// change while it holds them (a writer that returned early would reuse
// its buffer) and that the spool holds no more than its bound.
type randomDest struct {
	t      *testing.T
	s      *spool.Spool
	bound  int64
	out    bytes.Buffer
	failAt int // -1: never
	err    error
	calls  int
	event  int
	fire   func()
}

func (d *randomDest) take(p []byte) (int, error) {
	d.calls++
	if d.calls == d.event {
		d.fire()
	}
	if h := d.s.Held(); h > d.bound {
		d.t.Errorf("released spool holds %d bytes, more than its bound %d", h, d.bound)
	}
	k := len(p)
	if d.failAt >= 0 && d.out.Len()+k > d.failAt {
		k = d.failAt - d.out.Len()
	}
	held := bytes.Clone(p[:k])
	runtime.Gosched() // a writer that returned early scribbles over p now
	if !bytes.Equal(p[:k], held) {
		d.t.Errorf("the %d bytes of write %d changed while the destination held them", k, d.calls)
	}
	d.out.Write(held)
	if k < len(p) {
		return k, d.err
	}
	return k, nil
}

func (d *randomDest) Write(p []byte) (int, error) { return d.take(p) }

// randomSender is a randomDest that sends spilled bytes itself
// (spool.FileSender, as a TCP connection's sendfile).
type randomSender struct{ *randomDest }

func (d randomSender) SendFile(f *os.File, off, n int64) (int64, error) {
	p := make([]byte, n)
	if _, err := f.ReadAt(p, off); err != nil {
		return 0, err
	}
	k, err := d.take(p)
	return int64(k), err
}

// TestSpoolReleaseRandom: a writer that keeps writing (Write and
// TakeBuffer, of sizes around and past the memory, 1 byte to 8 KiB, so
// that writes go through the queue and whole, Spool.direct) while Release
// runs to a destination that may fail part way (a short write), with an
// Abort or a Close that may come while the destination holds a write, or
// between the writer's writes. Whatever the order: the destination gets a
// prefix of what the writes took, in order, each byte once; all of it
// when Release succeeds; no write returns while the destination still
// holds its bytes (the writer scribbles over its buffer once a write
// returns; run with -race); nothing hangs; the released spool holds no
// more than its bound; and after a failed Release, the spool holds exactly
// what the writes took less what went out. SPOOLRAND_N cases (default
// 150; make fuzz runs more, with -race), SPOOLRAND_SEED.
func TestSpoolReleaseRandom(t *testing.T) {
	n := int(testenv.Uint(t, "SPOOLRAND_N", 150))
	seed := testenv.Uint(t, "SPOOLRAND_SEED", 20261206)
	for i := range n {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		if !t.Run(fmt.Sprintf("case%d", i), func(t *testing.T) { spoolRandomCase(t, r) }) {
			t.Fatalf("SPOOLRAND_SEED=%d, case %d failed", seed, i)
		}
	}
}

func spoolRandomCase(t *testing.T, r *rand.Rand) {
	mems := []int64{1, 7, 512, 4 << 10, 16 << 10}
	mem := mems[r.IntN(len(mems))]
	diskBytes := int64(1 << 20)
	if r.IntN(4) == 0 {
		diskBytes = 16 << 10 // the released spool may find the disk full
	}
	s, g := newSpool(compute.SpoolConfig{MemBytes: mem, Dir: t.TempDir(), Disk: compute.NewDiskBudget(diskBytes)})
	defer s.Close()
	held := r.IntN(3) * r.IntN(6<<10)
	if held > 0 {
		if _, err := s.Write(pattern(0, held)); err != nil {
			t.Fatal(err)
		}
	}
	bound := max(s.Held(), mem)
	d := &randomDest{t: t, s: s, bound: bound, failAt: -1, err: errors.New("connection reset")}
	total := held + r.IntN(200<<10)
	if r.IntN(3) == 0 {
		d.failAt = r.IntN(total + 1)
	}
	// The event: none, an Abort or a Close, from the destination (while
	// it holds a write) or from another goroutine once the writer is past
	// a point.
	kind := r.IntN(3) // 0 none, 1 Abort, 2 Close
	cause := errors.New("job cancelled")
	fire := func() {
		if kind == 1 {
			s.Abort(cause)
		} else {
			s.Close()
		}
	}
	fromDest := r.IntN(2) == 0
	afterWrite := -1
	if kind != 0 {
		if fromDest {
			d.event = 1 + r.IntN(20)
			d.fire = fire
		} else {
			afterWrite = r.IntN(40)
		}
	}
	var out io.Writer = d
	if r.IntN(2) == 0 {
		out = randomSender{d}
	}
	released := startRelease(t, s, g, out)

	// The writer: its buffers are reused once a write returns, as a
	// stage's are.
	accepted := held
	var werr error
	var fired sync.WaitGroup
	buf := make([]byte, 0, spool.TakeSize)
	sizes := []int{1, 3, 100, 4 << 10, 8 << 10}
	for w := 0; accepted < total && werr == nil; w++ {
		if w == afterWrite {
			fired.Go(fire)
		}
		size := min(total-accepted, 1+r.IntN(sizes[r.IntN(len(sizes))]))
		if r.IntN(4) == 0 {
			size = min(total-accepted, spool.TakeSize)
		}
		buf = append(buf[:0], pattern(accepted, size)...)
		var k int
		if r.IntN(2) == 0 {
			var next []byte
			next, k, werr = s.TakeBuffer(buf)
			buf = next
		} else {
			k, werr = s.Write(buf)
		}
		if k < 0 || k > size || werr == nil && k != size {
			t.Fatalf("write of %d bytes = %d, %v", size, k, werr)
		}
		accepted += k
		for i := range buf[:cap(buf)] {
			buf[:cap(buf)][i] = 0xff // not a byte of pattern
		}
	}
	if werr == nil {
		s.CloseWrite()
	}
	rerr := testenv.Recv(t, hangTimeout, "Release's return", released)
	fired.Wait()
	got := d.out.Bytes()
	switch {
	case !bytes.Equal(got, pattern(0, len(got))):
		t.Fatalf("the destination got %d bytes, not those written in order", len(got))
	case len(got) > accepted:
		t.Fatalf("the destination got %d bytes, the writes took %d", len(got), accepted)
	case rerr == nil && (werr != nil || len(got) != accepted):
		t.Fatalf("Release succeeded with %d bytes out of %d taken, the writer's error %v", len(got), accepted, werr)
	case rerr != nil && kind == 0 && d.failAt < 0:
		t.Fatalf("Release = %v with neither an abort nor a failing destination", rerr)
	}
	if rerr != nil && kind == 0 && (werr == nil || compute.CodeOf(werr) == compute.CodeResourceExhausted) {
		// The destination failed: the spool holds what it did not take,
		// and the writes after it, once each.
		if h := s.Held(); h != int64(accepted-len(got)) {
			t.Fatalf("after a failed Release (%v) the spool holds %d bytes; %d were taken, %d went out", rerr, h, accepted, len(got))
		}
	}
}
