package spool_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/compute/spool"
	"github.com/halfclose/halfclose/internal/testenv"
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
	// Released: what was held goes out, then what is written meanwhile,
	// until CloseWrite.
	var out bytes.Buffer
	released := make(chan error, 1)
	go func() { released <- s.Release(&out) }()
	p := pattern(want.Len(), 20000)
	if n, err := s.Write(p); n != len(p) || err != nil {
		t.Fatalf("Write after Release = %d, %v", n, err)
	}
	want.Write(p)
	s.CloseWrite()
	if err := testenv.Recv(t, hangTimeout, "Release's return", released); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want.Bytes()) {
		t.Fatalf("released %d bytes, differ from the %d written", out.Len(), want.Len())
	}
	if s.Held() != 0 || disk.Used() != 0 {
		t.Fatalf("after Release: Held %d, disk %d", s.Held(), disk.Used())
	}
	computetest.EmptyDir(t, dir)
	if _, err := s.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Write after CloseWrite = %v, want io.ErrClosedPipe", err)
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

// TestSpoolLostWriteReleasesNothing: once a write held before Release
// has failed (the disk budget), what the spool holds is not the whole
// reply, and Release sends none of it: it returns the write's error, so
// the job's answer is the limit alone (RESOURCE_EXHAUSTED, the raw-TCP
// error line), not the reply's first part and then the error (uniq went
// on after its failed write and ended its input: 1.1 MB of output went
// out before the error).
func TestSpoolLostWriteReleasesNothing(t *testing.T) {
	for _, take := range []bool{false, true} {
		disk := compute.NewDiskBudget(spool.TakeSize + 8<<10)
		s := spool.New(compute.SpoolConfig{MemBytes: 4 << 10, Dir: t.TempDir(), Disk: disk})
		if _, err := s.Write(make([]byte, 8<<10)); err != nil {
			t.Fatalf("a write within memory and disk: %v", err)
		}
		var err error
		if take {
			// What grep's output buffers go through once the spool spills.
			for i := 0; err == nil && i < 4; i++ {
				_, _, err = s.TakeBuffer(make([]byte, spool.TakeSize))
			}
		} else {
			_, err = s.Write(make([]byte, 2*spool.TakeSize))
		}
		if compute.CodeOf(err) != compute.CodeResourceExhausted {
			t.Fatalf("a write past the disk budget (take %v): %v, want RESOURCE_EXHAUSTED", take, err)
		}
		s.CloseWrite()
		var out bytes.Buffer
		if err := s.Release(&out); compute.CodeOf(err) != compute.CodeResourceExhausted || out.Len() != 0 {
			t.Errorf("Release after a lost write (take %v) = %v, wrote %d bytes; want RESOURCE_EXHAUSTED and nothing", take, err, out.Len())
		}
		s.Close()
		if disk.Used() != 0 {
			t.Errorf("after Close: disk %d", disk.Used())
		}
	}
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
	started  chan struct{} // closed by Released
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
	close(g.started)
}

// TestSpoolGate: the gate is asked before, and only before, a write that
// would take what is held past the memory, until Release; an error from it
// fails the write with nothing held.
func TestSpoolGate(t *testing.T) {
	s := spool.New(compute.SpoolConfig{MemBytes: 100, Dir: t.TempDir()})
	defer s.Close()
	g := &recordGate{started: make(chan struct{})}
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
	released := make(chan error, 1)
	go func() { released <- s.Release(&out) }()
	testenv.Recv(t, hangTimeout, "Release's start", g.started)
	before := len(g.waits)
	if err := write(1000); err != nil {
		t.Fatalf("a write after Release (the gate still fails): %v", err)
	}
	s.CloseWrite()
	if err := testenv.Recv(t, hangTimeout, "Release's return", released); err != nil || out.Len() != 1101 {
		t.Fatalf("Release = %v, %d bytes", err, out.Len())
	}
	if g.released != 1 {
		t.Fatalf("Released called %d times, want 1", g.released)
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
		s.CloseWrite()
	})
	testenv.Recv(t, hangTimeout, "the writer's start", started)
	if err := s.Release(&out); err != nil {
		t.Fatal(err)
	}
	testenv.Within(t, hangTimeout, "the writer's return", wg.Wait)
	if want := pattern(0, parts*size); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("%d bytes out, differ from the %d written", out.Len(), len(want))
	}
}

