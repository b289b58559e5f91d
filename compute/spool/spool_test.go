package spool_test

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/compute/spool"
)

// pattern returns n bytes that differ from those of any other offset
// nearby, so that a reordering or a lost part shows.
func pattern(from, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte((from + i) % 251)
	}
	return p
}

// TestSpoolHoldsUntilRelease: what is written before Release reaches no
// one; past the memory it spills to the disk budget; Release writes it all
// in order, gives the disk back, and later writes go straight through.
func TestSpoolHoldsUntilRelease(t *testing.T) {
	dir := t.TempDir()
	disk := compute.NewDiskBudget(1 << 20)
	s := spool.New(compute.SpoolConfig{MemBytes: 8 << 10, Dir: dir, Disk: disk})
	defer s.Close()
	if s.Mem() != 8<<10 {
		t.Fatalf("Mem = %d, want %d", s.Mem(), 8<<10)
	}
	var want bytes.Buffer
	for i := range 10 {
		p := pattern(want.Len(), 3000+i)
		if n, err := s.Write(p); n != len(p) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		want.Write(p)
		if s.Held() != int64(want.Len()) {
			t.Fatalf("Held = %d after %d bytes", s.Held(), want.Len())
		}
	}
	if disk.Used() == 0 {
		t.Fatalf("%d bytes held with 8 KiB of memory, none charged to the disk", s.Held())
	}
	var out bytes.Buffer
	if err := s.Release(&out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want.Bytes()) {
		t.Fatalf("released %d bytes, differ from the %d written", out.Len(), want.Len())
	}
	if s.Held() != 0 || disk.Used() != 0 {
		t.Fatalf("after Release: Held %d, disk %d", s.Held(), disk.Used())
	}
	computetest.EmptyDir(t, dir)
	// Released: a write goes straight to out, holding nothing.
	p := pattern(want.Len(), 20000)
	if n, err := s.Write(p); n != len(p) || err != nil {
		t.Fatalf("Write after Release = %d, %v", n, err)
	}
	want.Write(p)
	if !bytes.Equal(out.Bytes(), want.Bytes()) || s.Held() != 0 {
		t.Fatalf("after Release a write was not passed on (%d of %d bytes out, %d held)", out.Len(), want.Len(), s.Held())
	}
}

// TestSpoolDiskBudget: a write past memory and the disk budget fails with
// RESOURCE_EXHAUSTED; Close gives everything back and leaves no file.
func TestSpoolDiskBudget(t *testing.T) {
	dir := t.TempDir()
	disk := compute.NewDiskBudget(10 << 10)
	s := spool.New(compute.SpoolConfig{MemBytes: 4 << 10, Dir: dir, Disk: disk})
	if _, err := s.Write(make([]byte, 8<<10)); err != nil {
		t.Fatalf("a write within memory and disk: %v", err)
	}
	if _, err := s.Write(make([]byte, 16<<10)); compute.CodeOf(err) != compute.CodeResourceExhausted {
		t.Fatalf("a write past the disk budget: %v, want RESOURCE_EXHAUSTED", err)
	}
	s.Close()
	if s.Held() != 0 || disk.Used() != 0 {
		t.Fatalf("after Close: Held %d, disk %d", s.Held(), disk.Used())
	}
	computetest.EmptyDir(t, dir)
}

// TestSpoolClosed: after Close, writes and Release fail and nothing is
// written to the destination.
func TestSpoolClosed(t *testing.T) {
	s := spool.New(compute.SpoolConfig{MemBytes: 1 << 10, Dir: t.TempDir()})
	if _, err := s.Write([]byte("dropped")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if n, err := s.Write([]byte("x")); n != 0 || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Write after Close = %d, %v; want 0, io.ErrClosedPipe", n, err)
	}
	var out bytes.Buffer
	if err := s.Release(&out); !errors.Is(err, io.ErrClosedPipe) || out.Len() != 0 {
		t.Fatalf("Release after Close = %v with %q out; want io.ErrClosedPipe and nothing", err, out.Bytes())
	}
}

// failWriter takes n bytes, then fails; late counts the writes after its
// failure.
type failWriter struct {
	n      int
	err    error
	failed bool
	late   int
}

func (w *failWriter) Write(p []byte) (int, error) {
	if w.failed {
		w.late++
		return 0, w.err
	}
	if len(p) > w.n {
		w.failed = true
		k := w.n
		w.n = 0
		return k, w.err
	}
	w.n -= len(p)
	return len(p), nil
}

