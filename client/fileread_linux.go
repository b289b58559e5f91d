package client

import (
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// inputReader returns the reader sendChunks reads r through: for a
// regular file (an *os.File, such as stdin redirected from a file), a
// nowaitFile; anything else as it is.
func inputReader(r io.Reader) io.Reader {
	f, ok := r.(*os.File)
	if !ok {
		return r
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return r // a pipe, a tty, a socket, a device: read as before
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return r
	}
	return &nowaitFile{f: f, rc: rc, pread: preadNowait}
}

// nowaitFile reads a regular file with preadv2(RWF_NOWAIT) issued as a
// raw system call. os.File's read is a blocking Syscall: every one
// (a 1 MiB chunk is a read of a few hundred µs from the page cache) wakes
// Go's sysmon thread, which then polls every 20 µs and, on one core
// (GOMAXPROCS=1, the plaintext CLI), takes the processor back from the
// read and wakes another thread to run the rest. A read with RWF_NOWAIT
// never blocks: it copies what the page cache holds and fails with EAGAIN
// when the data must come from the disk, so it needs no entersyscall.
// EAGAIN reads that chunk with f.Read, as before; a kernel or file system
// that refuses the flag (EOPNOTSUPP, EINVAL, ENOSYS) turns it off for
// good. The offset is the file's own (-1, as read(2)), so short reads,
// EOF, and a file that grows or shrinks behave as with f.Read; any other
// error is left to f.Read to meet and report as it always did.
type nowaitFile struct {
	f     *os.File
	rc    syscall.RawConn // f's: its Read holds f open during the call
	pread func(fd uintptr, p []byte) (int, syscall.Errno)
	off   bool // RWF_NOWAIT refused: f.Read from now on
}

// maxRead is os.File's cap on one read (poll.FD's maxRW).
const maxRead = 1 << 30

func (r *nowaitFile) Read(p []byte) (int, error) {
	if r.off || len(p) == 0 {
		return r.f.Read(p)
	}
	if len(p) > maxRead {
		p = p[:maxRead]
	}
	var n int
	var errno syscall.Errno
	if err := r.rc.Read(func(fd uintptr) bool {
		for {
			n, errno = r.pread(fd, p)
			if errno != syscall.EINTR {
				return true
			}
		}
	}); err != nil {
		return r.f.Read(p) // closed: f.Read says so, as before
	}
	switch errno {
	case 0:
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	case syscall.EOPNOTSUPP, syscall.EINVAL, syscall.ENOSYS:
		r.off = true
	}
	return r.f.Read(p) // EAGAIN (not cached), or an error f.Read reports
}

// preadNowait is preadv2(fd, p, -1, RWF_NOWAIT) as a raw system call.
func preadNowait(fd uintptr, p []byte) (int, syscall.Errno) {
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	// The offset -1 (the file's own) as the kernel's (pos_l, pos_h) pair,
	// as x/sys/unix's offs2lohi splits it.
	offs := ^uint64(0)
	const longBits = unsafe.Sizeof(uintptr(0)) * 8
	r0, _, e := syscall.RawSyscall6(unix.SYS_PREADV2, fd, uintptr(unsafe.Pointer(&iov)), 1,
		uintptr(offs), uintptr(offs>>(longBits-1)>>1), unix.RWF_NOWAIT)
	if e != 0 {
		return 0, e
	}
	return int(r0), 0
}
