//go:build linux && (amd64 || arm64)

package server

import (
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawAcceptSupported: accept4 and the socket calls are system calls of
// their own here (linux/386 reaches them through socketcall).
const rawAcceptSupported = true

// rawAccepter accepts a listener's connections with accept4 as a raw
// system call, and serves them as rawTCPConns. net's accept makes
// accept4, setsockopt(TCP_NODELAY) and, at the end, close as Syscalls,
// whose entersyscall wakes the runtime's sysmon thread out of the deep
// sleep it takes whenever both Ps have been idle: a small job paid that
// wake-up and sysmon's 20 µs sleeps after it, 9-16 % of the server's CPU
// a 1 KiB route job (docs/operations.md, "Small TCP jobs", eighth and
// ninth rounds).
//
// When no connection is queued it waits in the netpoller, on a duplicate
// of the listener's descriptor (a listener's RawConn cannot wait: its
// Read is EINVAL, and the descriptor itself is in the netpoller already,
// as net's), registered by os.NewFile. The duplicate keeps the socket
// open: GentleListener's Close closes it too (close), and its stop wakes
// the wait (wake); serve closes it when it returns.
type rawAccepter struct {
	f      *os.File        // the duplicate
	rc     syscall.RawConn // f's
	closed atomic.Bool     // close has begun
	// drained is set once accept4 has found the queue empty: every
	// connection accepted since then completed its handshake after
	// TCP_NODELAY was set on the listener (the kernel makes the socket
	// then, from the listener's), in its queue's order. Those accepted
	// before may have been queued before it (connections made between
	// the listener's Listen and serve): each gets it set. Only accept
	// uses it.
	drained bool
}

// newRawAccepter returns the accepter of l, or nil when l is not a TCP
// listener. It sets TCP_NODELAY on the listening socket, which every
// socket it accepts inherits (net sets it on each accepted one; see
// drained for those queued before), and
// Go's default keepalive, which Listen's listeners have already
// (listenKeepAlive) and net sets on each accepted connection of others.
func newRawAccepter(l net.Listener) *rawAccepter {
	tl, ok := l.(*net.TCPListener)
	if !ok {
		return nil
	}
	lrc, err := tl.SyscallConn()
	if err != nil {
		return nil
	}
	dup := -1
	var serr error
	if err := lrc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); serr == nil {
			dup, serr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		}
	}); err != nil || serr != nil {
		return nil
	}
	if listenKeepAlive("", "", lrc) != nil {
		unix.Close(dup)
		return nil
	}
	// Non-blocking (the flag is the socket's, shared with net's
	// descriptor): NewFile adds it to the netpoller.
	f := os.NewFile(uintptr(dup), "listener")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	return &rawAccepter{f: f, rc: rc}
}

// wake ends a wait of accept, and every later one, with a timeout: the
// listener's stop (GentleListener.StopAccepting) goes on with net's
// accept of what is queued.
func (a *rawAccepter) wake() { a.f.SetDeadline(time.Unix(1, 0)) }

// close closes the duplicate: a wait of accept ends with net.ErrClosed.
func (a *rawAccepter) close() {
	if !a.closed.Swap(true) {
		a.f.Close()
	}
}

// accept returns the next connection: a raw accept4, and when none is
// queued (EAGAIN), a wait in the netpoller for one, under wake's deadline
// and close, whose errors are net's (a *net.OpError: a timeout, or
// net.ErrClosed).
func (a *rawAccepter) accept() (net.Conn, error) {
	var (
		nfd   int
		errno syscall.Errno
		sa    unix.RawSockaddrAny
	)
	err := a.rc.Read(func(fd uintptr) bool {
		for {
			salen := uint32(unix.SizeofSockaddrAny)
			r0, _, e := syscall.RawSyscall6(unix.SYS_ACCEPT4, fd, uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen)),
				unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
			switch e {
			case 0:
				nfd = int(r0)
				return true
			case syscall.EINTR, syscall.ECONNABORTED:
				// ECONNABORTED: reset while queued; net's accept
				// takes the next one too.
			case syscall.EAGAIN:
				a.drained = true
				return false // wait in the netpoller
			default:
				errno = e
				return true
			}
		}
	})
	if err != nil {
		if a.closed.Load() {
			err = net.ErrClosed // the file's is "use of closed file"
		}
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: err}
	}
	if errno != 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
	}
	c := &rawTCPConn{fd: nfd, raddr: tcpAddrOf(&sa)}
	c.idle.L = &c.mu
	if !a.drained {
		// As net sets them on each connection.
		one := int32(1)
		syscall.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(nfd), unix.IPPROTO_TCP, unix.TCP_NODELAY,
			uintptr(unsafe.Pointer(&one)), unsafe.Sizeof(one), 0)
		listenKeepAlive("", "", rawFD{c})
	}
	return c, nil
}

