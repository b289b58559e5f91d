//go:build unix

package server

import "syscall"

// setSockoptInt sets a socket option on a RawConn's descriptor: an int
// here, a Handle on Windows.
func setSockoptInt(fd uintptr, level, opt, value int) error {
	return syscall.SetsockoptInt(int(fd), level, opt, value)
}
