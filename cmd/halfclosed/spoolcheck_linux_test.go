package main

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSpoolDirCheckLeavesNoName: the start's check of --spool-dir makes
// its file as a job makes a spill file, one that never has a name
// (O_TMPFILE), so a server killed during the check leaves nothing in the
// directory: inotify sees no file created there. The check created
// halfclose-spool-check-* and then removed it.
func TestSpoolDirCheckLeavesNoName(t *testing.T) {
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
	c := &config{spoolDir: dir}
	if err := c.checkSpoolDir(slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	// inotify queues an event before the call that caused it returns.
	buf := make([]byte, 4096)
	if n, err := unix.Read(in, buf); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("inotify: %d bytes of events (%q), %v; want none: the check's file had a name", n, buf[:max(n, 0)], err)
	}
}
