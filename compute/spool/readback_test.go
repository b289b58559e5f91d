package spool_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/internal/computetest"
	"github.com/halfclose/halfclose/internal/testenv"
)

// recordWriter keeps what it is given, and fails once it has taken limit
// bytes (limit < 0: never).
type recordWriter struct {
	out   bytes.Buffer
	limit int
	err   error
}

func (w *recordWriter) Write(p []byte) (int, error) {
	if w.limit >= 0 && w.out.Len()+len(p) > w.limit {
		k := w.limit - w.out.Len()
		w.out.Write(p[:k])
		return k, w.err
	}
	return w.out.Write(p)
}

// TestSpoolSpillReadBack: a reply spilled over many segments, through
// write-behind buffers of an odd size, written on while it is released,
// reaches a destination that reads it back through memory (the read-back
// reads the next part while out takes one) exactly as written; a
// destination that fails part-way took a prefix of it, and the spool
// holds the rest. The bytes themselves are the oracle.
func TestSpoolSpillReadBack(t *testing.T) {
	const mem, seg, wb = 3000, 16 << 10, 5000
	want := computetest.RandomBytes(11, 600<<10)
	for _, limit := range []int{-1, 0, 1, mem, mem + 1, 100 << 10, len(want) - 1} {
		dir := t.TempDir()
		disk := compute.NewDiskBudget(4 << 20)
		s, g := newSpool(compute.SpoolConfig{MemBytes: mem, Dir: dir, Disk: disk})
		s.SetSegSize(seg)
		s.SetWriteBehind(wb)
		// Held before Release: the memory, and 300 KiB in odd parts.
		held := 300 << 10
		for i := 0; i < held; {
			n := min(held-i, 1+(i*7919)%20000)
			if k, err := s.Write(want[i : i+n]); k != n || err != nil {
				t.Fatalf("Write = %d, %v", k, err)
			}
			i += n
		}
		broken := errors.New("broken pipe")
		w := &recordWriter{limit: limit, err: broken}
		released := startRelease(t, s, g, w)
		// The rest while it is released.
		wrote := make(chan error, 1)
		go func() {
			for i := held; i < len(want); {
				n := min(len(want)-i, 1+(i*104729)%30000)
				if _, err := s.Write(want[i : i+n]); err != nil {
					wrote <- err
					return
				}
				i += n
			}
			s.CloseWrite()
			wrote <- nil
		}()
		err := testenv.Recv(t, hangTimeout, "Release's return", released)
		if limit < 0 {
			if err != nil {
				t.Fatalf("Release = %v", err)
			}
			if werr := testenv.Recv(t, hangTimeout, "the writer's return", wrote); werr != nil {
				t.Fatal(werr)
			}
			if !bytes.Equal(w.out.Bytes(), want) {
				t.Fatalf("released %d bytes, differ from the %d written", w.out.Len(), len(want))
			}
		} else {
			if !errors.Is(err, broken) {
				t.Fatalf("limit %d: Release = %v, want %v", limit, err, broken)
			}
			s.Abort(err) // as the engine: the job is over, the writer stops
			testenv.Recv(t, hangTimeout, "the writer's return after the abort", wrote)
			if got := w.out.Bytes(); !bytes.Equal(got, want[:len(got)]) || len(got) != limit {
				t.Fatalf("limit %d: the destination took %d bytes, not the first %d written", limit, len(got), limit)
			}
		}
		s.Close()
		if disk.Used() != 0 || s.Held() != 0 {
			t.Fatalf("limit %d: after Close: disk %d, held %d", limit, disk.Used(), s.Held())
		}
		computetest.EmptyDir(t, dir)
	}
}

// isSpoolFault reports whether err is compute.SpoolError's of the write
// the tests make fail (a file open for reading only: EBADF on Linux, as
// any system error but room and descriptors, UNAVAILABLE), not an
// INTERNAL error, which every other fault of the server's also is.
func isSpoolFault(err error) bool {
	var errno syscall.Errno
	return compute.CodeOf(err) == compute.CodeUnavailable && compute.IsFault(err) && errors.As(err, &errno)
}

// TestSpoolSpillWriteFails: when the spill file does not take the bytes
// written behind the writer (here a file open for reading only, as a
// full disk would do), the reply fails with the spool's fault (compute.SpoolError): Release never
// delivers a reply with a hole in it, and writes fail once it is known.
// (The file has other bytes where the spill would go: reading them back
// would succeed.)
func TestSpoolSpillWriteFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spill")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	disk := compute.NewDiskBudget(4 << 20)
	s, g := newSpool(compute.SpoolConfig{MemBytes: 1000, Dir: t.TempDir(), Disk: disk})
	s.SetSegSize(16 << 10)
	s.SetWriteBehind(4000)
	s.SpillTo(ro)
	want := pattern(0, 50<<10)
	for i := 0; i < len(want); i += 1000 {
		if _, err := s.Write(want[i : i+1000]); err != nil {
			if !isSpoolFault(err) {
				t.Fatalf("Write = %v, want the spool's UNAVAILABLE of its errno", err)
			}
			break // the failure was seen: the job would end here
		}
	}
	w := &recordWriter{limit: -1}
	err = testenv.Recv(t, hangTimeout, "Release's return", startRelease(t, s, g, w))
	if !isSpoolFault(err) {
		t.Fatalf("Release = %v, want the spool's UNAVAILABLE of its errno", err)
	}
	if w.out.Len() > 1000 || !bytes.Equal(w.out.Bytes(), want[:w.out.Len()]) {
		t.Fatalf("the destination got %d bytes: more than the memory held", w.out.Len())
	}
	s.Close()
	if disk.Used() != 0 {
		t.Fatalf("disk %d after Close", disk.Used())
	}
}
