package engine_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// zeroCounter counts what is written to it and checks that it is zeros.
type zeroCounter struct {
	n       int64
	nonZero bool
}

// zeros is what zeroCounter compares with: one memequal per slice, not a
// loop over bytes that the race detector would watch one by one.
var zeros = make([]byte, 64<<10)

func (z *zeroCounter) Write(p []byte) (int, error) {
	z.n += int64(len(p))
	for rest := p; len(rest) > 0 && !z.nonZero; {
		k := min(len(rest), len(zeros))
		z.nonZero = !bytes.Equal(rest[:k], zeros[:k])
		rest = rest[k:]
	}
	return len(p), nil
}

// TestGunzipUnderSmallDiskBudget: gunzip writes far more than it reads,
// so it would fill the reply spool long before it read the end of its
// input. The engine reads the input ahead once the spool is past its
// memory, finds the end while the reply is small, and lets the rest flow
// to the client: 64 MiB of output under a 4 MiB disk budget, whose spill
// is given back at the end.
//
// By default the output is 16 MiB, four times the disk budget and the
// memory together (the race detector's cost follows the bytes copied); the
// long run (testenv.Long) makes 64 MiB.
func TestGunzipUnderSmallDiskBudget(t *testing.T) {
	size := 16 << 20
	if testenv.Long() {
		size = 64 << 20
	}
	head := size - size/16 // zcat | head stops before the end
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zero := make([]byte, 1<<20)
	for range size / len(zero) {
		zw.Write(zero)
	}
	zw.Close()

	dir := t.TempDir()
	disk := compute.NewDiskBudget(4 << 20)
	e := computetest.Engine(engine.Config{Spool: compute.SpoolConfig{MemBytes: 1 << 20, Dir: dir, Disk: disk}})
	headText := fmt.Sprintf("zcat | head -c %d", head)
	for _, text := range []string{"gunzip", "gunzip | tr -d x", headText} {
		p, err := e.Compile(text)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := testenv.Context(t)
		var out zeroCounter
		st, err := e.Run(ctx, p, bytes.NewReader(gz.Bytes()), &out)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		want := int64(size)
		if text == headText {
			want = int64(head)
		}
		if out.n != want || st.OutputBytes != want || out.nonZero || st.InputBytes != int64(gz.Len()) {
			t.Fatalf("%s: %d bytes out (%d counted, non-zero %v), %d in; want %d out, %d in", text, out.n, st.OutputBytes, out.nonZero, st.InputBytes, want, gz.Len())
		}
		if disk.Used() != 0 {
			t.Fatalf("%s: disk budget still holds %d bytes", text, disk.Used())
		}
		computetest.EmptyDir(t, dir)
	}
}

// expandStage writes each byte it reads expand times: a stage whose
// output outgrows its input, read ahead of it.
func expandStage(expand int) compute.Stage {
	return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		buf := make([]byte, 777)
		wide := make([]byte, 0, expand*len(buf))
		for {
			n, err := in.Read(buf)
			wide = expandBytes(wide[:0], buf[:n], expand)
			if _, werr := out.Write(wide); werr != nil {
				return werr
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
}

// runs holds, for each byte value, 64 copies of it.
var runs = func() (r [256][64]byte) {
	for c := range r {
		for i := range r[c] {
			r[c][i] = byte(c)
		}
	}
	return r
}()

// expandBytes appends each byte of p expand (at most 64) times to dst.
func expandBytes(dst, p []byte, expand int) []byte {
	for _, c := range p {
		dst = append(dst, runs[c][:expand]...)
	}
	return dst
}

// TestReadAheadKeepsOrder: input read ahead reaches the stage in order,
// whole, and an abort after it is still an abort.
//
// The stage writes each byte 8 times (the long run, testenv.Long: 64): the
// read-ahead finds the end once the stage has read about a ninth of the
// input, and the rest comes from the queue.
func TestReadAheadKeepsOrder(t *testing.T) {
	expand := 8
	if testenv.Long() {
		expand = 64
	}
	input := computetest.RandomBytes(9, 1<<20)
	want := expandBytes(make([]byte, 0, expand*len(input)), input, expand)
	disk := compute.NewDiskBudget(1 << 30)
	e := engine.New(engine.Config{Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: t.TempDir(), Disk: disk}})
	var out bytes.Buffer
	if _, err := e.Run(context.Background(), testPipeline(expandStage(expand), copyStage), bytes.NewReader(input), &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("output of %d bytes differs from the %d expected", out.Len(), len(want))
	}

	ctx, cancel := testenv.Context(t)
	defer cancel()
	gate := make(chan struct{})
	close(gate)
	errAbort := io.ErrUnexpectedEOF
	out.Reset()
	_, err := e.Run(ctx, testPipeline(expandStage(expand)), &gatedReader{closed: make(chan struct{}), ctx: ctx, data: input, gate: gate, end: errAbort}, &out)
	if err != errAbort || out.Len() != 0 {
		t.Fatalf("err = %v, %d bytes out; want the abort and nothing", err, out.Len())
	}
	if disk.Used() != 0 {
		t.Fatalf("disk budget still holds %d bytes", disk.Used())
	}
}

// gapSource is a source of n bytes that records how far its reads run
// ahead of what the stage has taken (consumed, counted by the stage).
type gapSource struct {
	left     int64
	read     int64
	consumed *atomic.Int64
	maxGap   int64
}

func (g *gapSource) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	g.maxGap = max(g.maxGap, g.read-g.consumed.Load())
	n := int(min(int64(len(p)), g.left))
	clear(p[:n])
	g.left -= int64(n)
	g.read += int64(n)
	return n, nil
}

