package client

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// dialRaw dials a TCP address as grpc-go's own dialer does (the
// system's keepalive settings) and returns a connection whose reads and
// writes are raw system calls (rawConn).
func dialRaw(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{KeepAlive: -1, Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
		})
	}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	rc, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &rawConn{TCPConn: tc, rc: rc}, nil
}

// hasRawDialer says dialRaw is more than net.Dialer here.
const hasRawDialer = true

// rawConn is a TCP connection written and read with write(2) and read(2)
// as raw system calls. grpc-go writes its connection through the
// runtime's syscall path (entersyscall): on loopback each 1 MiB write runs
// the receiver's TCP processing too, and every such call wakes Go's sysmon
// thread, which then polls every 20 µs and takes back the processor of a
// call that lasts. The socket is non-blocking: a full (or empty) socket
// parks the goroutine in the netpoller under the connection's deadlines,
// as net.TCPConn does, so neither call ever blocks. (The server does the
// same: server/grpcconn.go.)
type rawConn struct {
	*net.TCPConn
	rc syscall.RawConn
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r0, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait in the netpoller for bytes
			}
			n, errno = int(r0), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *rawConn) Write(p []byte) (int, error) {
	// One RawConn.Write for the whole of p: it holds the connection's
	// write lock throughout, so concurrent writes do not interleave.
	written := 0
	var errno syscall.Errno
	err := c.rc.Write(func(fd uintptr) bool {
		for written < len(p) {
			r0, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[written])), uintptr(len(p)-written))
			switch e {
			case 0:
				if r0 == 0 {
					errno = syscall.EIO // a socket never takes 0 bytes of more
					return true
				}
				written += int(r0)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait in the netpoller for room
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return written, c.opError("write", err)
	case errno != 0:
		return written, c.opError("write", os.NewSyscallError("write", errno))
	}
	return written, nil
}

// opError wraps err as net.TCPConn's Read and Write do (a deadline's
// os.ErrDeadlineExceeded, net.ErrClosed, an errno).
func (c *rawConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err // RawConn's own "raw-read"/"raw-write" wrapping
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
