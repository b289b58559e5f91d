package spool

import (
	"os"
	"syscall"
)

// fallocate(2) modes: deallocate the range, keep the file's size.
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

// punchHole frees the disk blocks of f's bytes [off, off+n), reporting
// whether the file system did.
func punchHole(f *os.File, off, n int64) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		ferr = syscall.Fallocate(int(fd), fallocPunchHole|fallocKeepSize, off, n)
	}); err != nil {
		return false
	}
	return ferr == nil
}