// gatedWriter is a destination whose first Write waits for proceed to be
// closed; each Write calls check first.
type gatedWriter struct {
	out     bytes.Buffer
	proceed chan struct{}
	check   func()
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	<-w.proceed
	if w.check != nil {
		w.check()
	}
	return w.out.Write(p)
}

// startGate is a Gate that lets every write spill and closes started
// when Release starts.
type startGate struct{ started chan struct{} }

func (g *startGate) Wait(held, n int64) error { return nil }
func (g *startGate) Released()                { close(g.started) }

// newSpool returns a spool whose release, by startRelease, has started
// when startRelease returns.
func newSpool(cfg compute.SpoolConfig) (*spool.Spool, *startGate) {
	s := spool.New(cfg)
	g := &startGate{started: make(chan struct{})}
	s.SetGate(g)
	return s, g
}

// startRelease runs s.Release(w) in a goroutine, returning once it has
// started, and its result.
func startRelease(t *testing.T, s *spool.Spool, g *startGate, w io.Writer) <-chan error {
	t.Helper()
	released := make(chan error, 1)
	go func() { released <- s.Release(w) }()
	testenv.Recv(t, hangTimeout, "Release's start", g.started)
	return released
}

// fillUntil writes pattern bytes from offset from in parts of size, in a
// goroutine, until total, then CloseWrite; it returns the write error.
func fillUntil(s *spool.Spool, from, total, size int) <-chan error {
	done := make(chan error, 1)
	go func() {
		for i := from; i < total; i += size {
			if _, err := s.Write(pattern(i, min(size, total-i))); err != nil {
				done <- err
				return
			}
		}
		s.CloseWrite()
		done <- nil
	}()
	return done
}

// waitHeld waits for the spool to hold n bytes: the writer is then
// blocked on the bound, the destination not having taken a byte.
func waitHeld(s *spool.Spool, n int64) {
	for s.Held() < n {
		runtime.Gosched()
	}
}

// TestSpoolReleaseBound: once released, the spool holds at most what it
// held when Release started (here past its memory): a writer faster than
// the destination waits for it, and nothing is lost or reordered.
func TestSpoolReleaseBound(t *testing.T) {
	disk := compute.NewDiskBudget(1 << 20)
	dir := t.TempDir()
	s, g := newSpool(compute.SpoolConfig{MemBytes: 4 << 10, Dir: dir, Disk: disk})
	defer s.Close()
	const atRelease, total = 20 << 10, 1 << 20
	if _, err := s.Write(pattern(0, atRelease)); err != nil {
		t.Fatal(err)
	}
	w := &gatedWriter{proceed: make(chan struct{})}
	w.check = func() {
		if h := s.Held(); h > atRelease {
			t.Errorf("released spool holds %d bytes, more than the %d it held", h, atRelease)
		}
		if d := disk.Used(); d > atRelease {
			t.Errorf("released spool charges %d bytes of disk, more than the %d it held", d, atRelease)
		}
	}
	released := startRelease(t, s, g, w)
	wrote := fillUntil(s, atRelease, total, 3000)
	close(w.proceed) // the writer may not even have started: the bound is checked all along
	if err := testenv.Recv(t, hangTimeout, "the writer's return", wrote); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Recv(t, hangTimeout, "Release's return", released); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.out.Bytes(), pattern(0, total)) {
		t.Fatalf("%d bytes out, differ from the %d written", w.out.Len(), total)
	}
	if s.Held() != 0 || disk.Used() != 0 {
		t.Fatalf("after Release: Held %d, disk %d", s.Held(), disk.Used())
	}
	computetest.EmptyDir(t, dir)
}

