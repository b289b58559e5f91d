//go:build unix

package server

import "syscall"

// setSockoptInt sets a socket option on a RawConn's descriptor: an int
// here, a Handle on Windows.
func setSockoptInt(fd uintptr, level, opt, value int) error {
	return syscall.SetsockoptInt(int(fd), level, opt, value)
}

// getSockoptInt reads a socket option of a RawConn's descriptor.
func getSockoptInt(fd uintptr, level, opt int) (int, error) {
	return syscall.GetsockoptInt(int(fd), level, opt)
}

// soError is SO_ERROR.
const soError = syscall.SO_ERROR
