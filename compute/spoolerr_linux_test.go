package compute_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/internal/testenv"
)

// TestSpoolErrorClasses: a spill file's failure is told by its cause:
// no room (RESOURCE_EXHAUSTED, as the disk budget), no descriptors
// (RESOURCE_EXHAUSTED), anything else UNAVAILABLE; every one names the
// spool and keeps the cause for the log, and a core error (the budget's)
// passes as it is. All were INTERNAL "internal error".
func TestSpoolErrorClasses(t *testing.T) {
	const (
		full  = "spool: no space left for spill files on the server"
		fds   = "spool: the server is out of file descriptors for spill files"
		broke = "spool: spill files cannot be written on this server"
	)
	for _, tc := range []struct {
		errno syscall.Errno
		code  compute.Code
		msg   string
	}{
		{syscall.ENOSPC, compute.CodeResourceExhausted, full},
		{syscall.EDQUOT, compute.CodeResourceExhausted, full},
		{syscall.EFBIG, compute.CodeResourceExhausted, full},
		{syscall.EMFILE, compute.CodeResourceExhausted, fds},
		{syscall.ENFILE, compute.CodeResourceExhausted, fds},
		{syscall.ENOMEM, compute.CodeResourceExhausted, fds},
		{syscall.EROFS, compute.CodeUnavailable, broke},
		{syscall.EIO, compute.CodeUnavailable, broke},
		{syscall.ENOENT, compute.CodeUnavailable, broke},
		{syscall.ENOTDIR, compute.CodeUnavailable, broke},
	} {
		cause := &os.PathError{Op: "write", Path: "/spool/x", Err: tc.errno}
		err := compute.SpoolError("write failed", cause)
		var ce *compute.Error
		if !errors.As(err, &ce) || ce.Code != tc.code || ce.Msg != tc.msg || !ce.Fault || !errors.Is(err, tc.errno) {
			t.Errorf("%v: %#v", tc.errno, err)
		}
		if !compute.IsFault(err) {
			t.Errorf("%v: not a fault", tc.errno)
		}
	}
	// No errno: a spill file's user broke its own invariant (a short
	// read, a file closed under it), a bug and not the disk: INTERNAL,
	// never UNAVAILABLE (which the Go client replays on another server).
	// It was UNAVAILABLE "spill files cannot be written".
	for _, cause := range []error{io.ErrUnexpectedEOF, io.EOF, os.ErrClosed, errors.New("bad run line")} {
		err := compute.SpoolError("read failed", cause)
		if compute.CodeOf(err) != compute.CodeInternal || !compute.IsFault(err) || !errors.Is(err, cause) {
			t.Errorf("%v: %#v, want an internal error", cause, err)
		}
	}
	budget := compute.NewDiskBudget(1).Reserve(2)
	if err := compute.SpoolError("write failed", budget); err != budget || compute.IsFault(err) {
		t.Errorf("the budget's error became %v", err)
	}
}

// TestSpoolOutOfDescriptors: a spill file created with every descriptor
// of the process taken (RLIMIT_NOFILE) fails RESOURCE_EXHAUSTED naming
// the spool, and does not mark it unusable: descriptors come back.
func TestSpoolOutOfDescriptors(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	// The lowest free descriptor: with the limit there, the next open
	// fails EMFILE.
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	next := f.Fd()
	f.Close()
	low := old
	low.Cur = uint64(next)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	c := compute.SpoolConfig{Dir: t.TempDir()}
	_, err = c.TempFile()
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if compute.CodeOf(err) != compute.CodeResourceExhausted || !errors.Is(err, syscall.EMFILE) ||
		err.Error() != "spool: the server is out of file descriptors for spill files" {
		t.Fatalf("TempFile with no descriptor left: %v", err)
	}
	if c.Budget().Unusable() {
		t.Error("out of descriptors marked the spool unusable")
	}
}

// TestSpoolUnusableUntilMended: a spill file that cannot be made in a
// removed directory marks the budget Unusable (the server's /readyz says
// so), with its create's error as the Cause, and the next one made
// clears it; each change closes the channel Changed gave before it (the
// server's gRPC health waits on it), and only a change does.
func TestSpoolUnusableUntilMended(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	c := compute.SpoolConfig{Dir: dir}
	changed := c.Budget().Changed()
	_, err := c.TempFile()
	if compute.CodeOf(err) != compute.CodeUnavailable || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("TempFile in a missing dir: %v", err)
	}
	if !c.Budget().Unusable() {
		t.Fatal("not marked unusable")
	}
	if cause := c.Budget().Cause(); cause != err {
		t.Errorf("Cause %v, want %v", cause, err)
	}
	isClosed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	if !isClosed(changed) {
		t.Error("Changed not closed when the spool was marked")
	}
	changed = c.Budget().Changed()
	if _, err := c.TempFile(); err == nil || isClosed(changed) {
		t.Errorf("a second failure (%v) closed Changed, or made a file", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := c.TempFile()
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if c.Budget().Unusable() || c.Budget().Cause() != nil {
		t.Fatalf("still marked unusable once a spill file was made: %v", c.Budget().Cause())
	}
	if !isClosed(changed) {
		t.Error("Changed not closed when the spool was mended")
	}
}

// TestSpoolFullIsNotBroken: a spool marked unusable (its directory
// removed) whose directory comes back full (no inode left: the create's
// ENOSPC) is no longer broken, only full, which leaves /readyz alone
// (docs/operations.md): the mark goes. It stayed until an inode was
// free: /readyz 503 for a full disk.
func TestSpoolFullIsNotBroken(t *testing.T) {
	full := testenv.FullTmpfs(t)
	dir := filepath.Join(t.TempDir(), "spool")
	c := compute.SpoolConfig{Dir: dir}
	if _, err := c.TempFile(); !errors.Is(err, syscall.ENOENT) || !c.Budget().Unusable() {
		t.Fatalf("TempFile in a missing dir: %v, unusable %v", err, c.Budget().Unusable())
	}
	if err := os.Symlink(full, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TempFile(); compute.CodeOf(err) != compute.CodeResourceExhausted || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("TempFile with no inode left: %v", err)
	}
	if c.Budget().Unusable() {
		t.Error("a full spool is still marked unusable")
	}
}
