package server

import (
	"net"

	"golang.org/x/sys/unix"
)

// The TCP states of include/net/tcp_states.h that tcpi_state holds.
const (
	tcpEstablished = 1
	tcpCloseWait   = 8
)

// socketBroken reports whether tc's connection is broken, as the kernel
// holds it: its TCP state is neither ESTABLISHED nor CLOSE_WAIT (the
// states a reply is sent in: the client's FIN ends only its half), or
// its socket holds a pending error (SO_ERROR). known is false when it
// cannot tell (no socket, or getsockopt failed).
//
// The state is the signal, not SO_ERROR: a send that failed has taken
// the socket's error already. After sendfile(2) gave ETIMEDOUT for a
// real socket timeout (a client that stopped reading under
// TCP_USER_TIMEOUT, or its packets dropped: loopback set down in a
// network namespace), Linux 6.18 showed tcpi_state CLOSE (7) and
// SO_ERROR 0, in 3 of 3 runs.
func socketBroken(tc *net.TCPConn) (broken, known bool) {
	if tc == nil {
		return false, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false, false
	}
	cerr := rc.Control(func(fd uintptr) {
		ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return
		}
		soerr, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return
		}
		known = true
		broken = soerr != 0 || ti.State != tcpEstablished && ti.State != tcpCloseWait
	})
	if cerr != nil {
		return false, false
	}
	return broken, known
}
