package compute

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// createUnlinked creates a file in dir (the system's temp dir when empty)
// that has no name at any moment (O_TMPFILE): a process killed as it
// creates one (the OOM killer, under the load that makes jobs spill)
// leaves nothing in dir, where create-then-unlink left a
// halfclose-spool-* file that nothing removes (a pod's emptyDir outlives
// its container). A file system without O_TMPFILE (NFS, an old kernel)
// gets create-then-unlink.
func createUnlinked(dir string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600)
	switch {
	case err == nil:
		return os.NewFile(uintptr(fd), filepath.Join(dir, "(unlinked spill file)")), nil
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EINVAL):
		// No O_TMPFILE here (EISDIR: a kernel before 3.11).
		return createThenUnlink(dir)
	}
	return nil, &os.PathError{Op: "open", Path: dir, Err: err}
}
