//go:build unix

package text

import (
	"math"

	"golang.org/x/sys/unix"
)

// openFilesLimit is this process's soft limit of open files, as GNU
// sort's unsigned int reads it (an unlimited one is 2^32-1). The Go
// runtime raised it at start to the hard limit less one (package
// syscall's init), so it can be more than the soft limit the server
// was started with, which a GNU sort started beside it would read.
func openFilesLimit() uint64 {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return gnuOpenMax
	}
	return min(uint64(rl.Cur), math.MaxUint32)
}
