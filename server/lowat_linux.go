package server

import (
	"net"

	"golang.org/x/sys/unix"
)

// setRecvLowat sets the connection's SO_RCVLOWAT: the kernel reports it
// readable only once n bytes wait (or its end, or an error), so a reader
// that keeps up with its client wakes once per n bytes, not once per
// segment. A read still returns what waits, however little.
func setRecvLowat(c *net.TCPConn, n int) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, n)
	}); err != nil {
		return false
	}
	return serr == nil
}

// recvQueued returns the bytes received and not read yet (SIOCINQ).
func recvQueued(c *net.TCPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	})
	return n
}
