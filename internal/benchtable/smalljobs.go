//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// smallLoad is the load generator of the small-jobs rows: conns
// connections at a time, each sending input with its FIN and reading the
// reply to the server's FIN, for as long as more says. It runs as one
// event loop on one locked thread with non-blocking sockets and raw
// system calls: the generator shares the machine's two cores with the
// server it measures, and net.Conn's goroutine per connection, deadline
// timers and netpoller wake-ups cost ~9 µs of user CPU a job (this loop
// ~2), ~25% of all the CPU a job took (issue 14).
//
// The input goes with MSG_MORE, so that shutdown's FIN rides in its
// segment, as nc -N's would when its input arrives at once: one segment
// and one acknowledgement fewer a job, for socat and halfclosed alike.
type smallLoad struct {
	addr  *net.TCPAddr
	input []byte
	conns int
	// more reports whether to start another job; jobs started are done
	// before run returns.
	more func() bool
	// check is called with every reply, complete to its FIN; an error
	// from it ends the load.
	check func(reply []byte) error
	// stall bounds the wait for any of the connections to progress.
	stall time.Duration
}

// smallJobSource returns the address job i is sent from: one of
// smallJobSources addresses of 127.0.0.0/8, in turn, never 127.0.0.1. A
// small job's client sends the first FIN, so each job leaves its client
// socket in TIME_WAIT for a minute: tens of thousands of them from
// 127.0.0.1 would hold ports of the ephemeral range (which holds
// 50051–50053) on 127.0.0.1 against a later bind, e.g. `make run` right
// after `make bench`.
//
// And from one address, connect's search for a port that is free for the
// destination took 40% of the generator's CPU (perf: __inet_hash_connect,
// __inet_check_established, tcp_twsk_unique): at 15,000 jobs a second
// most of the ports of the range hold a TIME_WAIT socket to that same
// destination younger than the second after which loopback may reuse
// it. Spread over 1000 addresses, a port is free at the first try (client
// CPU a 1 KiB route job 30 -> 19 µs, the rate under load 12,000 ->
// 16,700 a second).
//
// IP_BIND_ADDRESS_NO_PORT leaves the choice of the port to connect: a
// bind to port 0 must find a port free for every destination, and with
// tens of thousands of TIME_WAIT sockets from the runs before (a second
// make bench within the minute) that search took the client's CPU and cut
// the rate tenfold; connect needs the port free only for this destination,
// and may reuse one in TIME_WAIT on loopback (tcp_tw_reuse's default).
func smallJobSource(i int64) *unix.SockaddrInet4 {
	n := i % smallJobSources
	return &unix.SockaddrInet4{Addr: [4]byte{127, 0, byte(n / 250), byte(2 + n%250)}}
}

// smallJobSources is how many addresses the jobs are sent from.
const smallJobSources = 1000

// maxSmallReply bounds a reply: a small job's is one line.
const maxSmallReply = 64 << 10

// smallConn is one job in progress.
type smallConn struct {
	fd    int
	sent  int  // bytes of the input sent
	shut  bool // and then the FIN
	fin   bool // the reply's FIN came
	reply []byte
}

// run runs the load until more says no and every job has ended, and
// returns the jobs done. It fails at the first job that fails or does not
// progress for stall, or when ctx is done.
func (l *smallLoad) run(ctx context.Context) (jobs int64, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ip4 := l.addr.IP.To4()
	if ip4 == nil {
		return 0, fmt.Errorf("%v: not an IPv4 address", l.addr)
	}
	to := &unix.SockaddrInet4{Port: l.addr.Port}
	copy(to.Addr[:], ip4)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return 0, err
	}
	defer unix.Close(ep)
	open := map[int32]*smallConn{}
	defer func() {
		for _, c := range open {
			unix.Close(c.fd)
		}
	}()
	var started int64
	start := func() error {
		started++
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		c := &smallConn{fd: fd}
		open[int32(fd)] = c
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
			return err
		}
		if err := unix.Bind(fd, smallJobSource(started)); err != nil {
			return err
		}
		if err := unix.Connect(fd, to); err != nil && err != unix.EINPROGRESS {
			return fmt.Errorf("connect: %w", err)
		}
		// Edge-triggered: the connection's progress is tried at once, and
		// again on each new event.
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return err
		}
		return l.progress(c)
	}
	// step makes what progress c can, and ends its job when its reply is
	// complete.
	step := func(c *smallConn) error {
		if err := l.progress(c); err != nil {
			return err
		}
		if !c.fin {
			return nil
		}
		delete(open, int32(c.fd))
		unix.Close(c.fd)
		jobs++
		return l.check(c.reply)
	}
	fill := func() error {
		for len(open) < l.conns && ctx.Err() == nil && l.more() {
			if err := start(); err != nil {
				return err
			}
		}
		return nil
	}
	if err := fill(); err != nil {
		return jobs, err
	}
	evs := make([]unix.EpollEvent, l.conns)
	for len(open) > 0 {
		if err := ctx.Err(); err != nil {
			return jobs, err
		}
		n, err := unix.EpollWait(ep, evs, int(l.stall/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return jobs, err
		}
		if n == 0 {
			return jobs, fmt.Errorf("%d connections made no progress in %v", len(open), l.stall)
		}
		for _, ev := range evs[:n] {
			c := open[ev.Fd]
			if c == nil {
				continue
			}
			if err := step(c); err != nil {
				return jobs, err
			}
		}
		if err := fill(); err != nil {
			return jobs, err
		}
	}
	return jobs, nil
}

// progress sends what c can of the input, then its FIN, and reads what
// has come of the reply, with raw system calls (none of them blocks).
func (l *smallLoad) progress(c *smallConn) error {
	for c.sent < len(l.input) {
		p := l.input[c.sent:]
		n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_MORE|unix.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			c.sent += int(n)
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN: // still connecting, or full
			return nil
		}
		return fmt.Errorf("sending the input: %w", e)
	}
	if !c.shut {
		if len(l.input) == 0 {
			// No input whose send waited for the connection (EAGAIN):
			// a shutdown of a socket still connecting (SYN_SENT) aborts
			// it, and the reply's read fails with ECONNRESET.
			if connected, err := connectDone(c.fd); !connected {
				return err // nil: still connecting, EPOLLOUT comes
			}
		}
		if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		c.shut = true
	}
	var buf [4096]byte
	for {
		n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(c.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return nil
		default:
			return fmt.Errorf("reading the reply: %w", e)
		}
		if n == 0 {
			c.fin = true
			return nil
		}
		if len(c.reply)+int(n) > maxSmallReply {
			return fmt.Errorf("a reply longer than %d bytes", maxSmallReply)
		}
		c.reply = append(c.reply, buf[:n]...)
	}
}

// connectDone reports whether fd's connect has completed, and its error
// if it failed.
func connectDone(fd int) (bool, error) {
	if _, err := unix.Getpeername(fd); err == nil {
		return true, nil
	} else if err != unix.ENOTCONN {
		return false, err
	}
	switch e, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); {
	case err != nil:
		return false, err
	case e != 0:
		return false, fmt.Errorf("connect: %w", unix.Errno(e))
	}
	return false, nil
}