// TestSpoolReleaseWaitsForBound: with the destination stopped, the writer
// fills the released spool exactly to what it held, then waits.
func TestSpoolReleaseWaitsForBound(t *testing.T) {
	s, g := newSpool(compute.SpoolConfig{MemBytes: 4 << 10, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 20)})
	defer s.Close()
	const atRelease, total = 20 << 10, 200 << 10
	if _, err := s.Write(pattern(0, atRelease)); err != nil {
		t.Fatal(err)
	}
	w := &gatedWriter{proceed: make(chan struct{})}
	released := startRelease(t, s, g, w)
	wrote := fillUntil(s, atRelease, total, 3000)
	waitHeld(s, atRelease) // the releaser has not dropped a byte: proceed is open
	// the writer writes what fits and no more (Held never passes it: see
	// TestSpoolReleaseBound); let everything go
	close(w.proceed)
	if err := testenv.Recv(t, hangTimeout, "the writer's return", wrote); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Recv(t, hangTimeout, "Release's return", released); err != nil || !bytes.Equal(w.out.Bytes(), pattern(0, total)) {
		t.Fatalf("Release = %v, %d bytes out, want %d in order", err, w.out.Len(), total)
	}
}

// TestSpoolAbort: Abort fails a Release and a writer waiting for room with
// its error.
func TestSpoolAbort(t *testing.T) {
	s, g := newSpool(compute.SpoolConfig{MemBytes: 4 << 10, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 20)})
	defer s.Close()
	if _, err := s.Write(pattern(0, 8<<10)); err != nil {
		t.Fatal(err)
	}
	w := &gatedWriter{proceed: make(chan struct{})}
	released := startRelease(t, s, g, w)
	wrote := fillUntil(s, 8<<10, 1<<20, 1000)
	waitHeld(s, 8<<10)
	cause := errors.New("job cancelled")
	s.Abort(cause)
	close(w.proceed)
	if err := testenv.Recv(t, hangTimeout, "Release's return", released); !errors.Is(err, cause) {
		t.Fatalf("Release = %v, want %v", err, cause)
	}
	if err := testenv.Recv(t, hangTimeout, "the writer's return", wrote); !errors.Is(err, cause) {
		t.Fatalf("Write = %v, want %v", err, cause)
	}
	if w.out.Len() >= 1<<20 {
		t.Fatal("an aborted release sent everything")
	}
}

// TestSpoolReleaseDiskFull: a released spool whose disk budget went to
// others while it drained does not fail the writer: it waits for the
// destination and writes to memory.
func TestSpoolReleaseDiskFull(t *testing.T) {
	disk := compute.NewDiskBudget(64 << 10)
	dir := t.TempDir()
	s, g := newSpool(compute.SpoolConfig{MemBytes: 4 << 10, Dir: dir, Disk: disk})
	defer s.Close()
	const atRelease, total = 68 << 10, 300 << 10
	if _, err := s.Write(pattern(0, atRelease)); err != nil {
		t.Fatal(err)
	}
	if disk.Used() != 64<<10 {
		t.Fatalf("disk %d, want all of it", disk.Used())
	}
	w := &gatedWriter{proceed: make(chan struct{})}
	released := startRelease(t, s, g, w)
	wrote := fillUntil(s, atRelease, total, 5000)
	close(w.proceed)
	if err := testenv.Recv(t, hangTimeout, "the writer's return", wrote); err != nil {
		t.Fatalf("a write to a released spool with the disk full: %v", err)
	}
	if err := testenv.Recv(t, hangTimeout, "Release's return", released); err != nil || !bytes.Equal(w.out.Bytes(), pattern(0, total)) {
		t.Fatalf("Release = %v, %d bytes out, want %d in order", err, w.out.Len(), total)
	}
	if disk.Used() != 0 {
		t.Fatalf("disk %d after Release", disk.Used())
	}
	computetest.EmptyDir(t, dir)
}

