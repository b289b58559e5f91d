package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// GentleListener is a TCP listener that stops accepting without resetting
// the connections the kernel has already accepted for it.
//
// Closing a listening socket resets every connection still in its accept
// queue, and every handshake under way: the kernel completed (or is
// completing) their handshakes, and their clients may have sent a whole
// request and its FIN. A client sees that reset as a failure; an L4 proxy
// that sees it after sending may even turn it into a clean, empty reply.
// StopAccepting does this instead, on Linux:
//
//  1. a socket filter on the listening socket drops every SYN (a segment
//     with SYN and without ACK): no new handshake begins, and a client
//     sends its SYN again a second later, to find the socket closed
//     (refused: nothing sent, safe to try elsewhere);
//  2. Accept hands out every connection queued, each to be served as any
//     other, and waits for the handshakes that were under way when the
//     filter came (SYN_RECV, as the kernel's sock_diag reports them), which
//     end within a round trip, up to handshakeWait;
//  3. then the socket closes, with nothing queued and nothing under way.
//
// Where the filter cannot be attached the backlog drops to 0 instead
// (listen(2) again: the kernel queues at most one more connection and
// drops further SYNs), which leaves a window of microseconds between the
// last accept and the close. Elsewhere than Linux, StopAccepting closes at
// once.
type GentleListener struct {
	net.Listener
	raw syscall.RawConn // nil: no socket to work on; StopAccepting closes
	// rawAccept, when set (TCPServer.serve's, before its first Accept),
	// accepts in Accept's place until the stop: raw accept4, then the
	// listener's wait in the netpoller (rawaccept_linux.go). The stop's
	// acceptQueued keeps net's accept.
	rawAccept *rawAccepter

	stopOnce sync.Once
	// Set by StopAccepting before stopping: read after stopping is seen.
	synBlocked bool      // the SYN filter is attached
	stopAt     time.Time // when StopAccepting began
	stopping   atomic.Bool
	// cut is set when StopAccepting's ctx ended: the handshakes under
	// way are no longer waited for.
	cut      atomic.Bool
	cutWait  time.Duration // cutAcceptWait, unless a test set it
	acceptMu sync.Mutex    // serializes the accepts of the drain

	// onWait, when set (tests), is called with the count of unused
	// connections each time StopAccepting is about to wait for a change.
	onWait func(unused int)

	mu     sync.Mutex // protects the fields below
	closed bool
	// unused counts the queued connections Accept handed out that nobody
	// has used yet, and those handed out before the stop that a caller
	// holds (hold: NewGRPCListener's): StopAccepting waits for them, so
	// that a server that looks at its own shutdown before using a new
	// connection (grpc-go does) has looked before the caller goes on to
	// stop it.
	unused  int
	changed chan struct{} // closed and replaced when closed changes, or unused once stopping
	// afterStop, when set (NewGRPCListener's), runs once StopAccepting
	// is over, with the time grpc-go's handshakes under way may still take.
	afterStop func(wait time.Duration)
	afterOnce sync.Once
}

// Listen opens a TCP listener on addr ("host:port"), in plain TCP. Go's
// net.Listen opens Multipath TCP listeners on Linux (since Go 1.24), and
// Linux refuses a socket filter on an MPTCP socket (EOPNOTSUPP), which
// GentleListener's stop needs; MPTCP brings nothing to a service reached
// over one path, through a proxy or a load balancer, anyway.
//
// The accepted connections get Go's default keepalive (15 s idle, 15 s
// between probes, 9 probes). On Linux the listening socket has it and
// every accepted one inherits it, instead of 4 setsockopt calls per
// connection (issue 14: a tenth of the system calls of a small job).
func Listen(addr string) (net.Listener, error) {
	return ListenNet("tcp", addr)
}

// ListenNet is Listen on network "tcp", "tcp4" or "tcp6": "tcp4" makes
// 0.0.0.0 IPv4's wildcard alone (Go's "tcp" listens on it as [::], one
// dual-stack socket), "tcp6" an IPv6 socket that serves no IPv4 client
// (IPV6_V6ONLY, which Go sets for "tcp6" before bind), so that [::] and
// 0.0.0.0 can both be listened on at one port.
func ListenNet(network, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	if inheritKeepAlive {
		lc.KeepAlive = -1 // set once, on the listener
		lc.Control = listenKeepAlive
	}
	return lc.Listen(context.Background(), network, addr)
}

// NewGentleListener wraps l, which Accept should be serving (a Serve loop
// running) for StopAccepting to hand the queued connections to it.
func NewGentleListener(l net.Listener) *GentleListener {
	if gl, ok := l.(*GentleListener); ok {
		return gl
	}
	gl := &GentleListener{Listener: l, changed: make(chan struct{})}
	if tl, ok := l.(*net.TCPListener); ok && gentleSupported {
		if raw, err := tl.SyscallConn(); err == nil {
			gl.raw = raw
		}
	}
	return gl
}

