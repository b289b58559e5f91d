package server

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// setRecvLowat sets the connection's SO_RCVLOWAT: the kernel reports it
// readable only once n bytes wait (or its end, or an error), so a reader
// that keeps up with its client wakes once per n bytes, not once per
// segment. A read still returns what waits, however little.
func setRecvLowat(c tcpConn, n int) bool {
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
func recvQueued(c tcpConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var n int32
	rc.Control(func(fd uintptr) {
		// A raw system call: it does not block, and a Syscall would wake
		// the runtime's sysmon thread.
		if _, _, e := syscall.RawSyscall(syscall.SYS_IOCTL, fd, unix.SIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
			n = 0
		}
	})
	return int(n)
}

// sendQueued returns the bytes written to the connection that its peer
// has not acknowledged yet (SIOCOUTQ), and false when it cannot tell.
func sendQueued(c tcpConn) (int, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int32
	ok := false
	rc.Control(func(fd uintptr) {
		_, _, e := syscall.RawSyscall(syscall.SYS_IOCTL, fd, unix.SIOCOUTQ, uintptr(unsafe.Pointer(&n)))
		ok = e == 0
	})
	return int(n), ok
}

// rawReader reads a TCP connection with read(2) as a raw system call
// (no entersyscall/exitsyscall), waiting in the netpoller when nothing
// waits, under the connection's read deadline.
type rawReader struct {
	rc syscall.RawConn
	// arm, when not nil, is told before a read waits in the netpoller
	// (connReader.armWait): the read deadline is then set only for reads
	// that wait, and a job whose input is there when it reads it sets
	// none.
	arm waitArmer
}

func newRawReader(c tcpConn) io.Reader { return rawReaderOf(rawConnOf(c)) }

// rawConnOf returns c's RawConn, or nil. A connection's raw reads, writes
// and half-close share one (rawReaderOf, rawWriterOf, closeWriteRaw):
// SyscallConn allocates one at each call.
func rawConnOf(c tcpConn) syscall.RawConn {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// rawReaderOf is newRawReader for a connection's rc (nil: nil).
func rawReaderOf(rc syscall.RawConn) io.Reader {
	if rc == nil {
		return nil
	}
	return rawReader{rc: rc}
}

// rawReaderArmed is rawReaderOf, with arm told before a read waits.
func rawReaderArmed(rc syscall.RawConn, arm waitArmer) io.Reader {
	if rc == nil {
		return nil
	}
	return rawReader{rc: rc, arm: arm}
}

func (r rawReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	// What the call sets, in one variable: as separate variables with
	// armErr, the closure's took 3 allocations a read, not 2.
	var res struct {
		n      int
		errno  syscall.Errno
		armErr error
	}
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			r0, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				if r.arm != nil {
					if res.armErr = r.arm.armWait(); res.armErr != nil {
						return true
					}
				}
				return false
			}
			res.n, res.errno = int(r0), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case res.armErr != nil:
		return 0, res.armErr
	case res.errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", res.errno)}
	case res.n == 0:
		return 0, io.EOF
	}
	return res.n, nil
}

// setUserTimeout sets the connection's TCP_USER_TIMEOUT: unacknowledged
// data for longer than d drops it (as grpc-go does for its keepalive
// timeout on the connections it sees as a *net.TCPConn).
func setUserTimeout(c *net.TCPConn, d time.Duration) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d/time.Millisecond))
	})
}

// closeWrite is c.CloseWrite with shutdown(2) as a raw system call (see
// rawWriter): on loopback it runs the peer's receipt of the FIN. The
// number is x/sys/unix's: package syscall has none on linux/386, where
// the socket calls went through socketcall(2) before Linux 4.3 gave them
// their own; a kernel older than that (ENOSYS) gets endReply.
func closeWrite(c tcpConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	return closeWriteRaw(c, rc)
}

