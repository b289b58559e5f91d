package server

import "syscall"

// setSockoptInt sets a socket option on a RawConn's descriptor: a Handle
// here, an int on Unix.
func setSockoptInt(fd uintptr, level, opt, value int) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), level, opt, value)
}

// getSockoptInt reads a socket option of a RawConn's descriptor.
func getSockoptInt(fd uintptr, level, opt int) (int, error) {
	return syscall.GetsockoptInt(syscall.Handle(fd), level, opt)
}

// soError is SO_ERROR, which package syscall does not define on Windows
// (Winsock's value).
const soError = 0x1007
