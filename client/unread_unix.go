//go:build unix

package client

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unreadBytes reports whether bytes the peer sent wait in c's socket,
// unread: a peek that neither waits nor takes them. After a reset they
// are still there to read (Linux, the BSDs). A connection without a
// socket to ask (a proxy's wrapper) reports none.
func unreadBytes(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var n int
	var b [1]byte
	if rc.Control(func(fd uintptr) {
		n, _, _ = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	}) != nil {
		return false
	}
	return n > 0
}