// TestSpoolReleaseFails: Release returns the destination's error, and the
// spool stays unreleased: later writes are held (and dropped by Close),
// not passed to the broken destination.
func TestSpoolReleaseFails(t *testing.T) {
	disk := compute.NewDiskBudget(1 << 20)
	dir := t.TempDir()
	s := spool.New(compute.SpoolConfig{MemBytes: 4 << 10, Dir: dir, Disk: disk})
	if _, err := s.Write(pattern(0, 64<<10)); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("connection reset")
	w := &failWriter{n: 1000, err: broken}
	if err := s.Release(w); !errors.Is(err, broken) {
		t.Fatalf("Release = %v, want %v", err, broken)
	}
	if s.Held() >= 64<<10 || s.Held() == 0 {
		t.Fatalf("Held = %d: what the destination took is given back, the rest kept", s.Held())
	}
	if _, err := s.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	if w.late != 0 {
		t.Fatal("a write reached the failed destination")
	}
	s.Close()
	if disk.Used() != 0 {
		t.Fatalf("disk %d after Close", disk.Used())
	}
	computetest.EmptyDir(t, dir)
}

// recordGate is a Gate that records its calls and fails Wait with err.
type recordGate struct {
	mu       sync.Mutex
	waits    [][2]int64 // held, n
	released int
	err      error
}

func (g *recordGate) Wait(held, n int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waits = append(g.waits, [2]int64{held, n})
	return g.err
}

func (g *recordGate) Released() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.released++
}

// TestSpoolGate: the gate is asked before, and only before, a write that
// would take what is held past the memory, until Release; an error from it
// fails the write with nothing held.
func TestSpoolGate(t *testing.T) {
	s := spool.New(compute.SpoolConfig{MemBytes: 100, Dir: t.TempDir()})
	defer s.Close()
	g := &recordGate{}
	s.SetGate(g)
	write := func(n int) error {
		t.Helper()
		_, err := s.Write(make([]byte, n))
		return err
	}
	if err := write(60); err != nil {
		t.Fatal(err)
	}
	if err := write(40); err != nil { // exactly the memory: no wait
		t.Fatal(err)
	}
	if len(g.waits) != 0 {
		t.Fatalf("gate asked within memory: %v", g.waits)
	}
	if err := write(1); err != nil {
		t.Fatal(err)
	}
	if len(g.waits) != 1 || g.waits[0] != [2]int64{100, 1} {
		t.Fatalf("gate calls %v, want [[100 1]]", g.waits)
	}
	g.err = errors.New("job over")
	if err := write(5); !errors.Is(err, g.err) {
		t.Fatalf("Write past a failing gate = %v, want %v", err, g.err)
	}
	if s.Held() != 101 {
		t.Fatalf("Held = %d after a refused write, want 101", s.Held())
	}
	var out bytes.Buffer
	if err := s.Release(&out); err != nil || out.Len() != 101 {
		t.Fatalf("Release = %v, %d bytes", err, out.Len())
	}
	if g.released != 1 {
		t.Fatalf("Released called %d times, want 1", g.released)
	}
	before := len(g.waits)
	if err := write(1000); err != nil {
		t.Fatalf("a write after Release (the gate still fails): %v", err)
	}
	if len(g.waits) != before {
		t.Fatal("gate asked after Release")
	}
}

// TestSpoolWriteDuringRelease: a writer that keeps writing while Release
// runs loses nothing and keeps its order (one writer and one releaser at
// once, as the engine uses it; run with -race).
func TestSpoolWriteDuringRelease(t *testing.T) {
	s := spool.New(compute.SpoolConfig{MemBytes: 16 << 10, Dir: t.TempDir(), Disk: compute.NewDiskBudget(64 << 20)})
	defer s.Close()
	const parts, size = 400, 1000
	var out bytes.Buffer
	var wg sync.WaitGroup
	started := make(chan struct{})
	wg.Go(func() {
		for i := range parts {
			if i == parts/4 {
				close(started)
			}
			if _, err := s.Write(pattern(i*size, size)); err != nil {
				t.Errorf("Write %d: %v", i, err)
				return
			}
		}
	})
	<-started
	if err := s.Release(&out); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if want := pattern(0, parts*size); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("%d bytes out, differ from the %d written", out.Len(), len(want))
	}
}