// closeWriteRaw is closeWrite through c's RawConn rc (nil: one made now).
//
// The FIN says the reply is whole, so the close that follows must not
// reset it: the connection's SO_LINGER 0 (armCrashReset), which makes a
// crashed server's kernel reset it, is cleared first, in the same
// Control (endReply).
func closeWriteRaw(c tcpConn, rc syscall.RawConn) error {
	if rc == nil {
		return closeWrite(c)
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		var off unix.Linger
		_, _, errno = syscall.RawSyscall6(unix.SYS_SETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_LINGER,
			uintptr(unsafe.Pointer(&off)), unsafe.Sizeof(off), 0)
		if errno == 0 {
			_, _, errno = syscall.RawSyscall(unix.SYS_SHUTDOWN, fd, syscall.SHUT_WR, 0)
		}
	}); err != nil {
		return err
	}
	if errno == syscall.ENOSYS {
		return endReply(c)
	}
	if errno != 0 {
		return &net.OpError{Op: "shutdown", Net: "tcp", Err: os.NewSyscallError("shutdown", errno)}
	}
	return nil
}

// rawWriter writes a TCP connection with write(2) as a raw system call:
// a write of the non-blocking socket never blocks (a full socket waits in
// the netpoller, under the connection's write deadline), and a Syscall
// would wake the runtime's sysmon thread.
type rawWriter struct{ rc syscall.RawConn }

func newRawWriter(c tcpConn) io.Writer { return rawWriterOf(rawConnOf(c)) }

// rawWriterOf is newRawWriter for a connection's rc (nil: nil).
func rawWriterOf(rc syscall.RawConn) io.Writer {
	if rc == nil {
		return nil
	}
	return rawWriter{rc}
}

func (w rawWriter) Write(p []byte) (int, error) {
	return w.writeArmed(p, nil, false, nil)
}

// writeWatched is writeArmed with nothing to arm.
func (w rawWriter) writeWatched(p []byte, watch *sendWatch, more bool) (int, error) {
	return w.writeArmed(p, watch, more, nil)
}

// writeWatched is Write, taking watch (when not nil) at the first time
// the socket is full while nothing of p is written (watchedWriter). more
// sends p with MSG_MORE: its last part, short of a full segment, waits in
// the socket for what follows, which for a reply's last write is the FIN
// of closeWrite: the reply's end and the FIN then go in one segment, and
// the client acknowledges them once (issue 14: 9 -> 7 segments a small
// route job). arm, when not nil, is told before the write waits for room
// (connWriter.armWait), and its error ends the write.
func (w rawWriter) writeArmed(p []byte, watch *sendWatch, more bool, arm waitArmer) (int, error) {
	// One RawConn.Write for the whole of p: it holds the connection's
	// write lock throughout, so that concurrent writes do not interleave
	// their parts (as net.Conn's Write does not). What the call sets is
	// in one variable (see rawReader.Read): 2 allocations a write, not 4.
	var res struct {
		written int
		errno   syscall.Errno
		armErr  error
		armed   bool // arm was told: once a call, as begin sets it once
	}
	err := w.rc.Write(func(fd uintptr) bool {
		more := more // not assigned to from here: it stays on the stack
		for res.written < len(p) {
			var r0 uintptr
			var e syscall.Errno
			if more {
				// x/sys/unix's number, as closeWrite's: linux/386 has
				// it since Linux 4.3, and before that (ENOSYS) the
				// write goes without MSG_MORE.
				r0, _, e = syscall.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[res.written])), uintptr(len(p)-res.written), unix.MSG_MORE, 0, 0)
				if e == syscall.ENOSYS {
					more = false
					continue
				}
			} else {
				r0, _, e = syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[res.written])), uintptr(len(p)-res.written))
			}
			switch e {
			case 0:
				if r0 == 0 {
					res.errno = syscall.EIO // a socket never takes 0 bytes of more
					return true
				}
				res.written += int(r0)
			case syscall.EINTR:
			case syscall.EAGAIN:
				if watch != nil && res.written == 0 && !watch.ok {
					var q int32
					_, _, e := syscall.RawSyscall(syscall.SYS_IOCTL, fd, unix.SIOCOUTQ, uintptr(unsafe.Pointer(&q)))
					watch.queued, watch.ok = int(q), e == 0
				}
				if arm != nil && !res.armed {
					res.armed = true
					if res.armErr = arm.armWait(); res.armErr != nil {
						return true
					}
				}
				return false // wait in the netpoller for room
			default:
				res.errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return res.written, err
	case res.armErr != nil:
		return res.written, res.armErr
	case res.errno != 0:
		return res.written, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", res.errno)}
	}
	return res.written, nil
}