// ratioStage writes num bytes for every den it reads, counting what it
// has read in consumed.
func ratioStage(num, den int, consumed *atomic.Int64) compute.Stage {
	return compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
		buf := make([]byte, 4096)
		wide := make([]byte, 4096*num/den)
		for {
			n, err := io.ReadFull(in, buf)
			consumed.Add(int64(n))
			if n > 0 {
				if _, werr := out.Write(wide[:n*num/den]); werr != nil {
					return werr
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
}

// TestReadAheadOnlyForGrowingOutput: a stage that writes less than it
// reads (grep, gzip) is never read ahead of, so nothing but its reply goes
// to disk; a stage that writes more is, so that the end of its input is
// found early (the case that shows the test can fail).
func TestReadAheadOnlyForGrowingOutput(t *testing.T) {
	const size = 8 << 20
	for _, tc := range []struct {
		num, den  int
		readAhead bool
	}{{1, 2, false}, {1, 1, false}, {3, 1, true}} {
		var consumed atomic.Int64
		dir := t.TempDir()
		e := engine.New(engine.Config{Spool: compute.SpoolConfig{MemBytes: 1 << 20, Dir: dir, Disk: compute.NewDiskBudget(1 << 30)}})
		p := testPipeline(ratioStage(tc.num, tc.den, &consumed))
		src := &gapSource{left: size, consumed: &consumed}
		ctx, cancel := testenv.Context(t)
		st, err := e.Run(ctx, p, src, io.Discard)
		cancel()
		if err != nil || st.OutputBytes != int64(size*tc.num/tc.den) {
			t.Fatalf("%d/%d: %v, %d bytes out", tc.num, tc.den, err, st.OutputBytes)
		}
		if ahead := src.maxGap > 1<<20; ahead != tc.readAhead {
			t.Errorf("output %d/%d of the input: the source was read up to %d bytes ahead of the stage; want read-ahead %v", tc.num, tc.den, src.maxGap, tc.readAhead)
		}
		computetest.EmptyDir(t, dir)
	}
}

// TestReadAheadStoppedByFullSpill: when the read-ahead cannot spill its
// queue (the disk budget is full, or, here, no spill file can be made),
// it stops, and the stage takes what it read and then reads the source
// itself. The gate must then not wait for the stopped read-ahead: a write
// of the stage past the reply's memory waited for it for ever, the job
// hung with its input unread and its client waiting. The job must end:
// here with its whole output (the reply's own spill file was made
// before), as the source is read to its end.
//
// The stage removes the spool's directory once its reply has spilled
// (so the reply has its file) and before the queue spills (the queue
// holds at most what the reply does, and the reply is then under 1 MiB,
// the queue's memory): the queue's first spill then fails, every time.
// The hang ends with the test's context (testenv.Context), as an abort.
func TestReadAheadStoppedByFullSpill(t *testing.T) {
	const expand = 4
	input := computetest.RandomBytes(11, 2<<20)
	want := expandBytes(make([]byte, 0, expand*len(input)), input, expand)
	for _, multi := range []bool{false, true} {
		dir := t.TempDir()
		spool := filepath.Join(dir, "spool")
		if err := os.Mkdir(spool, 0o700); err != nil {
			t.Fatal(err)
		}
		disk := compute.NewDiskBudget(1 << 30)
		const mem = 64 << 10
		e := engine.New(engine.Config{Spool: compute.SpoolConfig{MemBytes: mem, Dir: spool, Disk: disk}})
		var written int64
		removed := false
		stage := compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
			buf := make([]byte, 4096)
			wide := make([]byte, 0, expand*len(buf))
			for {
				n, err := in.Read(buf)
				wide = expandBytes(wide[:0], buf[:n], expand)
				k, werr := out.Write(wide)
				if written += int64(k); !removed && written > mem {
					removed = true
					if rerr := os.Remove(spool); rerr != nil {
						return rerr
					}
				}
				if werr != nil {
					return werr
				}
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
			}
		})
		p := testPipeline(stage)
		if multi {
			// The reads of the input and the gate's waits on two
			// goroutines.
			p = testPipeline(copyStage, stage)
		}
		ctx, cancel := testenv.Context(t)
		var out bytes.Buffer
		st, err := e.Run(ctx, p, bytes.NewReader(input), &out)
		cancel()
		if err != nil {
			t.Fatalf("multi %v: %v (the job hung?), %d bytes in", multi, err, st.InputBytes)
		}
		if !removed {
			t.Fatalf("multi %v: the reply never spilled", multi)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("multi %v: output of %d bytes differs from the %d expected", multi, out.Len(), len(want))
		}
		if disk.Used() != 0 {
			t.Fatalf("multi %v: disk budget still holds %d bytes", multi, disk.Used())
		}
	}
}
