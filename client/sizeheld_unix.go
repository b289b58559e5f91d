//go:build unix

package client

import (
	"os"
	"syscall"
)

// sizeHeld reports whether the size of st, a regular file's, is the data
// a read gives, so that it can be declared before the file is read
// (@size=N). A file with no block allocated may not hold its size: an
// attribute of /sys says 4096 and holds a few bytes (/sys/devices/system/
// cpu/online, "0-3\n"), /proc/kcore says the address space; such a file
// is sent as it reads, as a pipe (a sparse file of no blocks too, for the
// cost of the chunks' frames).
func sizeHeld(st os.FileInfo) bool {
	s, ok := st.Sys().(*syscall.Stat_t)
	return !ok || s.Blocks > 0
}
