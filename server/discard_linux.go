//go:build linux && !386

package server

import (
	"io"
	"net"
	"syscall"
)

// discardChunk is how much one recv may drop (a length only: nothing is
// copied).
const discardChunk = 1 << 30

// discard reads and drops what c's client sends until its FIN (nil), an
// error (its reset), or c's read deadline (os.ErrDeadlineExceeded). On a
// plain TCP connection the kernel drops the bytes itself (recv with
// MSG_TRUNC, tcp(7)): nothing is copied into the process, and no buffer
// is held for the wait; io.Copy to io.Discard read them 8 KiB at a time
// into a buffer it held for the whole wait (1 GiB dropped: 0.35-0.39
// CPU-s of the process, 0.17-0.21 so). Not on linux/386, whose
// recvfrom goes through socketcall (discard_other.go).
func discard(c net.Conn, rc syscall.RawConn) error {
	if rc == nil {
		tc, ok := plainOf(c)
		if !ok {
			_, err := io.Copy(io.Discard, c)
			return err
		}
		if rc = rawConnOf(tc); rc == nil {
			_, err := io.Copy(io.Discard, c)
			return err
		}
	}
	var end error
	if err := rc.Read(func(fd uintptr) bool {
		for {
			n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, 0, discardChunk,
				syscall.MSG_TRUNC|syscall.MSG_DONTWAIT, 0, 0)
			switch {
			case errno == syscall.EINTR:
			case errno == syscall.EAGAIN:
				return false // wait for more, or the deadline
			case errno != 0:
				end = errno
				return true
			case n == 0:
				return true // the FIN
			}
		}
	}); err != nil {
		return err
	}
	return end
}
