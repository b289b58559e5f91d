package spool

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/halfclose/halfclose/compute"
)

// TestWriteBehindRuns: bytes queued at any offsets land where they were
// queued, whatever the buffers' bounds, and no run of a buffer (one write
// to the file, at most) crosses a segment's start.
func TestWriteBehindRuns(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size, seg = 100, 16
	w := newWriteBehind(f, size, seg)
	defer w.close()
	want := make([]byte, 1000)
	// Consecutive writes of odd sizes, then one elsewhere, then back.
	type write struct{ off, n int }
	writes := []write{{0, 7}, {7, 50}, {57, 3}, {60, 140}, {500, 33}, {200, 1}, {201, 299}, {700, 300}}
	for i, wr := range writes {
		p := bytes.Repeat([]byte{byte('a' + i)}, wr.n)
		copy(want[wr.off:], p)
		if n, err := w.WriteAt(p, int64(wr.off)); n != wr.n || err != nil {
			t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", wr.n, wr.off, n, err)
		}
		w.mu.Lock()
		for _, b := range append(w.queue, w.fill) {
			if b == nil {
				continue
			}
			for _, r := range b.runs {
				if r.off/seg != (r.off+r.n-1)/seg {
					t.Errorf("a run of [%d, %d) crosses a segment of %d", r.off, r.off+r.n, seg)
				}
			}
		}
		w.mu.Unlock()
	}
	if err := w.sync(0, int64(len(want))); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file %q\nwant %q", got, want)
	}
}

// TestWriteBehindSyncWaitsForItsRange: sync of a range waits for the bytes
// queued for it, those in a buffer not yet full included; after it, the
// file has them.
func TestWriteBehindSyncWaitsForItsRange(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newWriteBehind(f, 1<<10, 1<<20)
	defer w.close()
	for i := range 10 {
		p := bytes.Repeat([]byte{byte('0' + i)}, 300)
		if _, err := w.WriteAt(p, int64(i*300)); err != nil {
			t.Fatal(err)
		}
		if err := w.sync(int64(i*300), 300); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 300)
		if _, err := f.ReadAt(got, int64(i*300)); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("after sync of write %d: %q, %v", i, got, err)
		}
	}
}

// TestWriteBehindPanicIsAnError: a panic on the write-behind goroutine
// (here a run longer than its buffer's bytes, a bookkeeping fault) is the
// error sync and the next WriteAt return, an internal one, and close
// still ends the goroutine. Before, it ended the process.
func TestWriteBehindPanicIsAnError(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newWriteBehind(f, 100, 1<<20)
	defer w.close()
	w.mu.Lock()
	w.room -= w.size
	w.fill = &wbBuf{data: make([]byte, 10, 100), runs: []wbRun{{0, 500}}}
	w.push()
	w.mu.Unlock()
	if err := w.sync(0, 500); !compute.IsFault(err) {
		t.Fatalf("sync: %v; want a spool fault", err)
	}
	if _, err := w.WriteAt([]byte("x"), 600); !compute.IsFault(err) {
		t.Errorf("WriteAt after it: %v; want the spool fault", err)
	}
}