// TestSpoolTakeBuffer: once the spool spills, a buffer of TakeSize is
// taken as it is (another given back) and written to the spill file;
// before it spills, after Release, and for other buffers, TakeBuffer
// copies as Write does. The disk budget is charged exactly what the file
// holds, the reply is every byte in order, and Close after an abort gives
// everything back.
func TestSpoolTakeBuffer(t *testing.T) {
	for _, abort := range []bool{false, true} {
		dir := t.TempDir()
		disk := compute.NewDiskBudget(4 << 20)
		s := spool.New(compute.SpoolConfig{MemBytes: 8 << 10, Dir: dir, Disk: disk})
		s.SetWriteBehind(spool.TakeSize / 2) // room for one taken buffer: writes wait for the file
		s.SetSegSize(24 << 10)               // buffers cross segments
		var want bytes.Buffer
		taken := 0
		write := func(n int) {
			t.Helper()
			p := append(make([]byte, 0, spool.TakeSize), pattern(want.Len(), n)...)
			next, k, err := s.TakeBuffer(p)
			if k != n || err != nil {
				t.Fatalf("TakeBuffer = %d, %v; want %d", k, err, n)
			}
			if cap(next) != spool.TakeSize || len(next) != 0 {
				t.Fatalf("TakeBuffer gave back len %d cap %d", len(next), cap(next))
			}
			if &next[:1][0] != &p[:1][0] {
				taken++
			}
			want.Write(p)
		}
		write(5000) // in memory
		if taken != 0 {
			t.Fatal("a buffer was taken before the spool spilled")
		}
		for i := range 40 {
			write(spool.TakeSize - i%3*1000)
		}
		if taken < 39 {
			t.Fatalf("%d buffers of 40 taken while spilling", taken)
		}
		odd := pattern(want.Len(), 3000) // not of TakeSize: copied
		if next, k, err := s.TakeBuffer(odd); k != len(odd) || err != nil || &next[:1][0] != &odd[0] {
			t.Fatalf("TakeBuffer of %d bytes = %d, %v, taken %v", cap(odd), k, err, &next[:1][0] != &odd[0])
		}
		want.Write(odd)
		if spilled := int64(want.Len()) - 8<<10; disk.Used() < spilled || disk.Used() > spilled+24<<10 {
			t.Fatalf("disk budget %d for %d bytes spilled", disk.Used(), spilled)
		}
		if abort {
			s.Abort(errors.New("aborted"))
			s.Close()
			if disk.Used() != 0 {
				t.Fatalf("after an abort: disk %d", disk.Used())
			}
			computetest.EmptyDir(t, dir)
			continue
		}
		out := &signalWriter{started: make(chan struct{})}
		released := make(chan error, 1)
		go func() { released <- s.Release(out) }()
		testenv.Recv(t, hangTimeout, "Release's start", out.started) // Release has started
		before := taken
		write(spool.TakeSize) // released: copied
		if taken != before {
			t.Fatal("a buffer was taken after Release")
		}
		s.CloseWrite()
		if err := testenv.Recv(t, hangTimeout, "Release's return", released); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.buf.Bytes(), want.Bytes()) {
			t.Fatalf("released %d bytes, differ from the %d written", out.buf.Len(), want.Len())
		}
		if s.Held() != 0 || disk.Used() != 0 {
			t.Fatalf("after Release: Held %d, disk %d", s.Held(), disk.Used())
		}
		s.Close()
		computetest.EmptyDir(t, dir)
	}
}

// signalWriter is a bytes.Buffer that closes started at its first write.
type signalWriter struct {
	buf     bytes.Buffer
	started chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if w.buf.Len() == 0 {
		close(w.started)
	}
	return w.buf.Write(p)
}

