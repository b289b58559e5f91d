//go:build unix

package server

import (
	"os"
	"syscall"
)

// fileID returns the device and inode of fi, so that a file replaced by
// one of the same size and time (a symlink swapped to a new directory)
// is seen as changed.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) // Dev is int32 on some systems
	}
	return 0, 0
}

// openNoWait opens path to read with O_NONBLOCK: a pipe put at the path
// after its stat opens at once, where open(2) waits for a writer. A
// regular file's reads do not heed the flag.
func openNoWait(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