// Accept waits for the next connection. Once StopAccepting was called it
// returns the connections still queued, then an error wrapping
// net.ErrClosed.
func (l *GentleListener) Accept() (net.Conn, error) {
	for {
		if l.stopping.Load() {
			return l.acceptQueued()
		}
		var (
			c   net.Conn
			err error
		)
		if l.rawAccept != nil {
			c, err = l.rawAccept.accept()
		} else {
			c, err = l.Listener.Accept()
		}
		if err == nil {
			return c, nil // even when stopping now: accepted, so served
		}
		var ne net.Error
		if l.stopping.Load() && errors.As(err, &ne) && ne.Timeout() {
			continue // StopAccepting's wake-up
		}
		return nil, err
	}
}

// acceptQueued returns the next connection of the kernel's queue without
// waiting; when the queue is empty it closes the socket.
func (l *GentleListener) acceptQueued() (net.Conn, error) {
	l.acceptMu.Lock()
	defer l.acceptMu.Unlock()
	for !l.isClosed() {
		c, err := acceptNow(l.raw)
		if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ECONNABORTED) {
			continue
		}
		if errors.Is(err, syscall.EAGAIN) && l.awaitHandshakes() {
			continue
		}
		if err != nil {
			// EAGAIN: the queue is empty. Any other error (EMFILE, a
			// closed socket) ends the drain too: what is left is reset.
			l.Close()
			break
		}
		if !l.addUnused(1) {
			c.Close() // closed meanwhile: reset, as Close does
			break
		}
		return &queuedConn{TCPConn: c, used: sync.OnceFunc(func() { l.addUnused(-1) })}, nil
	}
	return nil, &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: net.ErrClosed}
}

// handshakeWait bounds how long the drain waits for handshakes under way
// when SYNs began to be dropped: each ends within a round trip, unless its
// last segment was lost (then the kernel would send its SYN-ACK again a
// second later), or the listener is under a SYN flood.
const handshakeWait = time.Second

// awaitHandshakes reports whether the accept queue, found empty, may still
// receive a connection: SYNs are dropped and some handshake to this
// listener is under way. It then waits a moment, for the caller to look
// again.
func (l *GentleListener) awaitHandshakes() bool {
	if !l.synBlocked || l.cut.Load() || time.Since(l.stopAt) > handshakeWait {
		return false
	}
	addr, _ := l.Addr().(*net.TCPAddr)
	if addr == nil {
		return false
	}
	n, ok := handshakesUnderway(addr)
	if !ok || n == 0 {
		return false
	}
	time.Sleep(time.Millisecond)
	return true
}

// StopAccepting stops the kernel queueing new connections, waits until
// Accept has handed out the queued ones and closed the socket, and until
// each of those has been used. When ctx ends first, the queued ones still
// go to Accept and are waited for, for at most cutAcceptWait, but the
// handshakes under way are not (cutStop), and ctx's error is returned.
// A ctx ended when nothing is left to wait for (the socket closed, every
// connection used) cuts nothing: the stop returns nil, as
// http.Server.Shutdown does; and when the last use and ctx's end both
// come while it waits, either may end it.
//
// The connections Accept handed out before the stop that a caller holds
// (hold) are waited for as the queued ones are. Once the socket is
// closed, the wait for the first use of those still unused lasts at most
// useWait, ctx or not: grpc-go begins to serve a new connection within
// microseconds, and GracefulStop, which the caller starts next, must not
// be put off for the whole grace by one that is never used.
func (l *GentleListener) StopAccepting(ctx context.Context) error {
	defer l.stopped()
	l.stopOnce.Do(func() {
		l.stopAt = time.Now()
		if l.raw == nil {
			// Nothing to work on (not Linux): the socket closes at once,
			// and only the connections held are waited for. (Closed
			// before stopping is set: Accept never drains a socket it
			// cannot work on.)
			l.Close()
			l.stopping.Store(true)
			return
		}
		l.synBlocked = blockSYNs(l.raw)
		if !l.synBlocked {
			shrinkBacklog(l.raw)
		}
		l.stopping.Store(true)
		// Wake an Accept waiting in the runtime's poller: it goes on with
		// acceptQueued.
		l.Listener.(*net.TCPListener).SetDeadline(time.Unix(1, 0))
		if l.rawAccept != nil {
			l.rawAccept.wake()
		}
	})
	var useTimer <-chan time.Time // runs once the socket is closed
	for {
		l.mu.Lock()
		closed, unused, changed := l.closed, l.unused, l.changed
		l.mu.Unlock()
		if closed && unused == 0 {
			return nil
		}
		if closed && useTimer == nil {
			t := time.NewTimer(l.useWaitFor())
			defer t.Stop()
			useTimer = t.C
		}
		if l.onWait != nil {
			l.onWait(unused)
		}
		select {
		case <-changed:
		case <-useTimer:
			return nil
		case <-ctx.Done():
			return l.cutStop(ctx)
		}
	}
}

