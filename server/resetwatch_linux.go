package server

import (
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// resetWatchMinInput is the input below which a job is not watched for a
// reset after its FIN: what such a job computes after its FIN costs less
// than the watch's goroutine and wake-ups would (a 1 KiB route job's CPU
// is ~35 µs, issue 14), and its reset is found at the reply's first write.
// A pipeline can still turn a small input into much work (gunzip -c of
// 64 KiB inflates to at most ~66 MB), a fraction of a CPU-second.
const resetWatchMinInput = 64 << 10

// watchesReset: this platform watches a plain TCP connection for a reset
// after its FIN (watchReset).
const watchesReset = true

// watchReset waits, on a plain TCP connection whose client has sent its
// FIN, for the client to break the connection (an RST: a cancelled
// halfclose --tcp, a client killed with SO_LINGER 0), and calls abort with
// the error a read would have returned. After the FIN nothing reads the
// socket while the job computes, so without it a job whose client had
// gone went on to its end: sixteen sort stages over 89 MB, reset 3 s
// after the FIN, spent 20 more CPU-seconds and held their slot until
// shutdown's grace ran out. The wait costs almost no CPU: the netpoller
// wakes it when the socket's state changes (edge-triggered; after the FIN
// every edge reports it readable, so a reply's writes that wait for room
// wake it too), one getsockopt a wake: 123 for a 512 MiB reply of tr
// (strace -c). stop ends the wait and returns once it has; abort is not
// called after stop has begun. stop returns the reset the wait found,
// whether or not abort was called for it: the getsockopt that finds it
// also clears it, and a read of a reset connection whose error is cleared
// returns end of file (the kernel shuts a reset connection down for
// reading), so a caller that reads on must not take that for a FIN.
//
// The caller must read the connection no more until stop has returned:
// the wait holds its read lock.
func watchReset(tc tcpConn, abort func(error)) (stop func() (reset error)) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return func() error { return nil }
	}
	// The read deadline the job's last read set (--idle-timeout) would end
	// the wait; stop sets its own.
	tc.SetReadDeadline(time.Time{})
	var stopped atomic.Bool
	var found error // the reset the wait found; read once done is closed
	done := make(chan struct{})
	go func() {
		defer close(done)
		reset := false
		err := rc.Read(func(fd uintptr) bool {
			if stopped.Load() {
				return true
			}
			// A read would not tell: after the FIN it returns 0 bytes
			// even once the connection is reset. The socket's error does
			// (a reset sets it, before its state goes to CLOSE: EPIPE in
			// CLOSE_WAIT, reported as the reset it is), in one
			// getsockopt. A reply's write that takes the error first
			// fails the job itself.
			e, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
			reset = err == nil && e != 0
			return reset // false: no change yet, wait for one
		})
		if err == nil && reset {
			found = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
			if !stopped.Load() {
				abort(found)
			}
		}
	}()
	return func() error {
		stopped.Store(true)
		tc.SetReadDeadline(time.Now()) // ends the wait in the netpoller
		<-done
		return found
	}
}
