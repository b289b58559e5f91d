package testenv

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// NamesNothing runs fn and fails t if fn gave a file a name in dir, even
// for a moment: inotify saw one created or moved there. It skips t when
// dir's file system has no unnamed files (O_TMPFILE). inotify queues an
// event before the call that caused it returns, so no wait is needed.
// what names fn's file in the failure ("the spill file").
func NamesNothing(t testing.TB, dir, what string, fn func()) {
	t.Helper()
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
	fn()
	buf := make([]byte, 4096)
	if n, err := unix.Read(in, buf); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("inotify: %d bytes of events (%q), %v; want none: %s had a name", n, buf[:max(n, 0)], err, what)
	}
}