// tcpAddrOf is the address accept4 wrote.
func tcpAddrOf(sa *unix.RawSockaddrAny) *net.TCPAddr {
	switch sa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		ip := make(net.IP, 4)
		copy(ip, a.Addr[:])
		return &net.TCPAddr{IP: ip, Port: int(p[0])<<8 | int(p[1])}
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		ip := make(net.IP, 16)
		copy(ip, a.Addr[:])
		t := &net.TCPAddr{IP: ip, Port: int(p[0])<<8 | int(p[1])}
		if a.Scope_id != 0 {
			t.Zone = zoneNames.name(int(a.Scope_id), time.Now())
		}
		return t
	}
	return nil
}

// zoneNames names the interfaces of link-local peers' scope ids for
// tcpAddrOf, as net's own zone cache (unexported) does for the
// connections net accepts: net.InterfaceByIndex is a netlink request
// (socket, sendto, recvfrom and close, and a parse of every interface's
// attributes), which every accept of a link-local peer made.
var zoneNames = zoneCache{lookup: net.InterfaceByIndex}

// Bounds of a zoneCache: an interface renamed, or an index reused, is
// named anew within zoneCacheAge (net waits as long); at most
// zoneCacheMax indexes are held, far more than a host has interfaces.
const (
	zoneCacheAge = 60 * time.Second
	zoneCacheMax = 64
)

// zoneCache maps an interface index to its name, as a zone of an IPv6
// address: the index in decimal where there is no such interface, as
// net writes it.
type zoneCache struct {
	lookup func(index int) (*net.Interface, error)

	mu    sync.Mutex // protects names
	names map[int]zoneName
}

// zoneName is a zoneCache's entry.
type zoneName struct {
	name    string
	fetched time.Time
}

// name is the zone of index at now: the one cached, if fetched less than
// zoneCacheAge before, else looked up (under mu: a lookup is rare, and
// one at a time is enough).
func (z *zoneCache) name(index int, now time.Time) string {
	z.mu.Lock()
	defer z.mu.Unlock()
	if e, ok := z.names[index]; ok && now.Sub(e.fetched) < zoneCacheAge && !now.Before(e.fetched) {
		return e.name
	}
	name := strconv.Itoa(index)
	if ifi, err := z.lookup(index); err == nil {
		name = ifi.Name
	}
	if z.names == nil || len(z.names) >= zoneCacheMax {
		z.names = make(map[int]zoneName)
	}
	z.names[index] = zoneName{name, now}
	return name
}

// rawTCPConn is an accepted TCP connection that handle serves as it
// serves a *net.TCPConn (tcpConn), with raw system calls: its reads,
// writes, socket options and close make no Syscall, and it joins the
// netpoller (os.NewFile: fcntl, epoll_ctl) only once a read or write has
// to wait or a deadline is set, which a small job's never does. From then
// on the os.File owns the descriptor, and every call goes through it.
//
// The descriptor's number must never be used once it is closed: another
// connection may have it by then. So each raw call holds a reference
// (acquire, release), and Close marks the connection closing, waits for
// the references to go (a raw call never blocks), and only then closes
// the descriptor, raw or by the os.File (whose own reference count then
// guards its callers, and whose close wakes those waiting in the
// netpoller). A call that finds it closing fails with net.ErrClosed, as
// net's do. A deadline set while a raw call runs does not fail that call
// (it fails the next one, as a deadline set just after it would).
type rawTCPConn struct {
	fd    int
	raddr *net.TCPAddr

	mu      sync.Mutex // protects refs, closing, file, frc and laddr
	idle    sync.Cond  // on mu: the last reference went while closing
	refs    int        // raw calls under way
	closing bool
	file    *os.File        // once registered with the netpoller
	frc     syscall.RawConn // file's
	laddr   net.Addr        // getsockname's, once asked for
}

