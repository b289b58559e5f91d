package spool_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/spool"
)

// TestQueueOrder writes and reads at random against a bytes.Buffer model,
// with a memory budget small enough that most bytes go through the file.
func TestQueueOrder(t *testing.T) {
	for _, mem := range []int64{1, 100, 5000, 70 << 10} {
		disk := compute.NewDiskBudget(64 << 20)
		dir := t.TempDir()
		q := spool.NewQueue(compute.SpoolConfig{Dir: dir, Disk: disk}, mem)
		var model bytes.Buffer
		r := rand.New(rand.NewPCG(uint64(mem), 1))
		var next byte
		for range 3000 {
			if r.IntN(2) == 0 {
				p := make([]byte, r.IntN(20000))
				for i := range p {
					p[i] = next
					next++
				}
				if n, err := q.Write(p); err != nil || n != len(p) {
					t.Fatalf("mem %d: Write = %d, %v", mem, n, err)
				}
				model.Write(p)
			} else {
				p := make([]byte, r.IntN(30000))
				n, err := q.Read(p)
				if err != nil && !(err == io.EOF && model.Len() == 0) {
					t.Fatal(err)
				}
				want := model.Next(len(p))
				if !bytes.Equal(p[:n], want) {
					t.Fatalf("mem %d: read %d bytes, differ from the %d written", mem, n, len(want))
				}
			}
			if q.Len() != int64(model.Len()) {
				t.Fatalf("mem %d: Len %d, want %d", mem, q.Len(), model.Len())
			}
			if disk.Used() < q.Spilled() {
				t.Fatalf("mem %d: %d bytes spilled, %d reserved", mem, q.Spilled(), disk.Used())
			}
		}
		var rest bytes.Buffer
		if _, err := q.WriteTo(&rest); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rest.Bytes(), model.Bytes()) {
			t.Fatalf("mem %d: WriteTo gave %d bytes, differ from the %d left", mem, rest.Len(), model.Len())
		}
		if q.Len() != 0 || disk.Used() != 0 {
			t.Fatalf("mem %d: emptied queue holds %d bytes, %d of disk", mem, q.Len(), disk.Used())
		}
		q.Close()
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("spill files left: %v", ents)
		}
	}
}

// TestQueueGivesDiskBack: what is read is given back to the disk budget
// as it goes (on file systems that punch holes), not when the queue
// empties — what a reply released to a slow client holds is only what
// the client has not read.
func TestQueueGivesDiskBack(t *testing.T) {
	const seg = spool.SegSize
	disk := compute.NewDiskBudget(32 * seg)
	q := spool.NewQueue(compute.SpoolConfig{Dir: t.TempDir(), Disk: disk}, 1)
	defer q.Close()
	chunk := bytes.Repeat([]byte("x"), seg)
	for range 16 {
		if _, err := q.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if disk.Used() < 16*seg-1 {
		t.Fatalf("16 segments spilled, %d bytes reserved", disk.Used())
	}
	if _, err := io.CopyN(io.Discard, q, 12*seg); err != nil {
		t.Fatal(err)
	}
	if !spool.PunchHoles(t.TempDir()) {
		t.Skip("the file system of the temp dir does not punch holes")
	}
	// The 4 segments unread, the one read in part, the spare.
	if used := disk.Used(); used > 6*seg {
		t.Fatalf("12 of 16 segments read, %d bytes (%d segments) still reserved", used, used/seg)
	}
}

// TestQueueDiskBudget: a write past the disk budget fails with
// RESOURCE_EXHAUSTED, having spilled nothing of itself.
func TestQueueDiskBudget(t *testing.T) {
	disk := compute.NewDiskBudget(1000)
	q := spool.NewQueue(compute.SpoolConfig{Dir: t.TempDir(), Disk: disk}, 100)
	defer q.Close()
	n, err := q.Write(make([]byte, 1101))
	if compute.CodeOf(err) != compute.CodeResourceExhausted || n != 100 {
		t.Fatalf("Write = %d, %v; want 100 and RESOURCE_EXHAUSTED", n, err)
	}
	if disk.Used() != 0 {
		t.Fatalf("%d bytes reserved", disk.Used())
	}
}

// TestQueueReusesSegments: a queue read as it is written (the engine's
// read-ahead, a released reply) reuses the segments of its spill file:
// the file stays a few segments long, and the disk it charges within a
// segment or two of what it holds, however much goes through it.
func TestQueueReusesSegments(t *testing.T) {
	disk := compute.NewDiskBudget(64 << 20)
	q := spool.NewQueue(compute.SpoolConfig{Dir: t.TempDir(), Disk: disk}, 1)
	defer q.Close()
	const lag, step = 3 * spool.SegSize / 2, 300 << 10
	var w, r int
	buf := make([]byte, step)
	for w < 64<<20 {
		if _, err := q.Write(pattern(w, step)); err != nil {
			t.Fatal(err)
		}
		w += step
		for w-r > lag {
			n, err := q.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf[:n], pattern(r, n)) {
				t.Fatalf("read at %d differs from what was written", r)
			}
			r += n
		}
		if used, held := disk.Used(), q.Len(); used > held+2*spool.SegSize {
			t.Fatalf("%d bytes held, %d charged to the disk", held, used)
		}
	}
	if size := q.FileSize(); size > 4*spool.SegSize {
		t.Fatalf("%d MiB went through the queue, its spill file is %d bytes long", w>>20, size)
	}
}
