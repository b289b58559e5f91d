package engine_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
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

func (z *zeroCounter) Write(p []byte) (int, error) {
	z.n += int64(len(p))
	if !z.nonZero && len(bytes.Trim(p, "\x00")) > 0 {
		z.nonZero = true
	}
	return len(p), nil
}

// TestGunzipUnderSmallDiskBudget: gunzip writes far more than it reads,
// so it would fill the reply spool long before it read the end of its
// input. The engine reads the input ahead once the spool is past its
// memory, finds the end while the reply is small, and lets the rest flow
// to the client: 64 MiB of output under a 4 MiB disk budget, whose spill
// is given back at the end.
func TestGunzipUnderSmallDiskBudget(t *testing.T) {
	const size = 64 << 20
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
	for _, text := range []string{"gunzip", "gunzip | tr -d x", "zcat | head -c 60000000"} {
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
		if text == "zcat | head -c 60000000" {
			want = 60000000
		}
		if out.n != want || st.OutputBytes != want || out.nonZero || st.InputBytes != int64(gz.Len()) {
			t.Fatalf("%s: %d bytes out (%d counted, non-zero %v), %d in; want %d out, %d in", text, out.n, st.OutputBytes, out.nonZero, st.InputBytes, want, gz.Len())
		}
		if disk.Used() != 0 {
			t.Fatalf("%s: disk budget still holds %d bytes", text, disk.Used())
		}
		emptyDir(t, dir)
	}
}

// expandStage writes each byte it reads 64 times: a stage whose output
// outgrows its input, read ahead of it.
var expandStage = compute.StageFunc(func(ctx context.Context, in io.Reader, out io.Writer) error {
	buf := make([]byte, 777)
	wide := make([]byte, 0, 64*len(buf))
	for {
		n, err := in.Read(buf)
		wide = wide[:0]
		for _, c := range buf[:n] {
			for range 64 {
				wide = append(wide, c)
			}
		}
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

// TestReadAheadKeepsOrder: input read ahead reaches the stage in order,
// whole, and an abort after it is still an abort.
func TestReadAheadKeepsOrder(t *testing.T) {
	input := computetest.RandomBytes(9, 1<<20)
	want := make([]byte, 0, 64*len(input))
	for _, c := range input {
		want = append(want, bytes.Repeat([]byte{c}, 64)...)
	}
	disk := compute.NewDiskBudget(1 << 30)
	e := engine.New(engine.Config{Spool: compute.SpoolConfig{MemBytes: 64 << 10, Dir: t.TempDir(), Disk: disk}})
	var out bytes.Buffer
	if _, err := e.Run(context.Background(), testPipeline(expandStage, copyStage), bytes.NewReader(input), &out); err != nil {
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
	_, err := e.Run(ctx, testPipeline(expandStage), &gatedReader{closed: make(chan struct{}), ctx: ctx, data: input, gate: gate, end: errAbort}, &out)
	if err != errAbort || out.Len() != 0 {
		t.Fatalf("err = %v, %d bytes out; want the abort and nothing", err, out.Len())
	}
	if disk.Used() != 0 {
		t.Fatalf("disk budget still holds %d bytes", disk.Used())
	}
}