// rawFD is a rawTCPConn's syscall.RawConn.
type rawFD struct{ c *rawTCPConn }

// acquire takes a reference to the descriptor for a raw call, and
// returns nil, true; or the os.File's RawConn once it is registered (no
// reference taken: the file guards it); or false once Close has begun.
func (c *rawTCPConn) acquire() (syscall.RawConn, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil, false
	}
	if c.frc != nil {
		return c.frc, true
	}
	c.refs++
	return nil, true
}

// release gives back acquire's reference.
func (c *rawTCPConn) release() {
	c.mu.Lock()
	c.refs--
	if c.refs == 0 && c.closing {
		c.idle.Broadcast()
	}
	c.mu.Unlock()
}

// register joins the netpoller, once, and returns the os.File that
// owns the descriptor from then on.
func (c *rawTCPConn) register() (*os.File, syscall.RawConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil, nil, net.ErrClosed
	}
	if c.file == nil {
		// Non-blocking (accept4's SOCK_NONBLOCK): NewFile adds it to the
		// netpoller and leaves it non-blocking.
		f := os.NewFile(uintptr(c.fd), "tcp")
		rc, err := f.SyscallConn() // fails only for a nil file
		if err != nil {
			return nil, nil, err
		}
		c.file, c.frc = f, rc
	}
	return c.file, c.frc, nil
}

// fileErr is the error of a call through the os.File, as net's: a
// *net.OpError, net.ErrClosed once Close has begun (the file says "use
// of closed file").
func (c *rawTCPConn) fileErr(op string, err error) error {
	if err == nil {
		return nil
	}
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if closing {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: "tcp", Source: nil, Addr: c.raddr, Err: err}
}

func (r rawFD) Control(f func(fd uintptr)) error {
	frc, ok := r.c.acquire()
	if !ok {
		return r.c.fileErr("raw-control", net.ErrClosed)
	}
	if frc != nil {
		return r.c.fileErr("raw-control", frc.Control(f))
	}
	f(uintptr(r.c.fd))
	r.c.release()
	return nil
}

func (r rawFD) Read(f func(fd uintptr) bool) error {
	return r.c.rawIO("raw-read", f, false)
}

func (r rawFD) Write(f func(fd uintptr) bool) error {
	return r.c.rawIO("raw-write", f, true)
}

// rawIO calls f with the descriptor until it returns true, as a
// RawConn's Read or Write: raw, until f wants to wait; then (and from
// then on) through the os.File, which waits in the netpoller under the
// connection's deadlines.
func (c *rawTCPConn) rawIO(op string, f func(fd uintptr) bool, write bool) error {
	frc, ok := c.acquire()
	if !ok {
		return c.fileErr(op, net.ErrClosed)
	}
	if frc == nil {
		done := f(uintptr(c.fd))
		c.release()
		if done {
			return nil
		}
		var err error
		if _, frc, err = c.register(); err != nil {
			return c.fileErr(op, err)
		}
	}
	if write {
		return c.fileErr(op, frc.Write(f))
	}
	return c.fileErr(op, frc.Read(f))
}

func (c *rawTCPConn) SyscallConn() (syscall.RawConn, error) { return rawFD{c}, nil }

func (c *rawTCPConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n     int
		errno syscall.Errno
	)
	err := c.rawIO("read", func(fd uintptr) bool {
		for {
			r0, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			n, errno = int(r0), e
			return true
		}
	}, false)
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Addr: c.raddr, Err: os.NewSyscallError("read", errno)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (c *rawTCPConn) Write(p []byte) (int, error) {
	var (
		written int
		errno   syscall.Errno
	)
	err := c.rawIO("write", func(fd uintptr) bool {
		for written < len(p) {
			r0, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[written])), uintptr(len(p)-written))
			switch e {
			case 0:
				written += int(r0)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	}, true)
	switch {
	case err != nil:
		return written, err
	case errno != 0:
		return written, &net.OpError{Op: "write", Net: "tcp", Addr: c.raddr, Err: os.NewSyscallError("write", errno)}
	}
	return written, nil
}