// countWriter is a bytes.Buffer that counts its writes.
type countWriter struct {
	buf    bytes.Buffer
	writes int
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.buf.Write(p)
}

// TestSpoolReleaseWholeWrites: once released, a write larger than the
// spool's memory goes to the destination whole, not in pieces of the
// memory's size: at a memory of 1 byte, a reply of 1 MiB was a million
// writes to the destination (a million gRPC messages), and a sort of 2 MB
// over gRPC took 12 s at --spool-mem 1 where it takes 0.5 s at 4KiB.
func TestSpoolReleaseWholeWrites(t *testing.T) {
	for _, mem := range []int64{1, 4 << 10} {
		for _, held := range []int{0, 3} {
			s, g := newSpool(compute.SpoolConfig{MemBytes: mem, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 20)})
			if _, err := s.Write(pattern(0, held)); err != nil {
				t.Fatal(err)
			}
			w := &countWriter{}
			released := startRelease(t, s, g, w)
			const total, size = 1 << 20, 16 << 10
			wrote := fillUntil(s, held, total, size)
			if err := testenv.Recv(t, hangTimeout, "the writer's return", wrote); err != nil {
				t.Fatal(err)
			}
			if err := testenv.Recv(t, hangTimeout, "Release's return", released); err != nil || !bytes.Equal(w.buf.Bytes(), pattern(0, total)) {
				t.Fatalf("memory %d, %d held: Release = %v, %d bytes out, want %d in order", mem, held, err, w.buf.Len(), total)
			}
			// Each of the writer's writes goes out whole, or, while the
			// queue holds bytes, in two (what fits the room the spool
			// held at Release, then the rest).
			if most := 2*(total/size) + 2; w.writes > most {
				t.Errorf("memory %d, %d held: %d writes to the destination for %d of %d bytes, want at most %d", mem, held, w.writes, total/size, size, most)
			}
			s.Close()
		}
	}
}

// holdWriter is a destination whose Write says it has started (in), then
// waits for proceed before it takes its bytes.
type holdWriter struct {
	out     bytes.Buffer
	in      chan struct{}
	proceed chan struct{}
}

func (w *holdWriter) Write(p []byte) (int, error) {
	close(w.in)
	<-w.proceed
	return w.out.Write(p)
}

// TestSpoolDirectAbort: a write handed to the destination whole is the
// writer's buffer: an Abort, or a Close, while the destination holds it
// does not return the write early (the writer would overwrite the bytes
// the destination is still sending; run with -race), and the write fails.
func TestSpoolDirectAbort(t *testing.T) {
	for _, closeIt := range []bool{false, true} {
		s, g := newSpool(compute.SpoolConfig{MemBytes: 1, Dir: t.TempDir(), Disk: compute.NewDiskBudget(1 << 20)})
		w := &holdWriter{in: make(chan struct{}), proceed: make(chan struct{})}
		released := startRelease(t, s, g, w)
		p := pattern(0, 8<<10)
		wrote := make(chan error, 1)
		go func() {
			_, err := s.Write(p)
			for i := range p { // the writer reuses its buffer
				p[i] = 0xff
			}
			wrote <- err
		}()
		testenv.Recv(t, hangTimeout, "the destination's write", w.in)
		if closeIt {
			s.Close()
		} else {
			s.Abort(errors.New("job cancelled"))
		}
		close(w.proceed)
		if err := testenv.Recv(t, hangTimeout, "Release's return", released); err == nil {
			t.Fatal("Release after an abort succeeded")
		}
		if err := testenv.Recv(t, hangTimeout, "the writer's return", wrote); err == nil {
			t.Fatal("a write to an aborted spool succeeded")
		}
		if !bytes.Equal(w.out.Bytes(), pattern(0, 8<<10)) {
			t.Fatalf("the destination took %d bytes unlike those written", w.out.Len())
		}
		s.Close()
	}
}