// stopped runs afterStop, once: a handshake grpc-go has begun may take
// useWait more (a client whose connection was accepted just before the
// stop sends its preface within a round trip), not the rest of
// grpc.ConnectionTimeout.
func (l *GentleListener) stopped() {
	l.mu.Lock()
	f := l.afterStop
	l.mu.Unlock()
	if f != nil {
		l.afterOnce.Do(func() { f(l.useWaitFor()) })
	}
}

// setAfterStop sets afterStop.
func (l *GentleListener) setAfterStop(f func(wait time.Duration)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.afterStop = f
}

// useWait bounds how long StopAccepting waits, once the socket is closed,
// for the first use of the connections it handed out (or that are held)
// and nobody has used yet; a cut StopAccepting has cutAcceptWait for
// everything.
const useWait = time.Second

func (l *GentleListener) useWaitFor() time.Duration {
	if l.cutWait > 0 {
		return l.cutWait
	}
	return useWait
}

// cutAcceptWait bounds how long a cut StopAccepting waits for Accept to
// take the connections still queued, and for their first use.
const cutAcceptWait = time.Second

// cutStop ends a StopAccepting whose ctx ended (the shutdown's grace
// over, or a second signal): the handshakes under way are no longer waited
// for, but the connections the kernel
// queued are still handed to Accept, whose server answers each as it does
// a job cut (the shutdown's error line, a gRPC GOAWAY) rather than have
// the close reset them: through nginx such a reset came to a raw-TCP
// client as an empty reply with a clean close. Accept closes the socket
// once the queue is empty; if nothing calls Accept, it is closed after
// cutAcceptWait. The connections handed out are waited for until their
// first use, within the same cutAcceptWait, as an uncut stop waits for
// them, and so are those held (hold): grpc-go closes a new connection
// that it has not begun to serve when its GracefulStop comes, unread,
// which resets it where its client should have had GOAWAY.
func (l *GentleListener) cutStop(ctx context.Context) error {
	l.cut.Store(true)
	wait := cutAcceptWait
	if l.cutWait > 0 {
		wait = l.cutWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		l.mu.Lock()
		done, unused, changed := l.closed && l.unused == 0, l.unused, l.changed
		l.mu.Unlock()
		if done {
			return ctx.Err()
		}
		if l.onWait != nil {
			l.onWait(unused)
		}
		select {
		case <-changed:
		case <-t.C:
			l.Close()
			return ctx.Err()
		}
	}
}

// Close closes the socket at once: queued connections are reset.
func (l *GentleListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.notifyLocked()
	if l.rawAccept != nil {
		l.rawAccept.close()
	}
	return l.Listener.Close()
}

func (l *GentleListener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// addUnused counts a handed-out connection in (+1, unless the listener is
// closed: then it returns false) or out (-1). Only a stopping listener
// has a waiter to tell: StopAccepting sets stopping before it first
// looks at unused, so a change it has not seen is told to it, and the
// connections held in normal service cost no channel each.
func (l *GentleListener) addUnused(delta int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if delta > 0 && l.closed {
		return false
	}
	l.unused += delta
	if l.stopping.Load() {
		l.notifyLocked()
	}
	return true
}

// hold counts a connection Accept returned, not a queued one (those are
// counted already), as unused until the caller calls release at its first
// use; StopAccepting waits for it as for the queued ones. grpc-go's Serve
// hands each accepted connection to a goroutine that closes it unread if
// GracefulStop has begun by the time it looks: a connection Accept took
// just before the stop, whose goroutine had not run yet, was reset where
// its client should have had GOAWAY (a server stopped with SIGSTOP, 100
// connections accepted after SIGCONT, then SIGTERM: 40 of them reset).
// It reports false, and nothing is counted, when the listener is closed.
func (l *GentleListener) hold() bool { return l.addUnused(1) }

// release ends a hold.
func (l *GentleListener) release() { l.addUnused(-1) }

func (l *GentleListener) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// queuedConn is a connection StopAccepting's drain handed out: the first
// use of it tells the listener. It is a *net.TCPConn in all but its type
// (code that asserts the type, such as grpc-go's TCP_USER_TIMEOUT
// setting, skips these few connections).
type queuedConn struct {
	*net.TCPConn
	used func()
}

func (c *queuedConn) Read(p []byte) (int, error)  { c.used(); return c.TCPConn.Read(p) }
func (c *queuedConn) Write(p []byte) (int, error) { c.used(); return c.TCPConn.Write(p) }
func (c *queuedConn) Close() error                { c.used(); return c.TCPConn.Close() }

func (c *queuedConn) SetDeadline(t time.Time) error {
	c.used()
	return c.TCPConn.SetDeadline(t)
}

func (c *queuedConn) SetReadDeadline(t time.Time) error {
	c.used()
	return c.TCPConn.SetReadDeadline(t)
}

func (c *queuedConn) SetWriteDeadline(t time.Time) error {
	c.used()
	return c.TCPConn.SetWriteDeadline(t)
}