// Close closes the descriptor once no raw call uses it: see rawTCPConn.
func (c *rawTCPConn) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return c.fileErr("close", net.ErrClosed)
	}
	c.closing = true
	for c.refs > 0 {
		c.idle.Wait()
	}
	f := c.file
	c.mu.Unlock()
	if f != nil {
		// Wakes what waits in the netpoller, and closes the descriptor
		// once the file's own callers are gone.
		return c.fileErr("close", f.Close())
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(c.fd), 0, 0); e != 0 {
		return &net.OpError{Op: "close", Net: "tcp", Addr: c.raddr, Err: os.NewSyscallError("close", e)}
	}
	return nil
}

// control runs f on the descriptor (raw, or through the os.File) and
// returns its error as op's.
func (c *rawTCPConn) control(op string, f func(fd uintptr) syscall.Errno) error {
	var errno syscall.Errno
	if err := (rawFD{c}).Control(func(fd uintptr) { errno = f(fd) }); err != nil {
		return err
	}
	if errno != 0 {
		return &net.OpError{Op: op, Net: "tcp", Addr: c.raddr, Err: os.NewSyscallError(op, errno)}
	}
	return nil
}

// CloseWrite sends the FIN (shutdown(SHUT_WR)).
func (c *rawTCPConn) CloseWrite() error {
	return c.control("shutdown", func(fd uintptr) syscall.Errno {
		_, _, e := syscall.RawSyscall(unix.SYS_SHUTDOWN, fd, syscall.SHUT_WR, 0)
		return e
	})
}

// SetLinger is net.TCPConn's: sec 0 makes Close reset the connection.
// (A positive sec would make Close's raw close block for up to sec
// seconds, O_NONBLOCK or not, on a P the scheduler thinks running, and a
// preemption signal would cut the linger short: nothing sets one here,
// resetConn sets 0. One that needs it must close through the os.File.)
func (c *rawTCPConn) SetLinger(sec int) error {
	l := unix.Linger{Onoff: 1, Linger: int32(sec)}
	if sec < 0 {
		l = unix.Linger{}
	}
	return c.control("setsockopt", func(fd uintptr) syscall.Errno {
		_, _, e := syscall.RawSyscall6(unix.SYS_SETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_LINGER,
			uintptr(unsafe.Pointer(&l)), unsafe.Sizeof(l), 0)
		return e
	})
}

func (c *rawTCPConn) RemoteAddr() net.Addr {
	if c.raddr == nil {
		return nil // as net's, for an address it cannot read
	}
	return c.raddr
}

// LocalAddr is getsockname's, asked once (net asks it at every accept).
func (c *rawTCPConn) LocalAddr() net.Addr {
	c.mu.Lock()
	a := c.laddr
	c.mu.Unlock()
	if a != nil {
		return a
	}
	var sa unix.RawSockaddrAny
	if c.control("getsockname", func(fd uintptr) syscall.Errno {
		salen := uint32(unix.SizeofSockaddrAny)
		_, _, e := syscall.RawSyscall(unix.SYS_GETSOCKNAME, fd, uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen)))
		return e
	}) != nil {
		return nil
	}
	t := tcpAddrOf(&sa)
	if t == nil {
		return nil
	}
	c.mu.Lock()
	c.laddr = t
	c.mu.Unlock()
	return t
}

func (c *rawTCPConn) SetDeadline(t time.Time) error {
	return c.setDeadline(t, (*os.File).SetDeadline)
}

func (c *rawTCPConn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(t, (*os.File).SetReadDeadline)
}

func (c *rawTCPConn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(t, (*os.File).SetWriteDeadline)
}

// setDeadline arms a deadline in the netpoller, registering with it
// first; a deadline cleared before that arms nothing.
func (c *rawTCPConn) setDeadline(t time.Time, set func(*os.File, time.Time) error) error {
	c.mu.Lock()
	f, closing := c.file, c.closing
	c.mu.Unlock()
	if closing {
		return c.fileErr("set", net.ErrClosed)
	}
	if f == nil {
		if t.IsZero() {
			return nil
		}
		var err error
		if f, _, err = c.register(); err != nil {
			return c.fileErr("set", err)
		}
	}
	return c.fileErr("set", set(f, t))
}

// rawTCPOf returns c as a tcpConn when it is a rawTCPConn.
func rawTCPOf(c net.Conn) (tcpConn, bool) {
	rc, ok := c.(*rawTCPConn)
	return rc, ok
}
