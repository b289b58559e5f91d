package spool_test

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestSpoolLostWriteAfterRelease: a write of the spill file that fails
// once Release has begun (the disk full under the released reply; here
// the file's descriptor made read-only) cuts the reply: Release returns
// the write's error (a spool fault), never nil, and what reached the destination
// is a prefix of what was written, with no byte from past the failure.
// A writer that goes on after its failed write (as uniq did) must not
// turn the hole into a clean end. Written directly (one core) and behind
// the writer.
func TestSpoolLostWriteAfterRelease(t *testing.T) {
	for _, wb := range []int{0, 4000} {
		dir := t.TempDir()
		f, err := os.OpenFile(filepath.Join(dir, "spill"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		ro, err := os.Open(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		disk := compute.NewDiskBudget(4 << 20)
		s, g := newSpool(compute.SpoolConfig{MemBytes: 1000, Dir: dir, Disk: disk})
		s.SetSegSize(16 << 10)
		s.SetWriteBehind(wb)
		s.SpillTo(f)
		const half = 40 << 10
		want := pattern(0, 2*half)
		for i := 0; i < half; i += 1000 {
			if _, err := s.Write(want[i:min(i+1000, half)]); err != nil {
				t.Fatalf("wb %d: a write before the failure: %v", wb, err)
			}
		}
		// From here the spill file takes no write: what reads it still
		// works.
		if err := syscall.Dup3(int(ro.Fd()), int(f.Fd()), 0); err != nil {
			t.Fatal(err)
		}
		// The destination takes the part in memory, then waits for the
		// writer's first failed write: the room it made is written to
		// the file.
		// (Behind the writer, its write only queues them: the failure
		// shows at the release's read of them, and the destination must
		// not wait.)
		w := &heldWriter{open: make(chan struct{})}
		if wb > 0 {
			close(w.open)
		}
		released := startRelease(t, s, g, w)
		failed := 0
		for i := half; i < len(want); i += 1000 {
			if _, err := s.Write(want[i:min(i+1000, len(want))]); err != nil {
				if failed++; failed == 1 && wb == 0 {
					close(w.open)
				}
				// and on, as a writer that ignores it
			}
		}
		if failed == 0 && wb == 0 {
			t.Fatalf("no write failed")
		}
		s.CloseWrite()
		err = testenv.Recv(t, hangTimeout, "Release's return after CloseWrite", released)
		if failed == 0 && err == nil && bytes.Equal(w.out.Bytes(), want) {
			// Every write went through (behind the writer, the
			// failed ones were not asked for): whole.
		} else if !isSpoolFault(err) {
			t.Errorf("wb %d: Release = %v after %d failed writes, want a spool fault: a cut reply ended as if whole (%d of %d bytes out)", wb, err, failed, w.out.Len(), len(want))
		}
		if !bytes.Equal(w.out.Bytes(), want[:w.out.Len()]) {
			t.Errorf("wb %d: the destination got %d bytes that are not a prefix of what was written: a hole", wb, w.out.Len())
		}
		s.Close()
		f.Close()
		ro.Close()
		if disk.Used() != 0 || s.Held() != 0 {
			t.Errorf("wb %d: after Close: disk %d, held %d", wb, disk.Used(), s.Held())
		}
	}
}

// heldWriter takes its first write at once, the others once open is
// closed.
type heldWriter struct {
	out  bytes.Buffer
	open chan struct{}
}

func (w *heldWriter) Write(p []byte) (int, error) {
	if w.out.Len() > 0 {
		<-w.open
	}
	return w.out.Write(p)
}
