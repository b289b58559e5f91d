package text

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/testenv"
)

// genLine is a long input: one line of n bytes (a newline every
// 1,000,003 bytes, and none at the end), generated a piece at a time.
type genLine struct{ off, n int64 }

func (g *genLine) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n-g.off)]
	for i := range p {
		if o := g.off + int64(i); o%1000003 == 1000002 {
			p[i] = '\n'
		} else {
			p[i] = "abcdefghij"[o%10]
		}
	}
	g.off += int64(len(p))
	return len(p), nil
}

// TestChunkQueueIndexBounded: what tac, tail and head -n -N hold of a
// long input spills, and the queue's index of it (a chunk record each,
// and a file each segment) grows with the segments, not with the chunks
// (--spool-mem/4, as small as 16 bytes). Before, a small --spool-mem made
// the index grow by a record per chunk: 100 bytes of memory per 16 bytes
// of input at --spool-mem 64, and a file each MiB. The bytes read back
// are the input's, forwards, backwards and by range.
func TestChunkQueueIndexBounded(t *testing.T) {
	size := int64(3 << 20)
	if testenv.Long() {
		size = 300 << 20
	}
	for _, mem := range []int64{64, 4 << 10, 1 << 20} {
		dir := t.TempDir()
		disk := compute.NewDiskBudget(1 << 30)
		q := newChunkQueue(compute.SpoolConfig{MemBytes: mem, Dir: dir, Disk: disk})
		g := &genLine{n: size}
		inMem := int(mem)/q.chunkSize + 8 // and the first ones, smaller
		for {
			if _, err := q.ReadOnce(g); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			// Checked as the queue fills: the old index took minutes
			// to fill (its spill scanned it from the front each time).
			segs := int(q.Len()/q.segSize) + 1
			spilled := 0
			for _, c := range q.live() {
				if c.mem == nil {
					spilled++
				}
			}
			if spilled > segs || len(q.live()) > spilled+inMem {
				t.Fatalf("--spool-mem %d: %d chunks in the index (%d spilled) for %d bytes, want at most %d spilled and %d in memory", mem, len(q.live()), spilled, q.Len(), segs, inMem)
			}
			if n := len(q.segs); n > segs {
				t.Fatalf("--spool-mem %d: %d spill files for %d bytes, want at most %d", mem, n, q.Len(), segs)
			}
		}
		if want := (size - 1) / 1000003; q.Lines() != want || q.Len() != size {
			t.Errorf("--spool-mem %d: %d bytes, %d lines; want %d, %d", mem, q.Len(), q.Lines(), size, want)
		}

		want := sha256.New()
		io.Copy(want, &genLine{n: size})
		got := sha256.New()
		if _, err := io.Copy(got, q.Reader()); err != nil || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			t.Errorf("--spool-mem %d: Reader: %v, or not the input", mem, err)
		}
		// Backwards: pieces that end where the one after them starts,
		// each the input's bytes there.
		end := size
		err := q.walkBackward(func(base int64, b []byte) error {
			if base+int64(len(b)) != end {
				t.Fatalf("--spool-mem %d: a piece [%d, %d) after one at %d", mem, base, base+int64(len(b)), end)
			}
			wantB, _ := io.ReadAll(io.LimitReader(&genLine{off: base, n: size}, int64(len(b))))
			if !bytes.Equal(b, wantB) {
				t.Fatalf("--spool-mem %d: the piece at %d is not the input's", mem, base)
			}
			end = base
			return nil
		})
		if err != nil || end != 0 {
			t.Errorf("--spool-mem %d: walkBackward: %v, ended at %d", mem, err, end)
		}
		for _, r := range [][2]int64{{0, 1}, {5, 300 << 10}, {size/2 - 3, size/2 + 200<<10}, {size - 7, size}} {
			var b bytes.Buffer
			if err := q.writeRange(&b, r[0], r[1]); err != nil {
				t.Fatal(err)
			}
			wantB, _ := io.ReadAll(io.LimitReader(&genLine{off: r[0], n: size}, r[1]-r[0]))
			if !bytes.Equal(b.Bytes(), wantB) {
				t.Errorf("--spool-mem %d: writeRange(%d, %d) is not the input's", mem, r[0], r[1])
			}
		}
		// Dropping the front, as head -n -N does, gives the files back.
		var front bytes.Buffer
		for len(q.live()) > 1 {
			front.Reset()
			if err := q.DropFront(&front); err != nil {
				t.Fatal(err)
			}
		}
		q.Close()
		if disk.Used() != 0 {
			t.Errorf("--spool-mem %d: the disk budget holds %d bytes after Close", mem, disk.Used())
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("--spool-mem %d: %d files left", mem, len(ents))
		}
	}
}
