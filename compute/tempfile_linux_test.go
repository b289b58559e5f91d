package compute_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/halfclose/halfclose/compute"
)

// TestSpillFileNeverNamed: a spill file never has a name in --spool-dir,
// not even for a moment (O_TMPFILE), so a server killed as it creates one
// leaves nothing there: inotify sees no file created in the directory.
// Created, then unlinked, a file was there between the two system calls,
// and a SIGKILL between them left it for good. It still holds and gives
// back what is written to it.
func TestSpillFileNeverNamed(t *testing.T) {
	dir := t.TempDir()
	if fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600); err != nil {
		t.Skipf("no O_TMPFILE in %s: %v", dir, err)
	} else {
		unix.Close(fd)
	}
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	c := compute.SpoolConfig{Dir: dir}
	f, err := c.TempFile()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// inotify queues an event as the call that caused it returns.
	buf := make([]byte, 4096)
	if n, err := unix.Read(in, buf); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("inotify: %d bytes of events (%q), %v; want none: the spill file had a name", n, buf[:max(n, 0)], err)
	}
	want := []byte("spilled bytes")
	if _, err := f.WriteAt(want, 1<<20); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := f.ReadAt(got, 1<<20); err != nil && err != io.EOF || !bytes.Equal(got, want) {
		t.Fatalf("read back %q, %v", got, err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("dir holds %v (%v)", entries, err)
	}
}
